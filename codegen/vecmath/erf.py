"""The error function family: erf, erfc, erf_inv.

erf is a polynomial near 0 and 1 - erfc beyond; erfc is exp(-x^2) times a
rational-free fit in t = 3/(3 + |x|), with the rounding errors of x^2 and t
carried into exp's last fma so that the relative error stays small deep into
the tail; erf_inv is M. Giles' scheme with its regions' coefficients selected
for one Horner pass.  erf_inv(+-1) = +-inf and erf_inv(-0) = -0.

Accuracy: maximum error in ulps of the result (float32: exhaustive over each
op's non-trivial range against numpy in float64; float64: ~2 10^6 samples
against x87 long double (erf, erfc, erf_inv: ~3 10^4 samples against mpmath)).
tests/test_vecmath_erf.py asserts them rounded up, over every binade of both
formats.

    ========  =====  =====  ==================================================
    op        f32    f64    method
    ========  =====  =====  ==================================================
    erf       1.04   0.95   x + x P(x^2) below 0.84375, else 1 - erfc
    erfc      2.74   2.26   exp(-x^2) t H(t), t = 3/(3+|x|) (fdlibm-style
                            1 - erf below 0.75)
    erf_inv   2.09   1.85   x P(v), w = -log(1 - x^2), v = w or sqrt(w)
                            shifted per region (M. Giles' scheme; 2 / 4
                            regions, coefficients selected, one Horner pass)
    ========  =====  =====  ==================================================
"""

from __future__ import annotations

import math

from llvmlite import ir

from llax.codegen.vecmath.core import Emitter, Value, emitter, two_sum
from llax.codegen.vecmath.exp_log import exp_core, log_core, log_specials
from llax.codegen.vecmath.remez import Fit

# Region boundaries shared by the emitters and the coefficient generator.
ERF_SMALL = 0.84375  # erf uses x Q(x^2) below, 1 - erfc above
ERFC_SMALL = 0.75  # erfc uses 1 - x - x Q(x^2) below (measured: less error there)
ERFC_C = 3.0  # erfc variable t = ERFC_C / (ERFC_C + |x|)
ERFC_TC = 0.5  # ... and its polynomial is in t - ERFC_TC (less rounding error)
# erfc(x) rounds to +0 beyond these; the fits cover [ERFC_SMALL, ERFC_XMAX].
ERFC_XMAX = {32: 10.5, 64: 27.5}
# erf_inv regions: (w_lo, w_hi, polynomial in sqrt(w)?, centre, degree) with
# w = -log(1 - x^2); the polynomial variable is w - centre or
# sqrt(w) - centre.  float32 needs w <= 16 (x <= 1 - 2^-24), float64 w <= 37.
ERFINV_REGIONS = {
    32: ((0.0, 5.0, False, 0.0, 9), (5.0, 16.2, True, 3.125, 9)),
    64: (
        (0.0, 4.0, False, 0.0, 20),
        (4.0, 9.0, False, 6.5, 20),
        (9.0, 18.0, False, 13.5, 20),
        (18.0, 37.5, True, 5.1875, 18),
    ),
}

# ---------------------------------------------------------------------------
# Coefficient tables, lowest order first, {bits: coefficients}: the output of
# remez.regenerate() for fits() below.  "max weighted error" is the relative
# error of the approximated function before rounding the coefficients.
# ---------------------------------------------------------------------------

# BEGIN GENERATED TABLES
# erf x = x + x P(x^2), |x| <= 0.84375
ERF: dict[int, tuple] = {
    32: (
        # degree 5 on [0, 0.711914], max weighted error 5.58e-09
        0.12837916612625122,
        -0.3761257529258728,
        0.11282775551080704,
        -0.026805104687809944,
        0.005055622663348913,
        -0.0006342921406030655,
    ),
    64: (
        # degree 11 on [0, 0.711914], max weighted error 1.36e-19
        0.1283791670955126,
        -0.3761263890318375,
        0.11283791670954721,
        -0.02686617064502603,
        0.0052239776240253985,
        -0.0008548326910651053,
        0.00012055327275154824,
        -1.492545975825507e-05,
        1.6457850428747747e-06,
        -1.6302429190779508e-07,
        1.4201672967357923e-08,
        -8.86972431414743e-10,
    ),
}

