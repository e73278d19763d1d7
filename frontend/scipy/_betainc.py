"""``betainc``: the regularised incomplete beta function I_x(a, b).

Its continued fraction (the even/odd partial numerators of DLMF 8.17.22) is evaluated by
the modified Lentz method in a ``while_loop`` that stops when every element has converged
(at most 200 steps in float32, 600 in float64), on whichever of I_x(a, b) and
1 - I_{1-x}(b, a) converges fast, as XLA's kernel under JAX does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import jnp, lax
from llax.frontend.custom_derivatives import custom_jvp


def _partial_numerator(i: Any, a: Any, b: Any, x: Any) -> Any:
    m = jnp.floor((i - 1) / 2)
    two_m = 2 * m
    first = -(a + b) * x / (a + 1)
    even = jnp.where(m == 0, first,
                     -(a + m) * (a + b + m) * x / ((a + two_m) * (a + two_m + 1)))
    odd = m * (b - m) * x / ((a + two_m - 1) * (a + two_m))
    value = jnp.where(jnp.fmod(i, 2) == 0, even, odd)
    return jnp.where(i == 1, jnp.ones_like(x), value)


def _lentz(a: Any, b: Any, x: Any) -> Any:
    dtype = np.dtype(x.dtype)
    small = float(np.finfo(dtype).eps / 2)
    steps = 200 if dtype == np.float32 else 600
    h0 = jnp.full_like(x, small)  # the 0th partial denominator is 0

    def keep_going(state: tuple) -> Any:
        i, unconverged, *_ = state
        return (i < steps) & unconverged

    def step(state: tuple) -> tuple:
        i, _, c, d, h = state
        fi = i.astype(x.dtype)
        num = _partial_numerator(fi, a, b, x)
        c = 1 + num / c
        c = jnp.where(jnp.abs(c) < small, small, c)
        d = 1 + num * d
        d = jnp.where(jnp.abs(d) < small, small, d)
        d = 1 / d
        delta = c * d
        return i + 1, jnp.any(jnp.abs(delta - 1) >= small), c, d, h * delta

    init = (jnp.asarray(np.int32(1)), jnp.asarray(True), h0, jnp.zeros_like(x), h0)
    return lax.while_loop(keep_going, step, init)[4]


def _betainc_value(a: Any, b: Any, x: Any) -> Any:
    dtype = np.dtype(x.dtype)
    a_is_zero = (a == 0) | (b == math.inf)
    b_is_zero = (b == 0) | (a == math.inf)
    is_nan = jnp.isnan(a) | jnp.isnan(b) | jnp.isnan(x)
    result_zero = (b_is_zero & (x != 1)) | (a_is_zero & (x == 0))
    result_one = (a_is_zero & (x != 0)) | (b_is_zero & (x == 1))
    result_nan = (a < 0) | (b < 0) | (x < 0) | (x > 1) | (a_is_zero & b_is_zero) | is_nan
    fast = x < (a + 1) / (a + b + 2)
    a, b, x = jnp.where(fast, a, b), jnp.where(fast, b, a), jnp.where(fast, x, 1 - x)
    fraction = _lentz(a, b, x)
    very_small = float(np.finfo(dtype).tiny * 2)
    lbeta_tail = lax.lgamma(b) - lax.lgamma(a + b)
    lbeta = lax.lgamma(a) + lbeta_tail
    factor = jnp.where(a < very_small, jnp.exp(jnp.log1p(-x) * b - lbeta_tail),
                       jnp.exp(jnp.log(x) * a + jnp.log1p(-x) * b - lbeta) / a)
    result = fraction * factor
    result = jnp.where(fast, result, 1 - result)
    result = jnp.where(result_zero, 0.0, result)
    result = jnp.where(result_one, 1.0, result)
    return jnp.where(result_nan, math.nan, result)


@custom_jvp
def _betainc(a: Any, b: Any, x: Any) -> Any:
    return _betainc_value(a, b, x)


def _x_slope(g: Any, ans: Any, a: Any, b: Any, x: Any) -> Any:
    lbeta = lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)
    return g * jnp.exp((b - 1) * jnp.log1p(-x) + (a - 1) * jnp.log(x) - lbeta)


# JAX raises for derivatives in a and b; llax's custom_jvp has no symbolic zeros to tell
# "not differentiated" from "differentiated", so a and b get no derivative contribution.
_betainc.defjvps(None, None, _x_slope)


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularised incomplete beta function I_x(a, b) (differentiable in x)."""
    from llax.frontend.scipy.special import _inexact, _real_only, _weak_as

    a, b, x = _inexact("betainc", a, b, x)
    _real_only("betainc", x)
    return _weak_as(_betainc(a, b, x), x)
