"""Lowering of the linear-algebra primitives to LAPACK calls (NumPy's bundled OpenBLAS)."""
