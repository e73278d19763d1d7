"""The Bernoulli distribution with success probability ``p``."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.special import xlog1py, xlogy
from llax.frontend.scipy.stats._common import const, inexact


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    k, p, loc = inexact("bernoulli.logpmf", k, p, loc)
    zero, one = const(k, 0), const(k, 1)
    x = k - loc
    log_probs = xlogy(x, p) + xlog1py(one - x, -p)
    return jnp.where((x < zero) | (x > one), -math.inf, log_probs)


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    return jnp.exp(logpmf(k, p, loc))


def cdf(k: Any, p: Any) -> Any:
    k, p = inexact("bernoulli.cdf", k, p)
    zero, one = const(k, 0), const(k, 1)
    invalid = jnp.isnan(k) | jnp.isnan(p) | (p < 0) | (p > 1)
    return jnp.where(invalid, math.nan,
                     jnp.where(k < zero, zero, jnp.where(k < one, one - p, one)))


def ppf(q: Any, p: Any) -> Any:
    q, p = inexact("bernoulli.ppf", q, p)
    zero, one = const(q, 0), const(q, 1)
    invalid = jnp.isnan(q) | jnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return jnp.where(invalid, math.nan, jnp.where(q <= one - p, zero, one))
