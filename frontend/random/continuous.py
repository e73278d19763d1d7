"""Samplers that transform uniform and normal draws: gumbel, exponential, laplace,
logistic, cauchy, truncated_normal, lognormal, pareto, maxwell, weibull, rayleigh,
wald, triangular; and rademacher, geometric and categorical, which do the same
for integers.

Each follows JAX's formula step for step, so a key gives JAX's numbers: where
XLA's compiler fuses a multiply into the add that consumes it, ``xla_math.fma``
does too, and ``log``, ``log1p``, ``erf_inv`` and ``erf`` are XLA's approximations
(``llax.frontend.xla_math``). Each public function checks its arguments as JAX does, then calls a
jitted kernel with the shape and dtype static (eager calls run the same code).

``multivariate_normal`` and ``orthogonal`` factor matrices with ``llax.numpy.linalg``'s
decompositions (Jacobi and Householder loops, not LAPACK), so they agree with JAX to
rounding rather than bit for bit; with ``method='eigh'`` or ``'svd'`` the factor's
column signs (which LAPACK leaves arbitrary) can differ from JAX's too.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from llax.config import config
from llax.frontend import jnp, lax, xla_math
from llax.frontend.api import jit
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._dtypes import requested_dtype, result_type, to_inexact
from llax.frontend.jnp._manipulation import broadcast_to
from llax.frontend.random import _sampling as S
from llax.frontend.random.distributions import standard_normal
from llax.frontend.random.keys import KeyArray, split
from llax.ir import dtypes
from llax.ir.promotion import TypePromotionError  # JAX's one class for both uses

__all__ = ["cauchy", "categorical", "double_sided_maxwell", "exponential", "geometric", "gumbel",
           "laplace", "logistic", "lognormal", "maxwell", "multivariate_normal", "orthogonal",
           "pareto", "rademacher", "rayleigh", "triangular", "truncated_normal", "wald",
           "weibull_min"]




# ---------------------------------------------------------------------------------------------
# Shared steps


def _float_args(name: str, key: Any, shape: Any, dtype: Any) -> tuple[KeyArray, Any, np.dtype]:
    """The checks every float sampler makes first: a single key, then a float dtype, and
    the shape canonicalised (None stays None for samplers that broadcast parameters)."""
    typed = S.single_key(name, key)
    dt = S.float_dtype(dtype, name)
    return typed, (None if shape is None else S.canonical_shape(shape, name)), dt


def _param_shape(name: str, shape: tuple[int, ...] | None, *params: Any) -> tuple[int, ...]:
    """``shape``, checked against the parameters; by default their broadcast shape."""
    shapes = [np.shape(p) for p in params]
    if shape is None:
        return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
    S.check_shape(name, shape, *shapes)
    return shape


def _check_safe_casts(name: str, dtype: np.dtype, *params: Any) -> None:
    """Parameters must cast to ``dtype`` without widening it (a weak Python float may)."""
    for p in params:
        if result_type(p, dtype) != dtype and result_type(p) != dtype:
            raise TypePromotionError(f"In arguments to {name}, cannot safely cast argument of "
                                     f"type {result_type(p)} to {dtype}")


def _params(name: str, *params: Any) -> list[Any]:
    return [as_array(p, name, i) for i, p in enumerate(params)]


def _sampler_args(name: str, key: Any, shape: Any, dtype: Any,
                  *params: Any) -> tuple[KeyArray, list[Any], tuple[int, ...], np.dtype]:
    """A parameterised float sampler's checks, in JAX's order: the key and dtype, the
    parameters as arrays, the shape (by default theirs), then their casts to the dtype."""
    typed, shape, dt = _float_args(name, key, shape, dtype)
    arrays = _params(name, *params)
    shape = _param_shape(name, shape, *arrays)
    _check_safe_casts(name, dt, *arrays)
    return typed, arrays, shape, dt


def _const(value: float, dtype: np.dtype) -> Any:
    return lax.full((), value, dtype)


def _as(x: Any, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    return broadcast_to(lax.convert_element_type(x, dtype), shape)


def _neg_log(x: Any) -> Any:
    return lax.neg(xla_math.log(x))


def _log1p_neg(x: Any) -> Any:
    """log(1 - x) with XLA's log1p."""
    return xla_math.log1p(lax.neg(x))


