"""Reference implementations: one NumPy function per primitive.

They define what each primitive means. Eager ``llax.numpy`` calls run them, the
IR interpreter runs them, and the compiled code is tested against them. They
take and return numpy arrays; the caller casts results to the inferred dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ml_dtypes
import numpy as np

from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.primitive import Primitive
from llax.ir.prims.callbacks import CALLBACKS, run_callback

# ml_dtypes' types (NumPy cannot compute in them) are computed in a type that holds them exactly,
# as XLA's CPU backend does: bfloat16 and the narrow floats in float32, the sub-byte
# integers in int8/uint8. The caller rounds each result back to the op's dtype (RNE for
# floats, wrapping for integers), so every op rounds once, as JAX's eager ops do.
_WIDE_OF = {dt: np.dtype(np.float32) if dtypes.is_float(dt) else
            np.dtype(np.int8 if dtypes.kind(dt) == "i" else np.uint8)
            for dt in dtypes.LOW_PRECISION}
# Primitives whose rules run on ml_dtypes' types as they are, without the widening wrapper
# (whose dtype checks would cost every eager op something): those that only move values or
# reinterpret bits, the callbacks (the user's function sees the dtype it was given), and the
# hot arithmetic for which ml_dtypes' own ufuncs already compute in float32 (int8 for the
# sub-byte integers) and round once, exactly as widening would.
_NOT_WIDENED = frozenset({
    "reshape", "transpose", "squeeze", "rev", "slice", "dynamic_slice", "dynamic_update_slice",
    "concatenate", "broadcast_in_dim", "bitcast_convert_type", "stop_gradient", "select_n",
    "custom_lin", *(p.name for p in CALLBACKS),
    "add", "sub", "mul", "max", "min", "neg", "eq", "ne", "lt", "le", "gt", "ge",
})


def _widening_low_precision(fn: Callable, low_precision_fn: Callable | None = None) -> Callable:
    """``fn`` with operands of ml_dtypes' types widened first (see _WIDE_OF), or
    ``low_precision_fn`` on them as they are, when XLA rounds inside the op."""

    def run(*args, **params):
        for a in args:
            if type(a) is np.ndarray and a.dtype in _WIDE_OF:
                if low_precision_fn is not None:
                    return low_precision_fn(*args, **params)
                return fn(*(_widen(x) for x in args), **params)
        return fn(*args, **params)

    run.__wrapped__ = fn
    return run


def _widen(x):
    if type(x) is np.ndarray and x.dtype in _WIDE_OF:
        return x.astype(_WIDE_OF[x.dtype])
    return x


class _Rules(dict):
    """The rule table; the rules stored into it compute ml_dtypes' types widened."""

    def __setitem__(self, prim: Primitive, fn: Callable) -> None:
        if prim.name not in _NOT_WIDENED:
            fn = _widening_low_precision(fn, _ROUNDED_INSIDE.get(prim.name))
        super().__setitem__(prim, fn)


reference: dict[Primitive, Callable[..., np.ndarray]] = _Rules()


def _quiet(fn: Callable) -> Callable:
    """Run ``fn`` with floating-point warnings off: JAX returns inf/nan silently.

    ``with np.errstate(all="ignore")`` costs over a microsecond, more than a small
    ufunc call, and this is the hot path of eager ops. NumPy 2 keeps the error state
    in a context variable; setting it to a prebuilt "ignore" state is what errstate
    does, minus the rebuilding. Older layouts fall back to errstate.
    """
    try:
        from numpy._core._multiarray_umath import _extobj_contextvar, _make_extobj

        ignore = _make_extobj(all="ignore")
    except (ImportError, TypeError):

        def run_errstate(*args, **params):
            with np.errstate(all="ignore"):
                return fn(*args, **params)

        return run_errstate

    def run(*args, **params):
        token = _extobj_contextvar.set(ignore)
        try:
            return fn(*args, **params)
        finally:
            _extobj_contextvar.reset(token)

    return run


