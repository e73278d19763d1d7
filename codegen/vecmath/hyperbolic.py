"""Hyperbolic functions and their inverses: tanh, logistic, sinh, cosh, asinh, acosh, atanh.

All are built on the exp/log cores; the care is in avoiding cancellation
(odd polynomial for small sinh, expm1 for tanh, log1p with the rounding
error of its argument for the inverses) and overflow (e^|x| / 2 scaled
inside exp).

Accuracy: maximum error in ulps of the result (float32: exhaustive over each
op's non-trivial range against numpy in float64; float64: ~2 10^6 samples
against x87 long double). tests/test_vecmath_hyperbolic.py asserts them
rounded up, over every binade of both formats.

    ========  =====  =====  ==================================================
    op        f32    f64    method
    ========  =====  =====  ==================================================
    tanh      1.51   1.82   em = expm1(2|x|): em/(em+2) or 1 - 2/(em+2)
    logistic  1.48   1.42   q = exp(-|x|): 1/(1+q) or q/(1+q)
    sinh      1.62   1.59   |x| < 1: odd polynomial; else h - 1/(4h) with
                            h = e^|x| / 2 (scaled inside exp: no overflow)
    cosh      1.33   1.26   h + 1/(4h)
    asinh     1.26   1.21   log1p(|x| + x^2/(1 + sqrt(1 + x^2))), large |x|:
                            log|x| + ln2
    acosh     1.81   1.81   log1p(t + sqrt(t^2 + 2t)), t = x - 1
    atanh     1.66   1.48   log1p(2|x|/(1 - |x|)) / 2
    ========  =====  =====  ==================================================
"""

from __future__ import annotations

import math

from llvmlite import ir

from llax.codegen.vecmath.core import div_dw, emitter, fast2sum, two_sum
from llax.codegen.vecmath.exp_log import exp_core, expm1_core, log1p_core
from llax.codegen.vecmath.remez import Fit

# ---------------------------------------------------------------------------
# Coefficient tables, lowest order first, {bits: coefficients}: the output of
# remez.regenerate() for fits() below.  "max weighted error" is the relative
# error of the approximated function before rounding the coefficients.
# ---------------------------------------------------------------------------

# BEGIN GENERATED TABLES
# sinh t = t + t^3 P(t^2), |t| <= 1
SINH: dict[int, tuple] = {
    32: (
        # degree 3 on [0, 1], max weighted error 5.19e-11
        0.1666666716337204,
        0.008333349600434303,
        0.0001983615948120132,
        2.816950882333913e-06,
    ),
    64: (
        # degree 6 on [0, 1], max weighted error 8.65e-20
        0.16666666666666669,
        0.008333333333333148,
        0.00019841269841431873,
        2.7557319157071797e-06,
        2.505212313672888e-08,
        1.6057259768333725e-10,
        7.758748817041019e-13,
    ),
}
# END GENERATED TABLES


def emit_tanh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # With em = expm1(2|x|) (musl's scheme): tanh|x| = em / (em + 2) below
    # log(3)/2, 1 - 2 / (em + 2) above; both are well conditioned in em and
    # share one division of double-words.  tanh rounds to 1 beyond |x| = 20,
    # so clamping there keeps em finite.
    e = emitter(builder, x)
    a = e.clamp(e.abs(x), 0.0, 20.0)
    em = expm1_core(e, e.mul(2.0, a))
    small = e.lt(a, 0.5493061443340549)  # log(3)/2, where em = 2
    d, d_lo = two_sum(e, em, e.c(2.0))
    q = div_dw(e, e.sel(small, em, 2.0), e.c(0.0), d, d_lo)
    return e.copysign(e.sel(small, q, e.sub(1.0, q)), x)


