"""What the distribution modules share: argument promotion and the special functions."""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import jnp
from llax.frontend.jnp._coerce import convert, promote


def inexact(name: str, *args: Any) -> list[Any]:
    """``args`` promoted to one float dtype and broadcast together, as JAX's
    ``promote_args_inexact``."""
    out, _ = promote(name, list(args), "inexact")
    return [jnp.asarray(a) for a in out]


def const(x: Any, value: float) -> Any:
    """``value`` as a rank-0 array of ``x``'s dtype: weakly typed when ``x`` is a weakly
    typed scalar (JAX's constants are Python scalars then), strongly typed otherwise."""
    return convert(jnp.asarray(np.asarray(value, x.dtype)), x.dtype,
                   bool(x.weak_type and x.ndim == 0))


def strong(x: Any, value: float) -> Any:
    """``value`` as a strongly typed rank-0 array of ``x``'s dtype (JAX's ``jnp.array(v, dtype)``
    constants, which make results strong even for scalar inputs)."""
    return convert(jnp.asarray(np.asarray(value, x.dtype)), x.dtype, False)


def lgamma(x: Any) -> Any:
    """log |Gamma(x)| keeping ``x``'s weak type, as ``lax.lgamma`` does (the custom-derivative
    wrapper in scipy.special returns a strong result)."""
    from llax.frontend.scipy.special import _lgamma
    return convert(_lgamma(x), x.dtype, bool(x.weak_type))


def typed_as_const(x: Any, y: Any) -> Any:
    """``y`` weakly typed exactly when a constant of ``x``'s would be (see ``const``): the type
    JAX's results get from such a constant or from a custom-derivative special function."""
    return convert(y, y.dtype, bool(x.weak_type and x.ndim == 0))
