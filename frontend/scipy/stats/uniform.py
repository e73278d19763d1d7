"""The uniform distribution on [loc, loc + scale]."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.stats._common import inexact, strong


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("uniform.logpdf", x, loc, scale)
    outside = (x > loc + scale) | (x < loc)
    return jnp.where(outside, -math.inf, -jnp.log(scale))


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("uniform.cdf", x, loc, scale)
    below, above = x < loc, x > loc + scale
    inside = (x - loc) / scale
    # NaN x (or parameters) matches no case and gives 0, as JAX's select.
    zero, one = strong(x, 0), strong(x, 1)
    return jnp.where(below, zero, jnp.where(above, one, jnp.where(inside == inside, inside, zero)))


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    q, loc, scale = inexact("uniform.ppf", q, loc, scale)
    return jnp.where(jnp.isnan(q) | (q < 0) | (q > 1), math.nan, loc + scale * q)
