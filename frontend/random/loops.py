"""Samplers built on loops: ``gamma``, ``loggamma``, ``beta``, ``dirichlet``, ``poisson``.

JAX's algorithms, step for step, so a key gives JAX's numbers:

- gamma: Marsaglia and Tsang's rejection method, one key per element (the draw's
  key split into ``a.size`` keys), each element its own ``while_loop`` (vmapped,
  so a batched loop that runs until every element is accepted); ``a < 1`` is
  boosted to ``a + 1`` and the sample scaled by ``u**(1/a)`` (in log space:
  plus ``log(u)/a``).
- beta: two log-space gammas, ``exp`` of each minus their max, then a ratio.
- dirichlet: log-space gammas and a softmax over the last axis.
- poisson: Knuth's product of uniforms below 10, Hormann's transformed
  rejection from 10, both as whole-array loops; rate 0 gives 0, NaN and
  negative rates give -1, as in JAX.

Where XLA's arithmetic decides bits, it is reproduced: fused multiply-adds,
XLA's float32 ``log``/``log1p``/``exp`` (``llax.frontend.xla_math``), ``lgamma``
(``special``). One difference remains in float32: XLA computes
``1/sqrt(d)`` with the CPU's reciprocal-square-root estimate refined by a
Newton step (its bits depend on the instruction set), llax rounds it
correctly, so gamma draws may differ from JAX's in their last bits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import lax, xla_math
from llax.frontend.api import jit
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._dtypes import result_type
from llax.frontend.jnp._manipulation import broadcast_to
from llax.frontend.random import _sampling as S
from llax.frontend.random import threefry
from llax.frontend.random.distributions import standard_normal
from llax.frontend.random.keys import KeyArray
from llax.frontend.vmap import vmap
from llax.frontend.xla_math import fma
from llax.frontend.xla_math.igamma import random_gamma_grad

# ---------------------------------------------------------------------------------------------
# Helpers on raw key data (uint32[2]) inside the traced samplers


def _split(data: Any, n: int) -> list[Any]:
    keys = threefry.split(data, (n,))
    return [lax.reshape(lax.slice(keys, (i, 0), (i + 1, 2)), (2,)) for i in range(n)]


def _uniform(data: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return S.unit_floats(KeyArray(data), shape, dtype)


def _const(v: float, dtype: Any) -> Any:
    return lax.full((), v, dtype)


# ---------------------------------------------------------------------------------------------
# gamma and loggamma


def _gamma_one(key: Any, alpha: Any, log_space: bool) -> Any:
    """One Marsaglia-Tsang draw for scalar ``alpha`` under scalar key data ``key``."""
    dtype = np.dtype(alpha.dtype)
    zero, one = _const(0.0, dtype), _const(1.0, dtype)
    boost = lax.ge(alpha, one)
    boosted = lax.select(boost, alpha, lax.add(alpha, one))
    d = lax.sub(boosted, _const(1 / 3, dtype))
    c = lax.mul(_const(1 / 3, dtype), lax.div(one, lax.sqrt(d)))

    def rejected(state: tuple) -> Any:
        _, x2, v3, u = state
        # 1 - 0.0331 x**4 is one fused multiply-add in XLA's code.
        squeeze = lax.ge(u, fma(lax.neg(lax.mul(x2, x2)), _const(0.0331, dtype), one))
        bound = lax.add(lax.mul(x2, _const(0.5, dtype)),
                        lax.mul(d, lax.add(lax.sub(one, v3), xla_math.log(v3))))
        return lax.bitwise_and(squeeze, lax.ge(xla_math.log(u), bound))

    def propose(state: tuple) -> tuple:
        key = state[0]
        key, x_key, u_key = _split(key, 3)

        def next_normal(kxv: tuple) -> tuple:
            k, sub = _split(kxv[0], 2)
            x = standard_normal(KeyArray(sub), (), dtype)
            return k, x, fma(x, c, one)

        _, x, v = lax.while_loop(lambda kxv: lax.le(kxv[2], zero), next_normal,
                                 (x_key, zero, _const(-1.0, dtype)))
        return key, lax.mul(x, x), lax.mul(lax.mul(v, v), v), _uniform(u_key, (), dtype)

    key, subkey = _split(key, 2)
    _, _, v3, _ = lax.while_loop(rejected, propose, (key, zero, one, _const(2.0, dtype)))
    inverse = lax.div(one, alpha)
    if log_space:
        # log(u) as -exponential: log1p(-u), which is never log(0).
        log_u = xla_math.log1p(lax.neg(_uniform(subkey, (), dtype)))
        skip = lax.bitwise_or(boost, lax.eq(log_u, zero))
        log_boost = lax.select(skip, zero, lax.mul(log_u, inverse))
        return lax.add(lax.add(xla_math.log(d), xla_math.log(v3)), log_boost)
    u = lax.sub(one, _uniform(subkey, (), dtype))
    scale = lax.select(boost, one, xla_math.pow(u, inverse))
    return xla_math.flush_denormals(lax.mul(lax.mul(d, v3), scale))


def gamma_draws(key: KeyArray, a: Any, log_space: bool) -> Any:
    """Gamma draws of ``a``'s shape and dtype (traced, for other samplers to build on),
    differentiable in ``a``."""
    n = math.prod(a.shape)
    if n == 0:
        return lax.full(a.shape, 0, a.dtype)
    keys = threefry.split(key._data, (n,))
    draws = _GAMMA_SAMPLERS[log_space](keys, lax.reshape(a, (n,)))
    return lax.reshape(draws, a.shape)


def _gamma_sampler(log_space: bool) -> custom_jvp:
    """The per-element draws as a function of (keys, alphas) whose derivative in alpha is the
    implicit one (the loops themselves are not differentiated): a draw x = F^-1(u; a) at a
    fixed quantile u moves with a as dx/da = -(dF/da) / (dF/dx), JAX's rule."""

    def draws(keys: Any, alphas: Any) -> Any:
        return vmap(lambda k, alpha: _gamma_one(k, alpha, log_space))(keys, alphas)

    sampler = custom_jvp(draws)

    @sampler.defjvp
    def _jvp(primals: tuple, tangents: tuple) -> tuple:
        keys, alphas = primals
        out = sampler(keys, alphas)
        return out, lax.mul(tangents[1], _gamma_grad(out, alphas, log_space))

    return sampler


