"""The regularised incomplete gamma functions and the gamma sample derivative, as JAX
computes them.

``P(a, x)`` (``igamma``), ``Q(a, x) = 1 - P(a, x)`` (``igammac``), ``dP/da``
(``igamma_grad_a``) and ``random_gamma_grad(a, x) = -(dP/da) / (dP/dx)``, the
derivative of a Gamma(a, 1) draw ``x`` with respect to ``a`` at fixed ``P``
(implicit reparameterisation: the draw is ``P^-1(a, u)`` for a uniform ``u``).

The algorithms are XLA's (JAX spells them out in lax ops): with
``ax = exp(a log x - x - lgamma(a))`` = x^a e^-x / Gamma(a),

- the power series ``P = ax / a * sum_n x^n / ((a+1)...(a+n))`` where it
  converges fast (x < 1 or x <= a), summed in a while loop until a term is
  below an epsilon of the sum (or, for derivatives, the derivative's term);
- otherwise Legendre's continued fraction for ``Q / ax``, evaluated by
  three-term recurrences on numerators and denominators (rescaled by eps when
  they grow past 1/eps), at most 2000 steps.

The derivative modes carry d/da of every recurrence variable along. Loops run on
whole arrays: each element stops changing when it converges (its ``enabled``
flag drops), so the values equal those of one loop per element, as JAX's
``lax.map`` runs them. The transcendental parts use XLA's CPU approximations
(``log``, ``exp``, ``lgamma``, ``digamma`` from this package), and the products that
XLA's CPU compiler contracts into their sums are fused multiply-adds here too.
float16 and bfloat16 are computed in float32.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp._coerce import as_array
from llax.frontend.xla_math.core import flush_denormals, fma
from llax.frontend.xla_math.exp import exp
from llax.frontend.xla_math.gamma import digamma, lgamma
from llax.frontend.xla_math.log import log
from llax.ir import dtypes


class Mode(enum.Enum):
    VALUE = 1               # P (series) or Q / ax (continued fraction)
    DERIVATIVE = 2          # dP/da
    SAMPLE_DERIVATIVE = 3   # -(dP/da) / (dP/dx)


# Continued-fraction steps at most (XLA's bound).
_MAX_FRACTION_STEPS = 2000


def _c(v: float, like: Any) -> Any:
    return lax.full((), v, like.dtype)


def _any(x: Any) -> Any:
    from llax.frontend.jnp._reductions import any as jany

    return jany(x)


def _or(*xs: Any) -> Any:
    out = xs[0]
    for x in xs[1:]:
        out = lax.bitwise_or(out, x)
    return out


def _isnan(x: Any) -> Any:
    return lax.ne(x, x)


def _log_ax(a: Any, x: Any) -> Any:
    """a log x - x - lgamma(a): the log of x^a e^-x / Gamma(a)."""
    return lax.sub(fma(a, log(x), lax.neg(x)), lgamma(a))


def _underflows(log_ax: Any) -> Any:
    return lax.lt(log_ax, _c(-np.log(np.finfo(log_ax.dtype).max), log_ax))


# ---------------------------------------------------------------------------------------------
# The two expansions


def _series(ax: Any, x: Any, a: Any, enabled: Any, mode: Mode) -> Any:
    """P (or its derivatives) by the power series, summed while any element is enabled."""
    eps = _c(np.finfo(x.dtype).eps, x)
    one = _c(1.0, x)

    def body(state: tuple) -> tuple:
        on, r, c, ans, dc_da, dans_da = state
        r_new = lax.add(r, one)
        x_over_r = lax.div(x, r_new)
        # d/da of the term c x / r with r = a + n: (dc/da) x/r - c x / r^2.
        dc_da_new = fma(dc_da, x_over_r, lax.neg(lax.div(lax.mul(c, x), lax.mul(r_new, r_new))))
        dans_da_new = lax.add(dans_da, dc_da_new)
        c_new = lax.mul(c, x_over_r)
        # (XLA recomputes c x / r inside the sum's kernel and fuses it with the add.)
        ans_new = fma(c, x_over_r, ans)
        if mode is Mode.VALUE:
            still = lax.gt(lax.div(c_new, ans_new), eps)
        else:
            still = lax.gt(lax.abs(lax.div(dc_da_new, dans_da_new)), eps)
        keep = [lax.select(on, new, old) for new, old in
                zip((r_new, c_new, ans_new, dc_da_new, dans_da_new), state[1:])]
        return (lax.bitwise_and(on, still), *keep)

    zero = lax.full(a.shape, 0.0, a.dtype)
    ones = lax.full(a.shape, 1.0, a.dtype)
    _, _, _, ans, _, dans_da = lax.while_loop(lambda s: _any(s[0]), body,
                                              (enabled, a, ones, ones, zero, zero))
    if mode is Mode.VALUE:
        return lax.div(lax.mul(ans, ax), a)
    dlogax_da = lax.sub(log(x), digamma(lax.add(a, one)))
    if mode is Mode.DERIVATIVE:
        return lax.div(lax.mul(ax, fma(ans, dlogax_da, dans_da)), a)
    return lax.div(lax.mul(lax.neg(fma(ans, dlogax_da, dans_da)), x), a)


def _continued_fraction(ax: Any, x: Any, a: Any, enabled: Any, mode: Mode) -> Any:
    """Q / ax (or derivatives) by the continued fraction's recurrences p_k / q_k."""
    eps = _c(np.finfo(x.dtype).eps, x)
    one = _c(1.0, x)

    def more(state: tuple) -> Any:
        return lax.bitwise_and(lax.lt(state[5], _c(_MAX_FRACTION_STEPS, x)), _any(state[0]))

    def body(state: tuple) -> tuple:
        (on, ans, t, y, z, c, pkm1, qkm1, pkm2, qkm2,
         dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da, dans_da) = state
        c = lax.add(c, one)
        y = lax.add(y, one)
        z = lax.add(z, _c(2.0, x))
        yc = lax.mul(y, c)
        pk = fma(pkm1, z, lax.neg(lax.mul(pkm2, yc)))
        qk = fma(qkm1, z, lax.neg(lax.mul(qkm2, yc)))
        nonzero = lax.ne(qk, _c(0.0, qk))
        r = lax.div(pk, qk)
        t = lax.select(nonzero, lax.abs(lax.div(lax.sub(ans, r), r)), lax.full(r.shape, 1.0,
                                                                                  r.dtype))
        ans = lax.select(nonzero, r, ans)
        # d/da of the recurrences: y and z fall by one as a rises (d(yc)/da = -c, dz/da = -1).
        dpk_da = fma(pkm2, c, fma(lax.neg(dpkm2_da), yc, fma(dpkm1_da, z, lax.neg(pkm1))))
        dqk_da = fma(qkm2, c, fma(lax.neg(dqkm2_da), yc, fma(dqkm1_da, z, lax.neg(qkm1))))
        dans_da_new = lax.select(nonzero, lax.div(fma(lax.neg(ans), dqk_da, dpk_da), qk),
                                 dans_da)
        grad_change = lax.select(nonzero, lax.abs(lax.sub(dans_da_new, dans_da)),
                                 lax.full(dans_da.shape, 1.0, dans_da.dtype))
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da = dpkm1_da, dqkm1_da, dpk_da, dqk_da
        # Keep the recurrences in range: scale all four (and their derivatives) by eps.
        rescale = lax.gt(lax.abs(pk), lax.div(one, eps))

        def scaled(v: Any) -> Any:
            return lax.select(rescale, lax.mul(v, eps), v)

        pkm2, pkm1, qkm2, qkm1 = map(scaled, (pkm2, pkm1, qkm2, qkm1))
        dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da = map(scaled,
                                                     (dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da))
        if mode is Mode.VALUE:
            still = lax.gt(t, eps)
        else:
            still = lax.gt(grad_change, eps)
        new = (ans, t, y, z, c, pkm1, qkm1, pkm2, qkm2,
               dpkm2_da, dqkm2_da, dpkm1_da, dqkm1_da, dans_da_new)
        # The step count c advances for every element (it only bounds the loop).
        keep = [v if i == 4 else lax.select(on, v, old)
                for i, (v, old) in enumerate(zip(new, state[1:]))]
        return (lax.bitwise_and(on, still), *keep)

    y = lax.sub(one, a)
    z = lax.add(lax.add(x, y), one)
    pkm1 = lax.add(x, one)
    qkm1 = lax.mul(z, x)
    ans = lax.div(pkm1, qkm1)
    zero = lax.full(x.shape, 0.0, x.dtype)
    dqkm1_da = lax.neg(x)
    dans_da = lax.div(fma(lax.neg(ans), dqkm1_da, zero), qkm1)
    init = (enabled, ans, lax.full(x.shape, 1.0, x.dtype), y, z, _c(0.0, x), pkm1, qkm1,
            lax.full(x.shape, 1.0, x.dtype), x, zero, zero, zero, dqkm1_da, dans_da)
    out = lax.while_loop(more, body, init)
    ans = out[1]
    if mode is Mode.VALUE:
        return lax.mul(ans, ax)
    dans_da = out[14]
    dlogax_da = lax.sub(log(x), digamma(a))
    if mode is Mode.DERIVATIVE:
        return lax.mul(ax, fma(ans, dlogax_da, dans_da))
    return lax.neg(lax.mul(fma(ans, dlogax_da, dans_da), x))