# ---------------------------------------------------------------------------------------------
# Gumbel and categorical


_GUMBEL_MODES = ("highest", "high", "low")


def gumbel(key: Any, shape: Any = (), dtype: Any = None, mode: str | None = None) -> Any:
    """Standard Gumbel draws: ``-log(-log(u))``. ``mode="high"`` (and "highest") builds
    ``u`` from two draws, reaching further into the right tail."""
    typed, shape, dt = _float_args("gumbel", key, shape, dtype)
    mode = _gumbel_mode(mode)
    return _gumbel(typed, shape, dt, mode)


def _gumbel_mode(mode: str | None) -> str:
    if mode is None:
        mode = "high" if getattr(config, "jax_use_high_dynamic_range_gumbel", False) else "low"
    if mode not in _GUMBEL_MODES:
        raise ValueError(f"Must provide valid mode for gumbel got: {mode}")
    return mode


@jit(static_argnums=(1, 2, 3))
def _gumbel(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype, mode: str) -> Any:
    return gumbel_draw(key, shape, dtype, mode)


def gumbel_draw(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype, mode: str) -> Any:
    """The Gumbel draw, traced (for ``categorical``)."""
    info = np.finfo(dtype)
    if mode == "highest" and dtype == np.float32:
        return _gumbel_highest_f32(key, shape)
    if mode in ("high", "highest"):
        both = S.unit_floats(key, (2, *shape), dtype)
        high, low = (lax.reshape(lax.slice_in_dim(both, i, i + 1, axis=0), shape)
                     for i in (0, 1))
        # Below 1/2 the second draw fills in the bits below the first's last one.
        finer = lax.add(lax.add(high, lax.mul(_const(2.0 ** -info.nmant, dtype), low)),
                        _const(info.tiny, dtype))
        x = lax.select(lax.ge(high, _const(0.5, dtype)), high, finer)
        return _neg_log(lax.neg(_log1p_neg(x)))
    u = S.uniform_between(key, shape, dtype, float(info.tiny), 1.0)
    return _neg_log(_neg_log(u))


def _count_leading_zeros(x: Any) -> Any:
    """clz of uint32 values: smear the top bit down, then count the ones below it."""
    for k in (1, 2, 4, 8, 16):
        x = lax.bitwise_or(x, lax.shift_right_logical(x, _const(k, np.uint32)))
    return lax.sub(_const(32, np.uint32), lax.population_count(x))


def _gumbel_highest_f32(key: KeyArray, shape: tuple[int, ...]) -> Any:
    """float32 "highest": a 64-bit fixed-point u in (0, 1) rounded to float32 with every
    leading zero kept (min(u, 1 - u), so both tails are fine), then the Gumbel of it."""
    u32 = np.uint32
    both = S.bits(key, 32, (2, *shape))
    hi, lo = (lax.reshape(lax.slice_in_dim(both, i, i + 1, axis=0), shape) for i in (0, 1))
    # 1 - u in 64-bit fixed point: the two's complement of (hi, lo).
    not_hi, not_lo = lax.bitwise_not(hi), lax.bitwise_not(lo)
    carry = lax.convert_element_type(lax.eq(not_lo, _const(0xFFFFFFFF, u32)), u32)
    neg_hi, neg_lo = lax.add(not_hi, carry), lax.add(not_lo, _const(1, u32))
    lower_half = lax.lt(hi, _const(1 << 31, u32))
    hi, lo = lax.select(lower_half, hi, neg_hi), lax.select(lower_half, lo, neg_lo)
    x = _fixed_point_to_f32(hi, lo)
    return lax.select(lower_half, _neg_log(lax.neg(_log1p_neg(x))), _neg_log(_neg_log(x)))


def _fixed_point_to_f32(hi: Any, lo: Any) -> Any:
    """The float32 whose mantissa is the 23 bits after the leading one of the 64-bit
    fraction ``hi:lo`` (truncated), and whose exponent counts the zeros before it."""
    u32 = np.uint32
    hi_clz, lo_clz = _count_leading_zeros(hi), _count_leading_zeros(lo)
    hi_empty = lax.eq(hi_clz, _const(32, u32))
    # Shifts by 32 give 0, so each word's part vanishes where it should.
    top = lax.bitwise_or(
        lax.shift_left(hi, hi_clz),
        lax.select(hi_empty, lax.shift_left(lo, lo_clz),
                   lax.shift_right_logical(lo, lax.sub(_const(32, u32), hi_clz))))
    mantissa = lax.bitwise_and(lax.shift_right_logical(top, _const(8, u32)),
                               _const((1 << 23) - 1, u32))
    zeros = lax.select(hi_empty, lax.add(_const(32, u32), lo_clz), hi_clz)
    exponent = lax.bitwise_and(lax.shift_left(lax.sub(_const(126, u32), zeros), _const(23, u32)),
                               _const((1 << 30) - (1 << 22), u32))
    return lax.bitcast_convert_type(lax.bitwise_or(exponent, mantissa), np.float32)


