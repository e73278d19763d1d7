"""Polynomials, convolution, interpolation and windows of ``llax.numpy`` against JAX:
eager and jitted, float32/int32/bool, gradients and vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, check, check_many, primitive_names, sample


def _fn(make):
    return (lambda x: make(lnp, x)), (lambda x: make(jnp, x))


V = np.array([0.5, -1.0, 2.0], np.float32)

def _conv(name, mode, short_first=False):
    """``numpy_module.<name>`` of ``x`` and ``V`` (or ``V`` and ``x``) in ``mode``."""
    if short_first:
        return lambda m, x: getattr(m, name)(V, x, mode)
    return lambda m, x: getattr(m, name)(x, V, mode)


MODES = ("full", "same", "valid")
VECTOR_CASES = {
    **{f"{name} {mode}": _conv(name, mode) for name in ("convolve", "correlate")
       for mode in MODES},
    **{f"{name} short first {mode}": _conv(name, mode, True)
       for name in ("convolve", "correlate") for mode in MODES},
    "convolve even": lambda m, x: m.convolve(x, V[:2], "same"),
    "correlate self": lambda m, x: m.correlate(x, x, "full"),
    "polyval": lambda m, x: m.polyval(V, x),
    "polyval coeffs": lambda m, x: m.polyval(x, np.float32(0.75)),
    "polyval int": lambda m, x: m.polyval(x, 2),
    "polyadd": lambda m, x: m.polyadd(x, V),
    "polyadd short": lambda m, x: m.polyadd(V, x),
    "polysub": lambda m, x: m.polysub(V, x),
    "polymul": lambda m, x: m.polymul(x, V),
    "polydiv": lambda m, x: m.polydiv(x, V),
    "polyder": lambda m, x: m.polyder(x),
    "polyder 3": lambda m, x: m.polyder(x, 3),
    "polyder 0": lambda m, x: m.polyder(x, 0),
    "polyint": lambda m, x: m.polyint(x),
    "polyint k": lambda m, x: m.polyint(x, 2, k=np.float32(1.5)),
    "polyint ks": lambda m, x: m.polyint(x, 2, k=np.array([1.0, -2.0], np.float32)),
    "poly": lambda m, x: m.poly(x[:4]),
}


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_vector_functions_match_jax(dtype):
    x = sample(dtype, (7,), special=False)
    check_many({n: _fn(f) for n, f in VECTOR_CASES.items()}, x, jit=dtype == "float32")


def test_preferred_element_type_keeps_integers():
    a, b = sample("int32", (6,)), sample("int32", (3,), seed=1)
    for name in ("convolve", "correlate"):
        check(lambda a, b, n=name: getattr(lnp, n)(a, b, "full", preferred_element_type=np.int32),
              lambda a, b, n=name: getattr(jnp, n)(a, b, "full", preferred_element_type=np.int32),
              a, b)


def test_convolution_is_one_conv_general_dilated():
    names = primitive_names(lambda a: lnp.convolve(a, V), sample("float32", (9,)))
    assert names.count("conv_general_dilated") == 1
    assert "dot_general" not in names and "mul" not in names


def test_polyfit_matches_jax():
    x = np.linspace(-1, 2, 25).astype(np.float32)
    y = (3 * x ** 2 - x + 0.5 + 0.05 * np.sin(9 * x)).astype(np.float32)
    y2 = np.stack([y, 2 * y - x], axis=1)
    w = (1 + x * x).astype(np.float32)
    tol = {"rtol": 2e-3, "atol": 2e-4}
    for deg in (2, 4):
        assert_same(lnp.polyfit(x, y, deg), jnp.polyfit(x, y, deg), **tol)
    assert_same(lnp.polyfit(x, y2, 2), jnp.polyfit(x, y2, 2), **tol)
    assert_same(lnp.polyfit(x, y, 2, w=w), jnp.polyfit(x, y, 2, w=w), **tol)
    got, want = lnp.polyfit(x, y, 2, full=True), jnp.polyfit(x, y, 2, full=True)
    assert_same(got[0], want[0], **tol)
    assert_same(got[1], want[1], rtol=5e-2, atol=1e-5)  # residual: a small difference
    assert_same(got[2:], want[2:], **tol)
    for cov in (True, "unscaled"):
        assert_same(lnp.polyfit(x, y, 2, cov=cov), jnp.polyfit(x, y, 2, cov=cov),
                    rtol=5e-2, atol=1e-6)
    assert_same(lnp.polyfit(x, y2, 2, cov=True), jnp.polyfit(x, y2, 2, cov=True),
                rtol=5e-2, atol=1e-6)


def test_polyfit_jitted_rank_deficient_and_errors():
    x = np.linspace(-1, 2, 25).astype(np.float32)
    y = (3 * x ** 2 - x + 0.5 + 0.05 * np.sin(9 * x)).astype(np.float32)
    w = (1 + x * x).astype(np.float32)
    assert_same(llax.jit(lambda x, y: lnp.polyfit(x, y, 2))(x, y), jnp.polyfit(x, y, 2),
                rtol=2e-3, atol=2e-4)
    # A rank-deficient fit: rcond drops the small singular values, as JAX's lstsq does.
    flat = np.ones(6, np.float32)
    assert_same(lnp.polyfit(flat, flat * 2, 2, full=True)[2],
                jnp.polyfit(flat, flat * 2, 2, full=True)[2])
    for bad in [lambda m: m.polyfit(x, y, -1), lambda m: m.polyfit(x[:, None], y, 1),
                lambda m: m.polyfit(x, y[:-1], 1), lambda m: m.polyfit(x, y, 1, w=w[:3]),
                lambda m: m.polyfit(x[:3], y[:3], 2, cov=True)]:
        with pytest.raises(Exception) as jax_error:
            bad(jnp)
        with pytest.raises(jax_error.type):
            bad(lnp)


def test_roots_names_the_missing_eigensolver():
    # roots needs a general eigenvalue solver with complex results.
    if getattr(lnp.linalg, "eigvals", None) is None:
        with pytest.raises(NotImplementedError, match="eigvals"):
            lnp.roots(V)
    else:
        np.testing.assert_allclose(np.sort_complex(np.asarray(lnp.roots(V))),
                                   np.sort_complex(np.asarray(jnp.roots(V))), rtol=1e-5)


INTERP_X = np.array([-1.0, 0.0, 0.25, 1.0, 1.5, 2.999, 3.0, 4.5, np.nan], np.float32)
XP = np.array([0.0, 1.0, 1.0, 2.0, 3.0], np.float32)
FP = np.array([1.0, 3.0, 4.0, 2.0, 0.0], np.float32)

INTERP_CASES = {
    "default": lambda m, x: m.interp(x, XP, FP),
    "left right": lambda m, x: m.interp(x, XP, FP, left=-5.0, right=9.0),
    "extrapolate": lambda m, x: m.interp(x, XP, FP, left="extrapolate", right="extrapolate"),
    "period": lambda m, x: m.interp(x, XP[:3] * 2, FP[:3], period=2.5),
    "int fp": lambda m, x: m.interp(x, XP, np.array([1, 3, 4, 2, 0], np.int32)),
}


def test_interp_matches_jax():
    check_many({n: _fn(f) for n, f in INTERP_CASES.items()}, INTERP_X)
    check(lambda x: lnp.interp(x, XP, FP), lambda x: jnp.interp(x, XP, FP), 1.5, jit=False)
    with pytest.raises(ValueError):
        lnp.interp(INTERP_X, XP, FP[:3])
    with pytest.raises(ValueError):
        lnp.interp(INTERP_X, XP, FP, left="nope")


@pytest.mark.parametrize("size", [0, 1, 2, 7, 8])
def test_windows_match_jax(size):
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        assert_same(getattr(lnp, name)(size), getattr(jnp, name)(size), atol=1e-6)
    assert_same(lnp.kaiser(size, 4.0), jnp.kaiser(size, 4.0), rtol=1e-5, atol=1e-6)


GRADS = {
    "convolve": lambda m, x: m.sum(m.sin(m.convolve(x, x[:3], "same"))),
    "correlate": lambda m, x: m.sum(m.correlate(x, V, "full") ** 2),
    "polyval": lambda m, x: m.sum(m.polyval(x, x * 0.5)),
    "polyfit": lambda m, x: m.sum(m.polyfit(m.arange(6.0), x, 2)),
    "interp fp": lambda m, x: m.sum(m.interp(np.array([0.3, 1.7, 4.2], np.float32),
                                             np.arange(6.0), x)),
    "interp x": lambda m, x: m.sum(m.interp(x, np.arange(4.0), FP[:4] * 1.0)),
    "polydiv": lambda m, x: m.sum(m.polydiv(x, V)[0]),
    "poly": lambda m, x: m.sum(m.poly(x[:3])),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_match_jax(name):
    x = np.array([0.3, -1.7, 2.2, 0.9, -0.1, 1.3], np.float32)
    make = GRADS[name]
    want = jax.grad(lambda x: make(jnp, x))(x)
    assert_same(llax.grad(lambda x: make(lnp, x))(x), want, rtol=2e-3, atol=1e-4)


def test_vmap_matches_a_loop():
    x = sample("float32", (4, 6), special=False)
    for make in [lambda m, v: m.convolve(v, V), lambda m, v: m.polyval(v, 1.5),
                 lambda m, v: m.interp(v, XP, FP), lambda m, v: m.polyder(v, 2),
                 lambda m, v: m.correlate(V, v, "same")]:
        f = lambda v, make=make: make(lnp, v)  # noqa: E731
        got = llax.vmap(f)(x)
        assert_same(got, lnp.stack([f(v) for v in x]), rtol=1e-5)
        assert_same(got, jax.vmap(lambda v, make=make: make(jnp, v))(x), rtol=1e-5, atol=1e-6)


def test_polyadd_of_bools_and_interp_of_complex_x_are_refused_as_in_jax():
    flags = np.array([True]), np.array([False, True])
    for lib in (jnp, lnp):
        with pytest.raises(TypeError):
            lib.polyadd(*flags)
        with pytest.raises(ValueError, match="complex x values not supported"):
            lib.interp(np.array([1j], np.complex64), np.arange(3.0), np.arange(3.0))