def emit_logistic(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # With q = exp(-|x|) in (0, 1]: 1 / (1 + q) for x >= 0, q / (1 + q) for
    # x < 0; 1 + q is kept as a double-word.  Never overflows; subnormal
    # results for very negative x.
    e = emitter(builder, x)
    q = exp_core(e, e.neg(e.abs(x)))
    d, d_lo = fast2sum(e, e.c(1.0), q)
    return div_dw(e, e.sel(e.ge(x, 0.0), 1.0, q), e.c(0.0), d, d_lo)


def emit_sinh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # |x| < 1: odd polynomial (no cancellation).  Else h - 1/(4h) with
    # h = e^|x| / 2 scaled inside exp, so it overflows only when sinh does.
    e = emitter(builder, x)
    a = e.abs(x)
    h = exp_core(e, a, scale=-1)
    big = e.sub(h, e.div(0.25, h))
    z = e.mul(a, a)
    small = e.fma(e.mul(a, z), e.poly(z, SINH[e.bits]), a)
    return e.copysign(e.sel(e.lt(a, 1.0), small, big), x)


def emit_cosh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # h + 1/(4h), h = e^|x| / 2: a sum of positive terms.
    e = emitter(builder, x)
    h = exp_core(e, e.abs(x), scale=-1)
    return e.add(h, e.div(0.25, h))


def emit_asinh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # asinh|x| = log1p(|x| + x^2 / (1 + sqrt(1 + x^2))), the last addition's
    # rounding error passed on to log1p; for |x| > BIG, sqrt(1 + x^2) = |x|
    # to working precision and asinh|x| = log|x| + ln2, computed as
    # log1p(|x| - 1) with k += 1 (no overflow of x^2).
    e = emitter(builder, x)
    a = e.abs(x)
    big = e.gt(a, 2.0 ** ((e.fmt.mbits + 1) // 2 + 2))
    a2 = e.mul(a, a)
    u, u_lo = two_sum(e, a, e.div(a2, e.add(1.0, e.sqrt(e.add(1.0, a2)))))
    u = e.sel(big, e.sub(a, 1.0), u)
    u_lo = e.sel(big, 0.0, u_lo)
    return e.copysign(log1p_core(e, u, k_extra=e.sel(big, 1.0, 0.0), x_lo=u_lo), x)


def emit_acosh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # acosh x = log1p(t + sqrt(t^2 + 2t)), t = x - 1 exact near 1 (and
    # t^2 + 2t rounded once by fma); the last addition's rounding error is
    # passed on to log1p.  For x > BIG it is log x + ln2 = log1p(x - 1) with
    # k += 1.
    e = emitter(builder, x)
    big = e.gt(x, 2.0 ** ((e.fmt.mbits + 1) // 2 + 2))
    t = e.sub(x, 1.0)
    u, u_lo = two_sum(e, t, e.sqrt(e.fma(t, t, e.mul(2.0, t))))
    u = e.sel(big, t, u)
    u_lo = e.sel(big, 0.0, u_lo)
    res = log1p_core(e, u, k_extra=e.sel(big, 1.0, 0.0), x_lo=u_lo)
    return e.sel(e.ult(x, 1.0), math.nan, res)  # also x = -inf, where u = inf


def emit_atanh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # atanh|x| = log1p(u) / 2 with u = 2|x| / (1 - |x|), written as
    # 2(a + a q), q = a / (1 - a), below 1/2 (more accurate there).  |x| = 1
    # gives u = inf -> inf; |x| > 1 gives u < -1 -> NaN.
    e = emitter(builder, x)
    a = e.abs(x)
    q = e.div(a, e.sub(1.0, a))
    u = e.mul(2.0, e.sel(e.lt(a, 0.5), e.fma(a, q, a), q))
    return e.copysign(e.mul(0.5, log1p_core(e, u)), x)


# ---------------------------------------------------------------------------
# How the table is made (see remez.py)
# ---------------------------------------------------------------------------


def fits() -> list[Fit]:
    """SINH: weight t^3 / sinh(t), the relative error of sinh."""
    import mpmath as mp

    sq = mp.sqrt
    return [Fit("SINH", "sinh t = t + t^3 P(t^2), |t| <= 1", bits,
                lambda u: mp.mpf(1) / 6 if u == 0 else (mp.sinh(sq(u)) - sq(u)) / sq(u) ** 3,
                lambda u: mp.mpf(0) if u == 0 else sq(u) ** 3 / mp.sinh(sq(u)), 0, 1, n)
            for bits, n in ((32, 3), (64, 6))]
