"""More of NumPy's math: integer gcd/lcm, float decomposition (frexp, ldexp, modf,
spacing), logaddexp2, i0, the infinity tests, nan_to_num, unwrap, bit packing,
geomspace/logspace, vector products (vecdot, matvec, vecmat), and the functions JAX
takes from NumPy unchanged (printing, file and buffer input/output).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import llax.frontend.jnp as jnp
from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._reductions import canonical_axes
from llax.frontend.jnp._ufunc_methods import logaddexp2_ufunc
from llax.ir import dtypes

__all__ = [
    "array_equiv", "array_repr", "array_str", "astype", "bitwise_count", "divmod", "frexp",
    "frombuffer", "fromfile", "fromiter", "fromstring", "gcd", "geomspace", "get_printoptions",
    "i0", "isneginf", "isposinf", "iterable", "lcm", "ldexp", "load", "logaddexp2",
    "logspace", "matvec", "modf", "nan_to_num", "packbits", "printoptions", "save", "savez",
    "set_printoptions", "spacing", "unpackbits", "unwrap", "vecdot", "vecmat",
]

# What JAX takes from NumPy unchanged.
array_repr = np.array_repr
array_str = np.array_str
get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions
printoptions = np.printoptions
iterable = np.iterable
save = np.save
savez = np.savez


def _inexact(name: str, *args: Any) -> list[Any]:
    return promote_dtypes(name, [as_array(a, name, i) for i, a in enumerate(args)], "inexact")


def _numeric(name: str, *args: Any) -> list[Any]:
    return promote_dtypes(name, [as_array(a, name, i) for i, a in enumerate(args)])


# ---------------------------------------------------------------------------------------------
# Integers


def gcd(x1: Any, x2: Any) -> Any:
    """Greatest common divisor of integers (Euclid's algorithm in a while loop)."""
    x1, x2 = _numeric("gcd", x1, x2)
    if dtypes.kind(x1.dtype) not in "iu":
        raise ValueError("Arguments to jax.numpy.gcd must be integers.")
    a, b = jnp.broadcast_arrays(jnp.abs(x1), jnp.abs(x2))

    def step(ab: tuple[Any, Any]) -> tuple[Any, Any]:
        a, b = ab
        live = b != 0
        safe = jnp.where(live, b, jnp.ones_like(b))
        return jnp.where(live, b, a), jnp.where(live, jnp.remainder(a, safe), jnp.zeros_like(b))

    result, _ = lax.while_loop(lambda ab: jnp.any(ab[1] != 0), step, (a, b))
    return result


def lcm(x1: Any, x2: Any) -> Any:
    """Least common multiple of integers (0 if either is 0)."""
    x1, x2 = _numeric("lcm", x1, x2)
    if dtypes.kind(x1.dtype) not in "iu":
        raise ValueError("Arguments to jax.numpy.lcm must be integers.")
    x1, x2 = jnp.abs(x1), jnp.abs(x2)
    d = gcd(x1, x2)
    safe = jnp.where(d == 0, jnp.ones_like(d), d)
    return jnp.where(d == 0, jnp.zeros_like(d), jnp.multiply(x1, jnp.floor_divide(x2, safe)))


def bitwise_count(x: Any, /) -> Any:
    """Number of set bits of ``|x|``, as uint8 (NumPy's rule)."""
    (x,) = _numeric("bitwise_count", x)
    if x.dtype == dtypes.bool_:
        return x.astype(np.uint8)
    return lax.population_count(jnp.abs(x)).astype(np.uint8)


def divmod(x1: Any, x2: Any, /) -> tuple[Any, Any]:  # noqa: A001 - NumPy's name
    """``(floor_divide(x1, x2), remainder(x1, x2))``."""
    x1, x2 = _numeric("divmod", x1, x2)
    return jnp.floor_divide(x1, x2), jnp.remainder(x1, x2)


# ---------------------------------------------------------------------------------------------
# Floating-point decomposition

_BITS_OF = {2: np.int16, 4: np.int32, 8: np.int64}


def _pow2(e: Any, dtype: np.dtype) -> Any:
    """2**e for an integer-valued float ``e`` (exact)."""
    return jnp.exp2(e.astype(dtype))


def _exponent(x: Any) -> Any:
    """The ``e`` of ``x = m * 2**e`` with ``0.5 <= |m| < 1``, read from the bits (0 for
    zero, infinities and NaN); subnormals are scaled into the normal range first."""
    info = jnp.finfo(x.dtype)
    ints = _BITS_OF[x.dtype.itemsize]
    subnormal = jnp.abs(x) < info.tiny
    scaled = jnp.where(subnormal, x * float(2 ** info.nmant), x)
    bits = lax.bitcast_convert_type(scaled, ints)
    field = lax.bitwise_and(lax.shift_right_logical(bits, np.array(info.nmant, ints)),
                            np.array((1 << info.nexp) - 1, ints))
    bias = 1 - info.minexp
    e = field.astype(np.int32) - (bias - 1) - jnp.where(subnormal, info.nmant, 0)
    special = jnp.isinf(x) | jnp.isnan(x) | (x == 0)
    return jnp.where(special, 0, e).astype(np.int32)


def _scale_by_pow2(x: Any, e: Any) -> Any:
    """``x * 2**e`` in two exact halves, so neither power overflows on its own."""
    half = jnp.floor_divide(e, 2)
    return x * _pow2(half, x.dtype) * _pow2(e - half, x.dtype)


def frexp(x: Any, /) -> tuple[Any, Any]:
    """Mantissa in [0.5, 1) and int32 exponent with ``x = m * 2**e``."""
    (x,) = _inexact("frexp", x)
    e = _exponent(lax.stop_gradient(x))
    m = _scale_by_pow2(x, -e)
    special = jnp.isinf(x) | jnp.isnan(x) | (x == 0)
    return jnp.where(special, x, m), e


def ldexp(x1: Any, x2: Any, /) -> Any:
    """``x1 * 2**x2`` for an integer ``x2``, without overflow in the intermediate power."""
    x1, x2 = as_array(x1, "ldexp"), as_array(x2, "ldexp", 1)
    if dtypes.kind(x2.dtype) == "f":
        raise ValueError(f"ldexp not supported for input types {(x1.dtype, x2.dtype)}")
    (x1,) = _inexact("ldexp", x1)
    m, e = frexp(x1)
    total = e.astype(np.int32) + x2.astype(np.int32)
    out = _scale_by_pow2(m, total)
    return jnp.where(jnp.isinf(x1) | (x1 == 0), x1, out)


def modf(x: Any, /, out: None = None) -> tuple[Any, Any]:
    """Fractional and integral parts, both with the sign of ``x``."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.modf is not supported.")
    (x,) = _inexact("modf", x)
    whole = jnp.where(x >= 0, jnp.floor(x), jnp.ceil(x))
    return x - whole, whole


def spacing(x: Any, /) -> Any:
    """Distance from ``x`` to the next representable number away from zero."""
    (x,) = _inexact("spacing", x)
    inf = jnp.asarray(math.inf, x.dtype)
    if x.dtype == dtypes.float16:
        return jnp.nextafter(x, inf) - x
    result = jnp.nextafter(x, jnp.copysign(inf, x)) - x
    tiny = jnp.finfo(x.dtype).smallest_subnormal
    return jnp.where(result == 0, jnp.copysign(jnp.asarray(tiny, x.dtype), x), result)


def _logaddexp2(x1: Any, x2: Any, /) -> Any:
    """``log2(2**x1 + 2**x2)`` without overflow."""
    operands = [as_array(x1, "logaddexp2"), as_array(x2, "logaddexp2", 1)]
    weak = all(x.weak_type for x in operands)  # JAX's result is weak only then
    x1, x2 = promote_dtypes("logaddexp2", operands, "inexact")
    if x1.weak_type and not weak:
        x1, x2 = convert(x1, x1.dtype, False), convert(x2, x2.dtype, False)
    top = jnp.maximum(x1, x2)
    if dtypes.kind(x1.dtype) == "c":
        # The larger term factored out (lexicographic maximum); the imaginary part is a
        # phase in units of log(2), wrapped into [-pi/log 2, pi/log 2).
        out = top + jnp.log1p(jnp.exp2(x1 + x2 - top * 2)) * (1 / math.log(2))
        period = math.pi / math.log(2)
        phase = jnp.remainder(out.imag + period, 2 * period) - period
        return lax.complex(out.real, phase)
    delta = x1 - x2
    spread = top + jnp.log1p(jnp.exp2(-jnp.abs(delta))) / math.log(2)
    return jnp.where(jnp.isnan(delta), x1 + x2, spread)  # NaNs, or infinities of one sign


logaddexp2 = logaddexp2_ufunc(_logaddexp2)


def _chebyshev(t: Any, coefficients: Sequence[float]) -> Any:
    """Clenshaw's recurrence for Cephes' Chebyshev series (``chbevl``)."""
    b0, b1, b2 = jnp.full_like(t, coefficients[0]), jnp.zeros_like(t), jnp.zeros_like(t)
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = t * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _i0_coefficients() -> tuple[Sequence[float], Sequence[float]]:
    # Cephes' expansions of exp(-x) I0(x), as NumPy's own np.i0 holds them.
    from numpy.lib import _function_base_impl as impl
    return impl._i0A, impl._i0B


def i0(x: Any) -> Any:
    """Modified Bessel function of the first kind, order 0 (Cephes' Chebyshev series)."""
    (x,) = _inexact("i0", x)
    if dtypes.kind(x.dtype) != "f":
        raise ValueError(f"Unsupported input type to jax.numpy.i0: {x.dtype}")
    near, far = _i0_coefficients()
    a = jnp.abs(x)
    small = a <= 8.0
    a_near = jnp.where(small, a, jnp.zeros_like(a))
    a_far = jnp.where(small, jnp.full_like(a, 16.0), a)
    scaled_near = _chebyshev(a_near / 2.0 - 2.0, near)
    scaled_far = _chebyshev(32.0 / a_far - 2.0, far) / jnp.sqrt(a_far)
    return jnp.exp(a) * jnp.where(small, scaled_near, scaled_far)


def _is_infinity(name: str, x: Any, sign: float, out: None) -> Any:
    if out is not None:
        raise NotImplementedError("The 'out' argument to isneginf/isposinf is not supported.")
    x = as_array(x, name)
    if dtypes.kind(x.dtype) == "c":
        raise ValueError("isposinf/isneginf are not well defined for complex types")
    if dtypes.kind(x.dtype) == "f":
        return x == jnp.asarray(sign * math.inf, x.dtype)
    return jnp.zeros(x.shape, dtypes.bool_)


def isposinf(x: Any, /, out: None = None) -> Any:
    """True where ``x`` is +inf."""
    return _is_infinity("isposinf", x, 1.0, out)


def isneginf(x: Any, /, out: None = None) -> Any:
    """True where ``x`` is -inf."""
    return _is_infinity("isneginf", x, -1.0, out)


def nan_to_num(x: Any, copy: bool = True, nan: Any = 0.0, posinf: Any = None,
               neginf: Any = None) -> Any:
    """NaN -> ``nan``, +inf -> ``posinf`` (largest finite), -inf -> ``neginf``."""
    del copy
    x = as_array(x, "nan_to_num")
    if dtypes.kind(x.dtype) == "c":  # each part on its own; the result is strongly typed, as in JAX
        parts = [nan_to_num(part, nan=nan, posinf=posinf, neginf=neginf)
                 for part in (jnp.real(x), jnp.imag(x))]
        return convert(lax.complex(*parts), x.dtype, False)
    if dtypes.kind(x.dtype) != "f":
        return x
    info = jnp.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = jnp.where(jnp.isnan(x), jnp.asarray(nan, x.dtype), x)
    out = jnp.where(isposinf(out), jnp.asarray(posinf, x.dtype), out)
    return jnp.where(isneginf(out), jnp.asarray(neginf, x.dtype), out)


def unwrap(p: Any, discont: Any = None, axis: int = -1, period: Any = 2 * math.pi) -> Any:
    """Remove jumps larger than ``discont`` along ``axis`` by adding multiples of
    ``period``."""
    p, period = _numeric("unwrap", p, period)
    (ax,) = canonical_axes(axis, p.ndim)
    if p.shape[ax] == 0:
        return p
    if discont is None:
        discont = period / 2
    # Integer phases stay integers: half a period rounds down.
    interval = period // 2 if dtypes.kind(p.dtype) in "iu" else period / 2
    n = p.shape[ax]
    head = lax.slice_in_dim(p, 0, 1, axis=ax)
    tail = lax.slice_in_dim(p, 1, n, axis=ax)
    dd = tail - lax.slice_in_dim(p, 0, n - 1, axis=ax)
    ddmod = jnp.mod(dd + interval, period) - interval
    ddmod = jnp.where((ddmod == -interval) & (dd > 0), interval, ddmod)
    correction = jnp.where(jnp.abs(dd) < discont, 0, ddmod - dd)
    if n > 1:
        correction = lax.associative_scan(jnp.add, correction, axis=ax)
    correction = convert(correction, correction.dtype, False)  # a cumsum is never weak
    return jnp.concatenate((head, tail + correction), axis=ax)


# ---------------------------------------------------------------------------------------------
# Bit packing


def _bit_order(bitorder: str) -> Any:
    if bitorder not in ("little", "big"):
        raise ValueError("'order' must be either 'little' or 'big'")
    shifts = np.arange(8, dtype=np.uint8)
    return shifts[::-1].copy() if bitorder == "big" else shifts


def packbits(a: Any, axis: int | None = None, bitorder: str = "big") -> Any:
    """Pack the truth of each element into the bits of uint8 values along ``axis``
    (padded with zeros to a multiple of 8)."""
    a = as_array(a, "packbits")
    if dtypes.kind(a.dtype) not in "iub":
        raise TypeError("Expected an input array of integer or boolean data type")
    shifts = _bit_order(bitorder)
    bits = (a != 0).astype(np.uint8)
    if axis is None:
        bits, axis = jnp.ravel(bits), 0
    bits = jnp.swapaxes(bits, axis, -1)
    extra = (-bits.shape[-1]) % 8
    if extra:
        bits = jnp.pad(bits, [(0, 0)] * (bits.ndim - 1) + [(0, extra)])
    bits = jnp.reshape(bits, bits.shape[:-1] + (bits.shape[-1] // 8, 8))
    packed = jnp.sum(jnp.left_shift(bits, jnp.asarray(shifts)), axis=-1, dtype=np.uint8)
    return jnp.swapaxes(packed, axis, -1)


def unpackbits(a: Any, axis: int | None = None, count: int | None = None,
               bitorder: str = "big") -> Any:
    """The bits of uint8 values as a uint8 array of 0s and 1s, 8 per value along ``axis``
    (the first ``count`` of them if given)."""
    a = as_array(a, "unpackbits")
    if a.dtype != np.uint8:
        raise TypeError("Expected an input array of unsigned byte data type")
    masks = jnp.asarray(np.left_shift(np.uint8(1), _bit_order(bitorder)))
    if axis is None:
        a, axis = jnp.ravel(a), 0
    a = jnp.swapaxes(a, axis, -1)
    bits = (jnp.bitwise_and(a[..., None], masks) > 0).astype(np.uint8)
    bits = jnp.reshape(bits, bits.shape[:-2] + (-1,))
    if count is not None:
        if count > bits.shape[-1]:
            bits = jnp.pad(bits, [(0, 0)] * (bits.ndim - 1) + [(0, count - bits.shape[-1])])
        else:
            bits = bits[..., :count]
    return jnp.swapaxes(bits, axis, -1)


# ---------------------------------------------------------------------------------------------
# Spacings


def _float_result(dtype: Any, *values: Any) -> tuple[np.dtype, np.dtype]:
    """(result dtype, inexact dtype the values are computed in)."""
    dt = jnp.result_type(*values) if dtype is None else jnp.dtype(dtype)
    compute = dt if dtypes.kind(dt) == "f" else dtypes.default_float()
    return (compute if dtype is None else dt), compute


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> Any:
    """``base ** linspace(start, stop, num)``."""
    dt, compute = _float_result(dtype, start, stop)
    start, stop = jnp.asarray(start, compute), jnp.asarray(stop, compute)
    exponents = jnp.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    return jnp.power(base, exponents).astype(dt)


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Any:
    """``num`` numbers spaced evenly on a log scale from ``start`` to ``stop`` (of one
    sign)."""
    dt, compute = _float_result(dtype, start, stop)
    start, stop = jnp.asarray(start, compute), jnp.asarray(stop, compute)
    sign = jnp.sign(start)
    out = sign * logspace(jnp.log10(start / sign), jnp.log10(stop / sign), num,
                          endpoint=endpoint, base=10.0, dtype=compute, axis=0)
    if axis != 0:
        out = jnp.moveaxis(out, 0, axis)
    return out.astype(dt)


# ---------------------------------------------------------------------------------------------
# Comparisons, conversion, products


def array_equiv(a1: Any, a2: Any) -> Any:
    """True if the arrays broadcast to one shape and are equal there."""
    a1, a2 = jnp.asarray(a1), jnp.asarray(a2)
    try:
        eq = jnp.equal(a1, a2)
    except ValueError:  # shapes do not broadcast
        return jnp.asarray(False)
    return jnp.all(eq)


def astype(x: Any, dtype: Any, /, *, copy: bool = False, device: Any = None) -> Any:
    """``x`` converted to ``dtype``."""
    del copy, device
    return as_array(x, "astype").astype(dtype)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    """Dot products of vectors along ``axis`` (other axes broadcast)."""
    x1, x2 = as_array(x1, "vecdot"), as_array(x2, "vecdot", 1)
    if x1.shape[axis] != x2.shape[axis]:
        raise ValueError(f"axes must match; got shapes {x1.shape} and {x2.shape} with "
                         f"axis={axis}")
    x1, x2 = jnp.moveaxis(x1, axis, -1), jnp.moveaxis(x2, axis, -1)
    if x1.dtype.kind == "c":  # the first vector is conjugated, as in the Array API
        x1 = jnp.conj(x1)
    return jnp.einsum("...n,...n->...", x1, x2, precision=precision,
                      preferred_element_type=preferred_element_type)


def matvec(x1: Any, x2: Any, /) -> Any:
    """Matrix-vector products over broadcast batch dimensions."""
    x1, x2 = as_array(x1, "matvec"), as_array(x2, "matvec", 1)
    if x1.ndim < 2 or x2.ndim < 1 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"matvec: incompatible shapes {x1.shape} and {x2.shape}")
    return jnp.einsum("...nm,...m->...n", x1, x2)


def vecmat(x1: Any, x2: Any, /) -> Any:
    """Vector-matrix products over broadcast batch dimensions."""
    x1, x2 = as_array(x1, "vecmat"), as_array(x2, "vecmat", 1)
    if x1.ndim < 1 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-2]:
        raise ValueError(f"vecmat: incompatible shapes {x1.shape} and {x2.shape}")
    if x1.dtype.kind == "c":  # the vector is conjugated, as in JAX
        x1 = jnp.conj(x1)
    return jnp.einsum("...n,...nm->...m", x1, x2)


# ---------------------------------------------------------------------------------------------
# Input and output, through NumPy


def frombuffer(buffer: Any, dtype: Any = float, count: int = -1, offset: int = 0) -> Any:
    """An array read from a buffer (NumPy's ``frombuffer``)."""
    return jnp.asarray(np.frombuffer(buffer=buffer, dtype=dtype, count=count, offset=offset))


def fromstring(string: str, dtype: Any = float, count: int = -1, *, sep: str) -> Any:
    """An array parsed from text (NumPy's ``fromstring``)."""
    return jnp.asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def _impure(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"jnp.{name}() is not implemented because it may be non-pure and thus unsafe for use "
        f"with JIT and other JAX transformations. Consider using jnp.asarray(np.{name}(...)) "
        "instead.")


def fromfile(*args: Any, **kwargs: Any) -> Any:
    """Not implemented, as in JAX: reading a file is a side effect."""
    raise _impure("fromfile")


def fromiter(*args: Any, **kwargs: Any) -> Any:
    """Not implemented, as in JAX: consuming an iterator is a side effect."""
    raise _impure("fromiter")


def load(file: Any, *args: Any, **kwargs: Any) -> Any:
    """``np.load``, with arrays returned as llax arrays where their dtype allows."""
    out = np.load(file, *args, **kwargs)
    if isinstance(out, np.ndarray):
        try:
            out = jnp.asarray(out)
        except (TypeError, AssertionError):  # a dtype llax does not hold
            pass
    return out
