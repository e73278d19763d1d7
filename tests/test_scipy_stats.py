"""llax.scipy.stats against jax.scipy.stats (jax 0.10.2 as the oracle): every function
of every family JAX has, on float32 arguments inside and outside the support, eager and
jitted; promotion of int32 and Python scalars; broadcasting; gradients against JAX's;
vmap against a loop; multivariate_normal and dirichlet shapes."""

from __future__ import annotations

import functools

import jax
import jax.scipy.stats as JS
import numpy as np
import pytest

import llax
import llax.scipy.stats as LS

_rng = np.random.default_rng(7)
X = _rng.uniform(-3, 3, 16).astype(np.float32)
P = _rng.uniform(0.01, 0.99, 16).astype(np.float32)
POS = _rng.uniform(0.1, 5, 16).astype(np.float32)
K = np.floor(_rng.uniform(0, 8, 16)).astype(np.float32)

CASES = {
    "norm": {"logpdf": (X, 0.5, 2.0), "pdf": (X,), "cdf": (X, 1.0, 2.0), "logcdf": (X * 3,),
             "ppf": (P, 1.0, 2.0), "sf": (X,), "logsf": (X * 3,), "isf": (P,)},
    "t": {"logpdf": (X, POS, 0.2, 1.5), "pdf": (X, POS)},
    "uniform": {"logpdf": (X, -1.0, 2.0), "pdf": (X, -1.0, 2.0), "cdf": (X, -1.0, 2.0),
                "ppf": (P * 1.2, -1.0, 2.0)},
    "laplace": {"logpdf": (X, 0.3, 2.0), "pdf": (X,), "cdf": (X, 0.3, 2.0)},
    "logistic": {"logpdf": (X, 0.3, 2.0), "pdf": (X,), "cdf": (X,), "sf": (X,), "ppf": (P,),
                 "isf": (P,)},
    "cauchy": {"logpdf": (X, 0.3, 2.0), "pdf": (X,), "cdf": (X,), "logcdf": (X,), "sf": (X,),
               "logsf": (X,), "ppf": (P,), "isf": (P,)},
    "expon": {"logpdf": (X, -1.0, 2.0), "pdf": (X,), "cdf": (X, -1.0, 2.0),
              "logcdf": (POS,), "sf": (X,), "logsf": (X,), "ppf": (P,)},
    "gamma": {"logpdf": (X, POS), "pdf": (POS, 2.0), "cdf": (X, POS), "logcdf": (POS, 2.0),
              "sf": (X, 2.0), "logsf": (POS, 2.0)},
    "chi2": {"logpdf": (POS, POS[::-1]), "pdf": (POS, 3.0), "cdf": (X, 3.0),
             "logcdf": (POS, 3.0), "sf": (POS, 3.0), "logsf": (POS, 3.0)},
    "beta": {"logpdf": (X / 3, POS, POS[::-1]), "pdf": (P, 2.0, 3.0), "cdf": (X / 3, 2.0, 3.0),
             "logcdf": (P, 2.0, 3.0), "sf": (P, 2.0, 3.0), "logsf": (P, 2.0, 3.0)},
    "poisson": {"logpmf": (K, POS), "pmf": (K, POS), "cdf": (K - 1, POS),
                "entropy": (np.array([0, 0.5, 3, 9.9, 10, 50, 99, 100, 500], np.float32),)},
    "bernoulli": {"logpmf": (K % 3, P), "pmf": (K % 2, P), "cdf": (K - 1, P),
                  "ppf": (P, P[::-1])},
    "geom": {"logpmf": (K, P), "pmf": (K, P)},
    "binom": {"logpmf": (K, 6.0, P), "pmf": (K, 6.0, P)},
}
# The continued fraction of betainc is ~1e-5 from the truth in float32 (in JAX too).
RTOL = {"beta": 3e-5, "cauchy": 1e-5}  # (cauchy: tan near its poles amplifies ulps)


@functools.cache
def _jax(family, fn):
    return jax.jit(getattr(getattr(JS, family), fn))


def _close(got, want, rtol=2e-6, atol=1e-30):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def test_every_family_and_function_of_jax_is_present():
    for family in CASES:
        jax_fns = {n for n in dir(getattr(JS, family)) if n in
                   {"logpdf", "pdf", "cdf", "logcdf", "ppf", "sf", "logsf", "isf", "logpmf",
                    "pmf", "entropy"}}
        assert jax_fns == set(CASES[family]), family
        for fn in jax_fns:
            assert callable(getattr(getattr(LS, family), fn))
    assert llax.scipy.stats.norm is LS.norm
    import llax.scipy.stats.norm as imported  # the alias works as a module path too
    assert imported is LS.norm


@pytest.mark.parametrize("family", sorted(CASES))
def test_values_eager_and_jit(family):
    for fn, args in CASES[family].items():
        want = _jax(family, fn)(*args)
        rtol = RTOL.get(family, 2e-6)
        _close(getattr(getattr(LS, family), fn)(*args), want, rtol)
        _close(llax.jit(getattr(getattr(LS, family), fn))(*args), want, rtol)


def test_promotion_scalars_and_broadcasting():
    for f_l, f_j, args in [
        (LS.norm.logpdf, JS.norm.logpdf, (np.int32(1),)),
        (LS.norm.cdf, JS.norm.cdf, (1.5,)),
        (LS.poisson.logpmf, JS.poisson.logpmf, (np.arange(4, dtype=np.int32), 2.0)),
        (LS.gamma.logpdf, JS.gamma.logpdf, (POS[:3, None], POS[None, :4])),
        (LS.t.logpdf, JS.t.logpdf, (np.zeros((0,), np.float32), 3.0)),
        (LS.laplace.cdf, JS.laplace.cdf, (X.reshape(4, 4), np.float32(0.5))),
        (LS.bernoulli.logpmf, JS.bernoulli.logpmf, (True, 0.3)),
    ]:
        got, want = f_l(*args), f_j(*args)
        _close(got, want)
        assert getattr(got, "weak_type", False) == getattr(want, "weak_type", False)


