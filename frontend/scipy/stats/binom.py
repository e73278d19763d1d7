"""The binomial distribution: successes in ``n`` trials of probability ``p``."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.special import gammaln, xlog1py, xlogy
from llax.frontend.scipy.stats._common import inexact


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    k, n, p, loc = inexact("binom.logpmf", k, n, p, loc)
    y = k - loc
    comb_term = gammaln(n + 1) - (gammaln(y + 1) + gammaln(n - y + 1))
    log_linear = xlogy(y, p) + xlog1py(n - y, -p)
    log_probs = comb_term + log_linear
    certain = ((y == 0) & (n == 0)) | (log_linear == 0)
    log_probs = jnp.where(certain, 0.0, log_probs)
    return jnp.where((k >= loc) & (k < loc + n + 1), log_probs, -math.inf)


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    return jnp.exp(logpmf(k, n, p, loc))