def _rounded(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x`` rounded to ``dtype`` and widened again: one op of XLA's expansion."""
    return x.astype(dtype).astype(np.float32)


def _logistic_rounded(x: np.ndarray) -> np.ndarray:
    # XLA expands logistic to 1 / (1 + exp(-x)) before computing bfloat16 & co. in float32,
    # so each of the three ops rounds.
    e = _rounded(np.exp(-x.astype(np.float32)), x.dtype)
    return 1 / _rounded(1 + e, x.dtype)


def _integer_pow_rounded(x: np.ndarray, *, y: int) -> np.ndarray:
    # JAX lowers integer_pow to multiplications by binary powering: each one rounds.
    if not dtypes.is_float(x.dtype):  # (integers wrap: rounding each step changes nothing)
        return np.power(x.astype(_WIDE_OF[x.dtype]), y)
    base, acc, n = x.astype(np.float32), None, abs(y)
    if n == 0:
        return np.ones_like(base)
    while n:
        if n & 1:
            acc = base if acc is None else _rounded(acc * base, x.dtype)
        n >>= 1
        if n:
            base = _rounded(base * base, x.dtype)
    return 1 / acc if y < 0 else acc


def _exp2_rounded(x: np.ndarray) -> np.ndarray:
    # exp2(x) = exp(x * ln 2), the constant and the product rounded to x's type. (Checked for
    # bfloat16 only: XLA's float8 results follow neither this nor one rounding; those get one.)
    if x.dtype != dtypes.bfloat16:
        return np.exp2(_widen(x))
    ln2 = _rounded(np.array(math.log(2), np.float32), x.dtype)
    return np.exp(_rounded(x.astype(np.float32) * ln2, x.dtype))


def _atanh_rounded(x: np.ndarray) -> np.ndarray:
    # atanh(x) = (log1p(x) - log1p(-x)) / 2, each op rounded (bfloat16 only, as exp2).
    wide = x.astype(np.float32)
    if x.dtype != dtypes.bfloat16:
        return np.arctanh(wide)
    return 0.5 * _rounded(_rounded(np.log1p(wide), x.dtype) - _rounded(np.log1p(-wide), x.dtype),
                          x.dtype)


def _acos_rounded(x: np.ndarray) -> np.ndarray:
    # acos(x) = atan2(sqrt((1 - x)(1 + x)), x), each op rounded (bfloat16 only, as exp2).
    wide = x.astype(np.float32)
    if x.dtype != dtypes.bfloat16:
        return np.arccos(wide)
    one_minus_sq = _rounded(_rounded(1 - wide, x.dtype) * _rounded(1 + wide, x.dtype), x.dtype)
    return np.arctan2(_rounded(np.sqrt(one_minus_sq), x.dtype), wide)


# Primitives XLA computes as several rounded ops on bfloat16 & co. (by prim name; checked
# against JAX on every bfloat16 value).
_ROUNDED_INSIDE: dict[str, Callable] = {
    "logistic": _quiet(_logistic_rounded), "integer_pow": _quiet(_integer_pow_rounded),
    "exp2": _quiet(_exp2_rounded), "atanh": _quiet(_atanh_rounded),
    "acos": _quiet(_acos_rounded),
}


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


def _erfc(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erfc, otypes=[x.dtype])(x) if x.size else x.copy()


def _erf_inv(x: np.ndarray) -> np.ndarray:
    # Newton's method in float64 on |x|, measuring the residual with erfc so that it
    # keeps its precision near |x| = 1, from the start sqrt(-log((1-a)(1+a))) scaled,
    # which is within a few percent everywhere.
    # Small |x| measure erf(y) - a directly: 1 - a would round a away.
    a = np.abs(x.astype(np.float64))
    inside = a < 1
    a_in = np.where(inside, a, 0.5)
    y = np.sqrt(-np.log((1 - a_in) * (1 + a_in))) * 0.9
    for _ in range(50):
        residual = np.where(a_in < 0.5, _erf(y) - a_in,
                            (1 - a_in) - _erfc(y))  # = erf(y) - a, without cancellation
        y = np.maximum(y - residual / (2 / np.sqrt(np.pi) * np.exp(-y * y)), 0)
    y = np.where(inside, y, np.where(a == 1, np.inf, np.nan))
    return np.copysign(y, x).astype(x.dtype)


def _round(x: np.ndarray, rounding_method: int = 0) -> np.ndarray:
    # rounding_method 0 = half away from zero (lax default), 1 = half to even (jnp.round).
    if rounding_method == 1:
        return np.round(x)
    # x - trunc(x) is exact, so this never rounds 0.49999997 up as floor(x + 0.5) would.
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t).astype(x.dtype)


