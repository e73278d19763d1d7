"""Cube root and power: cbrt, pow.

cbrt divides the exponent by 3 in floating point (no vector integer
division) and refines a polynomial start with Halley steps whose residual is
exact (fma).  pow is exp(y log|x|) with log|x| as a double-word accurate to
~2^-66 (float64) / 2^-44 (float32), so that the error of y log|x| stays far
below an ulp of the result up to the overflow threshold; numpy's (C99)
special cases are exact.

Accuracy: maximum error in ulps of the result (float32: exhaustive over each
op's non-trivial range against numpy in float64; float64: ~2 10^6 samples
against x87 long double (pow: ~10^6 samples of both)).
tests/test_vecmath_cbrt_pow.py asserts them rounded up, over every binade of
both formats.

    ========  =====  =====  ==================================================
    op        f32    f64    method
    ========  =====  =====  ==================================================
    cbrt      0.50   0.50   exponent divided by 3 in floating point, Halley
                            steps with an fma-exact residual
    pow       0.83   0.86   exp(y log|x|) with log|x| as a double-word
                            (f32: ~2^-44, f64: ~2^-66); C99 special cases
    ========  =====  =====  ==================================================
"""

from __future__ import annotations

import math
from decimal import Decimal

from llvmlite import ir

from llax.codegen.vecmath.core import (
    LN2_SPLIT,
    TWO_THIRDS,
    Emitter,
    Num,
    Value,
    const,
    emitter,
    fast2sum,
    float_bits,
    per_format,
    split,
)
from llax.codegen.vecmath.exp_log import exp_core, log_reduce, log_specials
from llax.codegen.vecmath.remez import Fit

_K = per_format(lambda bits: {
    "CBRT2": const(Decimal(2) ** (Decimal(1) / 3), bits),
    "CBRT4": const(Decimal(4) ** (Decimal(1) / 3), bits),
    "LN2": LN2_SPLIT[bits],
    "TWO_THIRDS": TWO_THIRDS[bits],
    "TWO_FIFTHS": split(Decimal(2) / 5, bits, 2),
})

# ---------------------------------------------------------------------------
# Coefficient tables, lowest order first, {bits: coefficients}: the output of
# remez.regenerate() for fits() below.  "max weighted error" is the relative
# error of the approximated function before rounding the coefficients.
# ---------------------------------------------------------------------------

# BEGIN GENERATED TABLES
# pow's double-word log: log(1+f) = 2s + (2/3)s^3 + (2/5)s^5 + s^7 P(s^2)
LOG_POW: dict[int, tuple] = {
    32: (
        # degree 2 on [0, 0.0294397], max weighted error 1.10e-13
        0.2857159674167633,
        0.22198167443275452,
        0.1926717460155487,
    ),
    64: (
        # degree 6 on [0, 0.0294397], max weighted error 1.17e-22
        0.2857142857143315,
        0.2222222222001791,
        0.18181818604610908,
        0.15384572962396778,
        0.1333576051039336,
        0.1168509681953808,
        0.11910505078204638,
    ),
}

# cbrt(m) ~ P(m), 1 <= m <= 2 (start of the Halley iteration)
CBRT: dict[int, tuple] = {
    64: (
        # degree 3 on [1, 2], max weighted error 7.30e-05
        0.5528234114855336,
        0.5871142781844277,
        -0.16296964619388085,
        0.023104954871311825,
    ),
}
# END GENERATED TABLES


