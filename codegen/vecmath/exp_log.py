"""Exponentials and logarithms: exp, exp2, expm1, log, log1p.

Also the cores the other families build on: ``exp_core`` (exp of a
double-word, optionally scaled and multiplied in the same rounding: sinh,
cosh, logistic, erfc, pow), ``expm1_core`` (tanh), ``log_core``,
``log1p_core`` and ``log_reduce`` (the inverse hyperbolics, erf_inv, pow).

Accuracy: maximum error in ulps of the result (float32: exhaustive over each
op's non-trivial range against numpy in float64; float64: ~2 10^6 samples
against x87 long double). tests/test_vecmath_exp_log.py asserts them rounded
up, over every binade of both formats.

    ========  =====  =====  ==================================================
    op        f32    f64    method
    ========  =====  =====  ==================================================
    exp       0.86   0.85   x = n ln2 + r (Cody-Waite with fma, r carried as
                            a double-word), e^r = 1 + r + r^2 P(r), P degree
                            5 / 10, 2^n applied in two halves
    exp2      0.85   0.84   x = n + f, f ln2 as a double-word, same P
    expm1     1.29   1.26   as exp; 2^n e^r - 1 rebuilt without cancellation
    log       0.84   0.50*  f32: x = 2^k m, m in [sqrt(1/2), sqrt(2)),
                            log m = 2 atanh(s), s = (m-1)/(m+1), fdlibm sum;
                            f64: a 128-run table (log_table.py), see below
    log1p     0.84   0.50*  log of fl(1 + x) plus TwoSum error / (1 + x);
                            f64 below 2^-20: x - x^2/2 + x^3/3 - x^4/4
    ========  =====  =====  ==================================================

    * correctly rounded but for rare cases: 0.5 + 2^-14 ulp at most by the
      error analysis; one result in ~5 10^6 samples over the whole domain
      differs from the correctly rounded one (0.500003 ulp).  glibc's log,
      which NumPy and JAX's CPU backend call, is not correctly rounded in
      ~0.1% of [0.3, 3] (0.52 ulp); there the two differ.

float64 log needs a table lookup per element (two words, a gather or four
scalar loads per vector): the one memory access of vecmath's code besides the
rare lanes of trig, and the reason the loop is latency- rather than
throughput-bound (about 1.4 times the time of the former table-free method).
"""

from __future__ import annotations

import math
from decimal import Decimal

from llvmlite import ir

from llax.codegen.vecmath import log_table
from llax.codegen.vecmath.core import (
    FMT,
    LN2,
    LN2_SPLIT,
    SHIFT,
    TWO_THIRDS,
    Emitter,
    Value,
    const,
    emitter,
    fast2sum,
    float_bits,
    per_format,
    split,
)
from llax.codegen.vecmath.remez import Fit
from llax.codegen.vecmath.tables import lookup, row_bytes, table_global

_K = per_format(lambda bits: {
    "LN2": LN2_SPLIT[bits],
    # For k*ln2 with |k| < 2^11: the high part has p - 11 bits.
    "LN2_K": split(LN2, bits, 2, hi_bits=FMT[bits].mbits + 1 - 11),
    "LOG2E": const(1 / LN2, bits),
    "SQRT_HALF": const(Decimal("0.5").sqrt(), bits),
    "TWO_THIRDS": TWO_THIRDS[bits],
    "SHIFT": SHIFT[bits],
})

# Clamp ranges for exp's argument: wide enough that the clamped value still
# overflows to inf / underflows to 0 (also with the 2^-1 scale of sinh/cosh),
# narrow enough that n = rint(x / ln2) keeps both halves of 2^n normal.
_EXP_CLAMP = {32: (-105.0, 90.0), 64: (-748.0, 711.0)}
_EXP2_CLAMP = {32: (-152.0, 130.0), 64: (-1080.0, 1026.0)}

# ---------------------------------------------------------------------------
# Coefficient tables, lowest order first, {bits: coefficients}: the output of
# remez.regenerate() for fits() below.  "max weighted error" is the relative
# error of the approximated function before rounding the coefficients.
# ---------------------------------------------------------------------------

# BEGIN GENERATED TABLES
# e^r = 1 + r + r^2 P(r), |r| <= 0.3467 (ln2/2 + slack); error rel. to expm1
EXP: dict[int, tuple] = {
    32: (
        # degree 5 on [-0.3467, 0.3467], max weighted error 2.68e-10
        0.5,
        0.1666666716337204,
        0.04166632518172264,
        0.008333220146596432,
        0.0013943238882347941,
        0.00019962248916272074,
    ),
    64: (
        # degree 10 on [-0.3467, 0.3467], max weighted error 2.72e-18
        0.5000000000000001,
        0.1666666666666667,
        0.04166666666665226,
        0.008333333333326138,
        0.0013888888895607775,
        0.0001984126987481845,
        2.4801574524571403e-05,
        2.755725539414352e-06,
        2.7567932813002913e-07,
        2.510522237449679e-08,
        1.7687729869114308e-09,
    ),
}

