"""``llax.scipy``: the parts of SciPy's API that JAX provides, so far ``special``."""

from llax.frontend.scipy import special

__all__ = ["special"]
