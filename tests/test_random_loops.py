"""llax.random's loop and sort samplers against JAX 0.10.2 (live JAX as the oracle).

gamma / loggamma / beta / dirichlet / poisson / permutation / choice, and the
lgamma / digamma they rest on.

What is exact and what is not (and why) is asserted as such:

- poisson, permutation, choice (all modes), beta: equal to JAX bit for bit.
- gamma (and what is built on it): XLA computes ``1/sqrt(d)`` with the CPU's
  reciprocal-square-root estimate plus a Newton step, llax rounds it
  correctly. Where the two agree (JAX's own ``lax.rsqrt`` is asked, so this
  holds on any host), draws are equal bit for bit; elsewhere they differ in
  their last bits only.
- dirichlet: exact up to 16 categories; beyond, XLA sums a row in another order.
- lgamma / digamma: nearly always equal for x >= 1/2, within a few ulps of the
  result's scale everywhere (sin and, in float64, log are not XLA's).
"""

from __future__ import annotations

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
import scipy.stats

import llax
from llax import random
from llax.frontend import xla_math as special
from llax.frontend.random import discrete, loops
from tests.jnp_oracle import x64_mode

F32 = np.float32


def arr(x) -> np.ndarray:
    return np.asarray(x)


def scaled_ulps(want: np.ndarray, got: np.ndarray) -> float:
    """Largest |want - got| in ulps of max(|want|, 1) (so zeros of the function don't count
    as huge relative errors); NaNs must agree."""
    want, got = arr(want), arr(got)
    assert want.dtype == got.dtype and want.shape == got.shape
    np.testing.assert_array_equal(np.isnan(want), np.isnan(got))
    ok = ~np.isnan(want)
    if not ok.any():
        return 0.0
    scale = np.spacing(np.maximum(np.abs(want[ok]), 1).astype(want.dtype))
    same = want[ok] == got[ok]  # (infinities included)
    with np.errstate(invalid="ignore"):
        diff = np.abs(want[ok].astype(np.float64) - got[ok].astype(np.float64))
    return float(np.max(np.where(same, 0, diff / scale)))


def rsqrt_agrees(a: np.ndarray) -> np.ndarray:
    """Where JAX's float32 rsqrt of Marsaglia-Tsang's d is the correctly rounded one."""
    a = np.asarray(a, F32)
    d = np.where(a >= 1, a, a + F32(1)) - F32(1 / 3)
    return arr(jax.jit(jax.lax.rsqrt)(d)) == (F32(1) / np.sqrt(d))


# ---------------------------------------------------------------------------------------------
# lgamma and digamma


@pytest.mark.parametrize("x64", [False, True], ids=["f32", "f64"])
def test_lgamma_digamma_match_jax(x64: bool) -> None:
    rng = np.random.default_rng(0)
    with x64_mode(x64):
        dt = np.float64 if x64 else F32
        x = np.concatenate([rng.uniform(0.5, 40, 20000), np.exp(rng.uniform(0, 30, 5000)),
                            np.arange(1, 200), rng.uniform(-20, 0.5, 5000), [0.5, 1, 2]])
        x = np.concatenate([x, [0.0, -1.0, -2.0, np.inf, -np.inf, np.nan]]).astype(dt)
        right = x >= 0.5
        for ours, theirs in ((special.lgamma, jax.lax.lgamma),
                             (special.digamma, jax.lax.digamma)):
            got, want = arr(llax.jit(ours)(x)), arr(jax.jit(theirs)(x))
            equal = (got == want) | (np.isnan(got) & np.isnan(want))
            # XLA's float32 log is reproduced; float64's is the C library's, and sin
            # (reflection) is llax's in both.
            assert equal[right].mean() >= (0.999 if dt == F32 else 0.95)
            assert scaled_ulps(want[right], got[right]) <= 8
            assert scaled_ulps(want[~right], got[~right]) <= 32


def test_lgamma_exports() -> None:
    x = np.array([0.3, 1.5, 7.0, -2.5], F32)
    np.testing.assert_array_equal(arr(llax.lax.lgamma(x)), arr(special.lgamma(x)))
    np.testing.assert_array_equal(arr(llax.scipy.special.gammaln(x)), arr(special.lgamma(x)))
    np.testing.assert_array_equal(arr(llax.lax.digamma(x)), arr(special.digamma(x)))
    with pytest.raises(TypeError):
        llax.lax.lgamma(np.arange(3))


# ---------------------------------------------------------------------------------------------
# gamma, loggamma, beta, dirichlet


