"""The Pareto distribution with shape ``b``: support ``x >= loc + scale``."""

from __future__ import annotations

from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.stats._common import inexact


def _z(name: str, x: Any, b: Any, loc: Any, scale: Any) -> tuple[Any, Any, Any]:
    x, b, loc, scale = inexact(name, x, b, loc, scale)
    return (x - loc) / scale, b, scale


def logpdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, b, scale = _z("pareto.logpdf", x, b, loc, scale)
    inside = jnp.log(b) - jnp.log(scale) - (b + 1) * jnp.log(jnp.where(z < 1, 1, z))
    return jnp.where(z < 1, -jnp.inf, inside)  # (NaN stays NaN)


def pdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, b, loc, scale))


def logsf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, b, _ = _z("pareto.logsf", x, b, loc, scale)
    return jnp.where(z < 1, 0, -b * jnp.log(jnp.where(z < 1, 1, z)))


def sf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logsf(x, b, loc, scale))


def logcdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.log1p(-sf(x, b, loc, scale))


def cdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return -jnp.expm1(logsf(x, b, loc, scale))


def ppf(q: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    q, b, loc, scale = inexact("pareto.ppf", q, b, loc, scale)
    return scale * jnp.power(1 - q, -1 / b) + loc
