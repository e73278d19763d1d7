"""``llax.scipy.special``: special functions: ``logsumexp`` (shared with ``llax.nn``),
``gammaln`` and ``digamma``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from llax.frontend import jnp, lax
from llax.frontend.core import checks_at_boundary
from llax.frontend.jnp._coerce import promote
from llax.frontend.jnp._reductions import canonical_axes

Axis = int | Sequence[int] | None

__all__ = ["digamma", "gammaln", "logsumexp"]


@checks_at_boundary
def logsumexp(a: Any, axis: Axis = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False, where: Any = None) -> Any:
    """``log(sum(b * exp(a)))`` over ``axis``, computed as ``max + log(sum(exp(a - max)))``.

    The max is a constant to differentiation (its gradient contributions cancel) and is
    replaced by 0 where it is not finite, so all ``-inf`` rows give ``-inf``, not NaN.
    ``b`` weights the terms; a negative sum gives NaN unless ``return_sign``, which returns
    ``(log|sum|, sign(sum))``. Elements where ``where`` is False are left out.
    """
    if where is not None:
        a = jnp.where(where, a, 0)
    if b is None:
        (a,), _ = promote("logsumexp", [a], "inexact")
    else:
        (a, b), _ = promote("logsumexp", [a, b], "inexact")
        a = jnp.where(b != 0, a, -math.inf)  # a zero weight drops the term, even at a = inf
    a = jnp.asarray(a)
    dims = canonical_axes(axis, a.ndim)
    amax = jnp.max(a, axis=dims, keepdims=keepdims, where=where, initial=-math.inf)
    amax = lax.stop_gradient(jnp.where(jnp.isfinite(amax), amax, 0))
    shift = amax if keepdims else jnp.expand_dims(amax, dims)
    terms = jnp.exp(a - shift)
    if b is not None:
        terms = terms * b
    total = jnp.sum(terms, axis=dims, keepdims=keepdims, where=where)
    sign = jnp.sign(total)
    out = jnp.log(jnp.abs(total)) + amax
    if return_sign:
        return out, sign
    if b is not None:
        out = jnp.where(sign < 0, math.nan, out)
    return out


@checks_at_boundary
def gammaln(x: Any) -> Any:
    """log |Gamma(x)| (integers promoted to the default float), JAX's values."""
    (x,), _ = promote("gammaln", [x], "inexact")
    return lax.lgamma(x)


def digamma(x: Any) -> Any:
    """The logarithmic derivative of Gamma (integers promoted to the default float)."""
    (x,), _ = promote("digamma", [x], "inexact")
    return lax.digamma(x)
