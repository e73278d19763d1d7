"""Samplers built on gamma and on loops: ``t``, ``chisquare``, ``f``, ``generalized_normal``,
``ball`` and ``binomial``, with JAX's formulas (so a key gives JAX's numbers):

- t: n * sqrt((df/2) / g), n normal and g Gamma(df/2) under the two halves of the key.
- chisquare: 2 exp(loggamma(df/2)); f: the ratio of two chi-squares over their dfs.
- generalized_normal: a random sign times Gamma(1/p)^(1/p).
- ball: generalized normals over the last axis, divided by (sum |g|^p + e)^(1/p) with e
  exponential (Barthe, Guedon, Mendelson and Naor).
- binomial: for n q <= 10 (q = min(p, 1 - p)) the count of geometric gaps that fit in n
  trials (inversion); otherwise Hormann's transformed rejection with squeeze (BTRS),
  both as whole-array while loops; NaN for NaN or negative counts and NaN or negative
  p, infinity for infinite counts; p > 1/2 is drawn as n - Binomial(n, 1 - p).

Gradients in the parameters flow through gamma's implicit derivative (loops.py).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from llax.frontend import lax, xla_math
from llax.frontend.api import jit
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._dtypes import result_type, to_inexact
from llax.frontend.jnp._manipulation import broadcast_to
from llax.frontend.random import _sampling as S
from llax.frontend.random import threefry
from llax.frontend.random.continuous import TypePromotionError, _sign_draw, exponential_draw
from llax.frontend.random.distributions import standard_normal
from llax.frontend.random.keys import KeyArray
from llax.frontend.random.loops import gamma_draws
from llax.frontend.xla_math import fma

__all__ = ["ball", "binomial", "chisquare", "f", "generalized_normal", "t"]


# ---------------------------------------------------------------------------------------------
# Shared steps


def _halves(key: KeyArray) -> tuple[KeyArray, KeyArray]:
    keys = threefry.split(key._data, (2,))
    return (KeyArray(lax.reshape(lax.slice(keys, (0, 0), (1, 2)), (2,))),
            KeyArray(lax.reshape(lax.slice(keys, (1, 0), (2, 2)), (2,))))


def _const(v: float, dtype: Any) -> Any:
    return lax.full((), v, dtype)


def _float_sampler_args(name: str, key: Any, shape: Any, dtype: Any,
                        *params: Any) -> tuple[KeyArray, tuple[int, ...], np.dtype, list]:
    """JAX's checks, in its order: key, float dtype, shapes, safe casts of the parameters."""
    typed = S.single_key(name, key)
    dt = S.float_dtype(dtype, name)
    arrays = [as_array(p, name) for p in params]
    if shape is None:
        shape = tuple(np.broadcast_shapes(*(p.shape for p in arrays)))
    else:
        shape = S.canonical_shape(shape, name)
        S.check_shape(name, shape, *(p.shape for p in arrays))
    for p in params:
        if result_type(p, dt) != dt and result_type(p) != dt:
            raise TypePromotionError(f"In arguments to {name}, cannot safely cast argument of "
                                     f"type {result_type(p)} to {dt}")
    return typed, shape, dt, arrays


