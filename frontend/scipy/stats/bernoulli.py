"""The Bernoulli distribution with success probability ``p``."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.special import xlog1py, xlogy
from llax.frontend.scipy.stats._common import inexact


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    k, p, loc = inexact("bernoulli.logpmf", k, p, loc)
    x = k - loc
    log_probs = xlogy(x, p) + xlog1py(1 - x, -p)
    return jnp.where((x < 0) | (x > 1), -math.inf, log_probs)


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    return jnp.exp(logpmf(k, p, loc))


def cdf(k: Any, p: Any) -> Any:
    k, p = inexact("bernoulli.cdf", k, p)
    invalid = jnp.isnan(k) | jnp.isnan(p) | (p < 0) | (p > 1)
    return jnp.where(invalid, math.nan,
                     jnp.where(k < 0, 0.0, jnp.where(k < 1, 1 - p, 1.0)))


def ppf(q: Any, p: Any) -> Any:
    q, p = inexact("bernoulli.ppf", q, p)
    invalid = jnp.isnan(q) | jnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return jnp.where(invalid, math.nan, jnp.where(q <= 1 - p, 0.0, 1.0))
