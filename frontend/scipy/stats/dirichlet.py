"""The Dirichlet distribution over the simplex (components on axis 0 of ``x``)."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.jnp._coerce import promote_dtypes
from llax.frontend.scipy.special import gammaln, xlogy


def _is_simplex(x: Any) -> Any:
    return jnp.all(x > 0, axis=0) & (jnp.abs(jnp.sum(x, axis=0) - 1) < 1e-6)


def logpdf(x: Any, alpha: Any) -> Any:
    """log density at ``x`` (shape (K, ...) or (K - 1, ...), the last component implied)."""
    x, alpha = (jnp.asarray(a) for a in promote_dtypes("dirichlet.logpdf", [x, alpha],
                                                         "inexact"))
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    if x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
        raise ValueError("`x` must have either the same number of entries as `alpha` or one "
                         f"entry fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}")
    if x.shape[0] != alpha.shape[0]:
        x = jnp.concatenate([x, 1 - jnp.sum(x, axis=0, keepdims=True)], axis=0)
    normalizer = jnp.sum(gammaln(alpha)) - gammaln(jnp.sum(alpha))
    alpha = jnp.reshape(alpha, alpha.shape + (1,) * (x.ndim - 1))
    log_probs = jnp.sum(xlogy(alpha - 1, x), axis=0) - normalizer
    return jnp.where(_is_simplex(x), log_probs, -math.inf)


def pdf(x: Any, alpha: Any) -> Any:
    return jnp.exp(logpdf(x, alpha))
