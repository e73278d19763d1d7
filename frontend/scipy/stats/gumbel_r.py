"""The right-skewed Gumbel distribution (of maxima)."""

from __future__ import annotations

from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.stats._common import inexact, typed_as_const


def _z(name: str, x: Any, loc: Any, scale: Any) -> tuple[Any, Any]:
    x, loc, scale = inexact(name, x, loc, scale)
    return (x - loc) / scale, scale


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, scale = _z("gumbel_r.logpdf", x, loc, scale)
    return -z - jnp.exp(-z) - jnp.log(scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, loc, scale))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, _ = _z("gumbel_r.logcdf", x, loc, scale)
    return -jnp.exp(-z)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logcdf(x, loc, scale))


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, _ = _z("gumbel_r.logsf", x, loc, scale)
    return jnp.log(-jnp.expm1(-jnp.exp(-z)))


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    z, _ = _z("gumbel_r.sf", x, loc, scale)
    return typed_as_const(z, -jnp.expm1(-jnp.exp(-z)))


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    q, loc, scale = inexact("gumbel_r.ppf", q, loc, scale)
    # JAX leaves the endpoints 0 and 1 undefined.
    return jnp.where((q <= 0) | (q >= 1), jnp.nan, loc - scale * jnp.log(-jnp.log(q)))
