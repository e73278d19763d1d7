"""Scalar emitters for the elementwise primitives: one LLVM value from operand values.

``RULES[prim](builder, args, in_types, out_type, params) -> value`` where ``args``
are register values (bool as i1). A primitive with several results (``threefry2x32``)
gets the tuple of its output types as ``out_type`` and returns a tuple of values, one
per output, all computed at once (``emit_outputs``). Each rule reproduces ``llax.ir.reference``:
no rule may produce LLVM poison or undefined behaviour (integer division by
zero and INT_MIN / -1, over-wide shifts and out-of-range float->int conversions
are all given NumPy's defined results with selects and saturating intrinsics).

Everything is branch-free so that the loop vectoriser can widen it. Float
arithmetic carries no fast-math flags: results must match NumPy, so LLVM may
not reassociate or contract them. Transcendentals come from
``llax.codegen.vecmath`` (inlinable polynomials); a libm call, which does not
vectorise, is only the fallback for a function vecmath lacks.

float16 has no arithmetic of its own here: ``emit`` widens f16 operands to f32,
runs the f32 rule and rounds once, which is what NumPy's half loops do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import llvmlite.ir as ir
import numpy as np

from llax.codegen.ltypes import (
    FLOAT,
    HALF,
    I1,
    I32,
    const,
    external,
    intrinsic,
    max_value,
    min_value,
    reg_type,
    select,
)
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.primitive import Primitive
from llax.ir.types import TensorType

Rule = Callable[[ir.IRBuilder, list[ir.Value], tuple[TensorType, ...], TensorType, Any], ir.Value]
RULES: dict[Primitive, Rule] = {}

# Elementwise ops whose code is one long chain of dependent instructions (a block cipher),
# with how many vector iterations of a loop computing them LLVM should interleave. Its cost
# model never interleaves a loop body that large, so each iteration's chain would run at
# its latency; interleaved iterations are independent chains the core overlaps (Threefry
# over 1e7 elements on one Zen 3 core: about 28 ms as one chain, 17 ms with 4).
INTERLEAVE: dict[Primitive, int] = {}

# Rules that handle float16 themselves (they only move or reinterpret values).
# nextafter steps one f16 ulp, which a detour through f32 would lose.
# reduce_precision works on the operand's own bit pattern (a float16 operand's exponent range
# is not float32's).
_F16_NATIVE = {P.convert_element_type, P.select_n, P.nextafter, P.bitcast_convert_type,
               P.reduce_precision}


def register(*prims: Primitive) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        for p in prims:
            RULES[p] = fn
        return fn

    return deco


def emit_outputs(b: ir.IRBuilder, op: Op, args: list[ir.Value]) -> tuple[ir.Value, ...]:
    """The values of all of elementwise ``op``'s outputs at one element, given its operands'
    values there."""
    if not op.prim.multiple_results:
        return (emit(b, op, args),)
    in_types = tuple(a.type for a in op.inputs)
    out_types = tuple(v.type for v in op.outputs)
    values = tuple(RULES[op.prim](b, args, in_types, out_types, op.params))
    assert len(values) == len(out_types), f"{op.prim.name}: one value per output"
    return values


def emit(b: ir.IRBuilder, op: Op, args: list[ir.Value]) -> ir.Value:
    """The value of single-output elementwise ``op`` at one element, given its operands'
    values there."""
    in_types = tuple(a.type for a in op.inputs)
    out_type = op.outputs[0].type
    if dtypes.is_complex(out_type.dtype) or any(dtypes.is_complex(t.dtype) for t in in_types):
        from llax.codegen import complex_rules

        return complex_rules.emit(b, op.prim, args, in_types, out_type, op.params)
    rule = RULES[op.prim]
    if op.prim not in _F16_NATIVE and any(t.dtype == dtypes.float16 for t in in_types):
        f32 = np.dtype(np.float32)
        args = [b.fpext(a, FLOAT) if a.type == HALF else a for a in args]
        in_types = tuple(t.with_dtype(f32) if t.dtype == dtypes.float16 else t for t in in_types)
        if out_type.dtype == dtypes.float16:
            return b.fptrunc(rule(b, args, in_types, out_type.with_dtype(f32), op.params), HALF)
    return rule(b, args, in_types, out_type, op.params)


# --- helpers -------------------------------------------------------------------------------

def _kind(t: TensorType) -> str:
    """'f' float, 'i' signed, 'u' unsigned, 'b' bool."""
    return "b" if dtypes.is_bool(t.dtype) else t.dtype.kind


def _libm(b: ir.IRBuilder, name: str, args: list[ir.Value]) -> ir.Value:
    # C spelling: expm1f for float, expm1 for double.
    t = args[0].type
    fn = external(b, name + ("f" if t == FLOAT else ""), t, [a.type for a in args])
    return b.call(fn, args)


def _vecmath() -> dict[str, Callable[..., ir.Value]]:
    try:
        from llax.codegen.vecmath import EMITTERS
    except ModuleNotFoundError as e:  # not written yet: fall back to libm
        if e.name != "llax.codegen.vecmath":
            raise
        return {}
    return EMITTERS


def math_fn(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """A transcendental by name: vecmath's polynomial, else an LLVM intrinsic / libm call."""
    emitter = _vecmath().get(name)
    if emitter is not None:
        return emitter(b, *args)
    t = args[0].type
    if name in _DERIVED:
        return _DERIVED[name](b, *args)
    if name in _INTRINSICS:
        return intrinsic(b, name, list(args), t)
    return _libm(b, name, list(args))


