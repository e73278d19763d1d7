"""The Pareto distribution with shape ``b``: support ``x >= loc + scale``."""

from __future__ import annotations

from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.stats._common import inexact, typed_as_const


def _z(name: str, x: Any, b: Any, loc: Any, scale: Any) -> tuple[Any, Any, Any]:
    x, b, loc, scale = inexact(name, x, b, loc, scale)
    return (x - loc) / scale, b, scale


def logpdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, b, scale = _z("pareto.logpdf", x, b, loc, scale)
    inside = jnp.log(b) - jnp.log(scale) - (b + 1) * jnp.log(jnp.where(z < 1, 1, z))
    return typed_as_const(z, jnp.where(z < 1, -jnp.inf, inside))  # (NaN stays NaN)


def pdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, b, loc, scale))


def _logsf(x: Any, b: Any, loc: Any, scale: Any) -> tuple[Any, Any]:
    z, b, _ = _z("pareto.logsf", x, b, loc, scale)
    return z, jnp.where(z < 1, 0, -b * jnp.log(jnp.where(z < 1, 1, z)))


def logsf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, out = _logsf(x, b, loc, scale)
    return typed_as_const(z, out)


def sf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logsf(x, b, loc, scale))


def logcdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    # No constant in JAX's formula: the result keeps the promoted arguments' weak type.
    return jnp.log1p(-jnp.exp(_logsf(x, b, loc, scale)[1]))


def cdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, out = _logsf(x, b, loc, scale)
    return typed_as_const(z, -jnp.expm1(out))


def ppf(q: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    q, b, loc, scale = inexact("pareto.ppf", q, b, loc, scale)
    return typed_as_const(q, scale * jnp.power(1 - q, -1 / b) + loc)
