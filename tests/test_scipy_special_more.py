"""wofz, fresnel, sici, sph_harm_y and hyp2f1 against SciPy (the accurate oracle), JAX (the
behaviour to match), derivatives against closed forms or finite differences, jit and vmap."""

import itertools

import jax
import jax.numpy as jjnp
import jax.scipy.special as jsp
import numpy as np
import pytest
import scipy.special as ss

import llax
import llax.numpy as jnp
import llax.scipy.special as lsp


@pytest.fixture
def x64():
    llax.config.update("jax_enable_x64", True)
    yield
    llax.config.update("jax_enable_x64", False)


def _close(actual, expected, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=atol)


# -- wofz ------------------------------------------------------------------------------------

_PLANE = (np.linspace(-9, 9, 37)[:, None] + 1j * np.linspace(-2.5, 9, 24)[None, :]).ravel()


def test_wofz_matches_scipy_over_the_plane(x64):
    edge = np.array([0, 1e-12, -1e-12j, 30 + 0j, -30 + 1e-3j, 1e4j, 5 - 0.5j])
    z = np.concatenate([_PLANE, edge])
    _close(lsp.wofz(z), ss.wofz(z), rtol=2e-12)


def test_wofz_float32_jit_vmap_and_real_input_match_jax():
    z = _PLANE.astype(np.complex64)
    expected = np.asarray(jsp.wofz(z))
    _close(lsp.wofz(z), expected, rtol=2e-5, atol=1e-6)
    _close(llax.jit(lsp.wofz)(z), expected, rtol=2e-5, atol=1e-6)
    _close(llax.vmap(lsp.wofz)(z[:8]), expected[:8], rtol=2e-5, atol=1e-6)
    real = np.linspace(-4, 4, 9, dtype=np.float32)
    out = lsp.wofz(real)
    assert out.dtype == np.complex64
    _close(out, np.asarray(jsp.wofz(real)), rtol=2e-5, atol=1e-6)


def test_wofz_derivative_matches_jax():
    z = np.complex64(0.7 + 0.3j)
    for part, jpart in ((jnp.real, jjnp.real), (jnp.imag, jjnp.imag), (jnp.abs, jjnp.abs)):
        got = llax.grad(lambda t, part=part: part(lsp.wofz(t)))(z)
        want = jax.grad(lambda t, jpart=jpart: jpart(jsp.wofz(t)))(z)
        _close(got, np.asarray(want), rtol=1e-5)
    holomorphic = llax.grad(lsp.wofz, holomorphic=True)(z)
    _close(holomorphic, np.asarray(jax.grad(jsp.wofz, holomorphic=True)(z)), rtol=1e-5)


# -- fresnel and sici ----------------------------------------------------------------------

_EDGES = [0.0, -0.0, 1e-300, 1e-8, 1.4999, 1.5, 5.999, 6.0, 1e3, 3e4, 1e6, np.inf, -np.inf]


@pytest.mark.parametrize("name", ["fresnel", "sici"])
def test_float64_matches_scipy(name, x64):
    x = np.concatenate([np.linspace(-60, 60, 1201), np.geomspace(1e-6, 1e4, 200), _EDGES])
    got = getattr(lsp, name)(x)
    want = getattr(ss, name)(x)
    for g, w in zip(got, want):
        g = np.asarray(g)
        finite = np.isfinite(w)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_array_equal(g[~finite & ~np.isnan(w)], w[~finite & ~np.isnan(w)])
        # Relative where the value is O(1); absolute near Ci's zero (no relative accuracy
        # there in any method) and at large x, where the phase pi x^2 / 2 carries the
        # rounding of x^2 (SciPy's error and ours differ there, both ~1e-12).
        np.testing.assert_allclose(g[finite], w[finite], rtol=2e-12, atol=2e-12)


@pytest.mark.parametrize("name", ["fresnel", "sici"])
def test_float32_matches_jax_on_its_accurate_range(name):
    x = np.concatenate([np.linspace(-10, 10, 801), [0, -0.0, 1e-20, 1e-3]]).astype(np.float32)
    want = getattr(jsp, name)(x)
    for fn in (getattr(lsp, name), llax.jit(getattr(lsp, name))):
        for g, w in zip(fn(x), want):
            assert g.dtype == np.float32
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6)


