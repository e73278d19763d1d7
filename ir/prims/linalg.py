"""Linear-algebra primitives (factorizations and solves that compiled code runs in LAPACK)."""

__all__: list[str] = []
