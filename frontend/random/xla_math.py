"""``log`` and ``erf`` as JAX computes them on the CPU (XLA's own approximations).

Samplers such as ``gumbel`` (``-log(-log u)``) magnify the last bit of a
logarithm many times, so llax's ``log``, accurate but not XLA's, would not give
JAX's numbers:

- float32 ``log``: XLA's vectorised Cephes approximation (as in Eigen): the
  mantissa shifted to [sqrt(1/2), sqrt(2)) minus 1, a degree-8 polynomial in
  three parts, ``ln 2`` added back in two pieces; multiply-adds fused, the
  polynomial's last product into the small part of ``e ln 2`` (equal to JAX's
  bit for bit on every value tried). float64 ``log`` is the C library's, which
  llax's matches to an ulp (not reproduced).

``truncated_normal`` maps its bounds through ``erf`` and draws uniformly between
the images, so an ulp of difference in ``erf(bound)`` moves every draw near zero
by many of *its* ulps. llax's own ``erf`` is accurate to an ulp, but not XLA's:

- float32: XLA's intrinsic, Eigen's rational interpolant ``x P(x^2) / Q(x^2)``
  (the polynomials in fused multiply-adds), clamped to +-1 from |x| = 3.8325.
- float64: XLA calls the C library's ``erf``. glibc (before its correctly rounded
  rewrite) uses Sun's fdlibm algorithm: rational approximations on
  [0, 0.84375), [0.84375, 1.25), [1.25, 1/0.35), [1/0.35, 6), evaluated in the
  order glibc writes them, without fused multiply-adds; past 1.25 it goes
  through ``exp``, whose last bit may differ from the C library's, but there
  the result is ``1 - small`` and such a difference rarely survives rounding.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.random._sampling import fma

# float32: Eigen's numerator (odd, in x^2, highest degree first) and denominator (even).
_F32_NUM = (0.00022905065861350646, 0.0034082910107109506, 0.050955695062380861,
            0.18520832239976145, 1.128379143519084)
_F32_DEN = (-1.1791602954361697e-7, 0.000023547966471313185, 0.0010179625278914885,
            0.014070470171167667, 0.11098505178285362, 0.49746925110067538, 1.0)
_F32_SATURATES = 3.832506856900711  # |x| from which erf rounds to +-1 in float32


def _high_word_bound(word: int) -> float:
    """The double whose high 32 bits are ``word`` and low bits zero (fdlibm's thresholds)."""
    return struct.unpack("<d", struct.pack("<Q", word << 32))[0]


# float64: fdlibm's coefficients (index = degree), per interval.
_ERX = 8.45062911510467529297e-01
_EFX = 1.28379167095512586316e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
       5.08130628187576562776e-03, 1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01,
       7.18286544141962662868e-02, 1.26171219808761642112e-01, 1.36370839120290507362e-02,
       1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02,
       4.34565877475229228821e+02, 6.45387271733267880336e+02, 4.29008140027567833386e+02,
       1.08635005541779435134e+02, 6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02,
       1.53672958608443695994e+03, 3.19985821950859553908e+03, 2.55305040643316442583e+03,
       4.74528541206955367215e+02, -2.24409524465858183362e+01)
_TINY_BOUND = 2.0 ** -28
_SMALL_BOUND = 0.84375
_MIDDLE_BOUND = 1.25
_TAIL_SPLIT = _high_word_bound(0x4006DB6E)  # about 1/0.35
_SATURATES = 6.0


# float32 log: Cephes' polynomial (highest degree first), sqrt(1/2), and ln 2 split in a
# small part and an exactly representable one.
_LOG_POLY = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
             1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
             3.3333331174e-1)
_SQRT_HALF = 0.707106781186547524
_LN2_SMALL, _LN2_EXACT = -2.12194440e-4, 0.693359375