def categorical(key: Any, logits: Any, axis: int = -1, shape: Any = None, replace: bool = True,
                mode: str | None = None) -> Any:
    """Indices drawn with probabilities ``softmax(logits, axis)``: the argmax of
    ``logits + gumbel`` (with replacement), or the top k of one such sum (without)."""
    typed = S.single_key("categorical", key)
    logits = as_array(logits, "categorical")
    batch_shape = tuple(int(d) for d in np.delete(logits.shape, axis))
    if shape is None:
        shape = batch_shape
    else:
        shape = S.canonical_shape(shape, "categorical")
        S.check_shape("categorical", shape, batch_shape)
    mode = _gumbel_mode(mode)
    dt = S.float_dtype(logits.dtype, "gumbel")
    axis = operator.index(axis)
    if replace:
        return _categorical(typed, logits, shape, batch_shape, axis, dt, mode)
    prefix = shape[:len(shape) - len(batch_shape)]
    k = math.prod(prefix)
    n = logits.shape[axis]
    if k > n:
        raise ValueError(f"Number of samples without replacement ({k}) cannot exceed number of "
                         f"categories ({n}).")
    return _categorical_distinct(typed, logits, shape, axis, k, dt, mode)


@jit(static_argnums=(2, 3, 4, 5, 6))
def _categorical(key: KeyArray, logits: Any, shape: tuple[int, ...],
                 batch_shape: tuple[int, ...], axis: int, dtype: np.dtype, mode: str) -> Any:
    ndim = logits.ndim
    axis = axis - ndim if axis >= 0 else axis
    prefix = shape[:len(shape) - len(batch_shape)]
    draw_shape = list(shape[len(prefix):])
    draw_shape.insert(axis % ndim, logits.shape[axis])
    noise = gumbel_draw(key, (*prefix, *draw_shape), dtype, mode)
    shifted = lax.add(noise, broadcast_to(lax.expand_dims(logits, tuple(range(len(prefix)))),
                                          noise.shape))
    return jnp.argmax(shifted, axis=axis)


@jit(static_argnums=(2, 3, 4, 5, 6))
def _categorical_distinct(key: KeyArray, logits: Any, shape: tuple[int, ...], axis: int, k: int,
                          dtype: np.dtype, mode: str) -> Any:
    perturbed = lax.add(logits, gumbel_draw(key, tuple(logits.shape), dtype, mode))
    indices = _top_k_indices(jnp.moveaxis(perturbed, axis, -1), k)
    # (*batch, k) -> (k, *batch) -> shape = (*prefix, *batch)
    last = indices.ndim - 1
    return lax.reshape(lax.transpose(indices, (last, *range(last))), shape)


def _top_k_indices(x: Any, k: int) -> Any:
    """The int32 indices of the ``k`` largest entries along the last axis, largest first,
    ties to the lower index, floats in their bits' order (as XLA's TopK)."""
    return lax.top_k(x, k)[1]


# ---------------------------------------------------------------------------------------------
# Inverse-CDF samplers without parameters