# ---------------------------------------------------------------------------------------------
# Public functions


def _operands(name: str, a: Any, x: Any) -> tuple[Any, Any, np.dtype]:
    """a and x as arrays of one float dtype and one shape (computed in at least float32),
    and the dtype to return."""
    a, x = as_array(a, name), as_array(x, name)
    for i, v in enumerate((a, x)):
        if not dtypes.is_float(v.dtype):
            raise TypeError(f"{name} does not accept dtype {np.dtype(v.dtype).name} at "
                            f"position {i}. Accepted dtypes at position {i} are subtypes of "
                            "floating.")
    if np.dtype(a.dtype) != np.dtype(x.dtype):
        raise TypeError(f"{name} requires arguments to have the same dtypes, got "
                        f"{np.dtype(a.dtype).name}, {np.dtype(x.dtype).name}.")
    try:
        shape = np.broadcast_shapes(a.shape, x.shape)
    except ValueError:
        raise TypeError(f"{name} got incompatible shapes for broadcasting: "
                        f"{tuple(a.shape)}, {tuple(x.shape)}.") from None
    a, x = (lax.broadcast_in_dim(v, shape, tuple(range(len(shape) - v.ndim, len(shape))))
            if v.shape != shape else v for v in (a, x))
    out = np.dtype(a.dtype)
    if out.itemsize < 4:
        a, x = (lax.convert_element_type(v, np.float32) for v in (a, x))
    return a, x, out


