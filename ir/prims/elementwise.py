"""Elementwise primitives: unary math, binary arithmetic, comparisons, logic, select, casts.

Operands of a multi-input elementwise op have equal shapes, except that a rank-0
operand broadcasts (as in JAX's jaxprs, ``mul a 2.0:f32[]``). Operand dtypes must
be equal: the numpy layer inserts ``convert_element_type`` to promote first.
"""

from __future__ import annotations

import numpy as np

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

EW = FusionClass.ELEMENTWISE


def _common_shape(name: str, types: tuple[TensorType, ...]) -> tuple[int, ...]:
    shapes = {t.shape for t in types if t.shape != ()}
    if len(shapes) > 1:
        raise TypeError(f"{name}: operand shapes must be equal (or rank 0), got "
                        f"{', '.join(str(t.shape) for t in types)}")
    return shapes.pop() if shapes else ()


def _common_dtype(name: str, types: tuple[TensorType, ...]) -> np.dtype:
    kinds = {t.dtype for t in types}
    if len(kinds) > 1:
        raise TypeError(f"{name}: operand dtypes must be equal, got "
                        f"{', '.join(str(t.dtype) for t in types)}")
    return types[0].dtype


def _check_kind(name: str, dtype: np.dtype, allowed: str) -> None:
    kind = "b" if dtypes.is_bool(dtype) else dtypes.kind(dtype)
    if kind not in allowed:
        wanted = {"f": "floating", "c": "complex", "i": "signed integer",
                  "u": "unsigned integer", "b": "bool"}
        raise TypeError(f"{name} does not accept dtype {dtype}; it takes "
                        f"{' or '.join(wanted[k] for k in allowed)} operands")


def _elementwise_rule(name: str, kinds: str, result: str):
    """Build the abstract-eval rule shared by a family of elementwise primitives.

    ``kinds`` lists the accepted dtype kinds ('f', 'c', 'i', 'u', 'b'); ``result`` is
    'same' (the operand dtype), 'bool' (comparisons) or 'real' (the operand dtype, a complex
    one's part: abs).
    """

    def rule(*types: TensorType) -> TensorType:
        shape = _common_shape(name, types)
        dtype = _common_dtype(name, types)
        _check_kind(name, dtype, kinds)
        if result == "bool":  # weak if every operand is (JAX: weak_float > 1 is a weak bool)
            return TensorType(shape, dtypes.bool_, all(t.weak for t in types))
        if result == "real":
            return TensorType(shape, dtypes.real_part(dtype), all(t.weak for t in types))
        return TensorType(shape, dtype, all(t.weak for t in types))

    return rule


def _family(names: str, kinds: str, result: str = "same") -> list:
    prims = []
    for name in names.split():
        p = primitive(name, fusion=EW)
        abstract_eval[p] = _elementwise_rule(name, kinds, result)
        prims.append(p)
    return prims


# Complex dtypes ('c') go where JAX's lax takes them: arithmetic, the analytic functions,
# equality, max/min; not comparisons, rounding or the real-only special functions.
NUMERIC, FLOAT, INTEGRAL, ANY = "fciu", "f", "iub", "fciub"
REAL_NUMERIC, INEXACT, ORDERED = "fiu", "fc", "fiub"

# Unary.
neg, sign = _family("neg sign", NUMERIC)
(abs,) = _family("abs", NUMERIC, result="real")
(exp, exp2, log, log1p, expm1, tanh, logistic, sin, cos, tan, asin, acos, atan, sinh, cosh,
 asinh, acosh, atanh, sqrt, rsqrt
 ) = _family("exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan sinh cosh "
             "asinh acosh atanh sqrt rsqrt", INEXACT)
cbrt, floor, ceil, erf, erfc, erf_inv = _family("cbrt floor ceil erf erfc erf_inv", FLOAT)
(is_finite,) = _family("is_finite", FLOAT, result="bool")
not_, population_count = _family("not population_count", INTEGRAL)
# clz(x): the number of leading zero bits of an integer's two's-complement pattern.
(clz,) = _family("clz", "iu")

# reduce_precision[exponent_bits, mantissa_bits](x): x rounded (to nearest, ties to even) to
# a float format with that many exponent and mantissa bits, still stored in x's dtype:
# values beyond the format's range become infinities, those below its smallest normal
# number become zeros (of x's sign), and NaNs stay as they are (XLA's ReducePrecision).
reduce_precision = primitive("reduce_precision", fusion=EW)


def _reduce_precision_rule(x: TensorType, *, exponent_bits: int,
                           mantissa_bits: int) -> TensorType:
    if dtypes.kind(x.dtype) != "f":
        raise TypeError(f"reduce_precision does not accept dtype {x.dtype}. Accepted dtypes "
                        "are subtypes of floating.")
    if exponent_bits < 1:
        raise ValueError(f"reduce_precision: exponent_bits must be positive; got "
                         f"{exponent_bits}")
    if mantissa_bits < 0:
        raise ValueError(f"reduce_precision: mantissa_bits must be non-negative; got "
                         f"{mantissa_bits}")
    return x


abstract_eval[reduce_precision] = _reduce_precision_rule