def _int_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # lax.div on integers truncates toward zero (C semantics), unlike numpy's floor_divide.
    if x.dtype.kind in "iu":
        safe = np.where(y == 0, 1, y)
        # x - fmod(x, y) is an exact multiple of y and moves toward zero, so it cannot
        # overflow; dividing it by y is exact, so floor division gives the truncated quotient.
        q = (x - np.fmod(x, safe)) // safe
        by_zero = -1 if x.dtype.kind == "i" else np.iinfo(x.dtype).max
        return np.where(y == 0, by_zero, q).astype(x.dtype)
    return x / y


def _int_rem(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # lax.rem takes the sign of the dividend (C fmod semantics).
    if x.dtype.kind in "iu":
        safe = np.where(y == 0, 1, y)
        return np.where(y == 0, x, np.fmod(x, safe)).astype(x.dtype)
    return np.fmod(x, y)


def _pow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind != "c":
        return np.power(x, y)
    # A zero complex base, as XLA (exp(y log x)): 1 for y = 0, 0 for a positive real y,
    # NaN otherwise (NumPy gives 0 for all but y = 0).
    out = np.power(x, y)
    y = np.broadcast_to(y, out.shape)
    zero_base = np.broadcast_to(x == 0, out.shape)
    nan = np.asarray(complex(np.nan, np.nan), out.dtype)
    at_zero = np.where(y == 0, np.ones((), out.dtype),
                       np.where((y.imag == 0) & (y.real > 0), np.zeros((), out.dtype), nan))
    return np.where(zero_base, at_zero, out)


def _logistic(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        return 1 / (1 + np.exp(-x))
    # In float64, as e^x / (1 + e^x) for negative x, so that e^-x does not overflow where
    # the result is still representable (down to the subnormals).
    wide = x.astype(np.float64)
    e = np.exp(-np.abs(wide))
    return np.where(wide >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _sign(x: np.ndarray) -> np.ndarray:
    # Zeros keep their sign (sign(-0.0) is -0.0, as in XLA); NaN stays NaN.
    return np.where(x == 0, x, np.sign(x)) if x.dtype.kind == "f" else np.sign(x)


def _bits_as(x: np.ndarray, kind: str) -> np.ndarray:
    """``x``'s bit pattern viewed as the signed ('i') or unsigned ('u') integer of its width."""
    return x.view(x.dtype.str.replace(x.dtype.kind, kind)) if x.dtype.kind in "iu" else x


def _shift(kind: str) -> Callable:
    def shift(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        bits = x.dtype.itemsize * 8
        unsigned = _bits_as(x, "u")
        yy = y.astype(np.int64)
        oob = (yy < 0) | (yy >= bits)
        safe = np.where(oob, 0, yy).astype(x.dtype)
        if kind == "left":
            out = np.left_shift(x, safe)
            return np.where(oob, 0, out).astype(x.dtype)
        if kind == "logical":
            out = np.right_shift(unsigned, safe.astype(unsigned.dtype)).view(x.dtype)
            return np.where(oob, 0, out).astype(x.dtype)
        # Arithmetic shifts act on the bit pattern, unsigned types included (as XLA does).
        signed = _bits_as(x, "i")
        fill = np.where(signed < 0, -1, 0).astype(signed.dtype)
        out = np.where(oob, fill, np.right_shift(signed, safe.astype(signed.dtype)))
        return out.astype(signed.dtype).view(x.dtype)

    return shift


_UNARY = {
    P.neg: np.negative, P.sign: _sign, P.abs: np.abs, P.exp: np.exp, P.exp2: np.exp2,
    P.log: np.log, P.log1p: np.log1p, P.expm1: np.expm1, P.tanh: np.tanh, P.logistic: _logistic,
    P.sin: np.sin, P.cos: np.cos, P.tan: np.tan, P.asin: np.arcsin, P.acos: np.arccos,
    P.atan: np.arctan, P.sinh: np.sinh, P.cosh: np.cosh, P.asinh: np.arcsinh,
    P.acosh: np.arccosh, P.atanh: np.arctanh, P.sqrt: np.sqrt,
    P.rsqrt: lambda x: (1 / np.sqrt(x)).astype(x.dtype), P.cbrt: np.cbrt, P.floor: np.floor,
    P.ceil: np.ceil, P.erf: _erf, P.erfc: _erfc, P.erf_inv: _erf_inv, P.is_finite: np.isfinite,
    P.not_: lambda x: np.logical_not(x) if x.dtype == np.bool_ else np.invert(x),
    # Count the bits of the two's-complement pattern (numpy counts those of |x|).
    P.population_count: lambda x: np.bitwise_count(_bits_as(x, "u")).astype(x.dtype),
}
_BINARY = {
    P.add: np.add, P.sub: np.subtract, P.mul: np.multiply, P.div: _int_div, P.rem: _int_rem,
    P.max: np.maximum, P.min: np.minimum, P.pow: _pow, P.atan2: np.arctan2,
    P.nextafter: np.nextafter, P.and_: np.bitwise_and, P.or_: np.bitwise_or,
    P.xor: np.bitwise_xor, P.eq: np.equal, P.ne: np.not_equal, P.lt: np.less,
    P.le: np.less_equal, P.gt: np.greater, P.ge: np.greater_equal,
    P.shift_left: _shift("left"), P.shift_right_logical: _shift("logical"),
    P.shift_right_arithmetic: _shift("arithmetic"),
}
for _prim, _fn in {**_UNARY, **_BINARY}.items():
    reference[_prim] = _quiet(_fn)
reference[P.round] = _quiet(_round)


def _reduce_precision(x: np.ndarray, *, exponent_bits: int, mantissa_bits: int) -> np.ndarray:
    """``x`` rounded to a float format of ``exponent_bits`` and ``mantissa_bits`` bits, on
    its bit pattern: the mantissa is rounded to nearest even (a carry may step the
    exponent), then exponents beyond the format's range give infinities and those below its
    smallest normal number signed zeros; NaNs are left as they are."""
    x = np.asarray(x)
    info = np.finfo(x.dtype)
    src_mantissa, src_exponent = int(info.nmant), int(info.nexp)
    width = 8 * x.dtype.itemsize
    ut = np.dtype(f"uint{width}").type
    bits = x.view(f"uint{width}").copy()
    if mantissa_bits < src_mantissa:
        shift = src_mantissa - mantissa_bits
        last = 1 << shift
        odd = (bits >> ut(shift)) & ut(1)  # ties go to the even neighbour
        bits = (bits + odd + ut((last >> 1) - 1)) & ut(~(last - 1) & ((1 << width) - 1))
    if exponent_bits < src_exponent:
        bias = (1 << (src_exponent - 1)) - 1
        reduced_bias = (1 << (exponent_bits - 1)) - 1
        exponent_mask = ut(((1 << src_exponent) - 1) << src_mantissa)
        exponent = bits & exponent_mask
        sign = bits & ut(1 << (width - 1))
        too_big = exponent > ut((bias + reduced_bias) << src_mantissa)
        too_small = exponent <= ut((bias - reduced_bias) << src_mantissa)
        bits = np.where(too_big, sign | exponent_mask, np.where(too_small, sign, bits))
    out = np.asarray(bits, dtype=ut).view(x.dtype)
    return np.where(np.isnan(x), x, out)


reference[P.reduce_precision] = _reduce_precision
reference[P.clz] = lambda x: _clz(x)


def _clz(x: np.ndarray) -> np.ndarray:
    """Leading zero bits of each integer's two's-complement pattern (its width for 0)."""
    x = np.asarray(x)
    width = 8 * x.dtype.itemsize
    u = _bits_as(x, "u").astype(np.uint64)
    # Smear the highest set bit downwards; the ones counted are the bits below it and it.
    for k in (1, 2, 4, 8, 16, 32):
        u = u | (u >> np.uint64(k))
    return (width - np.bitwise_count(u).astype(np.int64)).astype(x.dtype)
reference[P.square] = _quiet(np.square)
reference[P.stop_gradient] = lambda x: x
reference[P.integer_pow] = _quiet(
    lambda x, *, y: np.power(x, y) if y >= 0 else (1 / np.power(x, -y)).astype(x.dtype))


def _select_n(which: np.ndarray, *cases: np.ndarray) -> np.ndarray:
    if len(cases) == 1:
        return np.broadcast_to(cases[0], np.broadcast_shapes(which.shape, cases[0].shape)).copy()
    if len(cases) > 2:
        return np.choose(which.astype(np.int64), cases)
    return np.where(which, cases[1], cases[0])


reference[P.select_n] = _select_n


def _convert(x: np.ndarray, *, new_dtype: np.dtype, weak_type: bool = False) -> np.ndarray:
    new_dtype = np.dtype(new_dtype)
    new_kind = dtypes.kind(new_dtype)
    if x.dtype.kind == "c" and new_kind != "c":
        if new_dtype == np.bool_:  # nonzero if either part is, as in JAX
            return x != 0
        x = x.real  # the imaginary part is dropped, as in JAX
    if x.dtype.kind == "f" and new_kind in "iu":
        # Like XLA: NaN -> 0, out-of-range values saturate instead of wrapping.
        info = ml_dtypes.iinfo(new_dtype)
        with np.errstate(invalid="ignore"):
            t = np.trunc(x.astype(np.float64))
            inside = np.where(np.isnan(t), 0, np.clip(t, info.min, info.max))
            # info.max may not be representable in float64 (int64): decide by comparison.
            too_big = t >= 2.0 ** (info.bits - (new_kind == "i"))
            return np.where(too_big, info.max, inside.astype(new_dtype))
    if new_dtype == np.bool_:
        return x != 0
    with np.errstate(all="ignore"):
        return x.astype(new_dtype)


reference[P.convert_element_type] = _convert


def _complex(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Part by part: x + 1j * y would turn (inf, nan) into (nan, nan) and lose -0.0.
    out = np.empty(np.broadcast_shapes(np.shape(x), np.shape(y)),
                   np.result_type(x.dtype, np.complex64))
    out.real, out.imag = x, y
    return out


reference[P.complex] = _complex
reference[P.real] = lambda x: np.real(x).copy()
reference[P.imag] = lambda x: np.imag(x).copy()
reference[P.conj] = lambda x, *, input_dtype=None: np.conjugate(x)
reference[P.clamp] = lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi)


def _broadcast_in_dim(x: np.ndarray, *, shape, broadcast_dimensions) -> np.ndarray:
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


reference[P.broadcast_in_dim] = _broadcast_in_dim
reference[P.reshape] = lambda x, *, new_sizes, dimensions=None: x.reshape(new_sizes)
reference[P.transpose] = lambda x, *, permutation: np.transpose(x, permutation)
reference[P.squeeze] = lambda x, *, dimensions: np.squeeze(x, tuple(dimensions))
reference[P.rev] = lambda x, *, dimensions: np.flip(x, tuple(dimensions)) if dimensions else x
reference[P.slice] = lambda x, *, start_indices, limit_indices, strides=None: x[tuple(
    np.s_[s:l:st] for s, l, st in zip(start_indices, limit_indices, strides or (1,) * x.ndim))]


def _clamped_starts(shape, sizes, starts) -> list[int]:
    return [int(min(max(int(s), 0), n - k)) for s, n, k in zip(starts, shape, sizes)]


def _dynamic_slice(x: np.ndarray, *starts: np.ndarray, slice_sizes) -> np.ndarray:
    begin = _clamped_starts(x.shape, slice_sizes, starts)
    return x[tuple(np.s_[b:b + k] for b, k in zip(begin, slice_sizes))]


def _dynamic_update_slice(x: np.ndarray, update: np.ndarray, *starts: np.ndarray) -> np.ndarray:
    begin = _clamped_starts(x.shape, update.shape, starts)
    out = x.copy()
    out[tuple(np.s_[b:b + k] for b, k in zip(begin, update.shape))] = update
    return out


reference[P.dynamic_slice] = _dynamic_slice
reference[P.dynamic_update_slice] = _dynamic_update_slice
reference[P.concatenate] = lambda *xs, dimension: np.concatenate(xs, axis=dimension)


def _pad(x: np.ndarray, value: np.ndarray, *, padding_config) -> np.ndarray:
    if x.ndim == 0:  # nothing to pad (and np.pad rejects an empty pad_width)
        return x.copy()
    # Interior padding first (scatter into a strided grid), then low/high (negative = crop).
    inner_shape = [n + max(n - 1, 0) * i for n, (_, _, i) in zip(x.shape, padding_config)]
    inner = np.full(inner_shape, value, dtype=x.dtype)
    inner[tuple(np.s_[::i + 1] for _, _, i in padding_config)] = x
    grown = np.pad(inner, [(max(lo, 0), max(hi, 0)) for lo, hi, _ in padding_config],
                   constant_values=value)
    crop = tuple(np.s_[max(-lo, 0):grown.shape[d] - max(-hi, 0)]
                 for d, (lo, hi, _) in enumerate(padding_config))
    return grown[crop]


reference[P.pad] = _pad


def _iota(*, dtype, shape, dimension) -> np.ndarray:
    line = np.arange(shape[dimension], dtype=dtype)
    return np.broadcast_to(line.reshape([-1 if d == dimension else 1 for d in range(len(shape))]),
                           shape)


reference[P.iota] = _iota

_REDUCERS = {P.reduce_sum: np.sum, P.reduce_prod: np.prod, P.reduce_max: np.max,
             P.reduce_min: np.min, P.reduce_and: np.bitwise_and.reduce,
             P.reduce_or: np.bitwise_or.reduce, P.reduce_xor: np.bitwise_xor.reduce}


def _reducer(fn: Callable) -> Callable:
    def reduce(x: np.ndarray, *, axes) -> np.ndarray:
        if not axes:  # reducing over nothing is the identity (np.sum would turn -0.0 into 0.0)
            return x.copy()
        if fn in (np.max, np.min) and x.size == 0:
            # The identity of max/min: -inf/+inf, or the integer extremes.
            if x.dtype.kind == "f":
                init = -np.inf if fn is np.max else np.inf
            elif x.dtype == np.bool_:
                init = fn is np.min
            else:
                info = np.iinfo(x.dtype)
                init = info.min if fn is np.max else info.max
            shape = [n for i, n in enumerate(x.shape) if i not in axes]
            return np.full(shape, init, dtype=x.dtype)
        if fn in (np.sum, np.prod):
            return fn(x, axis=tuple(axes), dtype=x.dtype)
        return fn(x, axis=tuple(axes))

    return _quiet(reduce)


for _prim, _fn in _REDUCERS.items():
    reference[_prim] = _reducer(_fn)


def _arg(fn: Callable) -> Callable:
    def arg(x: np.ndarray, *, axes, index_dtype) -> np.ndarray:
        return fn(x, axis=axes[0]).astype(index_dtype)

    return arg


reference[P.argmax] = _arg(np.argmax)
reference[P.argmin] = _arg(np.argmin)


def _dot_general(lhs: np.ndarray, rhs: np.ndarray, *, dimension_numbers, precision=None,
                 preferred_element_type=None) -> np.ndarray:
    (lc, rc), (lb, rb) = dimension_numbers
    lfree = [i for i in range(lhs.ndim) if i not in lc and i not in lb]
    rfree = [i for i in range(rhs.ndim) if i not in rc and i not in rb]
    # Move to (batch, free, contract) and contract with matmul, which calls BLAS.
    l2 = np.transpose(lhs, [*lb, *lfree, *lc])
    r2 = np.transpose(rhs, [*rb, *rc, *rfree])
    nb = [lhs.shape[i] for i in lb]
    m = math.prod(lhs.shape[i] for i in lfree)
    k = math.prod(lhs.shape[i] for i in lc)
    n = math.prod(rhs.shape[i] for i in rfree)
    dtype = np.dtype(preferred_element_type or lhs.dtype)
    if dtype in _WIDE_OF:  # bfloat16 & co.: accumulate in the widened type
        dtype = _WIDE_OF[dtype]
    out = np.matmul(l2.reshape(*nb, m, k).astype(dtype), r2.reshape(*nb, k, n).astype(dtype))
    return out.reshape((*nb, *[lhs.shape[i] for i in lfree], *[rhs.shape[i] for i in rfree]))


reference[P.dot_general] = _quiet(_dot_general)

# Collectives evaluated outside the transformation that binds their axis: NameError.
for _prim in P.COLLECTIVES:
    reference[_prim] = P.unbound_axis

import llax.ir.reference_indexing  # noqa: E402,F401  (gather/scatter register themselves)
import llax.ir.reference_linalg  # noqa: E402,F401  (linear algebra registers itself)
import llax.ir.reference_sort  # noqa: E402,F401  (sort registers itself)


def _threefry2x32(k0: np.ndarray, k1: np.ndarray, x0: np.ndarray,
                  x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Threefry-2x32 in uint32 arithmetic (wrapping adds, as the cipher needs)."""
    k0, k1, x0, x1 = np.broadcast_arrays(*(np.asarray(a, np.uint32) for a in (k0, k1, x0, x1)))
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(P.KEY_PARITY))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for group in range(1, 6):
        for r in P.ROTATIONS[(group - 1) % 2]:
            x0 = x0 + x1
            x1 = ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))) ^ x0
        x0 = x0 + ks[group % 3]
        x1 = x1 + ks[(group + 1) % 3] + np.uint32(group)
    return x0, x1


def _fma(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """x * y + z rounded once. float16 and float32 go through float64, where the product is
    exact: the sum's rounding is made "to odd" (the last bit set when inexact), after which
    rounding to the narrow type is correct. float64 is computed exactly in rationals."""
    dtype = np.result_type(x, y, z)
    if dtype == np.float64:
        return np.vectorize(_fma_exact, otypes=[np.float64])(x, y, z)
    p = x.astype(np.float64) * y.astype(np.float64)
    s = p + z.astype(np.float64)
    back = s - p  # TwoSum: s + err == p + z exactly
    err = (p - (s - back)) + (z.astype(np.float64) - back)
    bits = s.view(np.int64)
    inexact = (err != 0) & np.isfinite(s)
    to_odd = np.where(inexact & (bits % 2 == 0),
                      np.where((err > 0) == (s > 0), bits + 1, bits - 1), bits)
    return to_odd.view(np.float64).astype(dtype)


def _fma_exact(x: float, y: float, z: float) -> float:
    import fractions

    if not all(map(math.isfinite, (x, y, z))):
        # The product is exact, never an overflow: finite x * y + inf is inf.
        return z if math.isfinite(x * 0) and math.isfinite(y * 0) else x * y + z
    exact = fractions.Fraction(x) * fractions.Fraction(y) + fractions.Fraction(z)
    try:
        return float(exact) if exact else x * y + z  # (signed zero as IEEE adds it)
    except OverflowError:
        return math.copysign(math.inf, exact)


reference[P.fma] = _quiet(_fma)
reference[P.bitcast_convert_type] = lambda x, *, new_dtype: x.view(new_dtype)
reference[P.threefry2x32] = _quiet(_threefry2x32)


def _callback_reference(*operands: np.ndarray, callback, result_avals=(), **params) -> list:
    return run_callback(callback, operands, result_avals)


for _prim in CALLBACKS:
    reference[_prim] = _callback_reference
