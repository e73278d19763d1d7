"""Derivatives of lax.lgamma and lax.digamma: JAX's rules (lgamma' = digamma, digamma' =
polygamma(1, .)), not derivatives of XLA's formulas (whose log has none: it is built from
bit manipulation). Oracles: JAX, and mpmath for polygamma(1, x) where JAX's is wrong (x < 0)."""

import jax
import mpmath
import numpy as np
import pytest

import llax
from llax.tests.jnp_oracle import x64_mode

POSITIVE = np.array([1e-3, 0.3, 0.5, 1.0, 2.3, 7.5, 100.0, 3e4], np.float32)
NEGATIVE = np.array([-9.9, -5.25, -2.5, -0.5, -0.1], np.float32)


@pytest.mark.parametrize("name", ["lgamma", "digamma"])
@pytest.mark.parametrize("jit", [False, True])
def test_grad_matches_jax(name, jit):
    xs = np.concatenate([POSITIVE, NEGATIVE]) if name == "lgamma" else POSITIVE
    g = llax.vmap(llax.grad(getattr(llax.lax, name)))
    ours = np.asarray((llax.jit(g) if jit else g)(xs))
    theirs = np.asarray(jax.vmap(jax.grad(getattr(jax.lax, name)))(xs))
    np.testing.assert_allclose(ours, theirs, rtol=2e-6)


@pytest.mark.parametrize("x64", [False, True])
def test_digamma_derivative_is_trigamma(x64):
    with x64_mode(x64):
        dtype = np.float64 if x64 else np.float32
        xs = np.concatenate([POSITIVE, NEGATIVE, np.linspace(-20.3, 50, 97)]).astype(dtype)
        ours = np.asarray(llax.vmap(llax.grad(llax.lax.digamma))(xs))
        ref = np.array([float(mpmath.psi(1, float(x))) for x in xs])
        np.testing.assert_allclose(ours, ref, rtol=1e-10 if x64 else 4e-7)


def test_second_derivative_of_lgamma():
    ours = float(llax.grad(llax.grad(llax.lax.lgamma))(2.3))
    assert ours == pytest.approx(float(mpmath.psi(1, 2.3)), rel=1e-6)


def test_values_unchanged():
    # (The values are XLA's bits for x > 0; the reflection below 0 can differ by an ulp.)
    x = np.linspace(0.05, 30, 701, dtype=np.float32)
    for name in ("lgamma", "digamma"):
        np.testing.assert_array_equal(np.asarray(llax.jit(getattr(llax.lax, name))(x)),
                                      np.asarray(jax.jit(getattr(jax.lax, name))(x)))
