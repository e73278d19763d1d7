"""``log`` and ``log1p`` as JAX computes them on the CPU.

- float32 ``log``: XLA's vectorised Cephes approximation (as in Eigen): the mantissa
  shifted to [sqrt(1/2), sqrt(2)) minus 1, a degree-8 polynomial in three parts, ln 2
  added back in two pieces, the multiply-adds fused as XLA's compiler fuses them (the
  polynomial's last product into the small part of e ln 2). Equal to JAX's bit for bit on
  every value tried. float64 ``log`` is the C library's, which llax's own matches (it is
  correctly rounded but for rare cases, as glibc's).
- ``log1p``: XLA's formula, Cephes' rational approximation below sqrt(2) - 1 and
  ``log(1 + x)`` above, in either precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.xla_math.core import fma, horner, narrow_floats_in_float32

# float32 log: Cephes' polynomial (highest degree first), sqrt(1/2), and ln 2 split in a
# small part and an exactly representable one.
_LOG_POLY = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
             1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
             3.3333331174e-1)
_SQRT_HALF = 0.707106781186547524
_LN2_SMALL, _LN2_EXACT = -2.12194440e-4, 0.693359375


# Both are differentiated by their own rules (as JAX differentiates its log and log1p), not
# through their formulas: log's goes through bit manipulation, which has no derivative.
@custom_jvp
@narrow_floats_in_float32
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
    # log 0 = -inf (subnormals count as 0: XLA flushes them), log inf = inf, log of a
    # negative number or nan = nan.
    edge = lax.select(lax.ge(x, const(0.0)), lax.full(x.shape, -np.inf, f32),
                      lax.full(x.shape, np.nan, f32))
    out = lax.select(lax.eq(x, const(np.inf)), x, out)
    return lax.select(lax.ge(x, const(np.finfo(f32).tiny)), out, edge)


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


@custom_jvp
@narrow_floats_in_float32
def log1p(x: Any) -> Any:
    """log(1 + x) as XLA computes it (its rational approximation for small x)."""
    x2 = lax.mul(x, x)
    ratio = lax.div(horner(_LOG1P_NUM, x), horner(_LOG1P_DEN, x))
    small = lax.add(x, fma(x2, lax.full((), -0.5, x.dtype), lax.mul(lax.mul(x, x2), ratio)))
    large = log(lax.add(x, lax.full((), 1.0, x.dtype)))
    return lax.select(lax.lt(lax.abs(x), lax.full((), _LOG1P_SMALL, x.dtype)), small, large)


log.defjvps(lambda g, ans, x: lax.div(g, x))
log1p.defjvps(lambda g, ans, x: lax.div(g, lax.add(x, lax.full((), 1, x.dtype))))