def exponential_draw(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Exponential draws: ``-log1p(-u)``."""
    return lax.neg(_log1p_neg(S.unit_floats(key, shape, dtype)))


def laplace_draw(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Laplace draws: ``sign(u) log1p(-|u|)`` for u uniform in (-1, 1)."""
    u = S.uniform_between(key, shape, dtype, -1.0 + float(np.finfo(dtype).epsneg), 1.0)
    return lax.mul(lax.sign(u), _log1p_neg(lax.abs(u)))


def logistic_draw(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Logistic draws: ``log(u) - log1p(-u)``."""
    u = S.uniform_between(key, shape, dtype, float(np.finfo(dtype).tiny), 1.0)
    return lax.sub(xla_math.log(u), _log1p_neg(u))


def cauchy_draw(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Cauchy draws: ``tan(pi (u - 1/2))``."""
    u = S.uniform_between(key, shape, dtype, float(np.finfo(dtype).eps), 1.0)
    return lax.tan(lax.mul(_const(np.pi, dtype), lax.sub(u, _const(0.5, dtype))))


def maxwell_draw(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """One-sided Maxwell draws: the length of a standard normal 3-vector."""
    z = standard_normal(key, (*shape, 3), dtype)
    # sqrt(z0^2 + z1^2 + z2^2) as XLA's reduction adds the squares: (z0^2 + z2^2) + z1^2,
    # nothing fused (two accumulator lanes, the third square joining the first).
    z0, z1, z2 = (lax.reshape(lax.slice_in_dim(z, i, i + 1, axis=len(shape)), shape)
                  for i in range(3))
    total = lax.add(lax.add(lax.mul(z0, z0), lax.mul(z2, z2)), lax.mul(z1, z1))
    return lax.sqrt(total)


exponential = S.float_sampler(exponential_draw)
laplace = S.float_sampler(laplace_draw)
logistic = S.float_sampler(logistic_draw)
cauchy = S.float_sampler(cauchy_draw)
maxwell = S.float_sampler(maxwell_draw)


# ---------------------------------------------------------------------------------------------
# Samplers with parameters


def truncated_normal(key: Any, lower: Any, upper: Any, shape: Any = None,
                     dtype: Any = None) -> Any:
    """Standard normal draws conditioned on ``lower < x < upper``: ``sqrt(2) erfinv(u)``
    for u uniform between ``erf(lower / sqrt(2))`` and ``erf(upper / sqrt(2))``."""
    if shape is not None:
        shape = S.canonical_shape(shape, "truncated_normal")
    typed, _, dt = _float_args("truncated_normal", key, None, dtype)
    lower, upper = _params("truncated_normal", lower, upper)
    shape = _param_shape("truncated_normal", shape, lower, upper)
    return _truncated_normal(typed, lower, upper, shape, dt)


@jit(static_argnums=(3, 4))
def _truncated_normal(key: KeyArray, lower: Any, upper: Any, shape: tuple[int, ...],
                      dtype: np.dtype) -> Any:
    sqrt2 = np.asarray(np.sqrt(2), dtype)
    lower, upper = (lax.convert_element_type(v, dtype) for v in (lower, upper))
    # XLA turns the division by the constant into a product with its (rounded) reciprocal.
    inv_sqrt2 = _const(np.asarray(1, dtype) / sqrt2, dtype)
    a, b = (xla_math.erf(lax.mul(v, inv_sqrt2)) for v in (lower, upper))
    sqrt2 = _const(sqrt2, dtype)
    out = lax.mul(sqrt2, xla_math.erf_inv(S.uniform_between(key, shape, dtype, a, b)))
    # Rounding may reach a bound (or u be exactly erf(lower)): keep to the open interval.
    # (The bounds only clamp: no gradient flows through them, as in JAX.)
    above = broadcast_to(lax.nextafter(lax.stop_gradient(lower), _const(np.inf, dtype)), shape)
    below = broadcast_to(lax.nextafter(lax.stop_gradient(upper), _const(-np.inf, dtype)), shape)
    return lax.min(lax.max(out, above), below)


_UNIT_SIGMA = np.float32(1)


def lognormal(key: Any, sigma: Any = _UNIT_SIGMA, shape: Any = None, dtype: Any = None) -> Any:
    """Log-normal draws: ``exp(sigma z)`` for standard normal z."""
    typed = S.single_key("lognormal", key)
    dt = requested_dtype(float if dtype is None else dtype, "lognormal")
    if not dtypes.is_float(dt):
        raise ValueError(f"dtype argument to `lognormal` must be a float or complex dtype, "
                         f"got {dt}")
    (sigma,) = _params("lognormal", sigma)
    shape = _param_shape("lognormal", None if shape is None else
                         S.canonical_shape(shape, "lognormal"), sigma)
    _check_safe_casts("lognormal", dt, sigma)
    return _lognormal(typed, sigma, shape, dt)


@jit(static_argnums=(2, 3))
def _lognormal(key: KeyArray, sigma: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    z = standard_normal(key, shape, dtype)
    return lax.exp(lax.mul(z, _as(sigma, dtype, shape)))


def pareto(key: Any, b: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Pareto draws (scale 1, shape ``b``): ``exp(e / b)`` for exponential e."""
    typed, (b,), shape, dt = _sampler_args("pareto", key, shape, dtype, b)
    return _pareto(typed, b, shape, dt)


@jit(static_argnums=(2, 3))
def _pareto(key: KeyArray, b: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return lax.exp(lax.div(exponential_draw(key, shape, dtype), _as(b, dtype, shape)))


def double_sided_maxwell(key: Any, loc: Any, scale: Any, shape: Any = (),
                         dtype: Any = None) -> Any:
    """Maxwell draws with a random sign, scaled and shifted: ``sign m scale + loc``.
    As in JAX, the result's shape is ``shape`` (by default the parameters' broadcast
    shape) followed by the parameters' broadcast shape."""
    typed, shape, dt = _float_args("double_sided_maxwell", key, shape, dtype)
    loc, scale = _params("double_sided_maxwell", loc, scale)
    return _double_sided_maxwell(typed, loc, scale, shape, dt)


@jit(static_argnums=(3, 4))
def _double_sided_maxwell(key: KeyArray, loc: Any, scale: Any, shape: tuple[int, ...],
                          dtype: np.dtype) -> Any:
    params_shape = tuple(np.broadcast_shapes(np.shape(loc), np.shape(scale)))
    shape = (*(shape or params_shape), *params_shape)
    maxwell_key, sign_key = split(key)
    signed = lax.mul(_sign_draw(sign_key, shape, dtype), maxwell_draw(maxwell_key, shape, dtype))
    return _scale_shift(signed, scale, loc)


def _scale_shift(x: Any, scale: Any, loc: Any) -> Any:
    """``x * scale + loc`` with JAX's type promotion, the multiply fused into the add when
    both happen in one dtype. (So XLA computes it for up to 2048 draws; from 4096 on its
    CPU code keeps the product rounded, which moves results near zero, where ``x * scale``
    cancels ``loc``, by half an ulp of the product.)"""
    product_dtype = result_type(x, scale)
    out_dtype = result_type(jnp.multiply(x, scale), loc)
    if product_dtype != out_dtype:
        return jnp.add(jnp.multiply(x, scale), loc)
    shape = tuple(np.broadcast_shapes(x.shape, np.shape(scale), np.shape(loc)))
    x, scale, loc = (_as(v, out_dtype, shape) for v in (x, scale, loc))
    return xla_math.fma(x, scale, loc)


def weibull_min(key: Any, scale: Any, concentration: Any, shape: Any = (),
                dtype: Any = None) -> Any:
    """Weibull draws: ``(-log1p(-u)) ** (1 / concentration) * scale``. As in JAX, the
    parameters are not checked against ``shape``: the result broadcasts with them."""
    typed, shape, dt = _float_args("weibull_min", key, shape, dtype)
    scale, concentration = _params("weibull_min", scale, concentration)
    return _weibull_min(typed, scale, concentration, shape, dt)


@jit(static_argnums=(3, 4))
def _weibull_min(key: KeyArray, scale: Any, concentration: Any, shape: tuple[int, ...],
                 dtype: np.dtype) -> Any:
    e = lax.neg(_log1p_neg(S.unit_floats(key, shape, dtype)))
    return jnp.multiply(jnp.power(e, jnp.divide(1.0, concentration)), scale)


def rayleigh(key: Any, scale: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Rayleigh draws: ``scale sqrt(-2 log u)``."""
    typed, (scale,), shape, dt = _sampler_args("rayleigh", key, shape, dtype, scale)
    return _rayleigh(typed, scale, shape, dt)


@jit(static_argnums=(2, 3))
def _rayleigh(key: KeyArray, scale: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    u = S.unit_floats(key, shape, dtype)
    root = lax.sqrt(lax.mul(xla_math.log(u), _const(-2.0, dtype)))
    return lax.mul(_as(scale, dtype, shape), root)


def wald(key: Any, mean: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Wald (inverse Gaussian, scale 1) draws, by Michael, Schucany and Haas' method:
    a root of the quadratic from a chi-square(1) draw, or its reflection ``mean^2 / x``."""
    typed, (mean,), shape, dt = _sampler_args("wald", key, shape, dtype, mean)
    return _wald(typed, mean, shape, dt)


@jit(static_argnums=(2, 3))
def _wald(key: KeyArray, mean: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    normal_key, uniform_key = split(key)
    mu = _as(mean, dtype, shape)
    v = standard_normal(normal_key, shape, dtype)
    z = S.unit_floats(uniform_key, shape, dtype)
    y = lax.mul(v, v)
    mu2 = lax.mul(mu, mu)
    half_mu = lax.div(mu, _const(2.0, dtype))
    root = lax.sqrt(xla_math.fma(lax.mul(_const(4.0, dtype), mu), y, lax.mul(mu2, lax.mul(y, y))))
    # mu + mu^2 y / 2 - mu / 2 * root, the halving exact and the last product fused.
    x = xla_math.fma(lax.neg(half_mu), root,
                     lax.add(mu, lax.div(lax.mul(mu2, y), _const(2.0, dtype))))
    return lax.select(lax.le(z, lax.div(mu, lax.add(mu, x))), x, lax.div(mu2, x))


def triangular(key: Any, left: Any, mode: Any, right: Any, shape: Any = None,
               dtype: Any = None) -> Any:
    """Triangular draws on [left, right] peaking at ``mode``, by inverting the CDF."""
    typed, (left, mode, right), shape, dt = _sampler_args("triangular", key, shape, dtype,
                                                           left, mode, right)
    return _triangular(typed, left, mode, right, shape, dt)


@jit(static_argnums=(4, 5))
def _triangular(key: KeyArray, left: Any, mode: Any, right: Any, shape: tuple[int, ...],
                dtype: np.dtype) -> Any:
    left, mode, right = (_as(v, dtype, shape) for v in (left, mode, right))
    width = lax.sub(right, left)
    split_at = lax.div(lax.sub(mode, left), width)
    u = S.unit_floats(key, shape, dtype)
    rising = lax.add(left, lax.sqrt(lax.mul(lax.mul(u, width), lax.sub(mode, left))))
    falling = lax.sub(right, lax.sqrt(lax.mul(lax.mul(lax.sub(_const(1.0, dtype), u), width),
                                              lax.sub(right, mode))))
    return lax.select(lax.lt(u, split_at), rising, falling)


# ---------------------------------------------------------------------------------------------
# Integer-valued


def rademacher(key: Any, shape: Any = (), dtype: Any = None) -> Any:
    """-1 or 1 with equal probability (any dtype; int by default)."""
    typed = S.single_key("rademacher", key)
    dt = requested_dtype(int if dtype is None else dtype, "rademacher")
    return _rademacher(typed, S.canonical_shape(shape, "rademacher"), dt)


@jit(static_argnums=(1, 2))
def _rademacher(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return _sign_draw(key, shape, dtype)


def _sign_draw(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """JAX's ``2 * bernoulli(key, 0.5) - 1`` in ``dtype``: the coin is a default-float
    uniform below 1/2; -1 then converts as C casts it (unsigned types wrap)."""
    coin_dtype = requested_dtype(float, "rademacher")
    heads = lax.lt(S.unit_floats(key, shape, coin_dtype), _const(0.5, coin_dtype))
    signs = lax.select(heads, lax.full(shape, 1, np.int32), lax.full(shape, -1, np.int32))
    return lax.convert_element_type(signs, dtype)


def geometric(key: Any, p: Any, shape: Any = None, dtype: Any = None) -> Any:
    """Geometric draws (trials until the first success, so >= 1):
    ``floor(log u / log1p(-p)) + 1``."""
    typed = S.single_key("geometric", key)
    dt = requested_dtype(int if dtype is None else dtype, "geometric")
    if not dtypes.is_int(dt):
        raise ValueError(f"dtype argument to `geometric` must be an int dtype, got {dt}")
    (p,) = _params("geometric", p)
    shape = _param_shape("geometric", None if shape is None else
                         S.canonical_shape(shape, "geometric"), p)
    return _geometric(typed, p, shape, dt)


@jit(static_argnums=(2, 3))
def _geometric(key: KeyArray, p: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    p_dtype, _ = to_inexact(np.dtype(p.dtype), p.weak_type)
    p = lax.convert_element_type(p, p_dtype)
    u = S.unit_floats(key, shape, p_dtype)
    # u = 0 would give log 0: JAX maps it to 1 (keeping the other draws unchanged).
    u = lax.select(lax.eq(u, _const(0.0, p_dtype)), lax.full(shape, 1.0, p_dtype), u)
    log_q = broadcast_to(_log1p_neg(p), shape)
    trials = lax.add(lax.floor(lax.div(xla_math.log(u), log_q)), _const(1.0, p_dtype))
    return lax.convert_element_type(trials, dtype)


# ---------------------------------------------------------------------------------------------
# Samplers that factor matrices


_MVN_METHODS = ("svd", "eigh", "cholesky")


def multivariate_normal(key: Any, mean: Any, cov: Any, shape: Any = None, dtype: Any = None,
                        method: str = "cholesky") -> Any:
    """Normal vectors with mean ``mean`` and covariance ``cov``: ``mean + A z`` for a
    factor ``A A^T = cov`` (Cholesky, or from ``eigh`` / ``svd`` for singular ``cov``)."""
    typed = S.single_key("multivariate_normal", key)
    mean, cov = _params("multivariate_normal", mean, cov)
    inexact = result_type(mean, cov)
    inexact, _ = to_inexact(np.dtype(inexact), False)
    mean, cov = (lax.convert_element_type(v, inexact) for v in (mean, cov))
    if method not in _MVN_METHODS:
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    dt = np.dtype(mean.dtype) if dtype is None else requested_dtype(dtype,
                                                                    "multivariate_normal")
    if not dtypes.is_float(dt):
        raise ValueError(f"dtype argument to `multivariate_normal` must be a float dtype, "
                         f"got {dt}")
    if shape is not None:
        shape = S.canonical_shape(shape, "multivariate_normal")
    if mean.ndim < 1:
        raise ValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == "
                         f"{mean.ndim}")
    if cov.ndim < 2:
        raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == "
                         f"{cov.ndim}")
    n = mean.shape[-1]
    if tuple(cov.shape[-2:]) != (n, n):
        raise ValueError(f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, "
                         f"but got cov.shape == {tuple(cov.shape)}.")
    if shape is None:
        batch = tuple(np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2]))
    else:
        S.check_shape("normal", shape, tuple(mean.shape[:-1]), tuple(cov.shape[:-2]))
        batch = shape
    return _multivariate_normal(typed, mean, cov, batch, dt, method)


@jit(static_argnums=(3, 4, 5))
def _multivariate_normal(key: KeyArray, mean: Any, cov: Any, shape: tuple[int, ...],
                         dtype: np.dtype, method: str) -> Any:
    # JAX's factors; a slightly negative eigenvalue of a singular cov gives NaN, as there.
    if method == "svd":
        u, s, _ = jnp.linalg.svd(cov)
        factor = jnp.multiply(u, jnp.sqrt(s[..., None, :]))
    elif method == "eigh":
        w, v = jnp.linalg.eigh(cov)
        factor = jnp.multiply(v, jnp.sqrt(w[..., None, :]))
    else:
        factor = jnp.linalg.cholesky(cov)
    z = standard_normal(key, (*shape, mean.shape[-1]), dtype)
    return jnp.add(mean, jnp.matmul(factor, z[..., None])[..., 0])


def orthogonal(key: Any, n: int, shape: Any = (), dtype: Any = None, m: int | None = None) -> Any:
    """A matrix drawn uniformly (Haar) from O(n), or with orthonormal rows or columns
    when ``m != n``: the Q of a normal matrix's QR, columns signed by R's diagonal."""
    shape = S.canonical_shape(shape, "orthogonal")
    typed = S.single_key("orthogonal", key)
    dt = S.float_dtype(dtype, "normal")
    n = operator.index(n)
    m = n if m is None else operator.index(m)
    return _orthogonal(typed, n, m, shape, dt)


@jit(static_argnums=(1, 2, 3, 4))
def _orthogonal(key: KeyArray, n: int, m: int, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    z = standard_normal(key, (*shape, max(n, m), min(n, m)), dtype)
    q, r = jnp.linalg.qr(z)
    signs = jnp.sign(jnp.stack([r[..., i, i] for i in range(min(n, m))], axis=-1))
    x = jnp.multiply(q, jnp.expand_dims(signs, -2))
    return jnp.swapaxes(x, -1, -2) if n < m else x