def _gamma_grad(draws: Any, alphas: Any, log_space: bool) -> Any:
    """d draw / d alpha; in log space d log x / d alpha = (dx/d alpha) / x, with x = exp of
    the draw (the smallest normal float where that underflows, as JAX)."""
    if not log_space:
        return random_gamma_grad(alphas, draws)
    x = xla_math.exp(draws)
    x = lax.select(lax.eq(x, _const(0.0, x.dtype)),
                   lax.full(x.shape, np.finfo(x.dtype).tiny, x.dtype), x)
    return lax.div(random_gamma_grad(alphas, x), x)


_GAMMA_SAMPLERS = {False: _gamma_sampler(False), True: _gamma_sampler(True)}


def _gamma_args(name: str, key: Any, a: Any, shape: Any, dtype: Any) -> tuple:
    typed = S.single_key(name, key)
    # (JAX's loggamma reports a bad dtype under gamma's name.)
    dt = S.float_dtype(dtype, "gamma")
    shape = None if shape is None else S.canonical_shape(shape, name)
    return typed, as_array(a, name), shape, dt


def gamma(key: Any, a: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Gamma(a, 1) floats, of ``shape`` (default: ``a``'s shape)."""
    return _gamma(*_gamma_args("gamma", key, a, shape, dtype), False)


def loggamma(key: Any, a: Any, shape: Any = None, dtype: Any = None) -> Any:
    """The logs of Gamma(a, 1) draws, accurate where the draws themselves underflow."""
    return _gamma(*_gamma_args("loggamma", key, a, shape, dtype), True)


@jit(static_argnums=(2, 3, 4))
def _gamma(key: KeyArray, a: Any, shape: tuple[int, ...] | None, dtype: np.dtype,
           log_space: bool) -> Any:
    if shape is None:
        shape = tuple(a.shape)
    else:
        S.check_shape("gamma", shape, a.shape)
    a = broadcast_to(lax.convert_element_type(a, dtype), shape)
    return gamma_draws(key, a, log_space)


# ---------------------------------------------------------------------------------------------
# beta and dirichlet


def beta(key: Any, a: Any, b: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Beta(a, b) floats, of ``shape`` (default: ``a`` and ``b`` broadcast)."""
    typed = S.single_key("beta", key)
    dt = S.float_dtype(dtype, "beta")
    a, b = as_array(a, "beta"), as_array(b, "beta")
    _check_safe_casts("beta", dt, a, b)
    if shape is None:
        shape = np.broadcast_shapes(a.shape, b.shape)
    else:
        shape = S.canonical_shape(shape, "beta")
        S.check_shape("beta", shape, a.shape, b.shape)
    return _beta(typed, a, b, tuple(shape), dt)


def _check_safe_casts(name: str, dtype: np.dtype, *params: Any) -> None:
    """Parameters must cast to ``dtype`` without widening it (a weak Python float may).
    JAX raises its TypePromotionError, a ValueError."""
    for p in params:
        if result_type(p, dtype) != dtype and result_type(p) != dtype:
            raise ValueError(f"In arguments to {name}, cannot safely cast argument of type "
                             f"{result_type(p)} to {dtype}")


@jit(static_argnums=(3, 4))
def _beta(key: KeyArray, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    key_a, key_b = (KeyArray(k) for k in _split(key._data, 2))
    log_a = gamma_draws(key_a, broadcast_to(lax.convert_element_type(a, dtype), shape), True)
    log_b = gamma_draws(key_b, broadcast_to(lax.convert_element_type(b, dtype), shape), True)
    # gamma_a / (gamma_a + gamma_b), scaled by the larger so neither overflows nor vanishes.
    top = lax.max(log_a, log_b)
    scaled_a = xla_math.exp(lax.sub(log_a, top))
    scaled_b = xla_math.exp(lax.sub(log_b, top))
    return lax.div(scaled_a, lax.add(scaled_a, scaled_b))


def dirichlet(key: Any, alpha: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Dirichlet(alpha) vectors along alpha's last axis; ``shape`` is the batch shape."""
    typed = S.single_key("dirichlet", key)
    dt = S.float_dtype(dtype, "dirichlet")
    alpha = as_array(alpha, "dirichlet")
    if alpha.ndim < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == {alpha.ndim}")
    if shape is None:
        shape = tuple(alpha.shape[:-1])
    else:
        shape = S.canonical_shape(shape, "dirichlet")
        S.check_shape("dirichlet", shape, tuple(alpha.shape[:-1]))
    return _dirichlet(typed, alpha, shape, dt)


@jit(static_argnums=(2, 3))
def _dirichlet(key: KeyArray, alpha: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    full = (*shape, alpha.shape[-1])
    logs = gamma_draws(key, broadcast_to(lax.convert_element_type(alpha, dtype), full), True)
    # softmax over the last axis, as jax.nn.softmax: exp(x - max) / sum.
    top = lax.stop_gradient(_reduce_max_last(logs))
    unnormalised = xla_math.exp(lax.sub(logs, top))
    # XLA divides by the row sums as a product by their reciprocals.
    total = _reduce_sum_last(unnormalised)
    return lax.mul(unnormalised, lax.div(lax.full((), 1.0, dtype), total))


def _reduce_max_last(x: Any) -> Any:
    from llax.frontend.jnp._reductions import max as jmax

    return jmax(x, axis=-1, keepdims=True)


def _reduce_sum_last(x: Any) -> Any:
    from llax.frontend.jnp._reductions import sum as jsum

    return jsum(x, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# poisson


def poisson(key: Any, lam: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Poisson(lam) integers (int32, or int64 under x64, by default)."""
    typed = S.single_key("poisson", key)
    dt = S.int_dtype(dtype, "poisson")
    lam = as_array(lam, "poisson")
    shape = tuple(lam.shape) if shape is None else S.canonical_shape(shape, "poisson")
    lam = lax.convert_element_type(broadcast_to(lam, shape), np.float32)
    return _poisson(typed, lam, shape, dt)


def _knuth(key: Any, lam: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """The count of uniforms whose product stays above exp(-lam) (log space), whole-array."""
    neg_lam = lax.neg(lam)

    def more(state: tuple) -> Any:
        _, _, _, log_prod = state
        return _any(lax.gt(log_prod, neg_lam))

    def step(state: tuple) -> tuple:
        i, k, rng, log_prod = state
        rng, sub = _split(rng, 2)
        k = lax.select(lax.gt(log_prod, neg_lam), lax.add(k, lax.full(shape, 1, dtype)), k)
        u = _uniform(sub, shape, np.dtype(np.float32))
        return i + 1, k, rng, lax.add(log_prod, xla_math.log(u))

    init = (lax.full((), 0, np.int32), lax.full(shape, 0, dtype), key,
            lax.full(shape, 0.0, np.float32))
    k = lax.while_loop(more, step, init)[1]
    return lax.sub(k, lax.full(shape, 1, dtype))


def _rejection(key: Any, lam: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Hormann's transformed rejection (PTRS), whole-array, for rates of 10 and more."""
    f32 = np.float32

    def c(v: float) -> Any:
        return lax.full(shape, v, f32)

    log_lam = xla_math.log(lam)
    b = fma(lax.sqrt(lam), c(2.53), c(0.931))
    a = fma(b, c(0.02483), c(-0.059))
    inv_alpha = lax.add(c(1.1239), lax.div(c(1.1328), lax.sub(b, c(3.4))))
    v_r = lax.sub(c(0.9277), lax.div(c(3.6224), lax.sub(b, c(2.0))))
    two_a = lax.mul(c(2.0), a)

    def more(state: tuple) -> Any:
        return _any(lax.bitwise_not(state[2]))

    def step(state: tuple) -> tuple:
        i, k_out, accepted, rng = state
        rng, key_u, key_v = _split(rng, 3)
        u = lax.sub(_uniform(key_u, shape, np.dtype(f32)), c(0.5))
        v = _uniform(key_v, shape, np.dtype(f32))
        u_shifted = lax.sub(c(0.5), lax.abs(u))
        k = lax.floor(lax.add(fma(lax.add(lax.div(two_a, u_shifted), b), u, lam), c(0.43)))
        s = xla_math.log(lax.div(lax.mul(v, inv_alpha),
                              lax.add(lax.div(a, lax.mul(u_shifted, u_shifted)), b)))
        t = lax.sub(fma(k, log_lam, lax.neg(lam)), xla_math.lgamma(lax.add(k, c(1.0))))
        accept1 = lax.bitwise_and(lax.ge(u_shifted, c(0.07)), lax.le(v, v_r))
        reject = lax.bitwise_or(lax.lt(k, c(0.0)), lax.bitwise_and(lax.lt(u_shifted, c(0.013)),
                                                                   lax.gt(v, u_shifted)))
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject), lax.le(s, t)))
        return i + 1, lax.select(accept, k, k_out), lax.bitwise_or(accepted, accept), rng

    init = (lax.full((), 0, np.int32), c(-1.0), lax.full(shape, False, np.bool_), key)
    k = lax.while_loop(more, step, init)[1]
    return lax.convert_element_type(k, dtype)


def _any(x: Any) -> Any:
    from llax.frontend.jnp._reductions import any as jany

    return jany(x)


@jit(static_argnums=(2, 3))
def _poisson(key: KeyArray, lam: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    if math.prod(shape) == 0:
        return lax.full(shape, 0, dtype)
    use_knuth = lax.bitwise_or(lax.ne(lam, lam), lax.lt(lam, lax.full(shape, 10.0, np.float32)))
    # Each loop sees neutral rates where the other method applies: 0 ends Knuth's loop at
    # once, and 1e5 is accepted often by the rejection loop.
    lam_knuth = lax.select(use_knuth, lam, lax.full(shape, 0.0, np.float32))
    lam_rejection = lax.select(use_knuth, lax.full(shape, 1e5, np.float32), lam)
    out = lax.select(use_knuth, _knuth(key._data, lam_knuth, shape, dtype),
                     _rejection(key._data, lam_rejection, shape, dtype))
    return lax.select(lax.eq(lam, lax.full(shape, 0.0, np.float32)),
                      lax.full(shape, 0, dtype), out)


__all__ = ["beta", "dirichlet", "gamma", "loggamma", "poisson"]