def test_fresnel_saturates_and_keeps_half_precision_dtypes():
    x = np.array([4e4, 1e7, np.inf, -np.inf], np.float32)
    s, c = lsp.fresnel(x)
    np.testing.assert_array_equal(np.asarray(s), [0.5, 0.5, 0.5, -0.5])
    np.testing.assert_array_equal(np.asarray(c), [0.5, 0.5, 0.5, -0.5])
    half = np.linspace(-3, 3, 7).astype(np.float16)
    s16, c16 = lsp.fresnel(half)
    assert s16.dtype == c16.dtype == np.float16
    _close(s16.astype(np.float32), ss.fresnel(half.astype(np.float64))[0], rtol=2e-3, atol=1e-3)


def test_sici_special_values_and_complex_input():
    si, ci = lsp.sici(np.array([0.0, np.inf, -np.inf], np.float32))
    np.testing.assert_array_equal(np.asarray(si), np.float32([0, np.pi / 2, -np.pi / 2]))
    assert np.asarray(ci)[0] == -np.inf and np.asarray(ci)[1] == 0 and np.isnan(ci[2])
    with pytest.raises(ValueError, match="sici must be real-valued"):
        lsp.sici(np.complex64(1))
    with pytest.raises(ValueError, match="complex"):
        lsp.fresnel(np.complex64(1))


@pytest.mark.parametrize("name, derivatives", [
    # (the phase reduced modulo 2 pi exactly first: cos(40.5 pi) is 0, not NumPy's 1e-14)
    ("fresnel", (lambda x: np.sin(np.pi / 2 * np.fmod(x * x, 4)),
                 lambda x: np.cos(np.pi / 2 * np.fmod(x * x, 4)))),
    ("sici", (lambda x: np.sinc(x / np.pi), lambda x: np.cos(x) / x)),
])
def test_derivatives_are_the_integrands(name, derivatives, x64):
    x = np.array([-7.3, -2.0, -0.4, 0.3, 1.2, 1.6, 4.5, 9.0])
    fn = getattr(lsp, name)
    for k, derivative in enumerate(derivatives):
        got = llax.vmap(llax.grad(lambda t, k=k: fn(t)[k]))(x)
        _close(got, derivative(x), rtol=1e-12, atol=1e-14)
        jitted = llax.jit(llax.vmap(llax.grad(lambda t, k=k: fn(t)[k])))(x)
        _close(jitted, derivative(x), rtol=1e-12, atol=1e-14)


# -- sph_harm_y ----------------------------------------------------------------------------


def test_sph_harm_y_matches_scipy_for_every_order(x64):
    pairs = [(n, m) for n in range(9) for m in range(-n, n + 1)]
    n, m = (np.array(v) for v in zip(*pairs))
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, np.pi, len(n))
    theta[:3] = [0.0, np.pi, np.pi / 2]
    phi = rng.uniform(0, 2 * np.pi, len(n))
    _close(lsp.sph_harm_y(n, m, theta, phi), ss.sph_harm_y(n, m, theta, phi), rtol=1e-11,
           atol=1e-13)