# erfc x = exp(-x^2) t P(t - 0.5), t = 3.0/(3.0+x), 0.75 <= x <= xmax
ERFC: dict[int, tuple] = {
    32: (
        # degree 9 on [-0.277778, 0.3], max weighted error 6.42e-10
        0.35800230503082275,
        0.5889296531677246,
        0.7869710326194763,
        0.8279129266738892,
        0.6374953389167786,
        0.28614574670791626,
        -0.026348000392317772,
        -0.12919004261493683,
        -0.039867330342531204,
        0.043734073638916016,
    ),
    64: (
        # degree 21 on [-0.401639, 0.3], max weighted error 6.06e-19
        0.3580023023627799,
        0.5889296354465892,
        0.7869711428054691,
        0.8279126984014908,
        0.6374813935322182,
        0.2861571693316157,
        -0.025864888045113076,
        -0.12945331234546512,
        -0.04678909403619642,
        0.047236764514150396,
        0.03671434256932107,
        -0.020752098974676857,
        -0.02385386711765659,
        0.01297249556714414,
        0.015116226351327063,
        -0.010939295660003415,
        -0.00905812410496714,
        0.010261540771908948,
        0.004888125754648284,
        -0.008320597446608926,
        -0.002665522240510072,
        0.0029162567176128622,
    ),
}

# d log(t P(t)) / d log t for the ERFC fit (absolute error; a few bits)
ERFC_K: dict[int, tuple] = {
    32: (
        # degree 2 on [0.222222, 0.8], max weighted error 3.32e-03
        1.0198849439620972,
        0.7446200847625732,
        1.7340115308761597,
    ),
    64: (
        # degree 2 on [0.0983607, 0.8], max weighted error 3.32e-03
        1.0199494871973633,
        0.7444089203021093,
        1.7341773603910353,
    ),
}

# erf_inv(x) = x P(v), v = w or sqrt(w) minus centre (ERFINV_REGIONS)
ERFINV: dict[int, tuple] = {
    32: (
        # degree 9 on [0, 5], max weighted error 5.59e-09
        (
            0.8862268924713135,
            0.23201382160186768,
            0.011548654176294804,
            -0.0023342962376773357,
            -0.0001274815876968205,
            4.4565174903254956e-05,
            3.983253009209875e-06,
            -1.976464318431681e-06,
            2.2103084518221294e-07,
            -8.791031902433133e-09,
        ),
        # degree 9 on [-0.888932, 0.899922], max weighted error 6.74e-09
        (
            2.958320140838623,
            1.0037187337875366,
            0.0070491973310709,
            -0.005300522781908512,
            0.003780503524467349,
            -0.0025239577516913414,
            0.001313413493335247,
            -0.00031704470166005194,
            -0.00017574545927345753,
            0.0001251691865036264,
        ),
    ),
    64: (
        # degree 20 on [0, 4], max weighted error 1.42e-18
        (
            0.886226925452758,
            0.23201366653465422,
            0.011549342038281629,
            -0.00233510164177151,
            -0.00012804329298927468,
            4.661143428019922e-05,
            2.020008479941597e-06,
            -1.0125987134927338e-06,
            -3.72220818797256e-08,
            2.2703089025879795e-08,
            8.396069496823888e-10,
            -5.859959687049742e-10,
            1.8261777507059022e-11,
            -2.5321932550796905e-12,
            5.1650306714740076e-12,
            -1.4295041022107602e-12,
            1.7235332671389985e-13,
            -7.077621653172629e-15,
            -5.917884099627743e-16,
            8.202151851179584e-17,
            -2.905363911993027e-18,
        ),
        # degree 20 on [-2.5, 2.5], max weighted error 9.29e-20
        (
            2.3846600562894635,
            0.19327979348595192,
            -0.0062480496081601,
            0.00027251582154413164,
            3.4865767650391004e-06,
            -3.379805986612472e-06,
            5.324390097511303e-07,
            -4.899153735515567e-08,
            1.746412639480525e-09,
            2.889884483652725e-10,
            -6.546134701762318e-11,
            6.8747514370036266e-12,
            -3.149802201118881e-13,
            -3.015966494883608e-14,
            8.291998332470028e-15,
            -9.410996261255364e-16,
            5.0631176109259906e-17,
            3.4809546742169304e-18,
            -1.1640744543991564e-18,
            1.086027089046033e-19,
            -1.8260479762406144e-21,
        ),
        # degree 20 on [-4.5, 4.5], max weighted error 1.69e-19
        (
            3.51109370831954,
            0.1372181259309401,
            -0.0024972448967673392,
            8.878986544120009e-05,
            -3.84984819505785e-06,
            1.7745256364218946e-07,
            -7.685537208897047e-09,
            2.327803246268843e-10,
            5.41743235325631e-12,
            -1.8692684591796163e-12,
            2.1897893749810667e-13,
            -1.911167590081332e-14,
            1.3684412230737016e-15,
            -8.051558478780838e-17,
            3.5769249682077615e-18,
            -6.908947567901542e-20,
            -7.276672964534943e-21,
            1.10420999103284e-21,
            -1.0876523347829338e-22,
            9.487651016734594e-24,
            -4.514496691435169e-25,
        ),
        # degree 18 on [-0.944859, 0.936224], max weighted error 6.49e-19
        (
            5.039331533839844,
            1.0102276543196695,
            -0.0002448615507644501,
            -0.0001643965435990073,
            5.971937244170375e-05,
            -1.5247631158409463e-05,
            3.416937482792325e-06,
            -7.170142395620062e-07,
            1.4827151118563724e-07,
            -3.3822628848845914e-08,
            1.0506460767139274e-08,
            -4.728251245959147e-09,
            2.4567701093169513e-09,
            -1.1974019871655738e-09,
            5.184227268096867e-10,
            -2.0985800315833713e-10,
            6.322278780252797e-11,
            2.873146624346669e-13,
            -5.4667600035075605e-12,
        ),
    ),
}
# END GENERATED TABLES


