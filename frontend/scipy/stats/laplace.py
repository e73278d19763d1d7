"""The Laplace (double exponential) distribution."""

from __future__ import annotations

from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.stats._common import const, inexact


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("laplace.logpdf", x, loc, scale)
    return -(jnp.abs(x - loc) / scale + jnp.log(const(x, 2) * scale))


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("laplace.cdf", x, loc, scale)
    z = (x - loc) / scale
    half, one = const(x, 0.5), const(x, 1)
    return jnp.where(z <= const(x, 0), half * jnp.exp(z), one - half * jnp.exp(-z))
