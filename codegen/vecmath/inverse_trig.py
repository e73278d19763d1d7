"""Inverse trigonometric functions: atan, asin, acos, atan2.

atan and atan2 share fdlibm's five regions of the ratio (one division, the
base angle added last); asin and acos share one polynomial on |t| <= 1/2,
reaching the rest through asin|x| = pi/2 - 2 asin(sqrt((1 - |x|)/2)) with the
square root's rounding error carried along.  ``atan2(x1, x2)`` is
numpy.arctan2 / lax.atan2: the angle of the point (x2, x1).

Accuracy: maximum error in ulps of the result (float32: exhaustive over each
op's non-trivial range against numpy in float64; float64: ~2 10^6 samples
against x87 long double (atan2: ~10^6 samples of both)).
tests/test_vecmath_inverse_trig.py asserts them rounded up, over every binade
of both formats.

    ========  =====  =====  ==================================================
    op        f32    f64    method
    ========  =====  =====  ==================================================
    atan      0.97   0.85   fdlibm's 5 regions of |x|: atan(c) + atan(t),
                            t = (x - c)/(1 + c x); one division
    asin      0.62   0.63   |x| <= 1/2: x + x^3 P(x^2); else pi/2 - 2 asin(s),
    acos      0.63   0.62   s = sqrt((1-|x|)/2) with its rounding error
    atan2     1.42   1.44   as atan on |x1|, |x2| (no x1/x2), then quadrant
    ========  =====  =====  ==================================================
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

from llvmlite import ir

from llax.codegen.vecmath.core import (
    PI,
    Emitter,
    Value,
    emitter,
    fast2sum,
    per_format,
    split,
)
from llax.codegen.vecmath.remez import Fit


def _atan_decimal(x: Decimal) -> Decimal:
    """atan(x) for 0 <= x <= 1/2 by its Taylor series (at 80 digits)."""
    with localcontext() as ctx:
        ctx.prec = 80
        total, term, k = Decimal(0), x, 0
        while abs(term) > Decimal(10) ** -75:
            total += term / (2 * k + 1)
            term *= -x * x
            k += 1
        return total


def _constants(bits: int) -> dict[str, object]:
    with localcontext() as ctx:
        ctx.prec = 80
        # atan(1/2), atan(1), atan(3/2) = pi/2 - atan(2/3) ... see _atan_core.
        atan_bases = (
            _atan_decimal(Decimal(1) / 2),
            PI / 4,
            PI / 2 - 2 * _atan_decimal(Decimal(2) / 3 / (1 + (1 + Decimal(4) / 9).sqrt())),
            PI / 2,
        )
        return {
            "PI": split(PI, bits, 2),
            "PIO2": split(PI / 2, bits, 2),
            "ATAN_BASES": tuple(split(v, bits, 2) for v in atan_bases),
            "PI_MINUS_ATAN_BASES": tuple(split(PI - v, bits, 2) for v in atan_bases),
        }


_K = per_format(_constants)
# Breakpoints of a/b for atan and atan2 (see _atan_core).
_ATAN_BOUNDS = (7 / 16, 11 / 16, 19 / 16, 39 / 16)

# ---------------------------------------------------------------------------
# Coefficient tables, lowest order first, {bits: coefficients}: the output of
# remez.regenerate() for fits() below.  "max weighted error" is the relative
# error of the approximated function before rounding the coefficients.
# ---------------------------------------------------------------------------

# BEGIN GENERATED TABLES
# atan t = t + t^3 P(t^2), |t| <= 7/16 (+ slack)
ATAN: dict[int, tuple] = {
    32: (
        # degree 4 on [0, 0.191494], max weighted error 1.24e-09
        -0.3333330452442169,
        0.1999773383140564,
        -0.14229513704776764,
        0.10490333288908005,
        -0.05817969888448715,
    ),
    64: (
        # degree 10 on [0, 0.191494], max weighted error 4.30e-18
        -0.3333333333333292,
        0.19999999999873158,
        -0.14285714272212724,
        0.11111110392783216,
        -0.09090886814617773,
        0.0769187123733233,
        -0.06661023604636959,
        0.058332536055302045,
        -0.04975624056861394,
        0.0365035341597439,
        -0.01625877129644166,
    ),
}

# asin t = t + t^3 P(t^2), |t| <= 1/2
ASIN: dict[int, tuple] = {
    32: (
        # degree 5 on [0, 0.25], max weighted error 2.76e-10
        0.16666659712791443,
        0.07500503957271576,
        0.044516950845718384,
        0.031807754188776016,
        0.014438481070101261,
        0.03751660883426666,
    ),
    64: (
        # degree 12 on [0, 0.25], max weighted error 9.54e-19
        0.1666666666666676,
        0.07499999999970798,
        0.04464285717461276,
        0.030381942707746423,
        0.022372214988541392,
        0.01735161200025149,
        0.013980820680300779,
        0.01139891130121853,
        0.010780257424343959,
        0.0037063922488824916,
        0.021707486090765653,
        -0.020999117134121528,
        0.032628657898015695,
    ),
}
# END GENERATED TABLES


def _atan_core(e: Emitter, a: Value, b: Value, xneg: Value | None = None) -> Value:
    """Angle of the point (b, a) for a, b >= 0, i.e. atan(a/b); with xneg
    (x < 0) of the point (-b, a), i.e. pi - atan(a/b).

    fdlibm's regions of a/b with breakpoints 7/16, 11/16, 19/16, 39/16:
        atan(a/b) = atan(c) + atan((a - c b) / (b + c a)),  c = 0, 1/2, 1, 3/2
                  = pi/2 + atan(-b / a)                       beyond 39/16,
    so the ATAN polynomial only sees |t| <= 7/16 and the base angle is
    large compared with the correction (little cancellation).  One
    division; the base is added last as hi + (p + lo).
    """
    k = _K[e.bits]
    # regions[i]: a/b > _ATAN_BOUNDS[i]; the last true one applies.
    regions = [e.gt(a, e.mul(b, bound)) for bound in _ATAN_BOUNDS]
    both_inf = e.and_(e.eq(a, math.inf), e.eq(b, math.inf))
    for i in (0, 1):  # atan2(inf, inf) = pi/4: the c = 1 region with t = 0
        regions[i] = e.or_(regions[i], both_inf)
    cval = e.c(0.0)
    for region, cv in zip(regions[:3], (0.5, 1.0, 1.5), strict=True):
        cval = e.sel(region, cv, cval)
    # Region 0 (c = 0) is a / b itself: fma(-0, inf, a) would be NaN.
    num = e.sel(regions[0], e.fma(e.neg(cval), b, a), a)
    den = e.sel(regions[0], e.fma(cval, a, b), b)
    num = e.sel(regions[3], e.neg(b), num)
    den = e.sel(regions[3], a, den)
    t = e.div(num, den)
    t = e.sel(e.or_(e.eq(den, 0.0), both_inf), 0.0, t)  # 0/0, inf/inf
    z = e.mul(t, t)
    p = e.fma(e.mul(t, z), e.poly(z, ATAN[e.bits]), t)
    if xneg is not None:
        p = e.sel(xneg, e.neg(p), p)
    hi_lo = []
    for part in range(2):
        v = e.c(0.0) if xneg is None else e.sel(xneg, k["PI"][part], 0.0)
        for idx, region in enumerate(regions):
            val = e.c(k["ATAN_BASES"][idx][part])
            if xneg is not None:
                val = e.sel(xneg, k["PI_MINUS_ATAN_BASES"][idx][part], val)
            v = e.sel(region, val, v)
        hi_lo.append(v)
    return e.add(hi_lo[0], e.add(p, hi_lo[1]))


def emit_atan(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    e = emitter(builder, x)
    return e.copysign(_atan_core(e, e.abs(x), e.c(1.0)), x)


def emit_atan2(builder: ir.IRBuilder, x1: ir.Value, x2: ir.Value) -> ir.Value:
    """atan2(x1, x2) = angle of the point (x2, x1), as numpy.arctan2 and
    lax.atan2 (x1 is the 'y' coordinate)."""
    e = emitter(builder, x1)
    fmt = e.fmt
    a, b = e.abs(x1), e.abs(x2)
    # Scale both by a power of two so that b + c a cannot overflow and the
    # fma residuals do not lose bits to gradual underflow.  Scaling is exact
    # unless the smaller one underflows, and then the ratio is negligible.
    big = e.sel(e.gt(a, b), a, b)
    scale = e.sel(e.gt(big, 2.0 ** (fmt.emax - 2)), 0.25, 1.0)
    scale = e.sel(e.lt(big, 2.0 ** (fmt.emin + fmt.mbits + 2)), 2.0 ** (fmt.mbits + 2), scale)
    theta = _atan_core(e, e.mul(a, scale), e.mul(b, scale), xneg=e.signbit(x2))
    theta = e.copysign(theta, x1)
    return e.sel(e.or_(e.isnan(x1), e.isnan(x2)), e.add(x1, x2), theta)


def _asin_parts(e: Emitter, x: Value) -> tuple[Value, Value, Value, Value]:
    """asin|x| = s + s_lo + t (|x| <= 1/2: s = |x|, s_lo = 0) or
    pi/2 - 2 (s + s_lo + t) (|x| > 1/2: s + s_lo = sqrt((1 - |x|)/2)),
    with t = s z P(z), z = s^2 <= 1/4: one ASIN polynomial serves both.

    (1 - |x|)/2 is exact for |x| >= 1/2; s_lo = (z - s^2) / 2s is the
    rounding error of the square root, so pi/2 - 2s can be formed exactly
    (Sterbenz) where the cancellation is worst (|x| just above 1/2).
    Returns (small, s, s_lo, t).
    """
    a = e.abs(x)
    small = e.le(a, 0.5)
    z = e.sel(small, e.mul(a, a), e.fma(-0.5, a, 0.5))
    s = e.sel(small, a, e.sqrt(z))
    s_lo = e.div(e.fma(e.neg(s), s, z), e.mul(2.0, s))
    s_lo = e.sel(e.or_(small, e.eq(z, 0.0)), 0.0, s_lo)
    t = e.mul(e.mul(s, z), e.poly(z, ASIN[e.bits]))
    return small, s, s_lo, t


def emit_asin(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    e = emitter(builder, x)
    small, s, s_lo, t = _asin_parts(e, x)
    pio2_hi, pio2_lo = _K[e.bits]["PIO2"]
    hi, lo = fast2sum(e, pio2_hi, e.mul(-2.0, s))
    big = e.add(hi, e.add(lo, e.sub(pio2_lo, e.mul(2.0, e.add(s_lo, t)))))
    return e.copysign(e.sel(small, e.add(s, t), big), x)


def emit_acos(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # |x| <= 1/2: pi/2 - asin x;  x > 1/2: 2 asin(s);  x < -1/2: pi - 2 asin(s).
    e = emitter(builder, x)
    small, s, s_lo, t = _asin_parts(e, x)
    k = _K[e.bits]
    pio2_hi, pio2_lo = k["PIO2"]
    pi_hi, pi_lo = k["PI"]
    hi, lo = fast2sum(e, pio2_hi, e.neg(x))
    mid = e.add(hi, e.add(lo, e.sub(pio2_lo, e.copysign(t, x))))
    two_s, two_rest = e.mul(2.0, s), e.mul(2.0, e.add(s_lo, t))
    pos = e.add(two_s, two_rest)
    hi, lo = fast2sum(e, pi_hi, e.neg(two_s))
    neg = e.add(hi, e.add(lo, e.sub(pi_lo, two_rest)))
    return e.sel(small, mid, e.sel(e.gt(x, 0.0), pos, neg))


# ---------------------------------------------------------------------------
# How the tables are made (see remez.py)
# ---------------------------------------------------------------------------


def fits() -> list[Fit]:
    """ATAN, ASIN: t = sqrt(u), weight t^3 / f(t): the relative error of f."""
    import mpmath as mp

    sq = mp.sqrt

    def odd(fn, lead):  # fn(t) = t + t^3 P(t^2): target P, relative weight
        return (
            lambda u: mp.mpf(lead) if u == 0 else (fn(sq(u)) - sq(u)) / sq(u) ** 3,
            lambda u: mp.mpf(0) if u == 0 else sq(u) ** 3 / fn(sq(u)),
        )

    out = []
    for bits, n in ((32, 4), (64, 10)):
        out.append(Fit("ATAN", "atan t = t + t^3 P(t^2), |t| <= 7/16 (+ slack)",
                       bits, *odd(mp.atan, -mp.mpf(1) / 3), 0, 0.4376**2, n))
    for bits, n in ((32, 5), (64, 12)):
        out.append(Fit("ASIN", "asin t = t + t^3 P(t^2), |t| <= 1/2",
                       bits, *odd(mp.asin, mp.mpf(1) / 6), 0, 0.25, n))
    return out
