"""Further elementwise math: gcd, lcm, ldexp, frexp, modf, divmod, spacing, logaddexp2, i0,
nan_to_num, unwrap, bit counting and packing.
"""

__all__: list[str] = []