def log(x: Any) -> Any:
    """Natural log of a float32 or float64 array, with XLA's values for float32."""
    if np.dtype(x.dtype) != np.float32:
        return lax.log(x)
    f32, u32 = np.float32, np.uint32

    def const(v: float) -> Any:
        return lax.full((), v, f32)

    bits = lax.bitcast_convert_type(lax.max(const(np.finfo(f32).tiny), x), u32)
    # x = m * 2**e with m in [1/2, 1); below sqrt(1/2), take 2m - 1 and e - 1 instead.
    m = lax.bitcast_convert_type(
        lax.bitwise_or(lax.bitwise_and(bits, lax.full((), 0x807FFFFF, u32)),
                       lax.full((), 0x3F000000, u32)), f32)
    biased = lax.convert_element_type(lax.shift_right_logical(bits, lax.full((), 23, u32)),
                                      np.int32)
    e = lax.add(const(1.0), lax.convert_element_type(
        lax.sub(biased, lax.full((), 127, np.int32)), f32))
    low = lax.lt(m, const(_SQRT_HALF))
    t = lax.sub(m, const(1.0))
    e = lax.select(low, lax.sub(e, const(1.0)), e)
    t = lax.select(low, lax.add(t, m), t)
    t2 = lax.mul(t, t)
    t3 = lax.mul(t2, t)
    p = _LOG_POLY
    y0 = fma(t, const(p[0]), const(p[1]))
    y1 = fma(t, const(p[3]), const(p[4]))
    y2 = fma(t, const(p[6]), const(p[7]))
    y0 = fma(y0, t, const(p[2]))
    y1 = fma(y1, t, const(p[5]))
    y2 = fma(y2, t, const(p[8]))
    y = fma(fma(y0, t3, y1), t3, y2)
    # The product y * t^3 fuses with the small part of e ln 2 (XLA's contraction).
    y = fma(y, t3, lax.mul(const(_LN2_SMALL), e))
    out = fma(const(_LN2_EXACT), e, lax.add(fma(const(-0.5), t2, t), y))
    # log 0 = -inf, log inf = inf, log of a negative number or nan = nan.
    edge = lax.select(lax.eq(x, const(0.0)), lax.full(x.shape, -np.inf, f32),
                      lax.full(x.shape, np.nan, f32))
    out = lax.select(lax.eq(x, const(np.inf)), x, out)
    return lax.select(lax.gt(x, const(0.0)), out, edge)


def erf(x: Any) -> Any:
    """erf of a float32 or float64 array, with XLA's (the C library's) values."""
    return _erf_f64(x) if np.dtype(x.dtype) == np.float64 else _erf_f32(x)


def _erf_f32(x: Any) -> Any:
    def const(v: float) -> Any:
        return lax.full((), v, x.dtype)

    x2 = lax.mul(x, x)
    num = const(_F32_NUM[0])
    for c in _F32_NUM[1:]:
        num = fma(x2, num, const(c))
    den = const(_F32_DEN[0])
    for c in _F32_DEN[1:]:
        den = fma(x2, den, const(c))
    ratio = lax.div(lax.mul(x, num), den)
    one = lax.select(lax.lt(x, const(0.0)), lax.full(x.shape, -1.0, x.dtype),
                     lax.full(x.shape, 1.0, x.dtype))
    return lax.select(lax.le(const(_F32_SATURATES), lax.abs(x)), one, ratio)