GRADS = [("norm", "logpdf", (0.3, 0.5, 2.0)), ("norm", "logcdf", (-12.0,)),
         ("norm", "ppf", (0.2,)), ("t", "logpdf", (0.3, 4.0)),
         ("gamma", "logpdf", (1.3, 2.5)), ("gamma", "cdf", (1.3, 2.5)),
         ("beta", "logpdf", (0.3, 2.0, 3.0)), ("beta", "cdf", (0.3, 2.0, 3.0)),
         ("chi2", "logpdf", (1.3, 3.0)), ("poisson", "logpmf", (3.0, 2.5)),
         ("logistic", "logpdf", (0.3, 0.1, 2.0)), ("cauchy", "cdf", (0.3,)),
         ("expon", "logcdf", (0.7,)), ("laplace", "logpdf", (0.3, 0.1, 2.0)),
         ("binom", "logpmf", (2.0, 6.0, 0.3)), ("geom", "logpmf", (3.0, 0.3))]


@pytest.mark.parametrize("family,fn,args", GRADS)
def test_grad_like_jax(family, fn, args):
    args = tuple(np.float32(a) for a in args)
    argnums = tuple(range(len(args)))
    if family in ("gamma", "beta") and fn == "cdf":
        argnums = (0,)  # JAX differentiates the incomplete functions in x only here
    want = jax.jit(jax.grad(getattr(getattr(JS, family), fn), argnums=argnums))(*args)
    got = llax.grad(getattr(getattr(LS, family), fn), argnums=argnums)(*args)
    for g, w in zip(got, want):
        _close(g, w, 2e-5, 1e-6)


def _mvn_inputs():
    mean = np.array([0.1, 0.2, 0.3], np.float32)
    a = _rng.normal(size=(3, 3)).astype(np.float32)
    cov = a @ a.T + np.eye(3, dtype=np.float32)
    x = _rng.normal(size=(5, 3)).astype(np.float32)
    return x, mean, cov


def test_multivariate_normal():
    x, mean, cov = _mvn_inputs()
    for c in (cov, np.float32(2.0), np.stack([cov, 2 * cov])[:, None]):
        _close(LS.multivariate_normal.logpdf(x, mean, c), JS.multivariate_normal.logpdf(
            x, mean, c), 2e-6, 1e-6)
    _close(LS.multivariate_normal.pdf(x[0], mean, cov), JS.multivariate_normal.pdf(
        x[0], mean, cov), 2e-6)
    _close(LS.multivariate_normal.logpdf(0.3, 0.1, 2.0),
           JS.multivariate_normal.logpdf(0.3, 0.1, 2.0))
    _close(llax.jit(LS.multivariate_normal.logpdf)(x, mean, cov),
           JS.multivariate_normal.logpdf(x, mean, cov), 2e-6, 1e-6)
    for argnums in (1, 2):
        got = llax.grad(lambda m, c: LS.multivariate_normal.logpdf(x, m, c).sum(),
                        argnums=argnums - 1)(mean, cov)
        want = jax.grad(lambda m, c: JS.multivariate_normal.logpdf(x, m, c).sum(),
                        argnums=argnums - 1)(mean, cov)
        _close(got, want, 1e-4, 1e-5)
    with pytest.raises(ValueError, match="incompatible shapes"):
        LS.multivariate_normal.logpdf(x, mean, cov[:2, :2])
    with pytest.raises(NotImplementedError):
        LS.multivariate_normal.logpdf(x, mean, cov, allow_singular=True)


def test_dirichlet():
    alpha = np.array([1.5, 2.0, 3.0], np.float32)
    xs = np.array([[0.2, 0.3], [0.5, 0.1], [0.3, 0.6]], np.float32)
    _close(LS.dirichlet.logpdf(xs, alpha), JS.dirichlet.logpdf(xs, alpha), 2e-6)
    _close(LS.dirichlet.pdf(xs[:2], alpha), JS.dirichlet.pdf(xs[:2], alpha), 2e-6)
    off = np.array([0.5, 0.6, 0.1], np.float32)
    _close(LS.dirichlet.logpdf(off, alpha), JS.dirichlet.logpdf(off, alpha))
    with pytest.raises(ValueError, match="one-dimensional"):
        LS.dirichlet.logpdf(xs, alpha[None])
    with pytest.raises(ValueError, match="one entry fewer"):
        LS.dirichlet.logpdf(xs[:1], alpha)


def test_vmap_matches_loop():
    for f, args in [(LS.norm.logcdf, (X[:5],)), (LS.gamma.cdf, (POS[:5], POS[5:10])),
                    (LS.t.logpdf, (X[:5], POS[:5])), (LS.beta.cdf, (P[:5], POS[:5], 2.0))]:
        in_axes = tuple(0 if np.ndim(a) else None for a in args)
        batched = np.asarray(llax.vmap(f, in_axes=in_axes)(*args))
        looped = np.stack([np.asarray(f(*(a[i] if np.ndim(a) else a for a in args)))
                           for i in range(5)])
        np.testing.assert_allclose(batched, looped, rtol=1e-6, atol=1e-7)
