"""The inverse error function as JAX computes it on the CPU, for ``normal`` and friends.

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

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.random._sampling import fma

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


# log1p of small |x| (below sqrt(2) - 1): x - x**2/2 + x**3 * N(x)/D(x), Cephes' rational
# approximation, as XLA evaluates it; larger |x| take log(1 + x).
_LOG1P_SMALL = np.sqrt(2) - 1
_LOG1P_NUM = (4.5270000862445199635215e-5, 4.9854102823193375972212e-1,
              6.5787325942061044846969e0, 2.9911919328553073277375e1,
              6.0949667980987787057556e1, 5.7112963590585538103336e1,
              2.0039553499201281259648e1)
_LOG1P_DEN = (1.0, 1.5062909083469192043167e1, 8.3047565967967209469434e1,
              2.2176239823732856465394e2, 3.0909872225312059774938e2,
              2.1642788614495947685003e2, 6.0118660497603843919306e1)


# float32 log on XLA's CPU backend: Cephes' logf, as vectorised by Eigen and XLA. x = 2**e * m
# with m in [sqrt(1/2), sqrt(2)), log(m) = f - f**2/2 + f**3 * P(f) for f = m - 1, and e*log(2)
# added in two parts (0.693359375 is exact in a few bits).
_LOGF_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
           1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
           3.3333331174e-1)
_LN2_HIGH, _LN2_LOW = 0.693359375, -2.12194440e-4


def log(x: Any) -> Any:
    """Natural log as XLA computes it on the CPU: Cephes' logf for float32, else log."""
    if np.dtype(x.dtype) != np.float32:
        return lax.log(x)

    def const(v: float, dtype: Any = np.float32) -> Any:
        return lax.full((), v, dtype)

    # Split positive normal x into exponent and mantissa m in [0.5, 1) through its bits.
    bits = lax.bitcast_convert_type(lax.max(x, const(np.finfo(np.float32).tiny)), np.int32)
    e = lax.convert_element_type(
        lax.sub(lax.shift_right_logical(bits, const(23, np.int32)), const(126, np.int32)),
        np.float32)
    m = lax.bitcast_convert_type(lax.bitwise_or(lax.bitwise_and(bits, const(0x807FFFFF, np.int32)),
                                                const(0x3F000000, np.int32)), np.float32)
    below = lax.lt(m, const(np.sqrt(0.5)))
    e = lax.sub(e, lax.convert_element_type(below, np.float32))
    f = lax.add(lax.sub(m, const(1.0)), lax.mul(m, lax.convert_element_type(below, np.float32)))
    f2 = lax.mul(f, f)
    f3 = lax.mul(f2, f)
    # The polynomial in three interleaved parts (Eigen's order of evaluation).
    p = [fma(const(_LOGF_P[i]), f, const(_LOGF_P[i + 1])) for i in (0, 3, 6)]
    p = [fma(q, f, const(_LOGF_P[i + 2])) for q, i in zip(p, (0, 3, 6))]
    y = lax.mul(fma(fma(p[0], f3, p[1]), f3, p[2]), f3)
    y = fma(e, const(_LN2_LOW), y)
    r = fma(e, const(_LN2_HIGH), lax.add(fma(f2, const(-0.5), f), y))
    # Zero, negative, infinite and NaN arguments as log's; subnormals count as zero (XLA's
    # CPU code runs with denormals flushed).
    tiny = const(np.finfo(np.float32).tiny)
    r = lax.select(lax.lt(x, tiny), lax.full_like(x, -np.inf), r)
    r = lax.select(lax.eq(x, const(np.inf)), x, r)
    return lax.select(lax.lt(x, const(0.0)), lax.full_like(x, np.nan),
                      lax.select(lax.ne(x, x), x, r))


def _horner(coeffs: tuple[float, ...], x: Any) -> Any:
    p = lax.full((), coeffs[0], x.dtype)
    for c in coeffs[1:]:
        p = fma(p, x, lax.full((), c, x.dtype))
    return p


def log1p(x: Any) -> Any:
    """log(1 + x) as XLA computes it (its rational approximation for small x)."""
    x2 = lax.mul(x, x)
    ratio = lax.div(_horner(_LOG1P_NUM, x), _horner(_LOG1P_DEN, x))
    small = lax.add(x, fma(x2, lax.full((), -0.5, x.dtype), lax.mul(lax.mul(x, x2), ratio)))
    large = log(lax.add(x, lax.full((), 1.0, x.dtype)))
    return lax.select(lax.lt(lax.abs(x), lax.full((), _LOG1P_SMALL, x.dtype)), small, large)


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
        p = _horner(coeffs, t)
        result = p if result is None else lax.select(lax.lt(w, const(bound)), p, result)
    result = lax.mul(result, x)
    # erfinv(+-1) = +-inf, where the polynomial gives nan or a finite value.
    edge = lax.mul(x, const(np.finfo(dtype).max))
    return lax.select(lax.eq(lax.abs(x), const(1.0)), edge, result)