# log(1+f) = 2s + (2/3)s^3 + s^5 P(s^2), s = f/(2+f), |s| <= 0.17158 (float32)
LOG: dict[int, tuple] = {
    32: (
        # degree 1 on [0, 0.0294397], max weighted error 1.66e-09
        0.39988428354263306,
        0.29621729254722595,
    ),
}

# log1p(r) = r - r^2/2 + r^3 P(r) over log_table.R_MAX (float64 log); absolute error
LOG1P_R: dict[int, tuple] = {
    64: (
        # degree 5 on [-0.0053, 0.0049], max weighted error 6.12e-17
        0.33333333333333337,
        -0.2500000000000171,
        0.19999999995874793,
        -0.16666666313392506,
        0.1428614115676924,
        -0.1251386186545618,
    ),
}
# END GENERATED TABLES


# ---------------------------------------------------------------------------
# Exponentials
# ---------------------------------------------------------------------------


def ldexp(e: Emitter, p: Value, n: Value) -> Value:
    """p * 2^n for integer n with |n| < 2 emax, rounding only once.

    2^n is applied as 2^n1 * 2^n2 with n1 = floor(n/2) so both factors are
    normal numbers; the product p * 2^n1 is exact and the second
    multiplication rounds once, also into the subnormal range.
    """
    off = 4 * e.fmt.bias  # even and larger than |n|: makes the shift logical
    n1 = e.isub(e.lshr(e.iadd(n, off), 1), off // 2)
    n2 = e.isub(n, n1)
    return e.mul(e.mul(p, e.pow2i(n1)), e.pow2i(n2))


def exp_reduce(
    e: Emitter, x: Value, lo: Value | None = None, clamp: tuple[float, float] | None = None
) -> tuple[Value, Value, Value]:
    """Cody-Waite: x + lo = n ln2 + r + r_lo with |r| <= ln2/2 (+ rounding).

    n = rint(x / ln2) comes from the low bits of fma(x, log2e, SHIFT).  With
    fma, r1 = x - n*LN2_hi is exact (|n| < 2^11); the small rest
    c = lo - n*LN2_lo is added with Fast2Sum so that r + r_lo carries the
    reduced argument to about twice the working precision.
    Returns (r, r_lo, n as an integer of the float's width).
    """
    k = _K[e.bits]
    lo_c, hi_c = clamp or _EXP_CLAMP[e.bits]
    xc = e.clamp(x, lo_c, hi_c)
    kd = e.fma(xc, k["LOG2E"], k["SHIFT"])
    n = e.sub(kd, k["SHIFT"])
    ni = e.isub(e.to_int(kd), float_bits(k["SHIFT"], e.bits))
    ln2_hi, ln2_lo = k["LN2"]
    r1 = e.fma(n, -ln2_hi, xc)
    c = e.mul(n, -ln2_lo)
    if lo is not None:
        # The low part is meaningless once x was clamped (it may be NaN).
        c = e.add(c, e.sel(e.eq(x, xc), lo, 0.0))
    r = e.add(r1, c)
    r_lo = e.add(e.sub(r1, r), c)
    return r, r_lo, ni


def expm1_tail(e: Emitter, r: Value, r_lo: Value) -> Value:
    """e^(r + r_lo) - 1 - r = r_lo + r^2 P(r) for |r| <= 0.3467 (EXP table).

    Returned without r so callers can add r (exact) last."""
    return e.fma(e.mul(r, r), e.poly(r, EXP[e.bits]), r_lo)


def exp_core(
    e: Emitter,
    x: Value,
    lo: Value | None = None,
    scale: int = 0,
    mul: Value | None = None,
    mul_rel: Value | None = None,
) -> Value:
    """exp(x + lo) * 2^scale, or that times mul (1 + mul_rel) rounded once;
    overflow -> inf, underflow -> 0, NaN -> NaN."""
    r, r_lo, n = exp_reduce(e, x, lo)
    em = e.add(r, expm1_tail(e, r, r_lo))  # e^(r + r_lo) - 1
    if mul is None:
        p = e.add(1.0, em)
    else:
        if mul_rel is not None:  # (1 + em)(1 + mul_rel) - 1
            em = e.add(em, e.fma(mul_rel, em, mul_rel))
        p = e.fma(mul, em, mul)
    if scale:
        n = e.iadd(n, scale)
    return ldexp(e, p, n)


def emit_exp(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return exp_core(emitter(builder, x), x)


def emit_exp2(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # x = n + f exactly, |f| <= 1/2; 2^f = e^(f ln2) with the exp polynomial,
    # f ln2 as a double-word (fma residual).
    e = emitter(builder, x)
    xc = e.clamp(x, *_EXP2_CLAMP[e.bits])
    shift = _K[e.bits]["SHIFT"]
    kd = e.add(xc, shift)
    n = e.sub(kd, shift)
    ni = e.isub(e.to_int(kd), float_bits(shift, e.bits))
    f = e.sub(xc, n)
    ln2_hi, ln2_lo = _K[e.bits]["LN2"]
    r = e.mul(f, ln2_hi)
    r_lo = e.fma(f, ln2_lo, e.fma(f, ln2_hi, e.neg(r)))
    p = e.add(1.0, e.add(r, expm1_tail(e, r, r_lo)))
    return ldexp(e, p, ni)


def expm1_core(e: Emitter, x: Value) -> Value:
    """expm1 x = 2^n e^r - 1 = 2 (t r + (t - 1/2) + t tail), t = 2^(n-1).

    Writing it with t = 2^(n-1) keeps t finite up to the overflow threshold;
    t r is exact and t r + (t - 1/2) is exact or rounded once near the result's
    magnitude, so the cancellation for n = +-1 costs no accuracy.  Below
    LOWCUT the result rounds to -1; for |x| < TINY it rounds to x (this also
    keeps -0).
    """
    fmt = e.fmt
    lowcut = -(fmt.mbits + 2) * math.log(2.0)  # e^x <= half an ulp of 1
    tiny = 2.0 ** -(fmt.mbits + 2)
    hi = {32: 89.0, 64: 710.0}[e.bits]  # n <= emax + 1 here
    r, r_lo, n = exp_reduce(e, x, clamp=(lowcut, hi))
    t = e.pow2i(e.isub(n, 1))
    res = e.mul(2.0, e.fma(t, expm1_tail(e, r, r_lo), e.fma(t, r, e.sub(t, 0.5))))
    res = e.sel(e.lt(e.abs(x), tiny), x, res)
    return e.sel(e.lt(x, lowcut), -1.0, res)


def emit_expm1(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return expm1_core(emitter(builder, x), x)


# ---------------------------------------------------------------------------
# Logarithms
# ---------------------------------------------------------------------------


def log_reduce(e: Emitter, x: Value) -> tuple[Value, Value]:
    """x = 2^k m with m in [sqrt(1/2), sqrt(2)), for finite x > 0.

    Read off the bits, musl-style: subtracting the bits of sqrt(1/2) moves
    the binade boundary there.  Subnormals are first scaled by 2^(mbits+2).
    Returns (m, k as a float).
    """
    fmt = e.fmt
    pre = fmt.mbits + 2
    small = e.lt(x, 2.0**fmt.emin)
    xs = e.sel(small, e.mul(x, 2.0**pre), x)
    ix = e.to_int(xs)
    tmp = e.isub(ix, float_bits(_K[e.bits]["SQRT_HALF"], e.bits))
    kb = e.lshr(e.iadd(tmp, fmt.bias << fmt.mbits), fmt.mbits)  # k + bias, >= 0
    m = e.to_float(e.isub(ix, e.iand(tmp, -(1 << fmt.mbits))))
    kf = e.sub(e.small_int_to_float(kb), float(fmt.bias))
    return m, e.add(kf, e.sel(small, -float(pre), 0.0))


def log_core(e: Emitter, x: Value, corr: Value | None = None,
             k_extra: Value | None = None) -> Value:
    """log(x) + corr + k_extra*ln2 for finite x > 0 (subnormals included).

    float64: the table method (_log_core_table), correctly rounded in all but
    rare cases; float32: the atanh series (_log_core_atanh).  corr must be
    tiny next to the result (a rounding error carried by the caller).
    """
    if e.bits == 64:
        return _log_core_table(e, x, corr, k_extra)
    return _log_core_atanh(e, x, corr, k_extra)


def _log_core_atanh(e: Emitter, x: Value, corr: Value | None,
                    k_extra: Value | None) -> Value:
    """With x = 2^k m (log_reduce), f = m - 1 and s = f / (2 + f):
        log(m) = 2 atanh(s) = f - hfsq + s (hfsq + z R(z)),  z = s^2,
    where hfsq = f^2 / 2 and R(z) = 2/3 + z LOG(z).  The small terms are
    added first, k ln2 last with its high part exact (fdlibm's ordering).
    """
    k = _K[e.bits]
    m, kf = log_reduce(e, x)
    if k_extra is not None:
        kf = e.add(kf, k_extra)
    f = e.sub(m, 1.0)
    s = e.div(f, e.add(f, 2.0))
    z = e.mul(s, s)
    hfsq = e.mul(e.mul(0.5, f), f)
    r = e.poly(z, (k["TWO_THIRDS"][0], *LOG[e.bits]))
    ln2_hi, ln2_lo = k["LN2_K"]
    low = e.mul(kf, ln2_lo)
    if corr is not None:
        low = e.add(low, corr)
    tail = e.fma(s, e.fma(z, r, hfsq), low)
    return e.fma(kf, ln2_hi, e.sub(f, e.sub(hfsq, tail)))


def _log_core_table(e: Emitter, x: Value, corr: Value | None,
                    k_extra: Value | None) -> Value:
    """float64 log by a table (log_table.py): x = 2^k z, z in [A, 2A) in run i,

        log x = (k ln2_hi + logc_hi) + r - r^2/2 + r^3 P(r) + (k ln2_lo + logc_lo)

    with r = z invc_i - 1 exact (one fma, invc_i being short), the first
    bracket exact, and the sum kept as a double-word: + r and - r^2/2 (r^2
    split exactly by an fma) by Fast2Sum each, so that the one rounding that
    matters is the last addition of hi + tail, tail being small next to hi.
    Relative error before that rounding: below 2^-66 (0.5 + 2^-14 ulp).
    """
    fmt = e.fmt
    ln2_hi, ln2_lo = _K[64]["LN2_K"]
    pre = fmt.mbits + 2  # subnormals are scaled into the normal range first
    small = e.lt(x, 2.0**fmt.emin)
    ix = e.to_int(e.sel(small, e.mul(x, 2.0**pre), x))
    table = table_global(e, "llax.vecmath.log64", log_table.rows())
    tmp = e.isub(ix, log_table.OFFSET)
    row = row_bytes(table)  # the run's index times this: its row's byte offset
    offset = e.iand(e.lshr(tmp, log_table.INDEX_SHIFT - row.bit_length() + 1),
                    (log_table.SIZE - 1) * row)
    kb = e.lshr(e.iadd(tmp, fmt.bias << fmt.mbits), fmt.mbits)  # k + bias, >= 0
    z = e.to_float(e.isub(ix, e.iand(tmp, -(1 << fmt.mbits))))
    # k as a float: kb OR-ed into the mantissa of 2^52 is exactly 2^52 + kb.
    kf = e.sub(e.to_float(e.ior(kb, float_bits(2.0**52, 64))),
               e.sel(small, 2.0**52 + fmt.bias + pre, 2.0**52 + fmt.bias))
    if k_extra is not None:
        kf = e.add(kf, k_extra)

    packed = lookup(e, table, offset, 0)
    invc = e.to_float(e.iand(packed, -(1 << log_table.HI_FIELD)))
    logc_hi_biased = e.to_float(e.ior(e.iand(packed, (1 << log_table.HI_FIELD) - 1),
                                      float_bits(log_table.HI_MAGIC, 64)))
    logc_hi = e.sub(logc_hi_biased, log_table.HI_BIAS)  # exact
    logc_lo = e.to_float(lookup(e, table, offset, 1))
    r = e.fma(z, invc, -1.0)  # exact
    w = e.fma(kf, ln2_hi, logc_hi)  # exact: both on the 2^-42 grid, |w| < 2^10
    # w + r = s1 + e1 exactly by Fast2Sum, although |r| may exceed |w|: w is then
    # a multiple of ulp(r) (w on the 2^-42 grid, |r| < 2^-7), which suffices.
    s1, e1 = fast2sum(e, w, r)
    r2 = e.mul(r, r)
    r2_lo = e.fma(r, r, e.neg(r2))  # r^2 = r2 + r2_lo exactly
    hi, e2 = fast2sum(e, s1, e.mul(-0.5, r2))  # |s1| >= 2^-9 or s1 = r: |s1| > r^2/2
    low = e.fma(kf, ln2_lo, logc_lo)
    if corr is not None:
        low = e.add(low, corr)
    # The loop is latency-bound (the lookups lengthen each element's chain of
    # dependent operations), so P(r) is evaluated by Estrin's scheme and the
    # tail summed in the order its terms become available.
    c = LOG1P_R[64]
    p = e.fma(e.fma(e.fma(c[5], r, c[4]), r2, e.fma(c[3], r, c[2])), r2, e.fma(c[1], r, c[0]))
    tail = e.fma(e.mul(r2, r), p, e.add(e1, e.fma(-0.5, r2_lo, low)))
    return e.add(hi, e.add(tail, e2))


def log_specials(e: Emitter, x: Value, res: Value) -> Value:
    """res, except log's special values: inf at inf, -inf at +-0, NaN below 0 or at NaN.

    The special value is chosen off the critical path and then applied by one
    select, the only one that waits for res."""
    is_inf = e.eq(x, math.inf)
    special = e.sel(e.eq(x, 0.0), -math.inf, e.sel(is_inf, math.inf, math.nan))
    return e.sel(e.or_(e.b.fcmp_unordered("<=", x, e.c(0.0)), is_inf), special, res)


def emit_log(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    e = emitter(builder, x)
    return log_specials(e, x, log_core(e, x))


def log1p_core(e: Emitter, x: Value, k_extra: Value | None = None,
               x_lo: Value | None = None) -> Value:
    """log(1 + x + x_lo) (+ k_extra ln2): log(u) of u = fl(1 + x) plus
    err / u, where err = (1 + x) - u is computed exactly by Knuth's TwoSum
    and x_lo is a small extra low part of the argument."""
    u = e.add(1.0, x)
    bp = e.sub(u, 1.0)
    ap = e.sub(u, bp)
    err = e.add(e.sub(1.0, ap), e.sub(x, bp))
    if x_lo is not None:
        err = e.add(err, x_lo)
    res = log_specials(e, u, log_core(e, u, corr=e.div(err, u), k_extra=k_extra))
    if k_extra is not None:
        return res
    if e.bits == 64:
        # Below 2^-20, err / u may be a sizeable part of the result, too big for
        # the tail of log_core's double-word sum; x - x^2/2 + x^3/3 - x^4/4 is
        # then exact to 2^-80 (relative).  Also keeps -0 and tiny x.
        c = e.fma(x, e.fma(x, -0.25, 1 / 3), -0.5)
        small = e.add(x, e.fma(e.mul(x, x), c, x_lo or -0.0))  # -0.0: log1p(-0) = -0
        return e.sel(e.lt(e.abs(x), 2.0**-20), small, res)
    # log1p(x) rounds to x here; also keeps -0 and avoids 0 * inf issues.
    return e.sel(e.lt(e.abs(x), 2.0 ** -(e.fmt.mbits + 2)), x, res)


def emit_log1p(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return log1p_core(emitter(builder, x), x)


# ---------------------------------------------------------------------------
# How the tables are made (see remez.py)
# ---------------------------------------------------------------------------


def fits() -> list[Fit]:
    """EXP: weight r^2 / expm1(r), so the relative error of e^r - 1 is minimised.
    LOG: in z = s^2, weight s^5 / log(1+f), the relative error of log(1+f).
    LOG1P_R: the absolute error of P, which r^3 (|r| < 2^-7.5) makes tiny next
    to the result: |log x| >= |r| / 2 in the run on 1, else >= 2^-9."""
    import mpmath as mp

    sq = mp.sqrt
    out = []
    for bits, n in ((32, 5), (64, 10)):
        out.append(Fit(
            "EXP", "e^r = 1 + r + r^2 P(r), |r| <= 0.3467 (ln2/2 + slack); error rel. to expm1",
            bits, lambda r: mp.mpf(0.5) if r == 0 else (mp.expm1(r) - r) / r**2,
            lambda r: 0 if r == 0 else r**2 / mp.expm1(r), -0.3467, 0.3467, n))
    out.append(Fit(
        "LOG", "log(1+f) = 2s + (2/3)s^3 + s^5 P(s^2), s = f/(2+f), |s| <= 0.17158 (float32)",
        32,
        lambda z: mp.mpf(2) / 5 if z == 0 else
        (2 * mp.atanh(sq(z)) - 2 * sq(z) - 2 * sq(z) ** 3 / 3) / sq(z) ** 5,
        lambda z: 0 if z == 0 else sq(z) ** 5 / (2 * mp.atanh(sq(z))), 0, 0.17158**2, 1))
    out.append(Fit(
        "LOG1P_R", "log1p(r) = r - r^2/2 + r^3 P(r) over log_table.R_MAX (float64 log); "
        "absolute error",
        64, lambda r: mp.mpf(1) / 3 if r == 0 else (mp.log1p(r) - r + r * r / 2) / r**3,
        lambda r: 1, *log_table.R_MAX, 5))
    return out
