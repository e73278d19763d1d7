"""einsum and einsum_path: contraction order by opt_einsum (as JAX), contractions as
dot_general.
"""

__all__: list[str] = []
