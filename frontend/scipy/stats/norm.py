"""The normal distribution N(loc, scale^2)."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy import special
from llax.frontend.scipy.stats._common import const, inexact


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("norm.logpdf", x, loc, scale)
    scale_sq = scale * scale
    log_normalizer = jnp.log(const(x, 2 * math.pi) * scale_sq)
    quadratic = (x - loc) * (x - loc) / scale_sq
    return (log_normalizer + quadratic) / const(x, -2)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("norm.cdf", x, loc, scale)
    return special.ndtr((x - loc) / scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("norm.logcdf", x, loc, scale)
    return special.log_ndtr((x - loc) / scale)


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile function loc + scale * ndtri(q) (in the default float, as JAX)."""
    return jnp.asarray(special.ndtri(q) * scale + loc, float)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("norm.sf", x, loc, scale)
    return cdf(-x, -loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("norm.logsf", x, loc, scale)
    return logcdf(-x, -loc, scale)


def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    q = jnp.asarray(q)
    return ppf(1 - q, loc, scale)
