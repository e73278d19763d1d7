"""``lgamma`` and ``digamma`` as JAX computes them on the CPU.

JAX lowers ``lax.lgamma`` / ``lax.digamma`` to CHLO ops that XLA expands into
elementwise arithmetic: Lanczos' approximation with g = 7 and 9 coefficients,

    lgamma(z + 1) = log(sqrt(2 pi)) + (z + 1/2 - t / log t) * log t + log a(z),
    t = z + 7.5,   log t = log(7.5) + log1p(z / 7.5),
    a(z) = c0 + sum_k c_k / (z + k),

with z = x - 1, or z = -x and Euler's reflection for x < 1/2. The rejection
step of ``poisson`` compares against ``lgamma(k + 1)``, so a last-bit
difference there can flip an acceptance; this module evaluates the same
operations in the same order, with XLA's float32 ``log`` and ``log1p``
(``log.py``) and the multiply-add XLA's compiler fuses. float16 and bfloat16
are computed in float32, as XLA does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp._coerce import as_array
from llax.frontend.xla_math.core import fma
from llax.frontend.xla_math.log import log, log1p
from llax.ir import dtypes

LANCZOS_G = 7.0
LANCZOS_BASE = 0.99999999999980993227684700473478
LANCZOS_COEFFS = (676.520368121885098567009190444019, -1259.13921672240287047156078755283,
                  771.3234287776530788486528258894, -176.61502916214059906584551354,
                  12.507343278686904814458936853, -0.13857109526572011689554707,
                  9.984369578019570859563e-6, 1.50563273514931155834e-7)


def _computed_in(x: Any, name: str) -> tuple[Any, np.dtype]:
    """``x`` as the float type the expansion runs in, and the type to return."""
    x = as_array(x, name)
    if not dtypes.is_float(x.dtype):
        raise TypeError(f"{name} does not accept dtype {x.dtype}. Accepted dtypes are "
                        "subtypes of floating.")
    out = np.dtype(x.dtype)
    if out.itemsize < 4:
        x = lax.convert_element_type(x, np.float32)
    return x, out


def _lanczos_shift(x: Any, const) -> tuple[Any, Any, Any]:
    """Whether to reflect, z, and log(t) with t = z + g + 1/2 (shared by both functions)."""
    reflect = lax.lt(x, const(0.5))
    z = lax.select(reflect, lax.neg(x), lax.sub(x, const(1.0)))
    t = lax.add(const(LANCZOS_G + 0.5), z)
    # XLA's simplifier turns the division by the constant into a product by its reciprocal.
    log_t = lax.add(log1p(lax.mul(z, const(1 / (LANCZOS_G + 0.5)))),
                    const(math.log(LANCZOS_G + 0.5)))
    return reflect, z, t, log_t


def _lgamma_value(x: Any) -> Any:
    x, out = _computed_in(x, "lgamma")

    def const(v: float) -> Any:
        return lax.full((), v, x.dtype)

    reflect, z, t, log_t = _lanczos_shift(x, const)
    a = const(LANCZOS_BASE)
    for k, c in enumerate(LANCZOS_COEFFS, start=1):
        a = lax.add(a, lax.div(const(c), lax.add(z, const(k))))
    # (z + 1/2 - t / log t) * log t rather than (z + 1/2) log t - t: no overflow for large t.
    # The product feeds the sum with log(sqrt(2 pi)) directly: one fused multiply-add.
    head = lax.sub(lax.add(z, const(0.5)), lax.div(t, log_t))
    value = lax.add(fma(head, log_t, const((math.log(2) + math.log(math.pi)) / 2)),
                    log(a))
    # Reflection: log(pi) - lgamma(1 - x) - log|sin(pi x)|, with sin's argument reduced to
    # pi * frac(|x|) folded into [0, 1/2] (exact zeros at the poles, no overflow).
    abs_x = lax.abs(x)
    frac = lax.sub(abs_x, lax.floor(abs_x))
    frac = lax.select(lax.lt(const(0.5), frac), lax.sub(const(1.0), frac), frac)
    log_sin = log(lax.sin(lax.mul(const(math.pi), frac)))
    reflected = lax.select(lax.is_finite(log_sin),
                           lax.sub(lax.sub(const(math.log(math.pi)), log_sin), value),
                           lax.neg(log_sin))
    value = lax.select(reflect, reflected, value)
    value = lax.select(lax.eq(abs_x, const(np.inf)), lax.full(x.shape, np.inf, x.dtype), value)
    return value if value.dtype == out else lax.convert_element_type(value, out)


def _digamma_value(x: Any) -> Any:
    x, out = _computed_in(x, "digamma")

    def const(v: float) -> Any:
        return lax.full((), v, x.dtype)

    reflect, z, t, log_t = _lanczos_shift(x, const)
    a, a_prime = const(LANCZOS_BASE), const(0.0)
    for k, c in enumerate(LANCZOS_COEFFS, start=1):
        zk = lax.add(z, const(k))
        a_prime = lax.sub(a_prime, lax.div(const(c), lax.mul(zk, zk)))
        a = lax.add(a, lax.div(const(c), zk))
    value = lax.sub(lax.add(log_t, lax.div(a_prime, a)), lax.div(const(LANCZOS_G), t))
    # Reflection: digamma(1 - x) - pi cot(pi x), with x moved into [-1/2, 1/2] first.
    reduced = lax.add(x, lax.abs(lax.floor(lax.add(x, const(0.5)))))
    angle = lax.mul(const(math.pi), reduced)
    reflected = lax.sub(value, lax.div(lax.mul(const(math.pi), lax.cos(angle)), lax.sin(angle)))
    value = lax.select(reflect, reflected, value)
    pole = lax.bitwise_and(lax.le(x, const(0.0)), lax.eq(x, lax.floor(x)))
    value = lax.select(pole, lax.full(x.shape, np.nan, x.dtype), value)
    return value if value.dtype == out else lax.convert_element_type(value, out)


def _trigamma_value(x: Any) -> Any:
    """The derivative of digamma (polygamma(1, x)): six steps of the recurrence
    psi1(y) = 1/y^2 + psi1(y + 1), then the asymptotic series at y + 6 >= 6.5, and the
    reflection psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x) below 1/2."""
    x, out = _computed_in(x, "trigamma")

    def const(v: float) -> Any:
        return lax.full((), v, x.dtype)

    reflect = lax.lt(x, const(0.5))
    y = lax.select(reflect, lax.sub(const(1.0), x), x)
    value = const(0.0)
    for k in range(6):
        yk = lax.add(y, const(k))
        value = lax.add(value, lax.div(const(1.0), lax.mul(yk, yk)))
    inv = lax.div(const(1.0), lax.add(y, const(6.0)))
    inv2 = lax.mul(inv, inv)
    series = lax.sub(const(1 / 42), lax.mul(inv2, const(1 / 30)))
    series = lax.sub(const(1 / 6), lax.mul(inv2, lax.sub(const(1 / 30), lax.mul(inv2, series))))
    value = lax.add(value, lax.add(inv, lax.add(lax.mul(inv2, const(0.5)),
                                                lax.mul(lax.mul(inv, inv2), series))))
    # sin^2(pi x) from the fractional part of |x| folded into [0, 1/2]: exact zeros at the
    # poles (where the result is +inf), no loss for large |x|.
    abs_x = lax.abs(x)
    frac = lax.sub(abs_x, lax.floor(abs_x))
    frac = lax.select(lax.lt(const(0.5), frac), lax.sub(const(1.0), frac), frac)
    sin = lax.sin(lax.mul(const(math.pi), frac))
    reflected = lax.sub(lax.div(const(math.pi ** 2), lax.mul(sin, sin)), value)
    value = lax.select(reflect, reflected, value)
    return value if value.dtype == out else lax.convert_element_type(value, out)


# The values are XLA's formulas; their derivatives are the functions' own (JAX's rules:
# lgamma' = digamma, digamma' = polygamma(1, .)), not the derivatives of the formulas, whose
# log goes through bit manipulation (llax.frontend.xla_math.log) that has no derivative.
@custom_jvp
def lgamma(x: Any) -> Any:
    """log |Gamma(x)| elementwise, with JAX's (XLA's CPU) values."""
    return _lgamma_value(x)


@custom_jvp
def digamma(x: Any) -> Any:
    """The logarithmic derivative of Gamma elementwise, with JAX's (XLA's CPU) values."""
    return _digamma_value(x)


@custom_jvp
def trigamma(x: Any) -> Any:
    """polygamma(1, x): the derivative of digamma."""
    return _trigamma_value(x)


lgamma.defjvps(lambda g, ans, x: lax.mul(g, digamma(x)))
digamma.defjvps(lambda g, ans, x: lax.mul(g, trigamma(x)))
trigamma.defjvps(lambda g, ans, x: lax.mul(g, _tetragamma(x)))


def _tetragamma(x: Any) -> Any:
    raise NotImplementedError("the second derivative of digamma (polygamma(2, x)) is not "
                              "implemented")