def test_gamma_matches_jax_where_rsqrt_agrees() -> None:
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.uniform(0.02, 12, 600), [0.3, 1.0, 1.5, 5.0, 1e-3]]).astype(F32)
    agree = rsqrt_agrees(a)
    assert agree.mean() > 0.3  # the exact claim below must cover many draws
    exact = total = 0
    for seed in (0, 7):
        for name in ("gamma", "loggamma"):
            got = arr(getattr(random, name)(random.key(seed), a))
            want = arr(getattr(jax.random, name)(jax.random.key(seed), a))
            assert got.dtype == want.dtype == F32 and got.shape == want.shape
            np.testing.assert_array_equal(got[agree], want[agree])
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-30)
            exact += int((got == want).sum())
            total += got.size
    assert exact / total > 0.9


@pytest.mark.parametrize("shape", [(), (0,), (3, 5)])
def test_gamma_shapes_and_scalar_parameters(shape) -> None:
    for a in (F32(0.5), F32(2.0)):
        got = arr(random.gamma(random.key(3), a, shape))
        want = arr(jax.random.gamma(jax.random.key(3), a, shape))
        assert got.shape == want.shape == shape
        np.testing.assert_array_equal(got, want)


def test_gamma_float64_under_x64() -> None:
    rng = np.random.default_rng(2)
    with x64_mode(True):
        a = rng.uniform(0.05, 10, 300)
        for name in ("gamma", "loggamma"):
            got = arr(getattr(random, name)(random.key(4), a))
            want = arr(getattr(jax.random, name)(jax.random.key(4), a))
            assert got.dtype == want.dtype == np.float64
            # rsqrt is exact in float64; log and pow are the C library's in XLA.
            assert (got == want).mean() > 0.97
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_gamma_jit_and_vmap_over_keys() -> None:
    a = np.array([0.5, 3.0, 1.0], F32)
    eager = arr(random.gamma(random.key(9), a))
    np.testing.assert_array_equal(arr(llax.jit(random.gamma)(random.key(9), a)), eager)
    keys, jkeys = random.split(random.key(9), 3), jax.random.split(jax.random.key(9), 3)
    got = arr(llax.vmap(lambda k: random.gamma(k, a))(keys))
    want = arr(jax.vmap(lambda k: jax.random.gamma(k, a))(jkeys))
    np.testing.assert_array_equal(got, want)


def test_beta_matches_jax() -> None:
    rng = np.random.default_rng(3)
    a, b = (rng.uniform(0.1, 6, 400).astype(F32) for _ in range(2))
    keep = rsqrt_agrees(a) & rsqrt_agrees(b)
    a, b = a[keep], b[keep]
    got = arr(random.beta(random.key(5), a, b))
    np.testing.assert_array_equal(got, arr(jax.random.beta(jax.random.key(5), a, b)))
    got = arr(random.beta(random.key(6), F32(2.0), F32(0.5), (4, 3)))
    np.testing.assert_array_equal(
        got, arr(jax.random.beta(jax.random.key(6), F32(2.0), F32(0.5), (4, 3))))


def test_dirichlet_matches_jax() -> None:
    rng = np.random.default_rng(4)
    alpha = rng.uniform(0.1, 5, 200).astype(F32)
    alpha = alpha[rsqrt_agrees(alpha)][:12]
    got = arr(random.dirichlet(random.key(8), alpha, (10,)))
    want = arr(jax.random.dirichlet(jax.random.key(8), alpha, (10,)))
    assert got.shape == (10, 12)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got.sum(-1), 1, rtol=1e-5)


def test_gamma_family_errors_as_jax() -> None:
    k = random.key(0)
    with pytest.raises(ValueError, match="must be a float dtype"):
        random.gamma(k, 1.0, dtype=np.int32)
    with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
        random.gamma(k, np.ones(3, F32), (4,))
    with pytest.raises(ValueError, match="broadcast-compatible"):
        random.gamma(k, np.ones(3, F32), (2, 1))
    with pytest.raises(ValueError, match="alpha.ndim >= 1"):
        random.dirichlet(k, F32(1.0))
    with pytest.raises(ValueError, match="accepts a single key"):
        random.beta(random.split(k), 1.0, 1.0)


def test_gamma_statistics() -> None:
    for a in (0.3, 4.0):
        draws = arr(random.gamma(random.key(11), F32(a), (3000,))).astype(np.float64)
        assert scipy.stats.kstest(draws, scipy.stats.gamma(a).cdf).pvalue > 1e-3
    draws = arr(random.beta(random.key(12), F32(2.0), F32(5.0), (3000,))).astype(np.float64)
    assert scipy.stats.kstest(draws, scipy.stats.beta(2.0, 5.0).cdf).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------
# poisson


