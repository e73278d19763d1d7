"""The multivariate normal distribution N(mean, cov) (the last axis is the vector)."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.jnp._coerce import promote_dtypes
from llax.frontend.jnp._matrix_ops import diagonal
from llax.frontend.scipy.linalg import solve_triangular


def logpdf(x: Any, mean: Any, cov: Any, allow_singular: None = None) -> Any:
    """log density; ``cov`` may be a scalar (isotropic) or a (stack of) matrices, whose
    Cholesky factor whitens ``x - mean``."""
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = (jnp.asarray(a) for a in promote_dtypes("multivariate_normal.logpdf",
                                                            [x, mean, cov], "inexact"))
    if not mean.shape:
        return -0.5 * jnp.square(x - mean) / cov - 0.5 * (math.log(2 * math.pi) + jnp.log(cov))
    n = mean.shape[-1]
    if not cov.shape:
        y = x - mean
        return (-0.5 * jnp.sum(y * y, axis=-1) / cov
                - n / 2 * (math.log(2 * math.pi) + jnp.log(cov)))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError("multivariate_normal.logpdf got incompatible shapes")
    chol = jnp.linalg.cholesky(cov)
    diff = x - mean
    shape = jnp.broadcast_shapes(chol.shape[:-2], diff.shape[:-1])
    y = solve_triangular(jnp.broadcast_to(chol, shape + (n, n)),
                         jnp.broadcast_to(diff, shape + (n,)), lower=True)
    log_det = jnp.sum(jnp.log(diagonal(chol)), axis=-1)
    return -0.5 * jnp.sum(y * y, axis=-1) - n / 2 * math.log(2 * math.pi) - log_det


def pdf(x: Any, mean: Any, cov: Any) -> Any:
    return jnp.exp(logpdf(x, mean, cov))