def emit_cbrt(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # |x| = 2^(3q + rem) m, m in [1, 2), rem in {0, 1, 2} (exponent divided
    # by 3 in floating point: no vector integer division).  Start from
    # CBRT(m) * 2^(rem/3) (~13 bits), then Halley steps
    #     y -= y (y^3 - a) / (2 y^3 + a)
    # with y^3 - a from an fma double-word (so the last step rounds once).
    e = emitter(builder, x)
    fmt, k = e.fmt, _K[e.bits]
    pre = 3 * ((fmt.mbits + 2) // 3 + 1)  # multiple of 3, normalises subnormals
    a = e.abs(x)
    small = e.lt(a, 2.0**fmt.emin)
    a = e.sel(small, e.mul(a, 2.0**pre), a)
    qadj = e.sel(small, -float(pre // 3), 0.0)
    ix = e.to_int(a)
    ef = e.sub(e.small_int_to_float(e.lshr(ix, fmt.mbits)), float(fmt.bias))
    m = e.to_float(e.ior(e.iand(ix, (1 << fmt.mbits) - 1), float_bits(1.0, e.bits)))
    q = e.floor(e.mul(e.add(ef, 0.5), 1.0 / 3.0))
    rem = e.fma(q, -3.0, ef)
    r1, r2 = e.eq(rem, 1.0), e.eq(rem, 2.0)
    am = e.mul(m, e.sel(r2, 4.0, e.sel(r1, 2.0, 1.0)))
    y = e.mul(e.poly(m, CBRT[64]), e.sel(r2, k["CBRT4"], e.sel(r1, k["CBRT2"], 1.0)))
    for _ in range(1 if e.bits == 32 else 2):
        y2 = e.mul(y, y)
        y2_lo = e.fma(y, y, e.neg(y2))
        y3 = e.mul(y2, y)
        y3_lo = e.fma(y2_lo, y, e.fma(y2, y, e.neg(y3)))
        resid = e.add(e.sub(y3, am), y3_lo)  # y3 - am is exact (Sterbenz)
        y = e.sub(y, e.div(e.mul(y, resid), e.fma(2.0, y3, am)))
    res = e.mul(y, e.pow2i(e.float_to_small_int(e.add(q, qadj))))
    res = e.copysign(res, x)
    # +-0, +-inf, NaN map to themselves (x + x == x or unordered).
    return e.sel(e.ueq(e.add(x, x), x), x, res)


def _log_dd(e: Emitter, ax: Value) -> tuple[Value, Value]:
    """log(ax) as hi + lo with ~2^-66 (float64) / 2^-44 (float32) relative
    error, for finite ax > 0.

    As _log_core, but s = f/(2 + f) carries its rounding error s_lo, the
    (2/3) s^3 and (2/5) s^5 terms are double-word products, and the large
    terms are summed with Fast2Sum:
        k ln2 + 2s + (2/3)s^3 + (2/5)s^5 + [s^7 LOG_POW(s^2) and low parts].
    """
    k = _K[e.bits]
    m, kf = log_reduce(e, ax)
    f = e.sub(m, 1.0)
    d = e.add(2.0, f)
    d_lo = e.sub(f, e.sub(d, 2.0))  # exact: |f| < 2
    inv = e.div(1.0, d)
    s = e.mul(f, inv)
    s_lo = e.mul(e.fma(e.neg(s), d_lo, e.fma(e.neg(s), d, f)), inv)

    def mul_dw(a: Num, a_lo: Num, b: Num, b_lo: Num) -> tuple[Value, Value]:
        """(a + a_lo) (b + b_lo) as a double-word, dropping a_lo * b_lo."""
        p = e.mul(a, b)
        return p, e.add(e.fma(a, b, e.neg(p)), e.fma(a_lo, b, e.mul(a, b_lo)))

    z, z_lo = mul_dw(s, s_lo, s, s_lo)
    s3, s3_lo = mul_dw(z, z_lo, s, s_lo)
    s5, s5_lo = mul_dw(s3, s3_lo, z, z_lo)
    c3, c3_lo = mul_dw(s3, s3_lo, *k["TWO_THIRDS"])
    c5, c5_lo = mul_dw(s5, s5_lo, *k["TWO_FIFTHS"])
    tail = e.mul(e.mul(s5, z), e.poly(z, LOG_POW[e.bits]))  # s^7 P(z), ~2^-18 of the total
    ln2_hi, ln2_lo = k["LN2"]
    big = e.mul(kf, ln2_hi)
    big_lo = e.fma(kf, ln2_lo, e.fma(kf, ln2_hi, e.neg(big)))
    two_s = e.mul(2.0, s)

    c35, e0 = fast2sum(e, c3, c5)
    s1, e1 = fast2sum(e, two_s, c35)
    s2, e2 = fast2sum(e, big, s1)  # |k ln2| >= |s1| unless k = 0
    lo = e.add(e.add(e.add(e2, e1), e.add(e0, big_lo)),
               e.add(e.add(e.mul(2.0, s_lo), c3_lo), e.add(c5_lo, tail)))
    return fast2sum(e, s2, lo)


def _pow_fixup(e: Emitter, x: Value, y: Value, r: Value) -> Value:
    """Sign and C99 special cases on top of r = |x|^y = exp(y log|x|)."""
    ax = e.abs(x)
    y_int = e.eq(e.floor(y), y)  # true for +-inf, false for NaN
    yh = e.mul(y, 0.5)
    y_odd = e.and_(y_int, e.ne(e.floor(yh), yh))
    r = e.sel(e.and_(e.signbit(x), y_odd), e.neg(r), r)
    neg_finite = e.and_(e.lt(x, 0.0), e.ne(ax, math.inf))
    r = e.sel(e.and_(neg_finite, e.not_(y_int)), math.nan, r)
    r = e.sel(e.and_(e.eq(x, -1.0), e.eq(e.abs(y), math.inf)), 1.0, r)
    return e.sel(e.or_(e.eq(y, 0.0), e.eq(x, 1.0)), 1.0, r)


def emit_pow(builder: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """x ** y with numpy's (C99) special cases.

    exp(y log|x|) with log|x| as a double-word, so that the error of
    z = y log|x| stays far below an ulp of exp(z) even when |z| is close to
    the overflow threshold; z's low part goes into exp's reduction.
    """
    e = emitter(builder, x)
    ax = e.abs(x)
    hi, lo = _log_dd(e, ax)
    finite = e.and_(e.gt(ax, 0.0), e.lt(ax, math.inf))
    hi = log_specials(e, ax, hi)
    lo = e.sel(finite, lo, 0.0)
    zh = e.mul(y, hi)
    zl = e.fma(y, lo, e.fma(y, hi, e.neg(zh)))
    return _pow_fixup(e, x, y, exp_core(e, zh, lo=zl))


# ---------------------------------------------------------------------------
# How the tables are made (see remez.py)
# ---------------------------------------------------------------------------


def fits() -> list[Fit]:
    """LOG_POW: weight s^7 / log(1+f), the relative error of log(1+f).
    CBRT: a rough start for the Halley steps (relative error)."""
    import mpmath as mp

    sq = mp.sqrt

    def log_tail(z):  # (log(1+f) - 2s - (2/3)s^3 - (2/5)s^5) / s^7, s = sqrt(z)
        s = sq(z)
        return (2 * mp.atanh(s) - 2 * s - 2 * s**3 / 3 - 2 * s**5 / 5) / s**7

    out = [Fit(
        "LOG_POW", "pow's double-word log: log(1+f) = 2s + (2/3)s^3 + (2/5)s^5 + s^7 P(s^2)",
        bits, lambda z: mp.mpf(2) / 7 if z == 0 else log_tail(z),
        lambda z: 0 if z == 0 else sq(z) ** 7 / (2 * mp.atanh(sq(z))), 0, 0.17158**2, n)
        for bits, n in ((32, 2), (64, 6))]
    out.append(Fit("CBRT", "cbrt(m) ~ P(m), 1 <= m <= 2 (start of the Halley iteration)",
                   64, mp.cbrt, lambda m: 1 / mp.cbrt(m), 1, 2, 3))
    return out
