"""llax.random's transformed samplers (continuous.py) against live JAX 0.10.2.

Each sampler's values are compared with JAX's for the same keys, shapes and dtypes,
eagerly, under jit and under vmap over split keys: within 2 ulp (the float ones;
exp-based ones within the ulps that exp's argument carries, see ``exp_tolerance``),
exactly for the integer ones. Then the distributions' known moments or CDFs (fixed
keys, so deterministic), and JAX's errors for bad arguments.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import pytest
import scipy.stats

import llax
from llax.frontend.random import continuous as C
from tests.jnp_oracle import x64_mode

# llax.random with this module's samplers (they are exported there too, where the package
# lists them; the test does not depend on that).
random = types.SimpleNamespace(**vars(llax.random))
random.__dict__.update({name: getattr(C, name) for name in C.__all__})


def ulp_distance(a: Any, b: Any) -> np.ndarray:
    """Elementwise distance in units in the last place between two float arrays of one
    dtype (0 where both are nan, the largest uint64 where only one is)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    width = a.dtype.itemsize * 8
    uint = {4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    sign_bit = np.uint64(1 << (width - 1))

    def ordered(x: np.ndarray) -> np.ndarray:  # monotone in the float's value
        bits = np.ascontiguousarray(x).view(uint).astype(np.uint64)
        magnitude = bits & (sign_bit - np.uint64(1))
        return np.where(bits & sign_bit, sign_bit - magnitude, sign_bit + magnitude)

    ka, kb = ordered(a), ordered(b)
    d = np.where(ka >= kb, ka - kb, kb - ka)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    d = np.where(nan_a & nan_b, np.uint64(0), d)
    return np.where(nan_a ^ nan_b, np.uint64(np.iinfo(np.uint64).max), d)


def exact(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.zeros(np.shape(want))


def two_ulp(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.full(np.shape(want), 2.0)


def exp_tolerance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """exp(y), y a product: XLA fuses the product into exp's range reduction, so y is not
    rounded there: exp(y) then moves by up to |y|/2 of its ulps, plus exp's own ulp (llax's
    exp is not XLA's). Allow 2 + |y|."""
    return 2.0 + np.abs(np.log(np.abs(want.astype(np.float64))))


def shifted_tolerance(loc: Any) -> Callable:
    """``y = x + loc`` for x within 2 ulp: x's error is 2 ulp of |y - loc|, in ulps of y
    (large where x and loc cancel)."""
    def tolerance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
        want = want.astype(np.float64)
        return 2.0 * (1.0 + np.abs(want - loc) / np.maximum(np.abs(want), 1e-300))
    return tolerance


# name -> (sampler(random_module, key, shape, dtype), tolerance)
Sampler = Callable[[Any, Any, tuple, Any], Any]
SAMPLERS: dict[str, tuple[Sampler, Callable]] = {
    "gumbel": (lambda r, k, s, d: r.gumbel(k, s, d), two_ulp),
    "gumbel_high": (lambda r, k, s, d: r.gumbel(k, s, d, mode="high"), two_ulp),
    "gumbel_highest": (lambda r, k, s, d: r.gumbel(k, s, d, mode="highest"), two_ulp),
    "exponential": (lambda r, k, s, d: r.exponential(k, s, d), two_ulp),
    "laplace": (lambda r, k, s, d: r.laplace(k, s, d), two_ulp),
    "logistic": (lambda r, k, s, d: r.logistic(k, s, d), two_ulp),
    "cauchy": (lambda r, k, s, d: r.cauchy(k, s, d), two_ulp),
    "maxwell": (lambda r, k, s, d: r.maxwell(k, s, d), two_ulp),
    "truncated_normal": (lambda r, k, s, d: r.truncated_normal(k, -1.7, 2.3, s, d), two_ulp),
    "truncated_normal_bounds": (lambda r, k, s, d: r.truncated_normal(
        k, np.linspace(-3, 0.5, 5, dtype=d), 1.0, (*s, 5), d), two_ulp),
    "lognormal": (lambda r, k, s, d: r.lognormal(k, 0.7, s, d), exp_tolerance),
    "pareto": (lambda r, k, s, d: r.pareto(k, 2.5, s, d), exp_tolerance),
    "double_sided_maxwell": (lambda r, k, s, d: r.double_sided_maxwell(k, 0.3, 1.7, s, d),
                             shifted_tolerance(0.3)),
    "weibull_min": (lambda r, k, s, d: r.weibull_min(k, 1.3, 0.8, s, d), two_ulp),
    "rayleigh": (lambda r, k, s, d: r.rayleigh(k, 1.3, s, d), two_ulp),
    "wald": (lambda r, k, s, d: r.wald(k, 1.3, s, d), two_ulp),
    "triangular": (lambda r, k, s, d: r.triangular(k, -1.0, 0.3, 2.0, s, d), two_ulp),
    "rademacher": (lambda r, k, s, d: r.rademacher(k, s), exact),
    "rademacher_float": (lambda r, k, s, d: r.rademacher(k, s, d), exact),
    "geometric": (lambda r, k, s, d: r.geometric(k, np.asarray(0.3, d), s), exact),
    "categorical": (lambda r, k, s, d: r.categorical(
        k, np.log(np.array([0.1, 0.2, 0.3, 0.4], d)), shape=s), exact),
}
SHAPES = [(), (0,), (7,), (3, 5)]
SEEDS = [0, 42]


def assert_matches(got: Any, want: Any, tolerance: Callable, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (what, got.dtype, want.dtype,
                                                                 got.shape, want.shape)
    if got.size == 0:
        return
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    d = ulp_distance(got, want).astype(np.float64)
    allowed = tolerance(got, want)
    bad = d > allowed
    assert not bad.any(), (f"{what}: {int(bad.sum())} values beyond tolerance, worst "
                           f"{d.max():.0f} ulp: llax {got[bad][:4]} JAX {want[bad][:4]}")


def shapes_of(name: str) -> list[tuple]:
    """The 2-d shape for every sampler, and one of the others in turn: every sampler meets a
    batch shape and every shape meets seven samplers (each shape is a separate compile, here
    and in JAX, so the full product is what made this test slow)."""
    rest = SHAPES[:-1]
    return [SHAPES[-1], rest[list(SAMPLERS).index(name) % len(rest)]]


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_float32_values_match_jax(name: str) -> None:
    draw, tolerance = SAMPLERS[name]
    for shape in shapes_of(name):
        for seed in SEEDS:
            got = draw(random, random.key(seed), shape, np.float32)
            want = draw(jax.random, jax.random.key(seed), shape, np.float32)
            assert_matches(got, want, tolerance, f"{name}{shape} seed {seed}")


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_float64_values_match_jax_under_x64(name: str) -> None:
    draw, tolerance = SAMPLERS[name]
    with x64_mode(True):
        for seed in SEEDS:
            got = draw(random, random.key(seed), (3, 5), np.float64)
            want = draw(jax.random, jax.random.key(seed), (3, 5), np.float64)
            assert_matches(got, want, tolerance, f"{name} float64 seed {seed}")


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_jit_and_vmap_match_jax(name: str) -> None:
    draw, tolerance = SAMPLERS[name]
    # Against JAX's eager call (its kernel takes the parameters as arguments): under an outer
    # jax.jit they are constants, which XLA folds (erf of a constant bound by the C library,
    # products with constants reassociated), so JAX's own numbers change there.
    # Eager calls already run each sampler's jitted kernel; an outer jit (the kernel inlined
    # into another trace) is checked for every other sampler, vmap for every one.
    if list(SAMPLERS).index(name) % 2 == 0:
        got = llax.jit(lambda k: draw(random, k, (4,), np.float32))(random.key(7))
        want = draw(jax.random, jax.random.key(7), (4,), np.float32)
        assert_matches(got, want, tolerance, f"jit {name}")
    got = llax.vmap(lambda k: draw(random, k, (3,), np.float32))(random.split(random.key(8), 4))
    want = jax.vmap(lambda k: draw(jax.random, k, (3,), np.float32))(
        jax.random.split(jax.random.key(8), 4))
    assert_matches(got, want, tolerance, f"vmap {name}")


def test_broadcasting_parameters_match_jax() -> None:
    key, jkey = random.key(3), jax.random.key(3)
    scale, loc = np.array([0.5, 1.0, 2.0], np.float32), np.array([[0.0], [1.0]], np.float32)
    cases = [
        lambda r, k: r.pareto(k, np.array([1.0, 2.0, 4.0], np.float32)),
        lambda r, k: r.rayleigh(k, scale, (2, 3)),
        lambda r, k: r.wald(k, scale),
        lambda r, k: r.triangular(k, loc, loc + 1, loc + scale + 1),
        lambda r, k: r.double_sided_maxwell(k, loc, scale),
        lambda r, k: r.double_sided_maxwell(k, loc, scale, (4,)),
        lambda r, k: r.weibull_min(k, scale, 2.0, (2, 1)),
        lambda r, k: r.truncated_normal(k, loc, scale),
        lambda r, k: r.lognormal(k, scale),
        lambda r, k: r.geometric(k, np.array([0.1, 0.5, 0.9], np.float32), (2, 3)),
        lambda r, k: r.categorical(k, np.log(np.arange(1.0, 7.0, dtype=np.float32)).reshape(
            2, 3), axis=0, shape=(5, 3)),
    ]
    tolerances = {4: shifted_tolerance(loc), 5: shifted_tolerance(loc),
                  8: exp_tolerance}
    for i, case in enumerate(cases):
        tolerance = tolerances.get(i, two_ulp)
        assert_matches(case(random, key), case(jax.random, jkey), tolerance, f"case {i}")


def test_categorical_without_replacement_matches_jax() -> None:
    logits = np.log(np.arange(1.0, 13.0, dtype=np.float32)).reshape(4, 3)
    logits[1, 2] = -np.inf  # never drawn, and ties with others only after the drawn ones
    for axis, shape in ((0, (4, 3)), (0, (2, 3)), (-1, (3, 4)), (1, (1, 4))):
        for seed in (0, 5):
            got = random.categorical(random.key(seed), logits, axis=axis, shape=shape,
                                     replace=False)
            want = jax.random.categorical(jax.random.key(seed), logits, axis=axis, shape=shape,
                                          replace=False)
            assert_matches(got, want, exact, f"axis {axis} shape {shape} seed {seed}")


def test_default_dtypes_follow_x64() -> None:
    for x64 in (False, True):
        with x64_mode(x64):
            for fn in ("gumbel", "exponential", "laplace", "rademacher"):
                got = getattr(random, fn)(random.key(0), (2,))
                want = getattr(jax.random, fn)(jax.random.key(0), (2,))
                assert np.asarray(got).dtype == np.asarray(want).dtype, (fn, x64)
            got = random.geometric(random.key(0), 0.5, (2,))
            want = jax.random.geometric(jax.random.key(0), 0.5, (2,))
            assert_matches(got, want, exact, f"geometric x64={x64}")
            got = random.categorical(random.key(0), np.zeros(3, np.float32), shape=(4,))
            want = jax.random.categorical(jax.random.key(0), np.zeros(3, np.float32), shape=(4,))
            assert_matches(got, want, exact, f"categorical x64={x64}")


# ---------------------------------------------------------------------------------------------
# Statistics (fixed keys: deterministic)

N = 20000
KS = {
    "gumbel": (lambda k: random.gumbel(k, (N,)), scipy.stats.gumbel_r()),
    "gumbel_high": (lambda k: random.gumbel(k, (N,), mode="high"), scipy.stats.gumbel_r()),
    "exponential": (lambda k: random.exponential(k, (N,)), scipy.stats.expon()),
    "laplace": (lambda k: random.laplace(k, (N,)), scipy.stats.laplace()),
    "logistic": (lambda k: random.logistic(k, (N,)), scipy.stats.logistic()),
    "cauchy": (lambda k: random.cauchy(k, (N,)), scipy.stats.cauchy()),
    "maxwell": (lambda k: random.maxwell(k, (N,)), scipy.stats.maxwell()),
    "truncated_normal": (lambda k: random.truncated_normal(k, -1.0, 2.0, (N,)),
                         scipy.stats.truncnorm(-1.0, 2.0)),
    "lognormal": (lambda k: random.lognormal(k, 0.5, (N,)), scipy.stats.lognorm(0.5)),
    "pareto": (lambda k: random.pareto(k, 3.0, (N,)), scipy.stats.pareto(3.0)),
    "double_sided_maxwell": (lambda k: np.abs(random.double_sided_maxwell(k, 1.0, 2.0, (N,))
                                              - 1.0), scipy.stats.maxwell(scale=2.0)),
    "weibull_min": (lambda k: random.weibull_min(k, 2.0, 1.5, (N,)),
                    scipy.stats.weibull_min(1.5, scale=2.0)),
    "rayleigh": (lambda k: random.rayleigh(k, 2.0, (N,)), scipy.stats.rayleigh(scale=2.0)),
    "wald": (lambda k: random.wald(k, 1.5, (N,)), scipy.stats.invgauss(1.5)),
    "triangular": (lambda k: random.triangular(k, -1.0, 0.3, 2.0, (N,)),
                   scipy.stats.triang(1.3 / 3.0, loc=-1.0, scale=3.0)),
}


@pytest.mark.parametrize("name", list(KS))
def test_distribution_matches_its_cdf(name: str) -> None:
    draw, dist = KS[name]
    sample = np.asarray(draw(random.key(2024)), np.float64)
    assert np.isfinite(sample).all()
    assert scipy.stats.kstest(sample, dist.cdf).pvalue > 1e-3


def test_discrete_statistics() -> None:
    signs = np.asarray(random.rademacher(random.key(1), (N,)))
    assert set(np.unique(signs)) == {-1, 1} and abs(signs.mean()) < 4 / np.sqrt(N)
    p = 0.3
    trials = np.asarray(random.geometric(random.key(2), p, (N,)))
    assert trials.min() >= 1
    assert abs(trials.mean() - 1 / p) < 4 * np.sqrt((1 - p) / p**2 / N)
    assert abs(trials.var() / ((1 - p) / p**2) - 1) < 0.1
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    drawn = np.asarray(random.categorical(random.key(3), np.log(probs), shape=(N,)))
    counts = np.bincount(drawn, minlength=4)
    assert scipy.stats.chisquare(counts, probs * N).pvalue > 1e-3
    # Without replacement: distinct indices, and the first one drawn follows softmax.
    firsts = np.asarray(llax.vmap(lambda k: random.categorical(
        k, np.log(probs), shape=(3,), replace=False))(random.split(random.key(4), 4000)))
    assert all(len(set(row)) == 3 for row in firsts)
    counts = np.bincount(firsts[:, 0], minlength=4)
    assert scipy.stats.chisquare(counts, probs * 4000).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------
# Errors: the same exception types as JAX


def raised(fn: Callable[[], Any]) -> type[BaseException] | None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e)
    return None


ERRORS = [
    ("int dtype", lambda r: r.gumbel(r.key(0), (2,), np.int32)),
    ("int dtype", lambda r: r.truncated_normal(r.key(0), 0.0, 1.0, (2,), np.int32)),
    ("int dtype", lambda r: r.wald(r.key(0), 1.0, (2,), np.int32)),
    ("bad mode", lambda r: r.gumbel(r.key(0), (2,), mode="medium")),
    ("batched key", lambda r: r.exponential(r.split(r.key(0), 2), (2,))),
    ("not a key", lambda r: r.laplace("key", (2,))),
    ("shape vs params", lambda r: r.pareto(r.key(0), np.ones(3, np.float32), (2,))),
    ("shape vs params", lambda r: r.truncated_normal(r.key(0), np.zeros(3), 1.0, (4,))),
    ("shape vs params", lambda r: r.triangular(r.key(0), np.zeros(2), 0.5, np.ones(3))),
    ("float dtype", lambda r: r.geometric(r.key(0), 0.5, (2,), np.float32)),
    ("list logits", lambda r: r.categorical(r.key(0), [0.0, 1.0])),
    ("int logits", lambda r: r.categorical(r.key(0), np.arange(3))),
    ("too many samples", lambda r: r.categorical(r.key(0), np.zeros(3, np.float32),
                                                 shape=(4,), replace=False)),
    ("categorical shape", lambda r: r.categorical(r.key(0), np.zeros((2, 3), np.float32),
                                                  shape=(3,))),
    ("mvn method", lambda r: r.multivariate_normal(r.key(0), np.zeros(2), np.eye(2),
                                                   method="qr")),
    ("mvn mean", lambda r: r.multivariate_normal(r.key(0), 0.0, np.eye(2))),
    ("mvn cov", lambda r: r.multivariate_normal(r.key(0), np.zeros(2), np.eye(3))),
    ("orthogonal n", lambda r: r.orthogonal(r.key(0), 2.5)),
]


@pytest.mark.parametrize("what, call", ERRORS, ids=[e[0] for e in ERRORS])
def test_argument_errors_match_jax(what: str, call: Callable) -> None:
    want = raised(lambda: call(jax.random))
    assert want is not None, what
    with pytest.raises(want):
        call(random)


def test_unsafe_parameter_casts_raise_type_promotion_errors() -> None:
    with x64_mode(True):
        wide = np.ones(2, np.float64)
        for fn in ("pareto", "rayleigh", "wald", "lognormal"):
            want = raised(lambda fn=fn: getattr(jax.random, fn)(jax.random.key(0), wide, (2,),
                                                                np.float32))
            assert want is not None and issubclass(want, ValueError), fn
            with pytest.raises(C.TypePromotionError):
                getattr(random, fn)(random.key(0), wide, (2,), np.float32)
            # A weak Python float may narrow.
            getattr(random, fn)(random.key(0), 2.0, (2,), np.float32)


# multivariate_normal and orthogonal factor matrices with llax's Jacobi and Householder loops,
# not LAPACK: their values agree with JAX's to a relative tolerance, not in ulps.
RELATIVE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def assert_close(got: Any, want: Any, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1.0)
    err = float(np.max(np.abs(got - want), initial=0.0)) / scale
    assert err <= RELATIVE[want.dtype], (what, err)


def spd(n: int, dtype: Any, batch: tuple = (), seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal((*batch, n, n))
    return (a @ np.swapaxes(a, -1, -2) / n + 0.5 * np.eye(n)).astype(dtype)


MVN_CASES = [  # (mean shape, cov batch, shape)
    ((3,), (), (4,)), ((2, 3), (), None), ((3,), (2,), (5, 2)), ((1,), (), (3,)),
]


@pytest.mark.parametrize("x64", [False, True], ids=["f32", "f64"])
def test_multivariate_normal_cholesky_matches_jax(x64: bool) -> None:
    dtype = np.float64 if x64 else np.float32
    with x64_mode(x64):
        for mean_shape, cov_batch, shape in MVN_CASES:
            n = mean_shape[-1]
            mean = np.linspace(-1, 2, int(np.prod(mean_shape))).reshape(mean_shape).astype(dtype)
            cov = spd(n, dtype, cov_batch)
            what = f"{mean_shape} {cov_batch} {shape}"
            got = random.multivariate_normal(random.key(3), mean, cov, shape)
            want = jax.random.multivariate_normal(jax.random.key(3), mean, cov, shape)
            assert_close(got, want, what)


def test_multivariate_normal_under_jit_and_vmap_matches_jax() -> None:
    mean, cov = np.array([0.5, -1.0, 2.0], np.float32), spd(3, np.float32, seed=1)

    def draw(r: Any) -> Callable:
        return lambda k: r.multivariate_normal(k, mean, cov, (4,))

    keys, jax_keys = random.split(random.key(5), 3), jax.random.split(jax.random.key(5), 3)
    want = jax.vmap(draw(jax.random))(jax_keys)
    assert_close(llax.vmap(draw(random))(keys), want, "vmap")
    assert_close(llax.jit(draw(random))(random.key(5)), draw(jax.random)(jax.random.key(5)),
                 "jit")


@pytest.mark.parametrize("method", ["cholesky", "eigh", "svd"])
def test_multivariate_normal_methods_use_their_factor(method: str) -> None:
    """``mean + F z`` with ``z`` JAX's (bit-identical) normal draws and ``F F^T = cov``: for
    ``eigh`` and ``svd`` the columns' signs of ``F`` are arbitrary (LAPACK's differ), so
    the factor is checked, not JAX's values."""
    mean, cov = np.array([1.0, 0.0, -2.0], np.float32), spd(3, np.float32, seed=2)
    got = np.asarray(random.multivariate_normal(random.key(7), mean, cov, (6,), method=method))
    z = np.asarray(jax.random.normal(jax.random.key(7), (6, 3), np.float32), np.float64)
    # Solve got - mean = F z for F (6 draws, 3 unknowns per row): least squares.
    factor = np.linalg.lstsq(z, got - mean, rcond=None)[0].T
    np.testing.assert_allclose(factor @ factor.T, cov, atol=1e-5)
    np.testing.assert_allclose(factor @ z.T + mean[:, None], got.T, atol=1e-5)
    if method == "cholesky":
        np.testing.assert_allclose(factor, np.linalg.cholesky(cov), atol=1e-5)


@pytest.mark.parametrize("method", ["cholesky", "eigh", "svd"])
def test_multivariate_normal_sample_moments(method: str) -> None:
    mean = np.array([1.0, -0.5, 2.0, 0.0], np.float32)
    cov = spd(4, np.float32, seed=3)
    draws = np.asarray(random.multivariate_normal(random.key(11), mean, cov, (40000,),
                                                  method=method), np.float64)
    scale = np.sqrt(np.diag(cov))
    # Standard errors: sqrt(cov_ii / N) for the mean, about sqrt(2 / N) cov for the covariance.
    assert np.all(np.abs(draws.mean(0) - mean) <= 5 * scale / np.sqrt(len(draws)))
    err = (np.cov(draws.T) - cov) / np.outer(scale, scale)
    assert np.max(np.abs(err)) <= 5 * np.sqrt(2 / len(draws))


def test_multivariate_normal_of_a_singular_covariance_by_svd() -> None:
    v = np.array([[1.0, 2.0, 2.0]], np.float64) / 3
    cov = (v.T @ v * 4).astype(np.float32)  # rank 1
    draws = np.asarray(random.multivariate_normal(random.key(2), np.zeros(3, np.float32), cov,
                                                  (1000,), method="svd"), np.float64)
    assert np.all(np.isfinite(draws))
    # Every draw lies on the line through v, up to the float32 SVD's rounding: its zero
    # singular values come out near 1e-7, whose square roots (~3e-4) scale the normal draws
    # off the line (JAX's LAPACK SVD gives the same 8e-4 here).
    np.testing.assert_allclose(draws - (draws @ v.T) @ v, 0, atol=2e-3)
    assert abs(np.var(draws @ v.T) / 4 - 1) < 0.15


@pytest.mark.parametrize("x64", [False, True], ids=["f32", "f64"])
def test_orthogonal_matches_jax(x64: bool) -> None:
    dtype = np.float64 if x64 else np.float32
    cases = [(1, (), None), (4, (2,), None), (5, (), 3), (3, (2, 1), 6)]
    with x64_mode(x64):
        # Every case in float32; float64 on a batched square and a wide one (each case is a
        # separate compile of the Householder loop, here and in JAX).
        for n, shape, m in (cases[1::2] if x64 else cases):
            got = random.orthogonal(random.key(9), n, shape, dtype, m)
            want = jax.random.orthogonal(jax.random.key(9), n, shape, dtype, m)
            assert_close(got, want, f"orthogonal {n} {shape} {m}")


def test_orthogonal_is_orthogonal_and_haar() -> None:
    q = np.asarray(random.orthogonal(random.key(4), 3, (4000,)), np.float64)
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(3), q.shape),
                               atol=1e-6)
    det = np.linalg.det(q)
    np.testing.assert_allclose(np.abs(det), 1, atol=1e-5)
    # Haar on O(3): both determinant signs equally likely, every entry of mean 0 and
    # variance 1/3.
    assert abs(np.mean(det > 0) - 0.5) < 4 * 0.5 / np.sqrt(len(q))
    assert np.max(np.abs(q.mean(0))) < 4 * np.sqrt(1 / 3 / len(q))
    assert np.max(np.abs(q.var(0) - 1 / 3)) < 0.03
    wide = np.asarray(random.orthogonal(random.key(4), 2, (), m=5), np.float64)
    np.testing.assert_allclose(wide @ wide.T, np.eye(2), atol=1e-6)
