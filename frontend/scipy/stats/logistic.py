"""The logistic distribution."""

from __future__ import annotations

from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.special import expit, logit
from llax.frontend.scipy.stats._common import const, inexact, typed_as_const


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("logistic.logpdf", x, loc, scale)
    z = (x - loc) / scale
    two = const(z, 2)
    half = z / two
    return -two * jnp.logaddexp(half, -half) - jnp.log(scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("logistic.cdf", x, loc, scale)
    return expit((x - loc) / scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("logistic.sf", x, loc, scale)
    return expit(-((x - loc) / scale))


def ppf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("logistic.ppf", x, loc, scale)
    return typed_as_const(x, logit(x)) * scale + loc


def isf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, loc, scale = inexact("logistic.isf", x, loc, scale)
    return -typed_as_const(x, logit(x)) * scale + loc