def _returned(v: Any, dtype: np.dtype) -> Any:
    v = flush_denormals(v)  # (XLA's CPU code flushes subnormal results to zero)
    return v if np.dtype(v.dtype) == dtype else lax.convert_element_type(v, dtype)


def _igamma(a: Any, x: Any) -> Any:
    nan = _or(_isnan(a), _isnan(x))
    x_inf = lax.eq(x, _c(np.inf, x))
    a_zero, x_zero = lax.eq(a, _c(0.0, a)), lax.eq(x, _c(0.0, x))
    domain_error = _or(lax.lt(x, _c(0.0, x)), lax.lt(a, _c(0.0, a)),
                       lax.bitwise_and(a_zero, x_zero), nan)
    use_fraction = lax.bitwise_and(lax.ge(x, _c(1.0, x)), lax.gt(x, a))
    log_ax = _log_ax(a, x)
    ax = exp(log_ax)
    enabled = lax.bitwise_not(_or(x_zero, domain_error, _underflows(log_ax), x_inf))
    value = lax.select(
        use_fraction,
        lax.sub(_c(1.0, a), _continued_fraction(ax, x, a, lax.bitwise_and(enabled, use_fraction),
                                                Mode.VALUE)),
        _series(ax, x, a, lax.bitwise_and(enabled, lax.bitwise_not(use_fraction)), Mode.VALUE))
    value = lax.select(x_zero, lax.full(a.shape, 0.0, a.dtype), value)
    value = lax.select(x_inf, lax.full(a.shape, 1.0, a.dtype), value)
    value = lax.select(domain_error, lax.full(a.shape, np.nan, a.dtype), value)
    return value