# round[rounding_method](x): 0 = half away from zero (lax's default), 1 = half to even.
round = primitive("round", fusion=EW)


def _round_rule(x: TensorType, *, rounding_method: int = 0) -> TensorType:
    _check_kind("round", x.dtype, FLOAT)
    if rounding_method not in (0, 1):
        raise ValueError(f"round: rounding_method must be 0 (away from zero) or 1 (to nearest "
                         f"even), got {rounding_method!r}")
    return x


abstract_eval[round] = _round_rule

# Binary.
add, sub, mul, div = _family("add sub mul div", NUMERIC)
(rem,) = _family("rem", REAL_NUMERIC)
max, min = _family("max min", ANY)  # complex: lexicographic, as in JAX
(pow,) = _family("pow", INEXACT)
atan2, nextafter = _family("atan2 nextafter", FLOAT)
# fma(x, y, z) = x * y + z rounded once. JAX has no such op, but XLA's CPU compiler contracts
# every multiply feeding an add into one, so reproducing JAX's numbers (random samplers,
# special functions) needs it.
(fma,) = _family("fma", FLOAT)
and_, or_, xor = _family("and or xor", INTEGRAL)
shift_left, shift_right_logical, shift_right_arithmetic = _family(
    "shift_left shift_right_logical shift_right_arithmetic", "iu")
eq, ne = _family("eq ne", ANY, result="bool")
lt, le, gt, ge = _family("lt le gt ge", ORDERED, result="bool")


# integer_pow[y](x): x ** y for a static integer y (what ``x ** 2`` traces to, as in JAX).
integer_pow = primitive("integer_pow", fusion=EW)


def _integer_pow_rule(x: TensorType, *, y: int) -> TensorType:
    _check_kind("integer_pow", x.dtype, NUMERIC)
    if y < 0 and not dtypes.is_inexact(x.dtype):
        raise TypeError(f"integer_pow: negative exponent {y} needs a floating operand, "
                        f"got {x.dtype}")
    return x


abstract_eval[integer_pow] = _integer_pow_rule
(square,) = _family("square", NUMERIC)

# stop_gradient(x) is x; autodiff gives it a zero tangent (lax.stop_gradient).
(stop_gradient,) = _family("stop_gradient", ANY)


# select_n(which, *cases): which is bool (two cases) or int32; picks cases[which] per element.
select_n = primitive("select_n", fusion=EW)


def _select_n_rule(which: TensorType, *cases: TensorType) -> TensorType:
    if not cases:
        raise TypeError("select_n needs at least one case")
    if which.dtype != dtypes.bool_ and not dtypes.is_int(which.dtype):
        raise TypeError(f"select_n: predicate must be bool or integer, got {which.dtype}")
    if which.dtype == dtypes.bool_ and len(cases) > 2:
        raise TypeError(f"select_n: a bool predicate selects between 2 cases, got {len(cases)}")
    shape = _common_shape("select_n", cases)
    if shape != () and which.shape not in ((), shape):
        raise TypeError(f"select_n: predicate shape {which.shape} does not match cases {shape}")
    if shape == () and which.shape != ():
        raise TypeError(f"select_n: predicate shape {which.shape} but scalar cases")
    dtype = _common_dtype("select_n", cases)
    return TensorType(shape, dtype, all(c.weak for c in cases))


abstract_eval[select_n] = _select_n_rule


# convert_element_type[new_dtype, weak_type](x)
convert_element_type = primitive("convert_element_type", fusion=EW)


def _convert_rule(x: TensorType, *, new_dtype: np.dtype, weak_type: bool) -> TensorType:
    return TensorType(x.shape, new_dtype, weak_type)


abstract_eval[convert_element_type] = _convert_rule


# bitcast_convert_type[new_dtype](x): x's bits read as new_dtype (of the same width; JAX's
# reshaping form for other widths is not supported).
bitcast_convert_type = primitive("bitcast_convert_type", fusion=EW)


def _bitcast_rule(x: TensorType, *, new_dtype: np.dtype) -> TensorType:
    new_dtype = np.dtype(new_dtype)
    if dtypes.is_bool(x.dtype) or dtypes.is_bool(new_dtype):
        raise TypeError("bitcast_convert_type does not accept bool operands or results")
    if new_dtype.itemsize != x.dtype.itemsize:
        raise NotImplementedError(
            f"bitcast_convert_type from {x.dtype} to {new_dtype}: only types of equal width "
            "are supported")
    return TensorType(x.shape, new_dtype)


abstract_eval[bitcast_convert_type] = _bitcast_rule


# clamp(lo, x, hi): lo and hi are rank 0 or the shape of x.
clamp = primitive("clamp", fusion=EW)


def _clamp_rule(lo: TensorType, x: TensorType, hi: TensorType) -> TensorType:
    for name, t in (("min", lo), ("max", hi)):
        if t.shape not in ((), x.shape):
            raise TypeError(f"clamp: {name} shape {t.shape} must be () or {x.shape}")
    dtype = _common_dtype("clamp", (lo, x, hi))
    _check_kind("clamp", dtype, ORDERED)
    return x


abstract_eval[clamp] = _clamp_rule