def _as(x: Any, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    return broadcast_to(lax.convert_element_type(x, dtype), shape)


# ---------------------------------------------------------------------------------------------
# t, chisquare, f


def t(key: Any, df: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Student's t draws with ``df`` degrees of freedom."""
    typed, shape, dt, (df,) = _float_sampler_args("t", key, shape, dtype, df)
    return _t(typed, df, shape, dt)


@jit(static_argnums=(2, 3))
def _t(key: KeyArray, df: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    key_n, key_g = _halves(key)
    n = standard_normal(key_n, shape, dtype)
    half_df = _as(lax.div(lax.convert_element_type(df, dtype), _const(2.0, dtype)), dtype,
                  shape)
    g = gamma_draws(key_g, half_df, False)
    return lax.mul(n, lax.sqrt(lax.div(half_df, g)))


def chisquare(key: Any, df: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Chi-square draws with ``df`` degrees of freedom: twice a Gamma(df/2) draw."""
    typed, shape, dt, (df,) = _float_sampler_args("chisquare", key, shape, dtype, df)
    return _chisquare(typed, df, shape, dt)


def _chisquare_draws(key: KeyArray, df: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    two = _const(2.0, dtype)
    half_df = _as(lax.div(lax.convert_element_type(df, dtype), two), dtype, shape)
    return lax.mul(xla_math.exp(gamma_draws(key, half_df, True)), two)


@jit(static_argnums=(2, 3))
def _chisquare(key: KeyArray, df: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return _chisquare_draws(key, df, shape, dtype)


def f(key: Any, dfnum: Any, dfden: Any, shape: Any = None, dtype: Any = None) -> Any:
    """F draws: (chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)."""
    typed, shape, dt, (dfnum, dfden) = _float_sampler_args("f", key, shape, dtype, dfnum,
                                                           dfden)
    # JAX divides each chi-square by its df without broadcasting them first: a df of
    # another rank than the shape (but 0) is lax.div's error.
    for df in (dfnum, dfden):
        if df.ndim not in (0, len(shape)):
            raise TypeError("div: arrays must have the same number of dimensions, got "
                            f"{ {len(shape), df.ndim} }")
    return _f(typed, dfnum, dfden, shape, dt)


@jit(static_argnums=(3, 4))
def _f(key: KeyArray, dfnum: Any, dfden: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    # (JAX's first half of the key goes to the denominator.)
    key_den, key_num = _halves(key)
    dfnum, dfden = (lax.convert_element_type(v, dtype) for v in (dfnum, dfden))
    chi2_num = _chisquare_draws(key_num, dfnum, shape, dtype)
    chi2_den = _chisquare_draws(key_den, dfden, shape, dtype)
    # JAX's (chi2_num / dfnum) / (chi2_den / dfden), as XLA's simplifier rewrites it:
    # (chi2_num * dfden) / (dfnum * chi2_den), one division.
    return lax.div(lax.mul(chi2_num, broadcast_to(dfden, shape)),
                   lax.mul(broadcast_to(dfnum, shape), chi2_den))


# ---------------------------------------------------------------------------------------------
# generalized_normal and ball


def generalized_normal(key: Any, p: Any, shape: Any = (), dtype: Any = None) -> Any:
    """Draws with density proportional to exp(-|x|^p)."""
    typed = S.single_key("generalized_normal", key)
    dt = S.float_dtype(dtype, "gamma")  # (JAX's check is gamma's, with gamma's name)
    shape = S.canonical_shape(shape, "generalized_normal")
    return _generalized_normal(typed, as_array(p, "generalized_normal"), shape, dt)


def _power(x: Any, y: Any) -> Any:
    """``x ** y`` for a float array x and a (traced) scalar y, as jnp.power: y converts to x's
    dtype (an integer y included: XLA's pow takes both as floats)."""
    y = broadcast_to(lax.convert_element_type(y, x.dtype), x.shape)
    return xla_math.pow(x, y)


def _inexact(x: Any) -> Any:
    """``x`` in the float type JAX promotes it to (a weak int to the default float)."""
    dt, _ = to_inexact(np.dtype(x.dtype), bool(getattr(x, "weak_type", False)))
    return x if dt == np.dtype(x.dtype) else lax.convert_element_type(x, dt)


def _reciprocal(p: Any) -> Any:
    """1 / p as JAX's true division: an integer p becomes a float first."""
    p = _inexact(p)
    return lax.div(lax.full((), 1.0, p.dtype), p)


def _generalized_normal_draws(key: KeyArray, p: Any, shape: tuple[int, ...],
                              dtype: np.dtype) -> Any:
    key_g, key_r = _halves(key)
    inv_p = _reciprocal(p)
    g = gamma_draws(key_g, _as(inv_p, dtype, shape), False)
    r = _sign_draw(key_r, shape, dtype)
    return lax.mul(r, _power(g, inv_p))


@jit(static_argnums=(2, 3))
def _generalized_normal(key: KeyArray, p: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return _generalized_normal_draws(key, p, shape, dtype)


def ball(key: Any, d: int, p: Any = 2, shape: Any = (), dtype: Any = None) -> Any:
    """Points uniform in the unit Lp ball of dimension ``d``: shape ``(*shape, d)``."""
    typed = S.single_key("ball", key)
    dt = S.float_dtype(dtype, "gamma")  # (checked by gamma in JAX)
    shape = S.canonical_shape(shape, "ball")
    d = operator.index(d)  # (a float d: "'float' object cannot be interpreted as an integer")
    return _ball(typed, as_array(p, "ball"), d, shape, dt)


@jit(static_argnums=(2, 3, 4))
def _ball(key: KeyArray, p: Any, d: int, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    from llax.frontend.jnp._reductions import sum as jsum

    key_g, key_e = _halves(key)
    g = _generalized_normal_draws(key_g, p, (*shape, d), dtype)
    e = exponential_draw(key_e, shape, dtype)
    total = lax.add(jsum(_power(lax.abs(g), p), axis=-1), e)
    # XLA's simplifier rewrites g / total**(1/p) as g * total**(-1/p).
    inv_norm = _power(total, lax.neg(_reciprocal(p)))
    return lax.mul(g, lax.broadcast_in_dim(inv_norm, (*shape, d), tuple(range(len(shape)))))


# ---------------------------------------------------------------------------------------------
# binomial


def binomial(key: Any, n: Any, p: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Binomial(n, p) counts as floats (JAX's inversion / BTRS algorithms)."""
    typed = S.single_key("binomial", key)
    n, p = as_array(n, "binomial"), as_array(p, "binomial")
    dt = S.float_dtype(dtype, "binomial")
    if shape is None:
        shape = tuple(np.broadcast_shapes(n.shape, p.shape))
    else:
        shape = S.canonical_shape(shape, "binomial")
        S.check_shape("binomial", shape, n.shape, p.shape)
    return _binomial(typed, n, p, shape, dt)


# Stirling's series tail log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2] for
# k = 0..9 (tabulated: the series is poor there).
_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_tail(k: Any) -> Any:
    dt = k.dtype
    one = _const(1.0, dt)
    clamped = lax.clamp(_const(0.0, dt), k, _const(9.0, dt))
    k1 = lax.add(clamped, one)
    k1sq = lax.mul(k1, k1)
    series = lax.div(lax.sub(_const(1.0 / 12, dt),
                             lax.div(lax.sub(_const(1.0 / 360, dt),
                                             lax.div(_const(1.0 / 1260, dt), k1sq)), k1sq)), k1)
    index = lax.convert_element_type(lax.floor(clamped), np.int32)
    table = series
    for i in reversed(range(len(_STIRLING_TAIL))):
        table = lax.select(lax.eq(index, lax.full((), i, np.int32)),
                           lax.full(k.shape, _STIRLING_TAIL[i], dt), table)
    return lax.select(lax.le(k, _const(9.0, dt)), table, series)


def _any(x: Any) -> Any:
    from llax.frontend.jnp._reductions import any as jany

    return jany(x)


def _split_data(data: Any, n: int) -> list[Any]:
    keys = threefry.split(data, (n,))
    return [lax.reshape(lax.slice(keys, (i, 0), (i + 1, 2)), (2,)) for i in range(n)]


def _inversion(key: Any, count: Any, prob: Any, shape: tuple[int, ...]) -> Any:
    """Geometric gaps between successes, added until they pass ``count`` trials."""
    dt = prob.dtype
    log_q = xla_math.log1p(lax.neg(prob))

    def more(state: tuple) -> Any:
        return _any(lax.le(state[2], count))

    def step(state: tuple) -> tuple:
        i, num_geom, geom_sum, rng = state
        sub, rng = _split_data(rng, 2)
        num_geom = lax.select(lax.le(geom_sum, count),
                              lax.add(num_geom, _const(1.0, dt)), num_geom)
        u = S.unit_floats(KeyArray(sub), shape, np.dtype(dt))
        geom = lax.ceil(lax.div(xla_math.log(u), log_q))
        return i + 1, num_geom, lax.add(geom_sum, geom), rng

    init = (lax.full((), 0, np.int32), lax.full(shape, 0.0, dt), lax.full(shape, 0.0, dt), key)
    k = lax.while_loop(more, step, init)[1]
    return lax.sub(k, _const(1.0, dt))


def _btrs(key: Any, count: Any, prob: Any, shape: tuple[int, ...]) -> Any:
    """Hormann's transformed rejection with squeeze, whole-array."""
    dt = prob.dtype

    def c(v: float) -> Any:
        return _const(v, dt)

    one = c(1.0)
    q = lax.sub(one, prob)
    stddev = lax.sqrt(lax.mul(lax.mul(count, prob), q))
    b = fma(c(2.53), stddev, c(1.15))
    a = fma(c(0.01), prob, fma(c(0.0248), b, c(-0.0873)))
    center = fma(count, prob, c(0.5))
    v_r = lax.sub(c(0.92), lax.div(c(4.2), b))
    r = lax.div(prob, q)
    alpha = lax.mul(lax.add(c(2.83), lax.div(c(5.1), b)), stddev)
    m = lax.floor(lax.mul(lax.add(count, one), prob))
    log_log_m = xla_math.log(lax.div(lax.add(m, one), lax.mul(r, lax.add(lax.sub(count, m),
                                                                           one))))
    tails_m = lax.add(_stirling_tail(m), _stirling_tail(lax.sub(count, m)))

    def more(state: tuple) -> Any:
        return _any(lax.bitwise_not(state[2]))

    def step(state: tuple) -> tuple:
        i, k_out, accepted, rng = state
        rng, key_u, key_v = _split_data(rng, 3)
        u = lax.sub(S.unit_floats(KeyArray(key_u), shape, np.dtype(dt)), c(0.5))
        v = S.unit_floats(KeyArray(key_v), shape, np.dtype(dt))
        us = lax.sub(c(0.5), lax.abs(u))
        accept1 = lax.bitwise_and(lax.ge(us, c(0.07)), lax.le(v, v_r))
        k = lax.floor(fma(lax.add(lax.div(lax.mul(c(2.0), a), us), b), u, center))
        reject = lax.bitwise_or(lax.lt(k, c(0.0)), lax.gt(k, count))
        log_v = xla_math.log(lax.div(lax.mul(v, alpha),
                                     lax.add(lax.div(a, lax.mul(us, us)), b)))
        n_k1 = lax.add(lax.sub(count, k), one)
        bound = fma(lax.add(m, c(0.5)), log_log_m,
                    lax.mul(lax.add(count, one),
                            xla_math.log(lax.div(lax.add(lax.sub(count, m), one), n_k1))))
        bound = fma(lax.add(k, c(0.5)),
                    xla_math.log(lax.div(lax.mul(r, n_k1), lax.add(k, one))), bound)
        bound = lax.sub(lax.sub(lax.add(bound, tails_m), _stirling_tail(k)),
                        _stirling_tail(lax.sub(count, k)))
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject),
                                                         lax.le(log_v, bound)))
        return (i + 1, lax.select(accept, k, k_out), lax.bitwise_or(accepted, accept), rng)

    init = (lax.full((), 0, np.int32), lax.full(shape, -1.0, dt),
            lax.full(shape, False, np.bool_), key)
    return lax.while_loop(more, step, init)[1]


@jit(static_argnums=(3, 4))
def _binomial(key: KeyArray, count: Any, prob: Any, shape: tuple[int, ...],
              dtype: np.dtype) -> Any:
    # The computation runs in p's float type (the requested dtype is only the output's).
    prob = _inexact(prob)
    pdt = np.dtype(prob.dtype)
    count = broadcast_to(lax.convert_element_type(count, pdt), shape)
    prob = broadcast_to(prob, shape)

    def full(v: float) -> Any:
        return lax.full(shape, v, pdt)

    p_lt_half = lax.lt(prob, _const(0.5, pdt))
    q = lax.select(p_lt_half, prob, lax.sub(_const(1.0, pdt), prob))
    count_nan_or_neg = lax.bitwise_or(lax.ne(count, count), lax.lt(count, _const(0.0, pdt)))
    count_inf = lax.eq(lax.abs(count), _const(np.inf, pdt))
    q_nan = lax.ne(q, q)
    q_neg = lax.lt(q, _const(0.0, pdt))
    q = lax.select(lax.bitwise_or(q_nan, q_neg), full(0.01), q)
    use_inversion = lax.bitwise_or(count_nan_or_neg,
                                   lax.le(lax.mul(count, q), _const(10.0, pdt)))
    count = lax.floor(count)
    # Each loop sees neutral parameters where the other applies.
    count_inv = lax.select(use_inversion, count, full(0.0))
    count_btrs = lax.select(use_inversion, full(1e4), count)
    q_btrs = lax.select(use_inversion, full(0.5), q)
    samples = lax.select(use_inversion,
                         _inversion(key._data, count_inv, q, shape),
                         _btrs(key._data, count_btrs, q_btrs, shape))
    samples = lax.convert_element_type(samples, dtype)
    invalid = lax.bitwise_or(lax.bitwise_or(q_neg, q_nan), count_nan_or_neg)
    samples = lax.select(invalid, lax.full(shape, np.nan, dtype), samples)
    samples = lax.select(lax.bitwise_and(count_inf, lax.bitwise_not(invalid)),
                         lax.full(shape, np.inf, dtype), samples)
    keep = lax.bitwise_or(lax.bitwise_or(p_lt_half, count_nan_or_neg),
                          lax.bitwise_or(q_nan, count_inf))
    return lax.select(keep, samples, lax.sub(lax.convert_element_type(count, dtype), samples))