# Functions LLVM has intrinsics for (lowered to libm calls when not vectorised).
_INTRINSICS = {"exp", "exp2", "log", "sin", "cos", "pow", "tan", "asin", "acos", "atan",
               "sinh", "cosh", "tanh"}


def _fconst(t: ir.Type, v: float) -> ir.Constant:
    return ir.Constant(t, float(np.asarray(v, dtype=np.float32 if t == FLOAT else np.float64)))


def _logistic(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    one = _fconst(x.type, 1.0)
    return b.fdiv(one, b.fadd(one, math_fn(b, "exp", b.fneg(x))))


def _erf_inv(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Giles' single-precision erfinv, refined by Newton steps on erf (two for double)."""
    t = x.type
    c = lambda v: _fconst(t, v)  # noqa: E731
    one = c(1.0)
    w = b.fneg(math_fn(b, "log", b.fmul(b.fsub(one, x), b.fadd(one, x))))
    central = b.fcmp_ordered("<", w, c(5.0))
    w1 = b.fsub(w, c(2.5))
    w2 = b.fsub(intrinsic(b, "sqrt", [w], t), c(3.0))
    small = [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
             -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]
    large = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
             -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]
    ww = b.select(central, w1, w2)
    p = b.select(central, c(small[0]), c(large[0]))
    for s, lg in zip(small[1:], large[1:]):
        p = b.fadd(b.select(central, c(s), c(lg)), b.fmul(p, ww))
    y = b.fmul(p, x)
    # Newton on erf(y) = x: y -= (erf(y) - x) / (2/sqrt(pi) * exp(-y^2)). Needed for double.
    steps = 2 if t != FLOAT else 1
    for _ in range(steps):
        err = b.fsub(math_fn(b, "erf", y), x)
        deriv = b.fmul(c(1.1283791670955126), math_fn(b, "exp", b.fneg(b.fmul(y, y))))
        step = b.fdiv(err, deriv)
        # Where the derivative underflows (|x| -> 1) the step is nan/inf: keep y.
        finite = b.fcmp_ordered("<", intrinsic(b, "fabs", [step], t), c(np.inf))
        y = b.select(finite, b.fsub(y, step), y)
    ax = intrinsic(b, "fabs", [x], t)
    inf = intrinsic(b, "copysign", [c(np.inf), x], t)
    y = b.select(b.fcmp_ordered("==", ax, one), inf, y)
    return b.select(b.fcmp_unordered(">", ax, one), c(np.nan), y)


def _cbrt(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # exp(log|x| / 3) with the sign put back, then one Newton step for the last bits.
    t = x.type
    ax = intrinsic(b, "fabs", [x], t)
    y = math_fn(b, "exp", b.fmul(math_fn(b, "log", ax), _fconst(t, 1 / 3)))
    y = b.fsub(y, b.fdiv(b.fsub(b.fmul(b.fmul(y, y), y), ax),
                         b.fmul(_fconst(t, 3.0), b.fmul(y, y))))
    special = b.or_(b.fcmp_ordered("==", ax, _fconst(t, 0.0)),
                    b.fcmp_unordered("==", ax, _fconst(t, np.inf)))
    y = b.select(special, ax, y)  # 0, inf and nan map to themselves
    return intrinsic(b, "copysign", [y, x], t)


_DERIVED: dict[str, Callable[..., ir.Value]] = {
    "logistic": _logistic, "erf_inv": _erf_inv, "cbrt": _cbrt,
}


# --- arithmetic ----------------------------------------------------------------------------

@register(P.neg)
def _neg(b, args, it, ot, params):
    (x,) = args
    return b.fneg(x) if _kind(it[0]) == "f" else b.sub(ir.Constant(x.type, 0), x)


@register(P.sign)
def _sign(b, args, it, ot, params):
    (x,) = args
    k, dt = _kind(it[0]), it[0].dtype
    if k == "f":
        # JAX (not NumPy): sign(nan) = nan and sign(+-0) = +-0, i.e. x itself.
        zero = const(dt, 0.0)
        r = b.select(b.fcmp_ordered("<", x, zero), const(dt, -1.0), x)
        return b.select(b.fcmp_ordered(">", x, zero), const(dt, 1.0), r)
    zero = ir.Constant(x.type, 0)
    if k == "u":
        return b.zext(b.icmp_unsigned("!=", x, zero), x.type)
    return b.sub(b.zext(b.icmp_signed(">", x, zero), x.type),
                 b.zext(b.icmp_signed("<", x, zero), x.type))


@register(P.abs)
def _abs(b, args, it, ot, params):
    (x,) = args
    k = _kind(it[0])
    if k == "f":
        return intrinsic(b, "fabs", [x], x.type)
    if k == "u":
        return x
    # is_int_min_poison = false: abs(INT_MIN) wraps to INT_MIN, as in NumPy.
    return intrinsic(b, "abs", [x, ir.Constant(I1, 0)], x.type)


def _binary_arith(fop: str, iop: str) -> Rule:
    def rule(b, args, it, ot, params):
        x, y = args
        return getattr(b, fop if _kind(it[0]) == "f" else iop)(x, y)

    return rule


register(P.add)(_binary_arith("fadd", "add"))
register(P.sub)(_binary_arith("fsub", "sub"))
register(P.mul)(_binary_arith("fmul", "mul"))


@register(P.div)
def _div(b, args, it, ot, params):
    x, y = args
    k, dt = _kind(it[0]), it[0].dtype
    if k == "f":
        return b.fdiv(x, y)
    zero, one = ir.Constant(x.type, 0), ir.Constant(x.type, 1)
    by_zero = b.icmp_unsigned("==", y, zero)
    if k == "u":  # x / 0 = UINT_MAX
        return b.select(by_zero, max_value(dt), b.udiv(x, b.select(by_zero, one, y)))
    by_m1 = b.icmp_signed("==", y, ir.Constant(x.type, -1))
    # Divide by 1 where LLVM would be undefined (0, and -1 for INT_MIN); patch afterwards.
    q = b.sdiv(x, b.select(b.or_(by_zero, by_m1), one, y))
    q = b.select(by_m1, b.sub(zero, x), q)  # x / -1 = -x, wrapping for INT_MIN
    return b.select(by_zero, ir.Constant(x.type, -1), q)


@register(P.rem)
def _rem(b, args, it, ot, params):
    x, y = args
    k = _kind(it[0])
    if k == "f":
        return b.frem(x, y)  # C fmod: sign of the dividend
    zero, one = ir.Constant(x.type, 0), ir.Constant(x.type, 1)
    by_zero = b.icmp_unsigned("==", y, zero)
    if k == "u":
        return b.select(by_zero, x, b.urem(x, b.select(by_zero, one, y)))
    by_m1 = b.icmp_signed("==", y, ir.Constant(x.type, -1))
    r = b.srem(x, b.select(b.or_(by_zero, by_m1), one, y))  # x % -1 = x % 1 = 0
    return b.select(by_zero, x, r)


def max_min(b: ir.IRBuilder, x: ir.Value, y: ir.Value, t: TensorType, is_max: bool) -> ir.Value:
    """max/min propagating NaN (llvm.maximum/minimum), as JAX and NumPy do."""
    k = _kind(t)
    if k == "f":
        return intrinsic(b, "maximum" if is_max else "minimum", [x, y], x.type)
    if k == "b":
        return b.or_(x, y) if is_max else b.and_(x, y)
    name = ("s" if k == "i" else "u") + ("max" if is_max else "min")
    return intrinsic(b, name, [x, y], x.type)


register(P.max)(lambda b, args, it, ot, params: max_min(b, *args, it[0], True))
register(P.min)(lambda b, args, it, ot, params: max_min(b, *args, it[0], False))


@register(P.clamp)
def _clamp(b, args, it, ot, params):
    lo, x, hi = args
    return max_min(b, max_min(b, x, lo, it[1], True), hi, it[1], False)


@register(P.integer_pow)
def _integer_pow(b, args, it, ot, params):
    (x,) = args
    y = params["y"]
    is_float = _kind(it[0]) == "f"
    mul = b.fmul if is_float else b.mul
    # Square-and-multiply, unrolled at trace time (y is static and small in practice).
    result, base, n = None, x, abs(y)
    while n:
        if n & 1:
            result = base if result is None else mul(result, base)
        n >>= 1
        if n:
            base = mul(base, base)
    if result is None:
        result = const(it[0].dtype, 1)
    if y < 0:
        result = b.fdiv(const(it[0].dtype, 1.0), result)
    return result


@register(P.square)
def _square(b, args, it, ot, params):
    (x,) = args
    return b.fmul(x, x) if _kind(it[0]) == "f" else b.mul(x, x)


@register(P.stop_gradient)
def _stop_gradient(b, args, it, ot, params):
    return args[0]


@register(P.nextafter)
def _nextafter(b, args, it, ot, params):
    x, y = args
    t = x.type
    ity = ir.IntType({HALF: 16, FLOAT: 32}.get(t, 64))
    xi, yi = b.bitcast(x, ity), b.bitcast(y, ity)
    zero = _fconst(t, 0.0)
    # Stepping away from zero adds one ulp to the magnitude, i.e. +1 to the bits.
    away = b.icmp_unsigned("==", b.fcmp_ordered(">", x, zero), b.fcmp_ordered(">", y, x))
    stepped = b.select(away, b.add(xi, ir.Constant(ity, 1)), b.sub(xi, ir.Constant(ity, 1)))
    sign = ir.Constant(ity, 1 << (ity.width - 1))
    tiny = b.or_(b.and_(yi, sign), ir.Constant(ity, 1))  # smallest subnormal toward y
    r = b.select(b.fcmp_ordered("==", x, zero), tiny, stepped)
    r = b.bitcast(r, t)
    r = b.select(b.fcmp_ordered("==", x, y), y, r)
    return b.select(b.fcmp_unordered("uno", x, y), b.fadd(x, y), r)  # nan in, nan out


@register(P.reduce_precision)
def _reduce_precision(b, args, it, ot, params):
    # The reference's bit-level rounding (llax.ir.reference._reduce_precision), branch-free.
    (x,) = args
    info = np.finfo(it[0].dtype)
    src_mantissa, src_exponent = int(info.nmant), int(info.nexp)
    ity = ir.IntType(8 * it[0].dtype.itemsize)
    mantissa_bits, exponent_bits = params["mantissa_bits"], params["exponent_bits"]

    def c(v: int) -> ir.Constant:
        return ir.Constant(ity, v & ((1 << ity.width) - 1))

    bits = b.bitcast(x, ity)
    if mantissa_bits < src_mantissa:
        shift = src_mantissa - mantissa_bits
        last = 1 << shift
        odd = b.and_(b.lshr(bits, c(shift)), c(1))
        bits = b.and_(b.add(b.add(bits, odd), c((last >> 1) - 1)), c(~(last - 1)))
    if exponent_bits < src_exponent:
        bias = (1 << (src_exponent - 1)) - 1
        reduced_bias = (1 << (exponent_bits - 1)) - 1
        exponent_mask = ((1 << src_exponent) - 1) << src_mantissa
        exponent = b.and_(bits, c(exponent_mask))
        sign = b.and_(bits, c(1 << (ity.width - 1)))
        too_big = b.icmp_unsigned(">", exponent, c((bias + reduced_bias) << src_mantissa))
        too_small = b.icmp_unsigned("<=", exponent, c((bias - reduced_bias) << src_mantissa))
        bits = b.select(too_big, b.or_(sign, c(exponent_mask)),
                        b.select(too_small, sign, bits))
    return b.select(b.fcmp_unordered("uno", x, x), x, b.bitcast(bits, x.type))


# --- transcendental and rounding -----------------------------------------------------------

def _transcendental(name: str) -> Rule:
    return lambda b, args, it, ot, params: math_fn(b, name, *args)


for _name in ("exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan sinh cosh "
              "asinh acosh atanh cbrt erf erfc erf_inv pow atan2").split():
    register(getattr(P, _name))(_transcendental(_name))


@register(P.sqrt)
def _sqrt(b, args, it, ot, params):
    return intrinsic(b, "sqrt", args, args[0].type)


@register(P.rsqrt)
def _rsqrt(b, args, it, ot, params):
    (x,) = args
    return b.fdiv(const(it[0].dtype, 1.0), intrinsic(b, "sqrt", [x], x.type))


register(P.floor)(lambda b, args, it, ot, params: intrinsic(b, "floor", args, args[0].type))
register(P.ceil)(lambda b, args, it, ot, params: intrinsic(b, "ceil", args, args[0].type))


@register(P.round)
def _round(b, args, it, ot, params):
    (x,) = args
    if params.get("rounding_method", 0) in (1, "1", "TO_NEAREST_EVEN"):
        return intrinsic(b, "roundeven", [x], x.type)
    # Half away from zero is exactly llvm.round (C's round()), which, unlike
    # floor(|x| + 0.5), rounds 0.49999997 down, as JAX does.
    return intrinsic(b, "round", [x], x.type)


@register(P.is_finite)
def _is_finite(b, args, it, ot, params):
    (x,) = args
    return b.fcmp_ordered("<", intrinsic(b, "fabs", [x], x.type), _fconst(x.type, np.inf))


# --- bits and logic ------------------------------------------------------------------------

@register(P.not_)
def _not(b, args, it, ot, params):
    (x,) = args
    return b.xor(x, ir.Constant(x.type, -1 if x.type != I1 else 1))


register(P.population_count)(
    lambda b, args, it, ot, params: intrinsic(b, "ctpop", args, args[0].type))
# is_zero_poison = false: clz(0) is the width, as XLA's.
register(P.clz)(
    lambda b, args, it, ot, params: intrinsic(b, "ctlz", [args[0], ir.Constant(I1, 0)],
                                              args[0].type))
register(P.and_)(lambda b, args, it, ot, params: b.and_(*args))
register(P.or_)(lambda b, args, it, ot, params: b.or_(*args))
register(P.xor)(lambda b, args, it, ot, params: b.xor(*args))


def _shift(kind: str) -> Rule:
    def rule(b, args, it, ot, params):
        x, y = args
        bits = x.type.width
        # Negative or >= bitwidth counts are poison in LLVM; NumPy's reference defines them.
        oob = b.icmp_unsigned(">=", y, ir.Constant(y.type, bits))
        safe = b.select(oob, ir.Constant(y.type, 0), y)
        zero = ir.Constant(x.type, 0)
        if kind == "left":
            return b.select(oob, zero, b.shl(x, safe))
        if kind == "logical":
            return b.select(oob, zero, b.lshr(x, safe))
        # Arithmetic shifts act on the bit pattern, unsigned types included (as XLA does).
        return b.select(oob, b.ashr(x, ir.Constant(x.type, bits - 1)), b.ashr(x, safe))

    return rule


register(P.shift_left)(_shift("left"))
register(P.shift_right_logical)(_shift("logical"))
register(P.shift_right_arithmetic)(_shift("arithmetic"))


def _compare(op: str) -> Rule:
    def rule(b, args, it, ot, params):
        x, y = args
        k = _kind(it[0])
        if k == "f":
            # NaN compares unequal and unordered: every test is false except !=.
            return b.fcmp_unordered(op, x, y) if op == "!=" else b.fcmp_ordered(op, x, y)
        if k == "i":
            return b.icmp_signed(op, x, y)
        return b.icmp_unsigned(op, x, y)  # unsigned and bool (False < True)

    return rule


for _prim, _op in ((P.eq, "=="), (P.ne, "!="), (P.lt, "<"), (P.le, "<="), (P.gt, ">"),
                   (P.ge, ">=")):
    register(_prim)(_compare(_op))


# --- selection and conversion --------------------------------------------------------------

@register(P.select_n)
def _select_n(b, args, it, ot, params):
    which, *cases = args
    if len(cases) == 1:
        return cases[0]
    if which.type == I1:
        return select(b, which, cases[1], cases[0])
    # which >= k picks case k: in range this is cases[which]; out of range it clamps.
    cmp = b.icmp_signed if _kind(it[0]) == "i" else b.icmp_unsigned
    r = cases[0]
    for k in range(1, len(cases)):
        r = select(b, cmp(">=", which, ir.Constant(which.type, k)), cases[k], r)
    return r


def convert(b: ir.IRBuilder, x: ir.Value, src: np.dtype, dst: np.dtype) -> ir.Value:
    """Convert a register value between dtypes with the reference's semantics."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return x
    if dtypes.is_complex(src) or dtypes.is_complex(dst):
        from llax.codegen.complex_rules import convert as complex_convert

        return complex_convert(b, x, src, dst)
    sk = "b" if dtypes.is_bool(src) else src.kind
    dk = "b" if dtypes.is_bool(dst) else dst.kind
    t = reg_type(dst)
    if dk == "b":
        if sk == "f":
            return b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0))  # nan is True
        return b.icmp_unsigned("!=", x, ir.Constant(x.type, 0))
    if sk == "b":
        return b.uitofp(x, t) if dk == "f" else b.zext(x, t)
    if sk == "f" and dk == "f":
        if dst.itemsize > src.itemsize:
            return b.fpext(x, t)
        if src.itemsize == 8 and dst.itemsize == 2:
            # No native f64->f16 (LLVM would call a compiler-rt routine the JIT cannot
            # resolve); via f32 rounded to odd, which rounds correctly in two steps.
            return b.fptrunc(_to_f32_round_odd(b, x), HALF)
        return b.fptrunc(x, t)
    if sk == "f":
        # Saturating: NaN -> 0, out of range -> the nearest representable integer.
        name = "fptosi.sat" if dk == "i" else "fptoui.sat"
        return intrinsic(b, name, [x], t, [t, x.type])
    if dk == "f":
        if dst == dtypes.float16 and src.itemsize > 2:
            # Via f32 (exact for <= 24-bit magnitudes; NumPy's int->half also goes via float).
            return b.fptrunc(convert(b, x, src, np.dtype(np.float32)), HALF)
        return b.sitofp(x, t) if sk == "i" else b.uitofp(x, t)
    if dst.itemsize < src.itemsize:
        return b.trunc(x, t)
    if dst.itemsize > src.itemsize:
        return b.sext(x, t) if sk == "i" else b.zext(x, t)
    return x  # same width, other signedness: the same bits


def _to_f32_round_odd(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """double -> float rounding toward zero with a sticky last bit ("round to odd")."""
    t = b.fptrunc(x, FLOAT)
    back = b.fpext(t, x.type)
    bits = b.bitcast(t, I32)
    ax, aback = (intrinsic(b, "fabs", [v], x.type) for v in (x, back))
    # Nearest rounded up in magnitude: step back one ulp to truncate.
    bits = b.select(b.fcmp_ordered(">", aback, ax), b.sub(bits, ir.Constant(I32, 1)), bits)
    inexact = b.fcmp_ordered("!=", back, x)
    bits = b.select(inexact, b.or_(bits, ir.Constant(I32, 1)), bits)
    return b.bitcast(bits, FLOAT)


@register(P.fma)
def _fma(b, args, in_types, out_type, params):
    return intrinsic(b, "fma", list(args), reg_type(out_type.dtype))


@register(P.bitcast_convert_type)
def _bitcast(b, args, in_types, out_type, params):
    return b.bitcast(args[0], reg_type(out_type.dtype))


@register(P.convert_element_type)
def _convert(b, args, it, ot, params):
    return convert(b, args[0], it[0].dtype, ot.dtype)


def identity_min_max(dtype: np.dtype, is_max: bool) -> ir.Constant:
    """The identity of max (the lowest value) or min (the highest)."""
    return min_value(dtype) if is_max else max_value(dtype)


# Rules kept in modules of their own register themselves here.
import llax.codegen.complex_rules  # noqa: E402,F401
import llax.codegen.threefry  # noqa: E402,F401
