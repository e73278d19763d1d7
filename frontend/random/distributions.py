"""The basic samplers: ``bits``, ``uniform``, ``normal``, ``randint``, ``bernoulli``.

Each public function checks its arguments, then calls a jitted kernel with the
shape and dtype static, as JAX does: eager calls run the same compiled code as
jitted ones, so a key gives the same numbers either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.config import config
from llax.frontend import lax, xla_math
from llax.frontend.api import jit
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._dtypes import requested_dtype
from llax.frontend.jnp._manipulation import broadcast_to
from llax.frontend.random import _sampling as S
from llax.frontend.random.keys import KeyArray, split
from llax.ir import dtypes


def bits(key: Any, shape: Any = (), dtype: Any = None) -> Any:
    """Uniform random unsigned integers (uint32, or uint64 under x64, by default)."""
    typed = S.single_key("bits", key)
    dt = requested_dtype(np.uint64 if config.jax_enable_x64 else np.uint32, "bits") \
        if dtype is None else requested_dtype(dtype, "bits")
    if dt.kind != "u":
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dt}")
    return _bits(typed, S.canonical_shape(shape, "bits"), dt.itemsize * 8)


@jit(static_argnums=(1, 2))
def _bits(key: KeyArray, shape: tuple[int, ...], bit_width: int) -> Any:
    return S.bits(key, bit_width, shape)


def uniform(key: Any, shape: Any = (), dtype: Any = None, minval: Any = 0.0,
            maxval: Any = 1.0) -> Any:
    """Floats uniform in [minval, maxval)."""
    typed = S.single_key("uniform", key)
    dt = S.float_dtype(dtype, "uniform")
    return _uniform(typed, as_array(minval, "uniform"), as_array(maxval, "uniform"),
                    S.canonical_shape(shape, "uniform"), dt)


@jit(static_argnums=(3, 4))
def _uniform(key: KeyArray, minval: Any, maxval: Any, shape: tuple[int, ...],
             dtype: np.dtype) -> Any:
    if _is_constant(minval, 0) and _is_constant(maxval, 1):
        return S.unit_floats(key, shape, dtype)  # x * 1 + 0, and max(0, x): nothing to do
    return S.uniform_between(key, shape, dtype, minval, maxval)


def _is_constant(x: Any, value: float) -> bool:
    """True when ``x`` is known (at trace time) to be the scalar ``value``."""
    from llax.frontend.core import Tracer

    known = x.val if isinstance(x, Tracer) else x
    return known is not None and np.ndim(known) == 0 and float(np.asarray(known)) == value


def standard_normal(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Standard normal floats: ``sqrt(2) * erfinv(u)`` for u uniform in (-1, 1), as JAX."""
    # u = 2 f - 1 + 2**-(nmant+1) is exact: JAX's uniform on [nextafter(-1, 0), 1), whose
    # width rounds to 2, so its multiply-add rounds once either way.
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    floats = S.unit_floats(key, shape, dtype)
    u = lax.max(lax.full((), lo, dtype),
                lax.add(lax.mul(floats, lax.full((), 2.0, dtype)), lax.full((), lo, dtype)))
    return lax.mul(lax.full((), np.sqrt(2), dtype), xla_math.erf_inv(u))


normal = S.float_sampler(standard_normal, "normal")


def randint(key: Any, shape: Any, minval: Any, maxval: Any, dtype: Any = None) -> Any:
    """Integers uniform in [minval, maxval) (JAX's modulus method: two draws per value)."""
    typed = S.single_key("randint", key)
    dt = S.int_dtype(dtype, "randint")
    shape = S.canonical_shape(shape, "randint")
    lo, hi = as_array(minval, "randint"), as_array(maxval, "randint")
    S.check_shape("randint", shape, np.shape(lo), np.shape(hi))
    # Narrow types are drawn as int32 (less bias) within the type's range, then cast.
    sampled = dt if dt.itemsize >= 4 else np.dtype(np.int32)
    if sampled != dt:
        info = np.iinfo(dt)
        lo, hi = (lax.clamp(lax.full((), low, sampled), lax.convert_element_type(v, sampled),
                            lax.full((), high, sampled))
                  for v, low, high in ((lo, info.min, info.max), (hi, info.min, info.max + 1)))
    out = _randint(typed, lo, hi, shape, sampled)
    return out if sampled == dt else lax.convert_element_type(out, dt)


def _clip_convert(x: Any, dtype: np.dtype) -> Any:
    """Integer ``x`` as ``dtype``, clipped to the range both types share (not wrapped)."""
    src, dst = np.iinfo(x.dtype), np.iinfo(dtype)
    lo, hi = max(src.min, dst.min), min(src.max, dst.max)
    clipped = lax.clamp(lax.full((), lo, x.dtype), x, lax.full((), hi, x.dtype))
    return lax.convert_element_type(clipped, dtype)


@jit(static_argnums=(3, 4))
def _randint(key: KeyArray, minval: Any, maxval: Any, shape: tuple[int, ...],
             dtype: np.dtype) -> Any:
    minval, maxval = (v if dtypes.is_int(v.dtype) else lax.convert_element_type(v, int)
                      for v in (minval, maxval))
    # randint(0, 256, uint8) must reach 255: a maxval above the type's range widens the span.
    type_max = _clip_convert(lax.full((), np.iinfo(dtype).max, dtype), maxval.dtype)
    beyond = lax.gt(maxval, type_max)
    lo, hi = (broadcast_to(_clip_convert(v, dtype), shape) for v in (minval, maxval))
    beyond = broadcast_to(beyond, shape)
    nbits = np.iinfo(dtype).bits
    unsigned = S.threefry.UINT[nbits]
    k1, k2 = split(key)
    high, low = S.bits(k1, nbits, shape), S.bits(k2, nbits, shape)
    one = lax.full((), 1, unsigned)
    span = lax.convert_element_type(lax.sub(hi, lo), unsigned)
    empty = lax.le(hi, lo)
    span = lax.select(empty, lax.full(shape, 1, unsigned), span)
    # Past the type's range the span is one larger (wrapping to 0 = "every value").
    span = lax.select(lax.bitwise_and(beyond, lax.bitwise_not(empty)), lax.add(span, one), span)
    # (high * 2**nbits + low) mod span, without overflow: 2**nbits mod span is the square
    # of 2**(nbits/2) mod span, each product reduced mod span.
    half = lax.rem(lax.full(shape, 1 << (nbits // 2), unsigned), span)
    multiplier = lax.rem(lax.mul(half, half), span)
    offset = lax.add(lax.mul(lax.rem(high, span), multiplier), lax.rem(low, span))
    offset = lax.rem(offset, span)
    return lax.add(lo, lax.convert_element_type(offset, dtype))


def bernoulli(key: Any, p: Any = 0.5, shape: Any = None) -> Any:
    """Booleans, True with probability ``p``."""
    typed = S.single_key("bernoulli", key)
    p = as_array(p, "bernoulli")
    if not dtypes.is_float(p.dtype):
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {p.dtype}.")
    if shape is None:
        shape = tuple(p.shape)
    else:
        shape = S.canonical_shape(shape, "bernoulli")
        S.check_shape("bernoulli", shape, np.shape(p))
    return _bernoulli(typed, lax.convert_element_type(p, p.dtype), shape)


@jit(static_argnums=2)
def _bernoulli(key: KeyArray, p: Any, shape: tuple[int, ...]) -> Any:
    return lax.lt(S.unit_floats(key, shape, p.dtype), broadcast_to(p, shape))