def test_poisson_matches_jax() -> None:
    rng = np.random.default_rng(5)
    lam = np.concatenate([rng.uniform(0, 40, 300), [0, np.nan, -1, 9.99, 10, 1e4]]).astype(F32)
    for seed in (0, 1):
        got = arr(random.poisson(random.key(seed), lam))
        want = arr(jax.random.poisson(jax.random.key(seed), lam))
        assert got.dtype == want.dtype == np.int32
        np.testing.assert_array_equal(got, want)
    assert got[-6] == 0 and got[-5] == -1 and got[-4] == -1  # rate 0, NaN, negative
    got = arr(random.poisson(random.key(2), 3.5, (4, 0)))
    assert got.shape == (4, 0)
    np.testing.assert_array_equal(arr(random.poisson(random.key(2), 30.0, (3, 5))),
                                  arr(jax.random.poisson(jax.random.key(2), 30.0, (3, 5))))


def test_poisson_int64_under_x64_and_vmap() -> None:
    with x64_mode(True):
        got = arr(random.poisson(random.key(3), np.array([2.0, 15.0])))
        want = arr(jax.random.poisson(jax.random.key(3), np.array([2.0, 15.0])))
        assert got.dtype == want.dtype == np.int64
        np.testing.assert_array_equal(got, want)
    keys, jkeys = random.split(random.key(4), 3), jax.random.split(jax.random.key(4), 3)
    got = llax.vmap(lambda k: random.poisson(k, 12.0, (2,)))(keys)
    want = jax.vmap(lambda k: jax.random.poisson(k, 12.0, (2,)))(jkeys)
    np.testing.assert_array_equal(arr(got), arr(want))


def test_poisson_statistics() -> None:
    for lam in (3.0, 25.0):
        draws = arr(random.poisson(random.key(13), lam, (4000,)))
        assert abs(draws.mean() - lam) < 4 * np.sqrt(lam / 4000)
        assert abs(draws.var() / lam - 1) < 0.1


# ---------------------------------------------------------------------------------------------
# permutation and choice


def test_permutation_matches_jax() -> None:
    x = np.arange(24, dtype=F32).reshape(4, 6)
    for seed in (0, 3):
        k, jk = random.key(seed), jax.random.key(seed)
        np.testing.assert_array_equal(arr(random.permutation(k, 10)),
                                      arr(jax.random.permutation(jk, 10)))
        for axis, independent in ((0, False), (1, False), (1, True)):
            np.testing.assert_array_equal(
                arr(random.permutation(k, x, axis, independent)),
                arr(jax.random.permutation(jk, x, axis, independent)))
    # 2000 elements take two sorting rounds.
    got = arr(random.permutation(random.key(1), 2000))
    np.testing.assert_array_equal(got, arr(jax.random.permutation(jax.random.key(1), 2000)))
    np.testing.assert_array_equal(np.sort(got), np.arange(2000))


def test_choice_matches_jax() -> None:
    rng = np.random.default_rng(6)
    x = np.arange(24, dtype=F32).reshape(4, 6)
    p = rng.uniform(0, 1, 40).astype(F32)
    p /= p.sum()
    cases = [((10, (3, 4)), {}), ((x, (2,)), {"replace": False, "axis": 1}),
             ((x, (5,)), {"axis": 1}), ((40, (50,)), {"p": p}),
             ((40, (7,)), {"p": p, "replace": False}), ((40, (3, 0)), {})]
    for seed in (0, 5):
        for args, kw in cases:
            got = arr(random.choice(random.key(seed), *args, **kw))
            want = arr(jax.random.choice(jax.random.key(seed), *args, **kw))
            assert got.dtype == want.dtype and got.shape == want.shape, (args, kw)
            np.testing.assert_array_equal(got, want, err_msg=f"{args[1:]} {kw}")
    distinct = arr(random.choice(random.key(2), 40, (40,), replace=False, p=p))
    np.testing.assert_array_equal(np.sort(distinct), np.arange(40))


def test_cumsum_in_xla_order() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 16, 17, 300, 5000):
        x = rng.uniform(0, 1, n).astype(F32)
        np.testing.assert_array_equal(arr(llax.jit(discrete.cumsum_xla_order)(x)),
                                      arr(jjnp.cumsum(x)))


def test_permutation_and_choice_errors_as_jax() -> None:
    k = random.key(0)
    with pytest.raises(TypeError, match="x must be an integer"):
        random.permutation(k, 3.0)
    with pytest.raises(TypeError, match="must be a sequence"):
        random.choice(k, 5, 3)
    with pytest.raises(ValueError, match="Cannot take a larger sample"):
        random.choice(k, 5, (6,), replace=False)
    with pytest.raises(ValueError, match="p must be None or a 1D vector"):
        random.choice(k, 5, (2,), p=np.ones(4, F32) / 4)
    with pytest.raises(ValueError, match="a must be greater than 0"):
        random.choice(k, 0, (2,))


def test_exported_from_llax_random() -> None:
    assert loops.gamma is random.gamma and discrete.choice is random.choice
