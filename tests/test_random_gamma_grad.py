"""Gradients of gamma-based samplers (implicit reparameterisation) and the incomplete gamma
functions under them, against live JAX 0.10.2, SciPy and Monte Carlo identities.

Tolerances, and why:

- ``lax.random_gamma_grad`` / ``igamma_grad_a`` / ``igamma`` / ``igammac`` agree with
  JAX's bit for bit for about 90% of arguments, and otherwise within a few ulps
  (<= 15 seen in float32 and float64 on the grid below). The residue is XLA's
  fusion: which products its CPU compiler contracts into fused multiply-adds
  depends on how it splits a loop body into kernels, and JAX's own values for
  the same arguments differ that much between an array call and ``lax.map``
  over elements (asserted below). Bound: 64 ulps of max(|value|, 1).
- Gradients of gamma draws: the draws themselves may differ from JAX's in
  their last bits (XLA's float32 ``1/sqrt`` is an estimate refined by a Newton
  step), so the gradient is evaluated at a slightly different point too.
  Bound: relative 2e-5 in float32 (max seen ~2e-6), 1e-12 in float64.
- The implicit formula -(dP/da) / (dP/dx) as an independent oracle: dP/dx in
  closed form, dP/da by central differences of ``scipy.special.gammainc`` in
  float64 (truncation error ~h^2, rounding ~1e-16/h: ~1e-9 relative).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
import scipy.special as sc

import llax
from llax import random
from tests.jnp_oracle import x64_mode

F32, F64 = np.float32, np.float64


def arr(x) -> np.ndarray:
    return np.asarray(x)


def scaled_ulps(want, got) -> float:
    """Largest |want - got| in ulps of max(|want|, 1); NaNs must agree."""
    want, got = arr(want), arr(got)
    assert want.dtype == got.dtype and want.shape == got.shape
    np.testing.assert_array_equal(np.isnan(want), np.isnan(got))
    ok = ~np.isnan(want) & (want != got)
    if not ok.any():
        return 0.0
    scale = np.spacing(np.maximum(np.abs(want[ok]), 1).astype(want.dtype)).astype(F64)
    return float(np.max(np.abs(want[ok].astype(F64) - got[ok].astype(F64)) / scale))


def max_rel(want, got) -> float:
    want, got = arr(want).astype(F64), arr(got).astype(F64)
    np.testing.assert_array_equal(np.isnan(want), np.isnan(got))
    ok = ~np.isnan(want)
    return float(np.max(np.abs(want[ok] - got[ok]) / np.maximum(np.abs(want[ok]), 1e-30)))


SPECIAL_A = [0.0, -1.0, 2.0, 2.0, np.nan, 2.0, 0.5, 3.0, 1e-3, 1e4]
SPECIAL_X = [1.0, 1.0, 0.0, -1.0, 1.0, np.nan, np.inf, 1e-30, 1e-3, 1e4]


@functools.cache
def grid(dtype) -> tuple[np.ndarray, np.ndarray]:
    """Shapes a over [e^-4, e^4] and x around a (both expansions), plus small x; the last
    ten pairs are special values (zeros, negatives, NaN, infinity, tiny, huge)."""
    rng = np.random.default_rng(0)
    n = 500
    a = np.exp(rng.uniform(-4, 4, n))
    x = a * np.exp(rng.normal(0, 1, n))
    x[:100] = np.exp(rng.uniform(-6, 4, 100))
    a, x = np.append(a, SPECIAL_A), np.append(x, SPECIAL_X)
    with np.errstate(under="ignore"):
        return a.astype(dtype), x.astype(dtype)


FUNCTIONS = ["random_gamma_grad", "igamma_grad_a", "igamma", "igammac"]


@functools.cache
def on_grid(lib, dtype) -> dict[str, np.ndarray]:
    """The four functions of ``lib`` (jax or llax) on the grid, in one compiled program."""
    m = jax if lib == "jax" else llax
    with x64_mode(dtype == F64):
        a, x = grid(dtype)
        outs = m.jit(lambda a, x: [getattr(m.lax, f)(a, x) for f in FUNCTIONS])(a, x)
        return {f: arr(o) for f, o in zip(FUNCTIONS, outs)}


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_lax_functions_vs_jax(name, dtype):
    want, got = on_grid("jax", dtype)[name], on_grid("llax", dtype)[name]
    assert got.dtype == dtype
    assert np.mean(want == got) > 0.75
    assert scaled_ulps(want, got) <= 64
    # The special values on their own (NaN where JAX has NaN is checked by scaled_ulps).
    np.testing.assert_array_equal(np.isinf(got[-10:]), np.isinf(want[-10:]))


def test_jax_itself_varies_with_fusion():
    """The justification of the ulp bound: JAX's own values move by ulps between an array
    call and an element-by-element map (XLA fuses the loop bodies differently)."""
    a, x = (v[:-10] for v in grid(F32))
    f = jax.lax.random_gamma_grad
    whole = arr(jax.jit(f)(a, x))
    mapped = arr(jax.jit(lambda a, x: jax.lax.map(lambda ax: f(*ax), (a, x)))(a, x))
    assert np.mean(whole != mapped) > 0.01
    assert scaled_ulps(whole, mapped) <= 64


@pytest.mark.parametrize("dtype", [F32, F64])
def test_igamma_vs_scipy(dtype):
    with x64_mode(dtype == F64):
        a, x = (v[:-10] for v in grid(dtype))
        p, q = (on_grid("llax", dtype)[f][:-10] for f in ("igamma", "igammac"))
        # x^a e^-x / Gamma(a) is exp of a sum of terms of size |a log x|, x, lgamma(a):
        # their rounding (eps each) is the relative error of the result.
        eps = np.finfo(dtype).eps
        a64, x64 = a.astype(F64), x.astype(F64)
        size = 1 + np.abs(a64 * np.log(x64)) + x64 + np.abs(sc.gammaln(a64))
        for got, want in ((p, sc.gammainc(a64, x64)), (q, sc.gammaincc(a64, x64))):
            err = np.abs(got - want)
            assert np.all(err <= 8 * eps * (np.abs(want) * size + 1)), np.max(
                err / (np.abs(want) * size + 1)) / eps


def implicit_oracle(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """-(dP/da) / (dP/dx) from SciPy in float64: dP/da by central differences."""
    a, x = a.astype(F64), x.astype(F64)
    h = 1e-5 * a
    dp_da = (sc.gammainc(a + h, x) - sc.gammainc(a - h, x)) / (2 * h)
    log_density = (a - 1) * np.log(x) - x - sc.gammaln(a)
    return -dp_da / np.exp(log_density)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_random_gamma_grad_vs_scipy_oracle(dtype):
    with x64_mode(dtype == F64):
        a, x = (v[:-10] for v in grid(dtype))
        got = on_grid("llax", dtype)["random_gamma_grad"][:-10]
        keep = (x > 1e-3) & (sc.gammainc(a, x) > 1e-6) & (sc.gammaincc(a, x) > 1e-6)
        a, x, got = a[keep], x[keep], got[keep]
        rtol = 2e-4 if dtype == F32 else 1e-6
        np.testing.assert_allclose(got, implicit_oracle(a, x), rtol=rtol)


def test_broadcasting_and_errors():
    got = arr(llax.lax.random_gamma_grad(F32(2.0), np.ones(3, F32)))
    np.testing.assert_array_equal(got, arr(jax.lax.random_gamma_grad(F32(2.0),
                                                                      np.ones(3, F32))))
    with pytest.raises(TypeError, match="does not accept dtype int32 at position 0"):
        llax.lax.igamma(np.int32(1), F32(1))
    with pytest.raises(TypeError, match="incompatible shapes"):
        llax.lax.igamma(np.ones(2, F32), np.ones(3, F32))


def test_igamma_derivatives_vs_jax():
    a = np.array([0.3, 1.0, 2.5, 7.0, 40.0], F32)
    x = np.array([0.1, 2.0, 2.0, 9.0, 35.0], F32)
    for name in ["igamma", "igammac"]:
        jf, lf = getattr(jax.lax, name), getattr(llax.lax, name)
        want = jax.grad(lambda a, x, f=jf: f(a, x).sum(), (0, 1))(a, x)
        got = llax.jit(llax.grad(lambda a, x, f=lf: f(a, x).sum(), (0, 1)))(a, x)
        for w, g in zip(want, got):
            assert max_rel(w, g) < 2e-5, name


# ---------------------------------------------------------------------------------------------
# Gradients of the samplers


ALPHAS = np.array([0.05, 0.3, 1.0, 2.5, 7.0, 40.0, 0.7, 1.5], F32)


def _sampler_losses(m):
    """Scalar losses of the samplers' parameters under library ``m`` (llax or jax)."""
    w = np.linspace(0.5, 1.5, ALPHAS.size).astype(F32)
    return {
        "gamma": lambda a: (m.random.gamma(m.random.key(0), a) * w).sum(),
        "gamma_shape": lambda a: m.random.gamma(m.random.key(3), a[:3], (4, 3)).sum(),
        "loggamma": lambda a: (m.random.loggamma(m.random.key(1), a) * w).sum(),
        "beta": lambda a: (m.random.beta(m.random.key(2), a, a[::-1] * 2) * w).sum(),
        "dirichlet": lambda a: (m.random.dirichlet(m.random.key(4), a.reshape(2, 4))
                                * w.reshape(2, 4)).sum(),
    }


