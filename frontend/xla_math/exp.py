"""``exp`` and ``pow`` as JAX computes them on the CPU.

A sampler that accepts or rejects by comparing transcendental values can flip a
decision on a last-bit difference, and ``beta``/``dirichlet`` return ratios of
``exp`` values; so these follow XLA's CPU code rather than llax's own (accurate,
but differently rounded) approximations:

- float32 ``exp``: Cephes' expf as XLA vectorises it: n = floor(x log2(e) + 1/2)
  clamped to [-127, 127], x - n log(2) in two fused steps, a degree-5 polynomial
  in fused multiply-adds, and 2**n built from its bits; x is clamped to
  [-87.8, 88.8] first. (Equal to JAX's bit for bit on every value tried.)
- float32 ``pow``: XLA calls the C library's ``powf``, which evaluates
  ``exp(y log x)`` in double precision and rounds once; the same here, in
  float64 (bound directly, so it works without x64). glibc's result is not
  always the correctly rounded one: about 1 in 1500 draws differ in the last bit.
- float64: llax's own ``exp`` and ``pow`` (XLA's differ in the last bit now and then).

XLA's CPU code runs with denormals flushed to zero, so results below the
smallest normal number are returned as (signed) zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.xla_math.core import const as _const
from llax.frontend.xla_math.core import flush_denormals, fma, narrow_floats_in_float32
from llax.ir import prims as P

_EXPF_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
              1.6666665459e-1, 5.0000001201e-1)
_LN2_HIGH, _LN2_LOW = 0.693359375, -2.12194440e-4


@narrow_floats_in_float32
def exp(x: Any) -> Any:
    """e**x with XLA's CPU values (float32 exactly; float64 within an ulp)."""
    if np.dtype(x.dtype) != np.float32:
        return flush_denormals(lax.exp(x))
    f32 = np.float32
    clamped = lax.clamp(_const(-87.8, f32), x, _const(88.8, f32))
    n = lax.floor(fma(clamped, _const(1.44269504088896341, f32), _const(0.5, f32)))
    n = lax.clamp(_const(-127.0, f32), n, _const(127.0, f32))
    r = fma(lax.neg(n), _const(_LN2_HIGH, f32), clamped)
    r = fma(lax.neg(n), _const(_LN2_LOW, f32), r)
    p = fma(r, _const(_EXPF_POLY[0], f32), _const(_EXPF_POLY[1], f32))
    for c in _EXPF_POLY[2:]:
        p = fma(p, r, _const(c, f32))
    p = lax.add(_const(1.0, f32), fma(p, lax.mul(r, r), r))
    # 2**n from its exponent bits (n = -127 gives the zero bit pattern: the result flushes).
    biased = lax.add(lax.convert_element_type(n, np.int32), _const(127, np.int32))
    scale = lax.bitcast_convert_type(lax.shift_left(biased, _const(23, np.int32)), f32)
    out = flush_denormals(lax.mul(p, scale))
    return lax.select(lax.ne(x, x), x, out)  # NaN stays NaN (the clamp would lose it)


@narrow_floats_in_float32
def pow(x: Any, y: Any) -> Any:  # noqa: A001 - the operation's name
    """x**y for equal-shaped float operands with XLA's CPU values (C ``powf`` for float32)."""
    if np.dtype(x.dtype) != np.float32:
        return flush_denormals(lax.pow(x, y))

    def convert(v: Any, to: Any) -> Any:
        return bind(P.convert_element_type, (v,), {"new_dtype": np.dtype(to),
                                                   "weak_type": False})

    wide = bind(P.pow, (convert(x, np.float64), convert(y, np.float64)), {})
    return flush_denormals(convert(wide, np.float32))