def _erfc_large(e: Emitter, a: Value) -> Value:
    """erfc(a) for ERFC_SMALL <= a (a >= 0; garbage below).

    erfc(a) = exp(-a^2) t H(t - ERFC_TC) with t = c/(c + a) (the ERFC table
    fits erfcx(a) / t, smooth in t over the whole range).  Two corrections
    keep the relative error small far into the tail:
      * a^2 is carried as a double-word (fma residual) into exp;
      * the rounding error dt of t changes t H by (dt/t) K(t) relatively (K
        from the ERFC_K table), where dt/t = (c - t d - t d_lo) / c with
        d + d_lo = c + a exactly.
    Both, and the product exp(-a^2) t H, are folded into exp's last fma.
    """
    c = ERFC_C
    a = e.sel(e.gt(a, ERFC_XMAX[e.bits]), ERFC_XMAX[e.bits], a)  # erfc = 0 there
    d, d_lo = two_sum(e, e.c(c), a)
    t = e.div(c, d)
    rel = e.mul(e.fma(e.neg(t), d_lo, e.fma(e.neg(t), d, c)), 1.0 / c)
    g = e.mul(t, e.poly(e.sub(t, ERFC_TC), ERFC[e.bits]))
    a2 = e.mul(a, a)
    a2_lo = e.fma(a, a, e.neg(a2))
    return exp_core(e, e.neg(a2), lo=e.neg(a2_lo), mul=g,
                     mul_rel=e.mul(rel, e.poly(t, ERFC_K[e.bits])))


def _erf_q(e: Emitter, x: Value) -> Value:
    """Q with erf(x) = x + x Q(x^2) for |x| <= ERF_SMALL (ERF table)."""
    return e.poly(e.mul(x, x), ERF[e.bits])