def _igammac(a: Any, x: Any) -> Any:
    nan = _or(_isnan(a), _isnan(x))
    a_zero, x_zero = lax.eq(a, _c(0.0, a)), lax.eq(x, _c(0.0, x))
    x_inf = lax.eq(x, _c(np.inf, x))
    domain_error = _or(lax.lt(x, _c(0.0, x)), lax.lt(a, _c(0.0, a)),
                       lax.bitwise_and(a_zero, x_zero), nan)
    use_series = lax.bitwise_or(lax.lt(x, _c(1.0, x)), lax.lt(x, a))
    log_ax = _log_ax(a, x)
    enabled = lax.bitwise_not(_or(domain_error, _underflows(log_ax), x_inf, a_zero))
    ax = exp(log_ax)
    series = _series(ax, x, a, lax.bitwise_and(enabled, use_series), Mode.VALUE)
    fraction = _continued_fraction(ax, x, a, lax.bitwise_and(enabled, lax.bitwise_not(use_series)),
                                   Mode.VALUE)
    value = lax.select(use_series, lax.sub(_c(1.0, a), series), fraction)
    value = lax.select(lax.bitwise_or(x_inf, a_zero), lax.full(a.shape, 0.0, a.dtype), value)
    value = lax.select(domain_error, lax.full(a.shape, np.nan, a.dtype), value)
    return value


def _density(a: Any, x: Any) -> Any:
    """dP/dx = x^(a-1) e^-x / Gamma(a), as exp(-x + (a - 1) log x - lgamma(a))."""
    return exp(lax.sub(fma(lax.sub(a, _c(1.0, a)), log(x), lax.neg(x)), lgamma(a)))


def _with_jvp(value: Any, sign: float) -> Any:
    """``value`` with JAX's derivatives: sign * (dP/da, dP/dx)."""
    fun = custom_jvp(value)

    @fun.defjvp
    def _jvp(primals: tuple, tangents: tuple) -> tuple:
        a, x = primals
        t_a, t_x = tangents
        d_a = _derivative_of(a, x, Mode.DERIVATIVE)
        d_x = _density(a, x)
        if sign < 0:
            d_a, d_x = lax.neg(d_a), lax.neg(d_x)
        return fun(a, x), lax.add(lax.mul(t_a, d_a), lax.mul(t_x, d_x))

    return fun


_igamma_ad = _with_jvp(_igamma, 1.0)
_igammac_ad = _with_jvp(_igammac, -1.0)


def igamma(a: Any, x: Any) -> Any:
    """P(a, x), the regularised lower incomplete gamma function, with JAX's values
    (differentiable in both arguments)."""
    a, x, out = _operands("igamma", a, x)
    return _returned(_igamma_ad(a, x), out)


def igammac(a: Any, x: Any) -> Any:
    """Q(a, x) = 1 - P(a, x), the regularised upper incomplete gamma function."""
    a, x, out = _operands("igammac", a, x)
    return _returned(_igammac_ad(a, x), out)


def _derivative_of(a: Any, x: Any, mode: Mode) -> Any:
    """dP/da or the sample derivative: the series or minus the fraction's derivative."""
    nan = _or(_isnan(a), _isnan(x))
    x_zero = lax.eq(x, _c(0.0, x))
    domain_error = lax.bitwise_or(lax.lt(x, _c(0.0, x)), lax.le(a, _c(0.0, a)))
    use_fraction = lax.bitwise_and(lax.gt(x, _c(1.0, x)), lax.gt(x, a))
    log_ax = _log_ax(a, x)
    ax = exp(log_ax)
    enabled = lax.bitwise_not(_or(x_zero, domain_error, _underflows(log_ax), nan))
    value = lax.select(
        use_fraction,
        lax.neg(_continued_fraction(ax, x, a, lax.bitwise_and(enabled, use_fraction), mode)),
        _series(ax, x, a, lax.bitwise_and(enabled, lax.bitwise_not(use_fraction)), mode))
    value = lax.select(x_zero, lax.full(a.shape, 0.0, a.dtype), value)
    value = lax.select(lax.bitwise_or(domain_error, nan), lax.full(a.shape, np.nan, a.dtype),
                       value)
    return value


def igamma_grad_a(a: Any, x: Any) -> Any:
    """dP(a, x)/da."""
    a, x, out = _operands("igamma_grad_a", a, x)
    return _returned(_derivative_of(a, x, Mode.DERIVATIVE), out)


def random_gamma_grad(a: Any, x: Any) -> Any:
    """d x / d a for a Gamma(a, 1) draw x at a fixed quantile: -(dP/da) / (dP/dx)."""
    a, x, out = _operands("random_gamma_grad", a, x)
    return _returned(_derivative_of(a, x, Mode.SAMPLE_DERIVATIVE), out)