# float64 for gamma and loggamma (its own log-space draw); beta and dirichlet are ratios of
# those gamma draws, in float32.
@pytest.mark.parametrize("which,dtype", [("gamma", F32), ("gamma", F64), ("loggamma", F32),
                                         ("loggamma", F64), ("gamma_shape", F32),
                                         ("beta", F32), ("dirichlet", F32)])
def test_sampler_grads_vs_jax(which, dtype):
    with x64_mode(dtype == F64):
        a = ALPHAS.astype(dtype)
        want = arr(jax.grad(_sampler_losses(jax)[which])(a))
        got = arr(llax.grad(_sampler_losses(llax)[which])(a))
        assert got.dtype == dtype
        assert max_rel(want, got) < (2e-5 if dtype == F32 else 1e-12)


@pytest.mark.parametrize("log_space", [False, True])
def test_gamma_grad_is_the_implicit_derivative(log_space):
    """At llax's own draws, d draw / d a equals SciPy's -(dP/da)/(dP/dx) (divided by the
    draw in log space)."""
    with x64_mode(True):
        a = np.array([0.2, 0.8, 1.0, 3.0, 12.0, 60.0] * 3, F64)
        k = random.key(7)
        f = random.loggamma if log_space else random.gamma
        draws = arr(f(k, a))
        grads = arr(llax.grad(lambda a: f(k, a).sum())(a))
        x = np.exp(draws) if log_space else draws
        want = implicit_oracle(a, x)
        if log_space:
            want = want / x
        np.testing.assert_allclose(grads, want, rtol=1e-6)


