"""The Poisson distribution with mean ``mu``."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.special import gammaincc, gammaln, xlogy
from llax.frontend.scipy.stats._common import inexact


def logpmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    k, mu, loc = inexact("poisson.logpmf", k, mu, loc)
    x = k - loc
    log_probs = xlogy(x, mu) - gammaln(x + 1) - mu
    return jnp.where((x < 0) | (jnp.round(k) != k), -math.inf, log_probs)


def pmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    return jnp.exp(logpmf(k, mu, loc))


def cdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    k, mu, loc = inexact("poisson.logpmf", k, mu, loc)
    x = k - loc
    return jnp.where(x < 0, 0.0, gammaincc(jnp.floor(1 + x), mu))
