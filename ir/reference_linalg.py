"""NumPy reference implementations of the linear-algebra primitives (llax.ir.prims.linalg)."""
