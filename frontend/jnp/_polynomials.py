"""Polynomials (coefficients highest power first, as NumPy's ``poly*``), 1-d
convolution and correlation, linear interpolation and the window functions.

``convolve``/``correlate`` use a direct formulation until a convolution primitive
exists: the sliding windows of the padded longer operand are gathered into a matrix
and multiplied by the shorter one (one gather and one ``dot_general``).
``polyfit`` solves its least-squares problem with the SVD (as JAX's ``lstsq`` does).
``roots`` (and ``poly`` of a square matrix) take the eigenvalues of a companion (or
the given) matrix with ``llax.numpy.linalg.eigvals``, complex as in JAX.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

import llax.frontend.jnp as jnp
from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array, promote_dtypes
from llax.frontend.jnp._dtypes import maybe_requested_dtype
from llax.ir import dtypes

__all__ = [
    "bartlett", "blackman", "convolve", "correlate", "hamming", "hanning", "interp", "kaiser",
    "poly", "polyadd", "polyder", "polydiv", "polyfit", "polyint", "polymul", "polysub",
    "polyval", "roots",
]


def _arrays(name: str, *args: Any) -> list[Any]:
    return [as_array(a, name, i) for i, a in enumerate(args)]


def _inexact(name: str, *args: Any) -> list[Any]:
    return promote_dtypes(name, _arrays(name, *args), "inexact")


def _numeric(name: str, *args: Any) -> list[Any]:
    return promote_dtypes(name, _arrays(name, *args))


# ---------------------------------------------------------------------------------------------
# Convolution


def _sliding_dot(x: Any, y: Any, low: int, high: int, preferred: Any) -> Any:
    """``out[i] = sum_j xpad[i + j] * y[j]`` with ``x`` padded by ``low``/``high`` zeros: a
    one-dimensional ``conv_general_dilated``, as JAX builds it."""
    out = lax.conv_general_dilated(x[None, None, :], y[None, None, :], (1,), [(low, high)],
                                   preferred_element_type=preferred)
    return out[0, 0]


def _conv(name: str, a: Any, v: Any, mode: str, preferred_element_type: Any) -> Any:
    x, y = _arrays(name, a, v)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"{name}() only support 1-dimensional inputs.")
    preferred = maybe_requested_dtype(preferred_element_type, name)
    x, y = promote_dtypes(name, [x, y], "inexact" if preferred is None else "promote")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError(f"{name}: inputs cannot be empty, got shapes {x.shape} and "
                         f"{y.shape}.")
    reverse_output = False
    if x.shape[0] < y.shape[0]:
        x, y = y, x
        reverse_output = name == "correlate"
    if name == "convolve":
        y = jnp.flip(y)
    m = y.shape[0]
    if mode == "valid":
        low, high = 0, 0
    elif mode == "same":
        low, high = m // 2, m - m // 2 - 1
    elif mode == "full":
        low, high = m - 1, m - 1
    else:
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    out = _sliding_dot(x, y, low, high, preferred)
    return jnp.flip(out) if reverse_output else out


def convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None) -> Any:
    """Discrete linear convolution of two 1-d arrays."""
    return _conv("convolve", a, v, mode, preferred_element_type)


def correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """Cross-correlation of two 1-d arrays (``v`` conjugated when complex, as NumPy)."""
    if jnp.iscomplexobj(v):
        v = jnp.conj(v)
    return _conv("correlate", a, v, mode, preferred_element_type)


# ---------------------------------------------------------------------------------------------
# Polynomial arithmetic


def polyval(p: Any, x: Any, *, unroll: int = 16) -> Any:
    """Value of the polynomial with coefficients ``p`` (leading axis) at ``x``
    (Horner's scheme in a ``scan``)."""
    p, x = _numeric("polyval", p, x)
    shape = jnp.broadcast_shapes(p.shape[1:], x.shape)
    y = jnp.zeros(shape, x.dtype)
    y, _ = lax.scan(lambda acc, c: (acc * x + c, None), y, p, unroll=unroll)
    return y


def _padded_front(a: Any, length: int) -> Any:
    return jnp.pad(a, [(length - a.shape[0], 0)] + [(0, 0)] * (a.ndim - 1))


def polyadd(a1: Any, a2: Any) -> Any:
    """Sum of two polynomials (aligned at the constant term)."""
    a1, a2 = _numeric("polyadd", a1, a2)
    if a1.dtype == dtypes.bool_:  # JAX adds with lax.add, which has no boolean sum
        raise TypeError("polyadd does not accept dtype bool: the coefficients must be "
                        "integer, floating or complex")
    n = max(a1.shape[0], a2.shape[0])
    return jnp.add(_padded_front(a1, n), _padded_front(a2, n))


def polysub(a1: Any, a2: Any) -> Any:
    """Difference of two polynomials."""
    a1, a2 = _numeric("polysub", a1, a2)
    return polyadd(a1, jnp.negative(a2))


def _trim_leading_zeros(a: Any) -> Any:
    values = np.asarray(a)  # needs concrete values, as NumPy's trim_zeros
    nonzero = np.flatnonzero(values != 0)
    return a[int(nonzero[0]):] if nonzero.size else a[:0]


def polymul(a1: Any, a2: Any, *, trim_leading_zeros: bool = False) -> Any:
    """Product of two polynomials (their convolution)."""
    a1, a2 = _inexact("polymul", a1, a2)
    if trim_leading_zeros and (a1.shape[0] > 1 or a2.shape[0] > 1):
        a1, a2 = _trim_leading_zeros(a1), _trim_leading_zeros(a2)
    if a1.shape[0] == 0:
        a1 = jnp.zeros(1, a2.dtype)
    if a2.shape[0] == 0:
        a2 = jnp.zeros(1, a1.dtype)
    return convolve(a1, a2, mode="full")


def polydiv(u: Any, v: Any, *, trim_leading_zeros: bool = False) -> tuple[Any, Any]:
    """Quotient and remainder of polynomial long division."""
    u, v = _inexact("polydiv", u, v)
    m, n = u.shape[0] - 1, v.shape[0] - 1
    scale = 1.0 / v[0]
    quotient = []
    for k in range(m - n + 1):
        d = scale * u[k]
        quotient.append(d)
        update = jnp.pad(-d * v, [(k, m - n - k)])
        u = u + update
    q = jnp.stack(quotient) if quotient else jnp.zeros(1, u.dtype)
    if trim_leading_zeros:
        tol = math.sqrt(float(jnp.finfo(u.dtype).eps))
        values = np.abs(np.asarray(u))
        big = np.flatnonzero(values >= tol)
        u = u[int(big[0]):] if big.size else u[:0]
    return q, u


def polyder(p: Any, m: int = 1) -> Any:
    """Coefficients of the ``m``-th derivative."""
    m = operator.index(m)
    (p,) = _inexact("polyder", p)
    if m < 0:
        raise ValueError("Order of derivative must be positive")
    if m == 0:
        return p
    n = p.shape[0]
    # d^m/dx^m x^k = k (k-1) ... (k-m+1) x^(k-m), k running from n-1 down to m.
    powers = np.arange(n - 1, m - 1, -1)
    factors = np.prod(powers[:, None] - np.arange(m)[None, :], axis=1) if n > m else \
        np.zeros(0)
    return p[:n - m] * jnp.asarray(factors.astype(p.dtype))


def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """Coefficients of the ``m``-th antiderivative, with integration constants ``k``."""
    m = operator.index(m)
    k = 0 if k is None else k
    p, k = _inexact("polyint", p, k)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    k = jnp.atleast_1d(k)
    if k.shape[0] == 1:
        k = jnp.full((m,), k[0])
    if k.shape != (m,):
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or m.")
    if m == 0:
        return p
    n = p.shape[0]
    # Coefficient of x^j after m integrations of x^(j-m) divides by j (j-1) ... (j-m+1).
    grid = np.arange(n + m)[None, :] - np.arange(m)[:, None]
    divisors = np.maximum(1, grid).prod(0)[::-1].astype(p.dtype)
    return jnp.divide(jnp.concatenate((p, k)), jnp.asarray(divisors))


def poly(seq_of_zeros: Any) -> Any:
    """Coefficients of the monic polynomial with the given roots (or the
    characteristic polynomial of a square matrix)."""
    (z,) = _inexact("poly", seq_of_zeros)
    z = jnp.atleast_1d(z)
    if z.ndim == 2 and z.shape[0] == z.shape[1] and z.shape[0] != 0:
        z = _eigvals(z, "poly")
    if z.ndim != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    if z.shape[0] == 0:
        return jnp.ones((), z.dtype)
    a = jnp.ones((1,), z.dtype)
    for i in range(z.shape[0]):
        a = convolve(a, jnp.stack([jnp.ones((), z.dtype), -z[i]]), mode="full")
    return a


def _eigvals(a: Any, name: str) -> Any:
    from llax.frontend.jnp.linalg import eigvals

    return eigvals(a)


def _companion_roots(p: Any) -> Any:
    """Eigenvalues of ``p``'s companion matrix (``p[0] != 0``): its roots, complex."""
    if p.shape[0] < 2:
        return jnp.zeros((0,), dtypes.complex_of(p.dtype))
    n = p.shape[0] - 1
    top = jnp.reshape(-p[1:] / p[0], (1, n))
    below = jnp.eye(n - 1, n, dtype=p.dtype)
    return _eigvals(jnp.concatenate([top, below], axis=0), "roots")


def _roots_with_zeros(p: Any, leading_zeros: Any) -> Any:
    """Roots when the number of leading zero coefficients is not known at trace time:
    the zeros rolled to the end (each adds a root at 0, moved last) and that many roots
    reported as NaN, as JAX does."""
    size = p.shape[0]
    p = jnp.where(leading_zeros == size, jnp.ones((), p.dtype), p)  # all zero: no LAPACK error
    roots = _companion_roots(jnp.roll(p, -leading_zeros))
    order = jnp.argsort(roots == 0, stable=True)
    roots = roots[order]
    nan = jnp.asarray(complex(np.nan, np.nan), roots.dtype)
    return jnp.where(jnp.arange(roots.shape[0]) < roots.shape[0] - leading_zeros, roots, nan)


def roots(p: Any, *, strip_zeros: bool = True) -> Any:
    """Roots of the polynomial with coefficients ``p`` (eigenvalues of its companion
    matrix), complex. ``strip_zeros`` drops leading zero coefficients (which needs
    concrete values); without it, each leading zero gives a NaN root instead, under jit
    too."""
    (p,) = _inexact("roots", p)
    p = jnp.atleast_1d(p)
    if p.ndim != 1:
        raise ValueError("Input must be a rank-1 array.")
    if p.shape[0] < 2:
        return jnp.zeros((0,), dtypes.complex_of(p.dtype))
    is_zero = p == 0
    leading_zeros = jnp.where(jnp.all(is_zero), p.shape[0], jnp.argmin(is_zero))
    if strip_zeros:
        try:
            count = operator.index(leading_zeros)
        except Exception as e:  # a tracer: the count decides the result's shape
            raise type(e)(
                f"{e}\nThe error occurred in the jnp.roots() function. To use this within a "
                "JIT-compiled context, pass strip_zeros=False, but be aware that leading "
                "zeros will result in some returned roots being set to NaN.") from e
        return _companion_roots(p[count:])
    return _roots_with_zeros(p, leading_zeros)


# ---------------------------------------------------------------------------------------------
# Least-squares fit


def _vander(x: Any, columns: int) -> Any:
    """``[x**(columns-1), ..., x, 1]`` as columns."""
    powers = [jnp.ones_like(x)]
    for _ in range(columns - 1):
        powers.append(powers[-1] * x)
    return jnp.stack(powers[::-1], axis=1)


def _svd(a: Any) -> tuple[Any, Any, Any]:
    from llax.frontend.jnp._jacobi import svd
    return svd(a, full_matrices=False)


def polyfit(x: Any, y: Any, deg: int, rcond: float | None = None, full: bool = False,
            w: Any = None, cov: bool | str = False) -> Any:
    """Least-squares polynomial fit of degree ``deg`` (coefficients highest power
    first); ``full`` adds residuals, rank, singular values and rcond; ``cov`` the
    covariance of the coefficients."""
    arrays = _arrays("polyfit", x, y) if w is None else _arrays("polyfit", x, y, w)
    x, y = arrays[0], arrays[1]
    deg = operator.index(deg)
    order = deg + 1
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if x.ndim != 1:
        raise TypeError("expected 1D vector for x")
    if x.size == 0:
        raise TypeError("expected non-empty vector for x")
    if y.ndim < 1 or y.ndim > 2:
        raise TypeError("expected 1D or 2D array for y")
    if x.shape[0] != y.shape[0]:
        raise TypeError("expected x and y to have same length")
    x, y = promote_dtypes("polyfit", [x, y], "inexact")
    if rcond is None:
        rcond = x.shape[0] * float(jnp.finfo(x.dtype).eps)
    lhs = _vander(x, order)
    rhs = y
    if w is not None:
        (weights,) = promote_dtypes("polyfit", [arrays[2]], "inexact")
        if weights.ndim != 1:
            raise TypeError("expected a 1-d array for weights")
        if weights.shape[0] != y.shape[0]:
            raise TypeError("expected w and y to have the same length")
        lhs = lhs * weights[:, None]
        rhs = rhs * (weights[:, None] if rhs.ndim == 2 else weights)
    # Scaling the columns improves the condition number.
    scale = jnp.sqrt(jnp.sum(lhs * lhs, axis=0))
    lhs = lhs / scale[None, :]
    u, s, vt = _svd(lhs)
    keep = (s > 0) & (s >= jnp.asarray(rcond, s.dtype) * s[0])
    s_inv = jnp.where(keep, 1 / jnp.where(keep, s, jnp.ones_like(s)), jnp.zeros_like(s))
    b = rhs if rhs.ndim == 2 else rhs[:, None]
    solution = jnp.matmul(vt.T, s_inv[:, None] * jnp.matmul(u.T, b))
    resids = jnp.sum(jnp.square(b - jnp.matmul(lhs, solution)), axis=0)
    if rhs.ndim == 1:
        solution = jnp.ravel(solution)  # residuals keep their axis, as JAX's
    c = solution / (scale if solution.ndim == 1 else scale[:, None])
    if full:
        rank = jnp.sum(keep, dtype=dtypes.default_int())
        return c, resids, rank, s, jnp.asarray(rcond)
    if cov:
        # inv(lhs^T lhs) = V diag(1/s^2) V^T
        base = jnp.matmul(vt.T * jnp.square(s_inv)[None, :], vt)
        base = base / jnp.outer(scale, scale)
        if cov == "unscaled":
            factor: Any = jnp.asarray(1.0, base.dtype)
        else:
            if x.shape[0] <= order:
                raise ValueError("the number of data points must exceed order to scale the "
                                 "covariance matrix")
            factor = resids / (x.shape[0] - order)
        if y.ndim == 1:
            return c, base * jnp.atleast_1d(factor)[None]
        return c, base[:, :, None] * jnp.atleast_1d(factor)[None, None, :]
    return c


# ---------------------------------------------------------------------------------------------
# Interpolation


def _count_at_most(xp: Any, x: Any) -> Any:
    """``searchsorted(xp, x, side='right')`` by direct comparison."""
    return jnp.sum(xp <= x[..., None], axis=-1, dtype=dtypes.default_int())


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Any:
    """Piecewise-linear interpolation of ``(xp, fp)`` at ``x``; ``left``/``right``
    beyond the ends (``'extrapolate'`` continues the end segments), or periodic."""
    x, xp, fp = _arrays("interp", x, xp, fp)
    if xp.shape != fp.shape or xp.ndim != 1:
        raise ValueError("xp and fp must be one-dimensional arrays of equal size")
    complex_x = dtypes.kind(x.dtype) == "c"
    x, xp = promote_dtypes("interp", [x, xp], "inexact")
    (fp,) = promote_dtypes("interp", [fp], "inexact")
    extrapolate = {}
    for side, value in (("left", left), ("right", right)):
        if isinstance(value, str) and value != "extrapolate":
            raise ValueError(f"the only valid string value of `{side}` is 'extrapolate', "
                             f"but got: {value!r}")
        extrapolate[side] = isinstance(value, str)
    if complex_x:
        raise ValueError("jnp.interp: complex x values not supported.")
    if period is not None:
        if np.ndim(period) != 0:
            raise ValueError(f"period must be a scalar; got {period}")
        period = jnp.abs(period)
        x = jnp.remainder(x, period)
        xp = jnp.remainder(xp, period)
        xp, fp = lax.sort_key_val(xp, fp)
        xp = jnp.concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = jnp.concatenate([fp[-1:], fp, fp[:1]])
    i = jnp.clip(_count_at_most(xp, x), 1, xp.shape[0] - 1)
    below_f, above_f = jnp.take(fp, i - 1), jnp.take(fp, i)
    below_x, above_x = jnp.take(xp, i - 1), jnp.take(xp, i)
    dx = above_x - below_x
    tiny = np.spacing(np.finfo(xp.dtype).eps)
    flat = jnp.abs(dx) <= tiny  # a zero-width segment: avoid NaN values and gradients
    f = jnp.where(flat, below_f,
                  below_f + ((x - below_x) / jnp.where(flat, jnp.ones_like(dx), dx))
                  * (above_f - below_f))
    if period is None:
        if not extrapolate["left"]:
            f = jnp.where(x < xp[0], fp[0] if left is None else left, f)
        if not extrapolate["right"]:
            f = jnp.where(x > xp[-1], fp[-1] if right is None else right, f)
    return f


# ---------------------------------------------------------------------------------------------
# Windows


def _window_positions(M: int, name: str) -> Any:  # noqa: N803 - NumPy's name
    M = operator.index(M)
    dt = dtypes.default_float()
    if M <= 1:
        return None, jnp.ones((max(M, 0),), dt)
    return jnp.arange(M, dtype=dt), None


def bartlett(M: int) -> Any:  # noqa: N803
    """The triangular window of ``M`` points."""
    n, short = _window_positions(M, "bartlett")
    return short if n is None else 1 - jnp.abs(2 * n + 1 - M) / (M - 1)


def blackman(M: int) -> Any:  # noqa: N803
    """The Blackman window of ``M`` points."""
    n, short = _window_positions(M, "blackman")
    if n is None:
        return short
    return (0.42 - 0.5 * jnp.cos(2 * math.pi * n / (M - 1))
            + 0.08 * jnp.cos(4 * math.pi * n / (M - 1)))


def hamming(M: int) -> Any:  # noqa: N803
    """The Hamming window of ``M`` points."""
    n, short = _window_positions(M, "hamming")
    return short if n is None else 0.54 - 0.46 * jnp.cos(2 * math.pi * n / (M - 1))


def hanning(M: int) -> Any:  # noqa: N803
    """The Hann window of ``M`` points."""
    n, short = _window_positions(M, "hanning")
    return short if n is None else 0.5 * (1 - jnp.cos(2 * math.pi * n / (M - 1)))


def kaiser(M: int, beta: Any) -> Any:  # noqa: N803
    """The Kaiser window of ``M`` points with shape parameter ``beta``."""
    n, short = _window_positions(M, "kaiser")
    if n is None:
        return short
    alpha = 0.5 * (M - 1)
    return jnp.i0(beta * jnp.sqrt(1 - ((n - alpha) / alpha) ** 2)) / jnp.i0(beta)