def test_gamma_grad_under_jit_and_vmap():
    keys = random.split(random.key(5), 4)
    a = np.array([0.4, 2.0, 9.0], F32)

    def loss(k, a):
        return random.gamma(k, a).sum()

    per_key = np.stack([arr(llax.grad(loss, 1)(k, a)) for k in keys])
    np.testing.assert_array_equal(arr(llax.jit(llax.grad(loss, 1))(keys[0], a)), per_key[0])
    # The gradient of a vmapped sampler (over keys and over the parameter), against JAX.
    summed = llax.jit(llax.grad(lambda a: llax.vmap(loss, (0, None))(keys, a).sum()))(a)
    np.testing.assert_allclose(arr(summed), per_key.sum(0), rtol=1e-6)
    jkeys = jax.random.split(jax.random.key(5), 4)
    a_batch = np.stack([a, a * 2, a / 2, a + 1])
    want = jax.grad(lambda a: jax.vmap(lambda k, a: jax.random.loggamma(k, a))(jkeys, a).sum())(
        a_batch)
    got = llax.grad(lambda a: llax.vmap(lambda k, a: random.loggamma(k, a))(keys, a).sum())(
        a_batch)
    assert max_rel(want, got) < 2e-5
    # vmap of grad: the loop body's constants (the counters of the draw) stay constants of
    # the batched loop (they once became captured inputs, which batching refuses).
    a_pair = np.array([0.5, 2.0], F32)
    want = jax.vmap(jax.grad(lambda a: jax.random.gamma(jax.random.key(0), a).sum()))(a_pair)
    got = llax.vmap(llax.grad(lambda a: random.gamma(random.key(0), a).sum()))(a_pair)
    assert max_rel(want, got) < 2e-5
    # Forward mode, and vmap of it: the same numbers.
    _, tangent = llax.jvp(lambda a: random.gamma(keys[0], a), (a,), (np.ones_like(a),))
    np.testing.assert_allclose(arr(tangent), per_key[0], rtol=1e-6)
    tangents = llax.vmap(lambda k: llax.jvp(lambda a: random.gamma(k, a), (a,),
                                            (np.ones_like(a),))[1])(keys)
    np.testing.assert_allclose(arr(tangents), per_key, rtol=1e-6)


@pytest.mark.parametrize("which", ["gamma", "loggamma", "beta"])
def test_mean_gradient_matches_the_mean_derivative(which):
    """E[d draw/da] = d E[draw]/da: 1 for gamma, trigamma(a) for loggamma, b/(a+b)^2 for
    beta (Monte Carlo over 20000 draws; the bound is 5 standard errors)."""
    n, a0, b0 = 20000, F32(1.7), F32(2.3)
    a = np.full(n, a0, F32)
    k = random.key(11)
    if which == "gamma":
        g, want = llax.grad(lambda a: random.gamma(k, a).sum())(a), 1.0
    elif which == "loggamma":
        g, want = llax.grad(lambda a: random.loggamma(k, a).sum())(a), sc.polygamma(1, a0)
    else:
        g = llax.grad(lambda a: random.beta(k, a, b0).sum())(a)
        want = b0 / (a0 + b0) ** 2
    g = arr(g).astype(F64)
    assert abs(g.mean() - want) < 5 * g.std() / np.sqrt(n)