def test_sph_harm_y_float32_jit_grad_and_n_max_match_jax():
    n, m = np.array([2, 3, 5, 5]), np.array([1, -2, 0, -5])
    theta = np.array([0.3, 1.0, 2.2, 2.9], np.float32)
    phi = np.array([0.5, 2.0, 4.0, 6.1], np.float32)
    want = np.asarray(jsp.sph_harm_y(n, m, theta, phi))
    got = lsp.sph_harm_y(n, m, theta, phi)
    assert got.dtype == np.complex64
    _close(got, want, rtol=1e-5, atol=1e-6)
    jitted = llax.jit(lambda t, p: lsp.sph_harm_y(n, m, t, p, n_max=5))(theta, phi)
    _close(jitted, want, rtol=1e-5, atol=1e-6)
    # n_max below the true degree clips the degree to n_max, as JAX documents.
    _close(lsp.sph_harm_y(n, m, theta, phi, n_max=3),
           np.asarray(jsp.sph_harm_y(n, m, theta, phi, n_max=3)), rtol=1e-5, atol=1e-6)

    def power(sph, abs_, sum_):
        return lambda t: sum_(abs_(sph(n, m, t, phi, n_max=5)) ** 2 * np.arange(1, 5))

    _close(llax.grad(power(lsp.sph_harm_y, jnp.abs, jnp.sum))(theta),
           np.asarray(jax.grad(power(jsp.sph_harm_y, jjnp.abs, jjnp.sum))(theta)),
           rtol=1e-4, atol=1e-5)
    # A scalar theta gives a rank-1 result, as in JAX.
    assert lsp.sph_harm_y(2, 1, 0.3, 0.5).shape == jsp.sph_harm_y(
        np.array([2]), np.array([1]), 0.3, 0.5).shape == (1,)


def test_sph_harm_y_errors():
    with pytest.raises(NotImplementedError, match="diff_n"):
        lsp.sph_harm_y(1, 0, 0.1, 0.2, diff_n=1)
    with pytest.raises(TypeError, match="n_max"):
        llax.jit(lambda n: lsp.sph_harm_y(n, 0, 0.1, 0.2))(np.array([1]))


# -- hyp2f1 --------------------------------------------------------------------------------

_PARAMS = [-2.5, -2.0, -1.0, 0.3, 0.5, 1.0, 1.5, 3.2]
_XS = [-5.0, -1.5, -1.0, -0.7, -0.2, 0.0, 0.2, 0.45, 0.55, 0.7, 0.9, 0.95, 0.99, 1.0, 1.2]


def _grid():
    cs = [p for p in _PARAMS if p not in (-2.0, -1.0)] + [-2.0, 2.0, 4.0]
    return [np.array(v) for v in zip(*itertools.product(_PARAMS, _PARAMS, cs, _XS))]


def _ambiguous(a, b, c, x):
    """a or b equal to a non-positive integer c (and x != 0), with no other parameter
    ending the series before it: (c)_k and (a)_k reach 0 together."""
    def end(p):
        return np.where((p <= 0) & (p == np.round(p)), p, -np.inf)

    c_pole = (c <= 0) & (c == np.round(c))
    return c_pole & ((a == c) | (b == c)) & (x != 0) & ~(np.maximum(end(a), end(b)) > c)


def _polynomial_value(a, b, c, x):
    """The terminating series summed exactly term by term, NaN where it does not end (or
    meets (c)_k = 0 first)."""
    out = np.full(len(a), np.nan)
    for i, (ai, bi, ci, xi) in enumerate(zip(a, b, c, x)):
        term, total = 1.0, 1.0
        for k in range(50):
            if term == 0:
                out[i] = total
                break
            if ci + k == 0:
                break
            term *= (ai + k) * (bi + k) / ((ci + k) * (k + 1)) * xi
            total += term
    return out


def test_hyp2f1_matches_scipy_on_a_grid_of_regimes(x64):
    """Every regime: the direct series, Pfaff's x < 0, the connection to 1 - x, c-a-b an
    integer near x = 1, polynomials (a, b, c-a or c-b a non-positive integer) at every x,
    x = 1 (Gauss), and non-positive integer c."""
    a, b, c, x = _grid()
    got = np.asarray(lsp.hyp2f1(a, b, c, x))
    want = ss.hyp2f1(a, b, c, x)
    # a or b equal to a non-positive integer c is 0/0 in the series: SciPy takes the limit
    # c -> a, (1-x)^-b; JAX and llax answer inf, as for any pole of c.
    ambiguous = _ambiguous(a, b, c, x)
    assert np.all(np.isinf(got[ambiguous]))
    got, want = got[~ambiguous], want[~ambiguous]
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9, atol=1e-14)
    # Where SciPy has no finite real value (beyond the branch cut x > 1, or a pole), llax
    # has none either (inf as JAX), except where the series ends before any pole: there
    # the value is a polynomial's (SciPy gives NaN for some of those at x = 1).
    polynomial = _polynomial_value(a[~ambiguous], b[~ambiguous], c[~ambiguous],
                                   x[~ambiguous])
    assert not np.any(np.isfinite(got[~finite & np.isnan(polynomial)]))
    ends = ~finite & ~np.isnan(polynomial)
    assert ends.any()
    np.testing.assert_allclose(got[ends], polynomial[ends], rtol=1e-12, atol=1e-14)


