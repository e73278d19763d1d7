"""More of ``jax.scipy.special``: the Faddeeva function, the Fresnel and sine/cosine
integrals, spherical harmonics and the Gauss hypergeometric function.

Each is built from llax.numpy operations, so it runs eagerly, under jit and vmap, and
differentiates through its custom JVP (the closed-form derivative of the function, not of
the approximation). Where a function has several regimes, every regime is evaluated and
the right one selected per element, so the code stays branch-free.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import jnp, lax
from llax.frontend.api import jit
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.scipy.special import _EULER, _inexact, _real_only
from llax.ir import dtypes

__all__ = ["fresnel", "hyp2f1", "sici", "sph_harm_y", "wofz"]

_SQRT_PI = math.sqrt(math.pi)


# ---------------------------------------------------------------------------------------------
# The Faddeeva function w(z) = exp(-z^2) erfc(-iz)


def _weideman_coefficients(n: int) -> tuple[float, np.ndarray]:
    """Weideman's (1994) rational approximation of w(z) in the upper half plane:
    w(z) = 2 p(Z) / (L - iz)^2 + 1 / (sqrt(pi) (L - iz)) with Z = (L + iz) / (L - iz) and
    p a polynomial of degree n - 1 whose coefficients (highest power first) are the Fourier
    coefficients of exp(-t^2) (L^2 + t^2) on the mapped line t = L tan(theta / 2). With
    n = 32 the relative error is below 1e-12 everywhere in the closed upper half plane."""
    m = 2 * n
    scale = math.sqrt(n / math.sqrt(2))
    theta = np.arange(-m + 1, m) * np.pi / m
    t = scale * np.tan(theta / 2)
    samples = np.concatenate([[0.0], np.exp(-t * t) * (scale * scale + t * t)])
    fourier = np.real(np.fft.fft(np.fft.fftshift(samples))) / (2 * m)
    return scale, fourier[1:n + 1][::-1].copy()


_WOFZ_L, _WOFZ_P = _weideman_coefficients(32)


def _wofz_upper(z: Any) -> Any:
    """w(z) for Im(z) >= 0."""
    iz = lax.complex(-jnp.imag(z), jnp.real(z))
    denominator = _WOFZ_L - iz
    mapped = (_WOFZ_L + iz) / denominator
    p = jnp.zeros_like(z)
    for c in _WOFZ_P.astype(jnp.real(z).dtype):
        p = p * mapped + c
    return 2 * p / (denominator * denominator) + (1 / _SQRT_PI) / denominator


@custom_jvp
def _wofz(z: Any) -> Any:
    upper = jnp.imag(z) >= 0
    w_reflected = _wofz_upper(jnp.where(upper, z, -z))
    # w(-z) = 2 exp(-z^2) - w(z) carries the lower half plane over.
    return jnp.where(upper, w_reflected, 2 * jnp.exp(-z * z) - w_reflected)


_wofz.defjvps(lambda g, w, z: g * (-2 * z * w + 2j / _SQRT_PI))


def wofz(z: Any) -> Any:
    """The Faddeeva function exp(-z^2) erfc(-iz) (complex result)."""
    (z,) = _inexact("wofz", z)
    if dtypes.kind(np.dtype(z.dtype)) != "c":
        z = lax.complex(z, jnp.zeros_like(z))
    return _wofz(z)


# ---------------------------------------------------------------------------------------------
# Fresnel integrals S(x) = int_0^x sin(pi t^2 / 2) dt, C(x) = int_0^x cos(pi t^2 / 2) dt

_FRESNEL_SERIES_BELOW = 1.5  # the Maclaurin series loses under a digit to cancellation here
_FRESNEL_ASYMPTOTIC_FROM = 6.0  # pi x^2 >= 113: 12 asymptotic terms are below float64's eps
# Where both integrals are returned as 0.5: float32 from Cephes' fresnlf's bound (as JAX),
# float64 only where pi x^2 would overflow (SciPy and JAX keep the first asymptotic term).
_FRESNEL_SATURATED_FROM = {np.dtype(np.float32): 36974.925,
                           np.dtype(np.float64): math.sqrt(np.finfo(np.float64).max / 4)}
_FRESNEL_TERMS = 16


def _half_pi_times(t: Any) -> Any:
    """pi t / 2 reduced to [-pi, pi]: t - 4 round(t / 4) is exact, so cos and sin of the
    phase pi x^2 / 2 carry only the rounding of x^2, not that of a huge multiple of pi."""
    return (math.pi / 2) * (t - 4 * jnp.round(t / 4))


def _fresnel_series(x: Any) -> tuple[Any, Any]:
    """S = sum (-1)^n u^(2n+1) x / ((2n+1)! (4n+3)), C = sum (-1)^n u^(2n) x / ((2n)! (4n+1))
    with u = pi x^2 / 2."""
    u = (math.pi / 2) * x * x
    term = x  # u^k x / k!
    s = c = jnp.zeros_like(x)
    for k in range(2 * _FRESNEL_TERMS):
        sign = 1 if k % 4 < 2 else -1
        if k % 2:
            s = s + (sign / (2 * k + 1)) * term
        else:
            c = c + (sign / (2 * k + 1)) * term
        term = term * u / (k + 1)
    return s, c


def _fresnel_faddeeva(x: Any) -> tuple[Any, Any]:
    """C + iS = (1 + i)/2 (1 - exp(i pi x^2 / 2) w((1 + i) sqrt(pi) x / 2)) for x >= 0,
    from erf's relation to the Faddeeva function (the argument of w is in the upper half
    plane, where its approximation is accurate)."""
    half_root_pi = _SQRT_PI / 2
    w = _wofz(lax.complex(half_root_pi * x, half_root_pi * x))
    phase = _half_pi_times(x * x)
    rotated = lax.complex(jnp.cos(phase), jnp.sin(phase)) * w
    one_minus_re, minus_im = 1 - jnp.real(rotated), -jnp.imag(rotated)
    # (1 + i)/2 (a + ib) = ((a - b) + i (a + b)) / 2
    return (one_minus_re + minus_im) / 2, (one_minus_re - minus_im) / 2


def _fresnel_asymptotic(x: Any, terms: int = 12) -> tuple[Any, Any]:
    """The auxiliary functions f ~ 1/(pi x) sum (-1)^m (4m-1)!! / (pi x^2)^(2m) and
    g ~ 1/(pi^2 x^3) sum (-1)^m (4m+1)!! / (pi x^2)^(2m) (DLMF 7.12), then
    C = 1/2 + f sin(pi x^2/2) - g cos(pi x^2/2), S = 1/2 - f cos(pi x^2/2) - g sin(pi x^2/2).
    Unlike the Faddeeva route, no small result comes from cancelling large terms."""
    inv_u2 = 1 / (math.pi * x * x) ** 2
    f_sum, g_sum = jnp.zeros_like(x), jnp.zeros_like(x)
    f_term = g_term = jnp.ones_like(x)
    for m in range(terms):
        f_sum, g_sum = f_sum + f_term, g_sum + g_term
        f_term = -f_term * ((4 * m + 1) * (4 * m + 3)) * inv_u2
        g_term = -g_term * ((4 * m + 3) * (4 * m + 5)) * inv_u2
    f = f_sum / (math.pi * x)
    g = g_sum / (math.pi * math.pi * x * x * x)
    phase = _half_pi_times(x * x)
    cos, sin = jnp.cos(phase), jnp.sin(phase)
    return 0.5 - f * cos - g * sin, 0.5 + f * sin - g * cos


@custom_jvp
def _fresnel(x: Any) -> tuple[Any, Any]:
    ax = jnp.abs(x)
    near = ax < _FRESNEL_SERIES_BELOW
    far = ax >= _FRESNEL_ASYMPTOTIC_FROM
    saturated = ax > _FRESNEL_SATURATED_FROM[np.dtype(x.dtype)]
    s_near, c_near = _fresnel_series(jnp.where(near, ax, 0))
    s_mid, c_mid = _fresnel_faddeeva(jnp.where(near | far, _FRESNEL_SERIES_BELOW, ax))
    s_far, c_far = _fresnel_asymptotic(jnp.where(far & ~saturated, ax, _FRESNEL_ASYMPTOTIC_FROM))
    s = jnp.where(near, s_near, jnp.where(far, jnp.where(saturated, 0.5, s_far), s_mid))
    c = jnp.where(near, c_near, jnp.where(far, jnp.where(saturated, 0.5, c_far), c_mid))
    sign = jnp.sign(x)
    return sign * s, sign * c


@_fresnel.defjvp
def _fresnel_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (g,) = primals, tangents
    phase = _half_pi_times(x * x)
    return _fresnel(x), (g * jnp.sin(phase), g * jnp.cos(phase))


def fresnel(x: Any) -> tuple[Any, Any]:
    """The Fresnel integrals (S(x), C(x)); half-precision inputs are computed in float32."""
    (x,) = _inexact("fresnel", x)
    _real_only("fresnel", x)
    if np.dtype(x.dtype).itemsize < 4:
        s, c = _fresnel(x.astype(np.float32))
        return s.astype(x.dtype), c.astype(x.dtype)
    return _fresnel(x)


# ---------------------------------------------------------------------------------------------
# Sine and cosine integrals

_SICI_SERIES_UP_TO = 4.0
_SICI_SERIES_TERMS = 20
_SICI_FRACTION_TERMS = 40  # enough for 1e-16 at x = 4; convergence only improves beyond


def _sici_series(x: Any) -> tuple[Any, Any]:
    """Si = sum (-1)^n x^(2n+1) / ((2n+1) (2n+1)!), Ci = gamma + ln x + sum_(n>=1)
    (-1)^n x^(2n) / (2n (2n)!)."""
    term = x  # x^k / k! with its sign
    si = jnp.zeros_like(x)
    ci = _EULER + jnp.log(x)
    for k in range(1, 2 * _SICI_SERIES_TERMS + 2):
        if k % 2:
            si = si + term / k
        else:
            ci = ci + term / k
        term = term * x / (k + 1) * (-1 if k % 2 else 1)
    return si, ci


def _sici_fraction(x: Any) -> tuple[Any, Any]:
    """From E1(ix) = -Ci(x) + i (Si(x) - pi/2) and the continued fraction
    E1(z) = exp(-z) / (z + 1 - 1^2 / (z + 3 - 2^2 / (z + 5 - ...))), evaluated from its tail
    in real arithmetic with z = ix."""
    re, im = jnp.full_like(x, 2 * _SICI_FRACTION_TERMS + 1), x
    for k in range(_SICI_FRACTION_TERMS, 0, -1):
        # (re, im) <- (2k - 1) + ix - k^2 / (re + i im)
        scale = (k * k) / (re * re + im * im)
        re, im = (2 * k - 1) - scale * re, x + scale * im
    # E1 = (cos x - i sin x) / (re + i im)
    norm = re * re + im * im
    cos, sin = jnp.cos(x), jnp.sin(x)
    e1_re = (cos * re - sin * im) / norm
    e1_im = (-sin * re - cos * im) / norm
    return math.pi / 2 + e1_im, -e1_re


@custom_jvp
def _sici(x: Any) -> tuple[Any, Any]:
    ax = jnp.abs(x)
    near = ax <= _SICI_SERIES_UP_TO
    si_near, ci_near = _sici_series(jnp.where(near, ax, 1))
    far = jnp.where(near | jnp.isinf(ax), 2 * _SICI_SERIES_UP_TO, ax)
    si_far, ci_far = _sici_fraction(far)
    si = jnp.where(near, si_near, jnp.where(jnp.isinf(ax), math.pi / 2, si_far))
    ci = jnp.where(near, ci_near, jnp.where(jnp.isinf(ax), 0, ci_far))
    # Ci of a negative argument is Ci(|x|) (the real part; SciPy and JAX agree), except at
    # -inf where it is NaN.
    return jnp.sign(x) * si, jnp.where(x == -np.inf, np.nan, ci)


@_sici.defjvp
def _sici_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (g,) = primals, tangents
    return _sici(x), (g * jnp.sinc(x / math.pi), g * jnp.cos(x) / x)


def sici(x: Any) -> tuple[Any, Any]:
    """The sine and cosine integrals (Si(x), Ci(x))."""
    (x,) = _inexact("sici", x)
    if dtypes.kind(np.dtype(x.dtype)) == "c":
        raise ValueError(f"Argument `x` to sici must be real-valued. Got dtype {x.dtype}.")
    # Strongly typed even for a Python scalar, as JAX's (its sici is a jitted function).
    return tuple(lax.convert(part, part.dtype, False) for part in _sici(x))


# ---------------------------------------------------------------------------------------------
# Spherical harmonics


def _normalized_legendre(n: Any, m: Any, x: Any, sin_theta: Any, n_max: int) -> Any:
    """sqrt((2n+1)/(4 pi) (n-m)!/(n+m)!) P_n^m(x) (Condon-Shortley phase included) for
    0 <= m, by the stable three-term recurrences in degree; degrees above ``n_max`` give
    degree ``n_max``'s value, as JAX's ``n_max`` clips."""
    diagonal = jnp.full_like(x, 1 / math.sqrt(4 * math.pi))
    for k in range(1, n_max + 1):  # P_m^m from P_(m-1)^(m-1)
        diagonal = jnp.where(k <= m, -math.sqrt((2 * k + 1) / (2 * k)) * sin_theta * diagonal,
                             diagonal)
    previous, current = jnp.zeros_like(x), diagonal
    mm = m * m
    for degree in range(1, n_max + 1):  # P_l^m from P_(l-1)^m and P_(l-2)^m
        active = (degree > m) & (degree <= n)
        d2 = degree * degree
        a = jnp.sqrt((4 * d2 - 1) / jnp.where(active, d2 - mm, 1))
        b = jnp.sqrt(jnp.where(active, (degree - 1) ** 2 - mm, 0) / (4 * (degree - 1) ** 2 - 1))
        following = a * (x * current - b * previous)
        previous, current = (jnp.where(active, current, previous),
                             jnp.where(active, following, current))
    return current


def sph_harm_y(n: Any, m: Any, theta: Any, phi: Any, diff_n: int | None = None,
               n_max: int | None = None) -> Any:
    """The spherical harmonic Y_n^m(theta, phi) with theta the colatitude (SciPy's
    ``sph_harm_y``); ``n_max`` is the largest degree, required under transformations."""
    if diff_n is not None:
        raise NotImplementedError(
            "The 'diff_n' argument to jax.scipy.special.sph_harm_y is not supported.")
    if n_max is None:
        try:
            n_max = int(np.max(np.asarray(n)))
        except Exception as e:  # noqa: BLE001 - a tracer has no concrete value
            raise TypeError("The `n_max` argument of `jnp.scipy.special.sph_harm` must be "
                            "statically specified to use `sph_harm` within JAX "
                            "transformations.") from e
    n_max = int(n_max)
    if np.ndim(theta) == 0:
        theta = jnp.reshape(jnp.asarray(theta), (1,))  # JAX's result is never rank 0
    theta, phi = _inexact("sph_harm_y", theta, phi)
    n, m = jnp.asarray(n), jnp.asarray(m)
    m_abs = jnp.abs(m)
    legendre = _normalized_legendre(n, m_abs, jnp.cos(theta), jnp.sin(theta), n_max)
    angle = m_abs * phi
    harmonic = lax.complex(legendre * jnp.cos(angle), legendre * jnp.sin(angle))
    # Y_n^(-m) = (-1)^m conj(Y_n^m)
    parity = jnp.where(m_abs % 2 == 1, -1.0, 1.0).astype(legendre.dtype)
    return jnp.where(m < 0, parity * jnp.conj(harmonic), harmonic)


# ---------------------------------------------------------------------------------------------
# The Gauss hypergeometric function 2F1(a, b; c; x) for real x <= 1

_HYP2F1_MAX_TERMS = 20000  # the slowest case left to the series: c-a-b an integer, x near 1
_HYP2F1_NEAR_INTEGER = 1e-3  # |c-a-b - n| below this makes the 1-x connection cancel


def _hyp2f1_series(a: Any, b: Any, c: Any, z: Any) -> Any:
    """sum_k (a)_k (b)_k / ((c)_k k!) z^k, summed until every element's term is below
    eps times its sum.

    The stopping test uses a bound on the terms in which a factor a+k or b+k of magnitude
    under 1 counts as 1: where a is a non-positive integer the terms become exactly 0, but
    their derivatives in a do not, so a forward-mode derivative needs the loop to go on as
    if the series had not ended (for |z| < 1, where that series converges)."""
    eps = float(np.finfo(z.dtype).eps)
    convergent = jnp.abs(z) < 1

    def unconverged(state: tuple) -> Any:
        k, term, total, bound = state
        small = eps * jnp.abs(total)
        return (k < _HYP2F1_MAX_TERMS) & jnp.any(
            (jnp.abs(term) > small) | (convergent & (bound > small)))

    def next_term(state: tuple) -> tuple:
        k, term, total, bound = state
        # A series that reaches (c)_k = 0 has ended before it (or is answered as a pole).
        pole = c + k == 0
        denominator = jnp.where(pole, 1, (c + k) * (k + 1))
        term = jnp.where(pole, 0, term * ((a + k) * (b + k) / denominator) * z)
        bound = jnp.where(pole, 0, bound * (jnp.maximum(jnp.abs(a + k), 1)
                                            * jnp.maximum(jnp.abs(b + k), 1)
                                            / jnp.abs(denominator)) * jnp.abs(z))
        return k + 1, term, total + term, bound

    one = jnp.ones_like(z)
    return lax.while_loop(unconverged, next_term, (jnp.zeros((), z.dtype), one, one, one))[2]


def _rgamma(x: Any) -> Any:
    """1 / Gamma(x), 0 at the poles."""
    from llax.frontend.scipy.special import gammaln, gammasgn

    pole = _is_non_positive_integer(x)
    safe = jnp.where(pole, 0.5, x)
    return jnp.where(pole, 0, gammasgn(safe) * jnp.exp(-gammaln(safe)))


def _hyp2f1_near_one(a: Any, b: Any, c: Any, z: Any) -> Any:
    """2F1 for 1/2 < z < 1 through the connection to 1 - z (DLMF 15.8.4); c-a-b must not
    be an integer."""
    from llax.frontend.scipy.special import gamma

    d = c - a - b
    w = 1 - z
    first = gamma(c) * gamma(d) * _rgamma(c - a) * _rgamma(c - b) * _hyp2f1_series(
        a, b, 1 - d, w)
    second = (w ** d * gamma(c) * gamma(-d) * _rgamma(a) * _rgamma(b)
              * _hyp2f1_series(c - a, c - b, 1 + d, w))
    return first + second


@jit  # compiled once per signature: eagerly, the series loops would dispatch op by op
def _hyp2f1_value(a: Any, b: Any, c: Any, x: Any) -> Any:
    """Every regime evaluated on safe stand-in arguments, the right one selected."""
    from llax.frontend.scipy.special import gamma

    d = c - a - b
    # 2F1 is a polynomial when a or b is a non-positive integer (the series stops), and
    # (1-x)^d times one when c-a or c-b is (Euler's transformation 2F1(a,b;c;x) =
    # (1-x)^(c-a-b) 2F1(c-a,c-b;c;x)). Both are finite for every x, even for a
    # non-positive integer c as long as the series stops before reaching (c)_k = 0.
    a, b, polynomial = _ending_first(a, b)
    euler_a, euler_b, euler = _ending_first(c - a, c - b)
    euler = euler & ~polynomial
    # Pfaff's transformation maps x < 0 into [0, 1): 2F1(a,b;c;x) =
    # (1-x)^-a 2F1(a, c-b; c; x/(x-1)); a stays the parameter that ends the series.
    negative = x < 0
    z = jnp.where(negative, x / (x - 1), x)
    b_z = jnp.where(negative, c - b, b)
    prefactor = jnp.where(negative, (1 - x) ** -a, 1)
    z_ok = jnp.where((x > 1) & ~polynomial, 0, z)  # answered below; keep the series finite
    d_z = c - a - b_z
    connect = ((z_ok > 0.5) & ~polynomial & ~euler
               & (jnp.abs(d_z - jnp.round(d_z)) > _HYP2F1_NEAR_INTEGER))
    direct = _hyp2f1_series(a, b_z, c, jnp.where(connect | euler, 0, z_ok))
    near_one = _hyp2f1_near_one(a, b_z, c, jnp.where(connect, z_ok, 0.75))
    euler_value = (1 - x) ** d * _hyp2f1_series(euler_a, euler_b, c, jnp.where(euler, x, 0))
    value = jnp.where(euler, euler_value,
                      prefactor * jnp.where(connect, near_one, direct))
    gauss = gamma(c) * gamma(jnp.where(d > 0, d, 1)) * _rgamma(c - a) * _rgamma(c - b)
    at_one = jnp.where(polynomial, value, jnp.where(d > 0, gauss, np.inf))
    ends_before_pole = (polynomial & (a > c)) | (euler & (euler_a > c))
    c_pole = _is_non_positive_integer(c) & ~ends_before_pole
    beyond_one = (x > 1) & ~polynomial & ~euler  # a branch cut: JAX returns inf there
    trivial = (x == 0) | (((a == 0) | (b == 0)) & (c != 0))
    return jnp.where(trivial, 1, jnp.where(c_pole | beyond_one, np.inf,
                                            jnp.where(x == 1, at_one, value)))


def _is_non_positive_integer(p: Any) -> Any:
    return (p <= 0) & (p == jnp.round(p))


def _ending_first(p: Any, q: Any) -> tuple[Any, Any, Any]:
    """(p, q) reordered so that p is a non-positive integer whenever one of them is (the
    larger when both are: its series ends first), and whether one is."""
    p_ends, q_ends = _is_non_positive_integer(p), _is_non_positive_integer(q)
    swap = q_ends & (~p_ends | (q > p))
    return jnp.where(swap, q, p), jnp.where(swap, p, q), p_ends | q_ends


@custom_jvp
def _hyp2f1(a: Any, b: Any, c: Any, x: Any) -> Any:
    return _hyp2f1_value(a, b, c, x)


@_hyp2f1.defjvp
def _hyp2f1_jvp(primals: tuple, tangents: tuple) -> tuple:
    # The derivatives are those of the series, term by term (forward mode through the
    # loops), computed as values for the four unit directions at once, so that the tangent
    # is linear in the input tangents (and so transposable for grad).
    from llax.frontend.autodiff import jvp
    from llax.frontend.scipy.special import gamma
    from llax.frontend.vmap import vmap

    a, b, c, x = primals
    ones = jnp.ones_like(x)

    def along(unit: Any) -> tuple:
        return jvp(_hyp2f1_value, primals, tuple(unit[i] * ones for i in range(4)))

    values, derivatives = vmap(along)(jnp.eye(4, dtype=x.dtype))
    value = values[0]
    # At x = 1 the value is Gauss's closed form, whose x derivative is (ab/c) 2F1(a+1, b+1;
    # c+1; 1), again Gauss's. For x >= 1 2F1 is finite only where the series ends: a
    # polynomial (a or b a non-positive integer), possibly times (1-x)^d (c-a or c-b one).
    # A parameter derivative there is defined only if moving that parameter leaves a
    # polynomial: moving a keeps one only through b, moving b only through a, moving c
    # through either; otherwise it is NaN.
    d1 = c - a - b - 1
    gauss_dx = jnp.where(d1 > 0, a * b / c * gamma(c + 1) * gamma(jnp.where(d1 > 0, d1, 1))
                         / (gamma(c - a) * gamma(c - b)), np.inf)
    a_ends, b_ends, ca_ends, cb_ends = (_is_non_positive_integer(p)
                                        for p in (a, b, c - a, c - b))
    ends = a_ends | b_ends | ca_ends | cb_ends
    tangent = jnp.where((x == 1) & ~ends, gauss_dx, derivatives[3]) * tangents[3]
    for i, defined in enumerate((b_ends, a_ends, a_ends | b_ends)):
        undefined = (x >= 1) & ~defined
        tangent = tangent + jnp.where(undefined, np.nan, derivatives[i]) * tangents[i]
    return value, tangent


def hyp2f1(a: Any, b: Any, c: Any, x: Any) -> Any:
    """The Gauss hypergeometric function 2F1(a, b; c; x) for real arguments (inf for x > 1,
    as JAX)."""
    a, b, c, x = _inexact("hyp2f1", a, b, c, x)
    for name, v in (("a", a), ("b", b), ("c", c), ("x", x)):
        _real_only(f"hyp2f1 ({name})", v)
    a, b, c, x = jnp.broadcast_arrays(a, b, c, x)
    return _hyp2f1(a, b, c, x)
