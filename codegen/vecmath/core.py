"""The shared core of vecmath: float formats, exact constants, the IR builder, double-words.

Everything here is independent of any one function.  ``Emitter`` wraps an
``ir.IRBuilder`` for one floating type (``float``, ``double`` or a vector of
either): Python floats become constants of that type, and the arithmetic, fma,
comparisons, selects and integer views are the only operations the families
use, so each family's code reads as the formula it computes.  The double-word
helpers (``two_sum``, ``fast2sum``, ``div_dw``) carry a value as an unevaluated
sum hi + lo when one rounding would lose too much.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import NamedTuple

from llvmlite import ir

Value = ir.Value  # an IR value: a float(s) of the emitter's type, a mask, an int view
Num = float | ir.Value  # a value, or a Python float that becomes a constant


# ---------------------------------------------------------------------------
# Floating-point formats and exactly split constants
# ---------------------------------------------------------------------------


class Fmt(NamedTuple):
    bits: int  # storage width
    mbits: int  # explicit mantissa bits
    bias: int  # exponent bias
    emax: int  # largest unbiased exponent
    emin: int  # smallest normal unbiased exponent


FMT = {32: Fmt(32, 23, 127, 127, -126), 64: Fmt(64, 52, 1023, 1023, -1022)}


def _atan_inverse(n: int, one: int) -> int:
    """atan(1/n) * one for an integer n > 1, by its Taylor series in integers."""
    total, term, k, sign = 0, one // n, 1, 1
    while term:
        total += sign * (term // k)
        term //= n * n
        k += 2
        sign = -sign
    return total


def pi_fixed(bits: int) -> int:
    """floor(pi * 2**bits) (to within one unit), by Machin's formula
    pi = 16 atan(1/5) - 4 atan(1/239) in integer arithmetic with guard bits."""
    guard = 32
    one = 1 << (bits + guard)
    return (16 * _atan_inverse(5, one) - 4 * _atan_inverse(239, one)) >> guard


# 80 significant digits: far more than the 3 x 53 bits used by any split below.
with localcontext() as _ctx:
    _ctx.prec = 80
    PI = Decimal(pi_fixed(300)) / Decimal(2) ** 300
    LN2 = Decimal(2).ln()


def round_to(value: float, bits: int) -> float:
    """Round a double to float32 (bits=32) or leave it (bits=64)."""
    if bits == 32:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    return value


def float_bits(value: float, bits: int) -> int:
    """Bit pattern of value in the given format, as a signed integer."""
    if bits == 32:
        return struct.unpack("<i", struct.pack("<f", value))[0]
    return struct.unpack("<q", struct.pack("<d", value))[0]


def split(value: Decimal, bits: int, parts: int, hi_bits: int | None = None) -> tuple[float, ...]:
    """Split value into `parts` floats of the format whose sum approximates it.

    Each part is the remainder rounded to the format; with hi_bits the first
    part keeps only that many significant bits, so that its product with a
    small integer is exact.
    """
    out = []
    with localcontext() as ctx:
        ctx.prec = 80
        rest = value
        for i in range(parts):
            part = round_to(float(rest), bits)
            if i == 0 and hi_bits is not None:
                mant, exp = math.frexp(float(rest))
                part = math.ldexp(math.floor(mant * 2.0**hi_bits + 0.5), exp - hi_bits)
            out.append(part)
            rest -= Decimal(part)
    return tuple(out)


def const(value: Decimal, bits: int) -> float:
    """value rounded to the format."""
    return split(value, bits, 1)[0]


def per_format(make) -> dict[int, object]:
    """{32: make(32), 64: make(64)}: a constant for each format."""
    return {bits: make(bits) for bits in FMT}


# Constants several families use (the others live with their family).
LN2_SPLIT = per_format(lambda bits: split(LN2, bits, 2))  # ln2 = hi + lo (Cody-Waite with fma)
TWO_THIRDS = per_format(lambda bits: split(Decimal(2) / 3, bits, 2))
# Adding SHIFT rounds |v| < 2^(mbits-1) to an integer that can be read off the
# low bits of the sum.
SHIFT = per_format(lambda bits: 1.5 * 2.0 ** FMT[bits].mbits)


# ---------------------------------------------------------------------------
# IR building helper
# ---------------------------------------------------------------------------


class Emitter:
    """An IRBuilder bound to one floating type (scalar or vector).

    Python floats passed to the arithmetic methods become constants of that
    type (splatted for vectors).
    """

    def __init__(self, builder: ir.IRBuilder, ty: ir.Type) -> None:
        elem = ty.element if isinstance(ty, ir.VectorType) else ty
        if isinstance(elem, ir.FloatType):
            bits = 32
        elif isinstance(elem, ir.DoubleType):
            bits = 64
        else:
            raise TypeError(f"vecmath: expected float or double (or a vector of them), got {ty}")
        self.b = builder
        self.ty = ty
        self.bits = bits
        self.fmt = FMT[bits]
        ity: ir.Type = ir.IntType(bits)
        if isinstance(ty, ir.VectorType):
            ity = ir.VectorType(ity, ty.count)
            self.suffix = f"v{ty.count}{elem.intrinsic_name}"
        else:
            self.suffix = elem.intrinsic_name
        self.ity = ity

    # -- constants ---------------------------------------------------------
    def c(self, v: float | ir.Value) -> ir.Value:
        return v if isinstance(v, ir.Value) else ir.Constant(self.ty, float(v))

    def i(self, v: int) -> ir.Value:
        return ir.Constant(self.ity, v)

    # -- float arithmetic ------------------------------------------------------
    def add(self, a: Num, b: Num) -> Value:
        return self.b.fadd(self.c(a), self.c(b))

    def sub(self, a: Num, b: Num) -> Value:
        return self.b.fsub(self.c(a), self.c(b))

    def mul(self, a: Num, b: Num) -> Value:
        return self.b.fmul(self.c(a), self.c(b))

    def div(self, a: Num, b: Num) -> Value:
        return self.b.fdiv(self.c(a), self.c(b))

    def neg(self, a: Num) -> Value:
        return self.b.fneg(self.c(a))

    def _call(self, name: str, *args: Num) -> Value:
        fname = f"{name}.{self.suffix}"
        module = self.b.module
        fn = module.globals.get(fname)
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(self.ty, [self.ty] * len(args)), fname)
        return self.b.call(fn, [self.c(a) for a in args])

    def fma(self, a: Num, b: Num, c: Num) -> Value:
        return self._call("llvm.fma", a, b, c)

    def abs(self, a: Num) -> Value:
        return self._call("llvm.fabs", a)

    def floor(self, a: Num) -> Value:
        return self._call("llvm.floor", a)

    def rint(self, a: Num) -> Value:
        return self._call("llvm.rint", a)

    def sqrt(self, a: Num) -> Value:
        return self._call("llvm.sqrt", a)

    def copysign(self, mag: Num, sign: Num) -> Value:
        return self._call("llvm.copysign", mag, sign)

    def poly(self, x: Num, coeffs: Sequence[float | ir.Value]) -> Value:
        """Horner evaluation of sum(coeffs[i] * x**i) with fma."""
        acc = self.c(coeffs[-1])
        for cf in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, cf)
        return acc

    # -- comparisons and selection ---------------------------------------------
    def _cmp(self, op: str, a: Num, b: Num, ordered: bool = True) -> Value:
        fn = self.b.fcmp_ordered if ordered else self.b.fcmp_unordered
        return fn(op, self.c(a), self.c(b))

    def lt(self, a: Num, b: Num) -> Value:
        return self._cmp("<", a, b)

    def le(self, a: Num, b: Num) -> Value:
        return self._cmp("<=", a, b)

    def gt(self, a: Num, b: Num) -> Value:
        return self._cmp(">", a, b)

    def ge(self, a: Num, b: Num) -> Value:
        return self._cmp(">=", a, b)

    def eq(self, a: Num, b: Num) -> Value:
        return self._cmp("==", a, b)

    def ne(self, a: Num, b: Num) -> Value:  # ordered: false if either is NaN
        return self._cmp("!=", a, b)

    def ult(self, a: Num, b: Num) -> Value:  # a < b or unordered
        return self._cmp("<", a, b, ordered=False)

    def ueq(self, a: Num, b: Num) -> Value:  # a == b or unordered
        return self._cmp("==", a, b, ordered=False)

    def isnan(self, a: Num) -> Value:
        return self._cmp("uno", a, a, ordered=False)

    def sel(self, cond: Value, a: Num, b: Num) -> Value:
        return self.b.select(cond, self.c(a), self.c(b))

    def and_(self, a: Value, b: Value) -> Value:
        return self.b.and_(a, b)

    def or_(self, a: Value, b: Value) -> Value:
        return self.b.or_(a, b)

    def not_(self, a: Value) -> Value:
        return self.b.not_(a)

    def signbit(self, a: Num) -> Value:
        return self.b.icmp_signed("<", self.to_int(a), self.i(0))

    # -- integer views ---------------------------------------------------------
    def to_int(self, a: Num) -> Value:
        return self.b.bitcast(self.c(a), self.ity)

    def to_float(self, a: Value) -> Value:
        return self.b.bitcast(a, self.ty)

    def iadd(self, a: Value, b: Value | int) -> Value:
        return self.b.add(a, b if isinstance(b, ir.Value) else self.i(b))

    def isub(self, a: Value, b: Value | int) -> Value:
        return self.b.sub(a, b if isinstance(b, ir.Value) else self.i(b))

    def iand(self, a: Value, b: Value | int) -> Value:
        return self.b.and_(a, b if isinstance(b, ir.Value) else self.i(b))

    def ior(self, a: Value, b: Value | int) -> Value:
        return self.b.or_(a, b if isinstance(b, ir.Value) else self.i(b))

    def shl(self, a: Value, n: int) -> Value:
        return self.b.shl(a, self.i(n))

    def lshr(self, a: Value, n: int) -> Value:
        return self.b.lshr(a, self.i(n))

    # -- derived helpers -------------------------------------------------------
    def clamp(self, x: Num, lo: float, hi: float) -> Value:
        """min(max(x, lo), hi) that lets NaN through (unlike minnum/maxnum)."""
        x = self.sel(self.gt(x, hi), hi, x)
        return self.sel(self.lt(x, lo), lo, x)

    def small_int_to_float(self, n: Value) -> Value:
        """Convert an integer 0 <= n < 2^mbits to float without sitofp.

        (sitofp i64 -> double does not vectorise on AVX2.)  OR-ing n into the
        mantissa of 2^mbits gives exactly 2^mbits + n.
        """
        two_m = 2.0**self.fmt.mbits
        return self.sub(self.to_float(self.ior(n, float_bits(two_m, self.bits))), two_m)

    def float_to_small_int(self, f: Num) -> Value:
        """Convert an integral float |f| < 2^(mbits-1) to an integer, without fptosi."""
        shift = SHIFT[self.bits]
        return self.isub(self.to_int(self.add(f, shift)), float_bits(shift, self.bits))

    def pow2i(self, n: Value) -> Value:
        """2.0**n for an integer n in the normal exponent range."""
        return self.to_float(self.shl(self.iadd(n, self.fmt.bias), self.fmt.mbits))




def emitter(builder: ir.IRBuilder, x: ir.Value) -> Emitter:
    """The Emitter for x's type (TypeError unless float, double or a vector of them)."""
    return Emitter(builder, x.type)


def fast2sum(e: Emitter, a: Num, b: Num) -> tuple[Value, Value]:
    """a + b = hi + lo exactly, provided |a| >= |b| (or a = 0)."""
    hi = e.add(a, b)
    return hi, e.sub(b, e.sub(hi, a))


def two_sum(e: Emitter, a: Num, b: Num) -> tuple[Value, Value]:
    """a + b = hi + lo exactly (Knuth)."""
    hi = e.add(a, b)
    bp = e.sub(hi, a)
    return hi, e.add(e.sub(a, e.sub(hi, bp)), e.sub(b, bp))


def div_dw(e: Emitter, n: Value, n_lo: Value, d: Value, d_lo: Value) -> Value:
    """(n + n_lo) / (d + d_lo), rounded about once: q0 = n * (1/d) plus one
    correction with the exact residual fma(-q0, d, n) + (n_lo - q0 d_lo)."""
    inv = e.div(1.0, d)
    q0 = e.mul(n, inv)
    resid = e.add(e.fma(e.neg(q0), d, n), e.fma(e.neg(q0), d_lo, n_lo))
    return e.fma(resid, inv, q0)
