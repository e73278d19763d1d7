"""The Poisson distribution with mean ``mu``."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.special import gammaincc, gammaln, xlogy
from llax.frontend.scipy.stats._common import const, inexact


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
    zero = const(k, 0)
    return jnp.where(x < zero, zero, gammaincc(jnp.floor(1 + x), mu))


def _entropy_by_sum(mu: Any, terms: int, upper: Any) -> Any:
    """-sum_k p_k log p_k over k < ``upper`` (a static ``terms`` of them at most)."""
    from llax.frontend.scipy.special import entr

    k = jnp.arange(terms, dtype=mu.dtype)[:, None]
    probs = pmf(k, mu, 0)
    return jnp.sum(entr(jnp.where(k < upper[None, :], probs, 0.0)), axis=0)


def entropy(mu: Any, loc: Any = 0) -> Any:
    """The entropy of Poisson(mu): the sum of -p log p over the mass for mu < 100 (35 or
    250 terms), the asymptotic 0.5 log(2 pi e mu) - 1 / (12 mu) beyond."""
    mu, loc = (jnp.asarray(a) for a in inexact("poisson.entropy", mu, loc))
    shape = jnp.broadcast_shapes(mu.shape, loc.shape)
    flat = jnp.ravel(mu)
    small = _entropy_by_sum(flat, 35, jnp.ceil(flat + 20))
    medium = _entropy_by_sum(flat, 250, jnp.ceil(flat + 10 * jnp.sqrt(flat) + 20))
    large = 0.5 * jnp.log(2 * math.pi * math.e * flat) - 1.0 / (12 * flat)
    result = jnp.where(flat == 0, 0.0, jnp.where(flat < 10, small,
                                                   jnp.where(flat < 100, medium, large)))
    return jnp.broadcast_to(jnp.reshape(result, mu.shape), shape)