def test_hyp2f1_float32_jit_and_vmap(x64):
    a, b, c, x = (v[::7] for v in _grid())
    want = ss.hyp2f1(a, b, c, x)
    want[_ambiguous(a, b, c, x)] = np.inf  # as above
    llax.config.update("jax_enable_x64", False)
    args = [v.astype(np.float32) for v in (a, b, c, x)]
    for fn in (lsp.hyp2f1, llax.jit(llax.vmap(lsp.hyp2f1))):
        got = fn(*args)
        assert got.dtype == np.float32
        finite = np.isfinite(want) & (np.abs(want) < 1e6)
        np.testing.assert_allclose(np.asarray(got)[finite], want[finite], rtol=5e-4, atol=1e-5)


def test_hyp2f1_matches_jax_where_jax_is_right():
    a, b, c = np.float32(0.5), np.float32(1.5), np.float32(2.5)
    x = np.array([0.1, 0.6, 0.95], np.float32)  # JAX's float32 is inf for some x < 0
    _close(lsp.hyp2f1(a, b, c, x), np.asarray(jsp.hyp2f1(a, b, c, x)), rtol=1e-5)
    assert np.isinf(np.asarray(lsp.hyp2f1(a, b, c, np.float32(1.5))))
    assert np.asarray(lsp.hyp2f1(a, b, c, np.float32(0))) == 1


_hyp2f1_gradient = llax.jit(llax.grad(lsp.hyp2f1, argnums=(0, 1, 2, 3)))  # compiled once


@pytest.mark.parametrize("point", [
    (0.5, 1.5, 2.5, 0.3), (0.5, 1.5, 2.5, -2.0), (1.3, 0.7, 3.1, 0.8), (1.3, 0.7, 3.1, -0.4),
    (0.3, 0.5, 1.5, 0.95), (-2.0, 1.5, 0.5, 0.7), (-2.0, 1.5, 0.5, -0.7), (1.5, -3.0, 0.5, 0.4),
    (0.5, 1.0, -2.5, 0.6),
])
def test_hyp2f1_gradient_matches_finite_differences(point, x64):
    got = _hyp2f1_gradient(*map(np.float64, point))
    step = 1e-6
    for i, g in enumerate(got):
        up, down = list(point), list(point)
        up[i] += step
        down[i] -= step
        fd = (ss.hyp2f1(*up) - ss.hyp2f1(*down)) / (2 * step)
        np.testing.assert_allclose(float(g), fd, rtol=1e-6, atol=1e-8)


def test_hyp2f1_derivative_in_the_ending_parameter_beyond_x_1_is_nan(x64):
    """At integer a the series ends, so F is a polynomial, defined for x > 1 and smooth in
    b, c and x; but for a nearby non-integer a it is not defined there: d/da is NaN (JAX's
    is NaN at every integer a)."""
    da, db, dc, dx = _hyp2f1_gradient(-2.0, 1.5, 0.5, 1.2)
    assert np.isnan(float(da))
    # F = 1 + 2 (-b/c) x + b(b+1)/(c(c+1)) x^2 for a = -2 (= 1 - 6x + 5x^2 here).
    b, c, x = 1.5, 0.5, 1.2
    np.testing.assert_allclose(float(dx), -2 * b / c + 2 * b * (b + 1) / (c * (c + 1)) * x)
    np.testing.assert_allclose(float(db), -2 * x / c + (2 * b + 1) / (c * (c + 1)) * x * x)
    np.testing.assert_allclose(float(dc), 2 * b * x / c**2
                               - b * (b + 1) * (2 * c + 1) / (c * (c + 1)) ** 2 * x * x)