def _erf_f64(x: Any) -> Any:
    dtype = x.dtype

    def const(v: float) -> Any:
        return lax.full((), v, dtype)

    def add(*terms: Any) -> Any:  # left to right, as C evaluates a + b + c
        total = terms[0]
        for t in terms[1:]:
            total = lax.add(total, t)
        return total

    def pair(c: tuple[float, ...], i: int, t: Any) -> Any:  # c[i] + t * c[i+1]
        return lax.add(const(c[i]), lax.mul(t, const(c[i + 1])))

    mul = lax.mul
    ax = lax.abs(x)
    negative = lax.lt(x, const(0.0))

    # |x| < 0.84375: x + x * r(z)/s(z), z = x^2, the polynomials split in even and odd halves.
    z = mul(x, x)
    z2 = mul(z, z)
    z4 = mul(z2, z2)
    r = add(pair(_PP, 0, z), mul(z2, pair(_PP, 2, z)), mul(z4, const(_PP[4])))
    s = add(pair(_QQ, 0, z), mul(z2, pair(_QQ, 2, z)), mul(z4, pair(_QQ, 4, z)))
    small = lax.add(x, mul(x, lax.div(r, s)))
    tiny = lax.add(x, mul(const(_EFX), x))
    small = lax.select(lax.lt(ax, const(_TINY_BOUND)), tiny, small)

    # 0.84375 <= |x| < 1.25: erx + P(s)/Q(s), s = |x| - 1.
    t = lax.sub(ax, const(1.0))
    t2 = mul(t, t)
    t4 = mul(t2, t2)
    t6 = mul(t4, t2)
    p = add(pair(_PA, 0, t), mul(t2, pair(_PA, 2, t)), mul(t4, pair(_PA, 4, t)),
            mul(t6, const(_PA[6])))
    q = add(pair(_QA, 0, t), mul(t2, pair(_QA, 2, t)), mul(t4, pair(_QA, 4, t)),
            mul(t6, const(_QA[6])))
    middle = lax.add(const(_ERX), lax.div(p, q))
    middle = lax.select(negative, lax.neg(middle), middle)

    # 1.25 <= |x| < 6: 1 - exp(-x^2 - 0.5625 + R(s)/S(s)) / |x|, s = 1/x^2, with x^2
    # split so that its leading part is exact.
    w = lax.div(const(1.0), mul(ax, ax))
    w2 = mul(w, w)
    w4 = mul(w2, w2)
    w6 = mul(w4, w2)
    w8 = mul(w4, w4)
    near_r = add(pair(_RA, 0, w), mul(w2, pair(_RA, 2, w)), mul(w4, pair(_RA, 4, w)),
                 mul(w6, pair(_RA, 6, w)))
    near_s = add(pair(_SA, 0, w), mul(w2, pair(_SA, 2, w)), mul(w4, pair(_SA, 4, w)),
                 mul(w6, pair(_SA, 6, w)), mul(w8, const(_SA[8])))
    far_r = add(pair(_RB, 0, w), mul(w2, pair(_RB, 2, w)), mul(w4, pair(_RB, 4, w)),
                mul(w6, const(_RB[6])))
    far_s = add(pair(_SB, 0, w), mul(w2, pair(_SB, 2, w)), mul(w4, pair(_SB, 4, w)),
                mul(w6, pair(_SB, 6, w)))
    near = lax.lt(ax, const(_TAIL_SPLIT))
    ratio = lax.div(lax.select(near, near_r, far_r), lax.select(near, near_s, far_s))
    bits = lax.bitcast_convert_type(ax, np.uint64)
    head = lax.bitcast_convert_type(
        lax.bitwise_and(bits, lax.full((), 0xFFFFFFFF00000000, np.uint64)), dtype)
    e = mul(lax.exp(lax.sub(mul(lax.neg(head), head), const(0.5625))),
            lax.exp(lax.add(mul(lax.sub(head, ax), lax.add(head, ax)), ratio)))
    tail = lax.sub(const(1.0), lax.div(e, ax))
    tail = lax.select(negative, lax.neg(tail), tail)
    ones = lax.select(negative, lax.full(x.shape, -1.0, dtype), lax.full(x.shape, 1.0, dtype))
    tail = lax.select(lax.ge(ax, const(_SATURATES)), ones, tail)

    out = lax.select(lax.lt(ax, const(_MIDDLE_BOUND)), middle, tail)
    out = lax.select(lax.lt(ax, const(_SMALL_BOUND)), small, out)
    return lax.select(lax.ne(x, x), x, out)  # nan stays nan