def emit_erf(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    e = emitter(builder, x)
    a = e.abs(x)
    small = e.fma(x, _erf_q(e, x), x)
    large = e.copysign(e.sub(1.0, _erfc_large(e, a)), x)
    return e.sel(e.lt(a, ERF_SMALL), small, large)


def emit_erfc(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # Small |x|: 1 - erf(x), but for 1/4 <= x < ERFC_SMALL as
    # 0.5 - ((x - 0.5) + x Q), where x - 0.5 is exact (fdlibm's trick).
    # Large |x|: erfc(|x|), or 2 - erfc(|x|) for x < 0.
    e = emitter(builder, x)
    a = e.abs(x)
    xq = e.mul(x, _erf_q(e, x))
    small = e.sel(
        e.lt(x, 0.25),
        e.sub(1.0, e.add(x, xq)),
        e.sub(0.5, e.add(e.sub(x, 0.5), xq)),
    )
    ec = _erfc_large(e, a)
    large = e.sel(e.gt(x, 0.0), ec, e.sub(2.0, ec))
    return e.sel(e.lt(a, ERFC_SMALL), small, large)


def emit_erf_inv(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    # erf_inv(x) = x P(v) where w = -log(1 - x^2) (1 - x^2 from one fma, so
    # accurate near |x| = 1 too) and v = w - centre or sqrt(w) - centre
    # per region; the regions' coefficients are selected, one Horner pass.
    e = emitter(builder, x)
    a = e.abs(x)
    y = e.fma(e.neg(a), a, 1.0)  # 1 - x^2, rounded once
    w = e.neg(log_specials(e, y, log_core(e, y)))
    regions = ERFINV_REGIONS[e.bits]
    tables = ERFINV[e.bits]
    sw = e.sqrt(w)
    ncoef = max(len(t) for t in tables)
    # Start from the last region and override downwards.
    v = None
    coeffs: list[ir.Value] = []
    for idx in reversed(range(len(regions))):
        _, whi, use_sqrt, centre, _ = regions[idx]
        vi = e.sub(sw if use_sqrt else w, centre)
        ci = list(tables[idx]) + [0.0] * (ncoef - len(tables[idx]))
        if v is None:
            v, coeffs = vi, [e.c(cf) for cf in ci]
        else:
            inside = e.lt(w, whi)
            v = e.sel(inside, vi, v)
            coeffs = [e.sel(inside, cf, old) for cf, old in zip(ci, coeffs, strict=True)]
    res = e.mul(x, e.poly(v, coeffs))
    return e.sel(e.eq(a, 1.0), e.copysign(math.inf, x), res)


# ---------------------------------------------------------------------------
# How the tables are made (see remez.py)
# ---------------------------------------------------------------------------


def fits() -> list[Fit]:
    """Relative-error fits of erf (x P(x^2)), erfcx (per t) and erfinv(x)/x per region;
    ERFC_K (d log(t P(t)) / d log t, a few bits) with absolute error."""
    import mpmath as mp

    sq = mp.sqrt

    def erfcx(x):
        return mp.erfc(x) * mp.exp(x * x)

    def erfinv_over_x(w):  # erfinv(x)/x with w = -log(1 - x^2)
        if w == 0:
            return sq(mp.pi) / 2
        x = sq(-mp.expm1(-w))
        return mp.erfinv(x) / x

    out = []
    for bits, n in ((32, 5), (64, 11)):
        out.append(Fit(
            "ERF", f"erf x = x + x P(x^2), |x| <= {ERF_SMALL}", bits,
            lambda z: 2 / sq(mp.pi) - 1 if z == 0 else mp.erf(sq(z)) / sq(z) - 1,
            lambda z: 0 if z == 0 else sq(z) / mp.erf(sq(z)), 0, ERF_SMALL**2, n))
    c, tc = ERFC_C, ERFC_TC

    def xt(t):
        return c * (1 - t) / t

    for bits, n in ((32, 9), (64, 21)):
        lo, hi = c / (c + ERFC_XMAX[bits]), c / (c + ERFC_SMALL)
        out.append(Fit(
            "ERFC",
            f"erfc x = exp(-x^2) t P(t - {tc}), t = {c}/({c}+x), {ERFC_SMALL} <= x <= xmax",
            bits, lambda u: erfcx(xt(u + tc)) / (u + tc),
            lambda u: (u + tc) / erfcx(xt(u + tc)), lo - tc, hi - tc, n))
        out.append(Fit(
            "ERFC_K", "d log(t P(t)) / d log t for the ERFC fit (absolute error; a few bits)",
            bits, lambda t: (c + xt(t)) * (2 / (sq(mp.pi) * erfcx(xt(t))) - 2 * xt(t)),
            lambda t: mp.mpf(1), lo, hi, 2))
    for bits, regions in ERFINV_REGIONS.items():
        for wlo, whi, use_sqrt, centre, n in regions:
            if use_sqrt:
                def g(v, centre=centre):
                    return erfinv_over_x((v + centre) ** 2)
                lo, hi = math.sqrt(wlo) - centre, math.sqrt(whi) - centre
            else:
                def g(v, centre=centre):
                    return erfinv_over_x(v + centre)
                lo, hi = wlo - centre, whi - centre
            out.append(Fit(
                "ERFINV", "erf_inv(x) = x P(v), v = w or sqrt(w) minus centre (ERFINV_REGIONS)",
                bits, g, lambda v, g=g: 1 / g(v), lo, hi, n))
    return out
