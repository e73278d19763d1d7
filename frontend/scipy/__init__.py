"""``llax.scipy``: the parts of SciPy's API that JAX provides: ``special``, ``stats``
and ``linalg``."""

from llax.frontend.scipy import linalg, special, stats

__all__ = ["linalg", "special", "stats"]
