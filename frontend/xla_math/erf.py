"""``erf`` and ``erf_inv`` as JAX computes them on the CPU.

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

JAX's samplers map uniform floats through ``lax.erf_inv``, which XLA evaluates
with M. Giles' polynomial approximations ("Approximating the erfinv function",
GPU Computing Gems, 2011): ``w = -log1p(-x*x)``, then a polynomial in ``w - c``
or ``sqrt(w) - c`` chosen by the size of ``w``, times ``x``. Near |x| = 1 the
product ``x*x`` has already lost most of ``1 - x*x``, so this differs from the
true erfinv by far more than an ulp there; llax's own ``erf_inv`` primitive is
accurate to 2 ulp everywhere, and so does *not* give JAX's random numbers. This
module reproduces the approximation, with the multiply-adds fused as XLA's
compiler fuses them.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.xla_math.core import fma, horner, narrow_floats_in_float32
from llax.frontend.xla_math.log import log1p

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

# Polynomial coefficients, highest degree first, with the branch bound on w and the offset
# subtracted from w (or from sqrt(w)) before evaluating.
_SINGLE = (
    (5.0, 2.5, False, (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                       0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                       1.50140941)),
    (np.inf, 3.0, True, (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                         0.00573950773, -0.0076224613, 0.00943887047, 1.00167406,
                         2.83297682)),
)
_DOUBLE = (
    (6.25, 3.125, False, (
        -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
        1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
        6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
        2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
        1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
        4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
        0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
        0.24015818242558961693, 1.6536545626831027356)),
    (16.0, 3.25, True, (
        2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
        1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
        2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
        6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
        0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
        -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
        3.0838856104922207635)),
    (np.inf, 5.0, True, (
        -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
        -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
        2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
        -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
        7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
        1.0103004648645343977, 4.8499064014085844221)),
)


@narrow_floats_in_float32
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


@narrow_floats_in_float32
def erf_inv(x: Any) -> Any:
    """erfinv(x) for float x in [-1, 1], with JAX's (XLA's) values."""
    dtype = np.dtype(x.dtype)
    branches = _DOUBLE if dtype == np.float64 else _SINGLE

    def const(v: float) -> Any:
        return lax.full((), v, dtype)

    w = lax.neg(log1p(lax.neg(lax.mul(x, x))))
    root = lax.sqrt(w)
    # Every branch is evaluated and the one for w's range selected (branch-free code).
    result = None
    for bound, offset, of_root, coeffs in reversed(branches):
        t = lax.sub(root if of_root else w, const(offset))
        p = horner(coeffs, t)
        result = p if result is None else lax.select(lax.lt(w, const(bound)), p, result)
    result = lax.mul(result, x)
    # erfinv(+-1) = +-inf, where the polynomial gives nan or a finite value.
    edge = lax.mul(x, const(np.finfo(dtype).max))
    return lax.select(lax.eq(lax.abs(x), const(1.0)), edge, result)
