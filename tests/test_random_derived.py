"""llax.random's t, chisquare, f, generalized_normal, ball and binomial against live JAX
0.10.2, SciPy's distributions, and JAX's errors.

What is exact: binomial (both algorithms, every special case, float32 and
float64), and t, chisquare, f in float32 on the keys below (f as XLA rewrites
it: (chi2_num * dfden) / (dfnum * chi2_den)). The rest rests on gamma draws,
which differ from JAX's in some last bits: XLA's float32 1/sqrt is an estimate
plus a Newton step, boosted draws (a < 1) differ in up to 7 ulps for some a
(23% of Gamma(0.77) draws, a pre-existing gap in loops.py), and float64 gamma
uses llax's exp/log/pow where XLA calls glibc. Bound there: 16 ulps (9 seen, in
ball with p = 1.5), with most values equal.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.stats as st

import llax
from llax import random
from tests.jnp_oracle import x64_mode

F32, F64 = np.float32, np.float64


def arr(x) -> np.ndarray:
    return np.asarray(x)


def same(want, got) -> np.ndarray:
    want, got = arr(want), arr(got)
    assert want.shape == got.shape and want.dtype == got.dtype
    return (want == got) | (np.isnan(want) & np.isnan(got))


def ulps(want, got) -> float:
    want, got = arr(want), arr(got)
    ok = ~same(want, got)
    if not ok.any():
        return 0.0
    return float(np.max(np.abs(want[ok].astype(F64) - got[ok]) / np.spacing(np.abs(want[ok]))))


DF = [0.5, 1.0, 3.0, 10.0, 50.0]


def calls(m, dtype):
    """name -> (function of a key, exact?) for library m (jax or llax)."""
    df = np.tile(np.array(DF, dtype), (40, 1))
    n = np.array([0, 1, 5, 20, 100, 1000, 1e5, np.inf, -1, np.nan], dtype)
    p = np.array([0.3, 0.7, 0.5, 0.05, 0.9, 0.5, 0.01, 0.2, 0.5, 0.5], dtype)
    return {
        "t": (lambda k: m.random.t(k, df, (40, 5), dtype), True),
        "chisquare": (lambda k: m.random.chisquare(k, df, (40, 5), dtype), True),
        "f": (lambda k: m.random.f(k, df, df[:, ::-1], (40, 5), dtype), True),
        "binomial": (lambda k: m.random.binomial(k, n, p, (60, 10), dtype), True),
        "binomial_p_edges": (lambda k: m.random.binomial(
            k, dtype(10.0), np.array([np.nan, -0.1, 1.0, 0.0, 1.5, 0.5], dtype),
            dtype=dtype), True),
        "generalized_normal": (lambda k: m.random.generalized_normal(k, 0.7, (300,), dtype),
                               False),
        "ball": (lambda k: m.random.ball(k, 4, 1.5, (80,), dtype), False),
        "ball_p2": (lambda k: m.random.ball(k, 3, 2, (80,), dtype), False),
    }


@pytest.mark.parametrize("name,dtype", [
    *[(n, F32) for n in ["t", "chisquare", "f", "binomial", "binomial_p_edges",
                         "generalized_normal", "ball", "ball_p2"]],
    # float64: t and ball through float64 gamma (f composes two such chi-squares as in
    # float32), binomial's own loops.
    *[(n, F64) for n in ["t", "binomial", "ball"]]])
def test_values_vs_jax(name, dtype):
    with x64_mode(dtype == F64):
        want = arr(calls(jax, dtype)[name][0](jax.random.key(3)))
        fn, exact = calls(llax, dtype)[name]
        got = arr(fn(random.key(3)))
        eq = same(want, got)
        if exact and (dtype == F32 or name.startswith("binomial")):
            assert eq.all(), f"{(~eq).sum()} of {eq.size} differ"
        else:
            # Gamma draws with a < 1 (boosted) differ from JAX's in some last bits (loops.py;
            # seen: 23% of Gamma(0.77) draws, <= 7 ulps, 9 ulps after ball's division);
            # float64 gamma through llax's exp/log/pow (glibc's in XLA) in an ulp or two.
            assert eq.mean() > 0.5 and ulps(want, got) <= 16


# Each (sampler, shape) is a separate compile, here and in JAX: both samplers on the scalar
# shape, then one each on the others, so each meets a batch shape and an empty or 2-d one.
SHAPE_SAMPLERS = {(): ("t", "binomial"), (0,): ("t",), (7,): ("binomial",), (3, 5): ("t",)}


@pytest.mark.parametrize("shape", list(SHAPE_SAMPLERS))
def test_shapes_vs_jax(shape):
    for name, args in [("t", (2.5,)), ("binomial", (12.0, 0.3))]:
        if name not in SHAPE_SAMPLERS[shape]:
            continue
        want = arr(getattr(jax.random, name)(jax.random.key(1), *args, shape))
        got = arr(getattr(random, name)(random.key(1), *args, shape))
        assert got.shape == want.shape == shape and got.dtype == want.dtype
        assert ulps(want, got) <= 2, name
    if len(shape) == 2:
        want = arr(jax.random.ball(jax.random.key(1), 2, 2, shape))
        got = arr(random.ball(random.key(1), 2, 2, shape))
        assert got.shape == (*shape, 2) and ulps(want, got) <= 2


def test_default_shapes_broadcast_parameters():
    got = random.binomial(random.key(0), np.array([[5.0], [50.0]], F32), np.full(3, 0.4, F32))
    want = jax.random.binomial(jax.random.key(0), np.array([[5.0], [50.0]], F32),
                               np.full(3, 0.4, F32))
    assert same(want, got).all()
    assert random.f(random.key(0), np.ones((1, 5), F32), 3.0, (2, 5)).shape == (2, 5)


def test_jit_and_vmap():
    keys = random.split(random.key(9), 3)
    df = np.array([1.5, 4.0], F32)

    def draws(k):
        return (random.t(k, df), random.binomial(k, 30.0, 0.4, (2,)),
                random.ball(k, 3, 1.0, (2,)))

    eager = [[arr(x) for x in draws(k)] for k in keys]
    jitted = [arr(x) for x in llax.jit(draws)(keys[0])]
    for a, b in zip(eager[0], jitted):
        np.testing.assert_array_equal(a, b)
    batched = [arr(x) for x in llax.vmap(draws)(keys)]
    for j, b in enumerate(batched):
        np.testing.assert_array_equal(b, np.stack([e[j] for e in eager]))


STAT_N = 4000


@pytest.mark.parametrize("name", ["t", "chisquare", "f", "generalized_normal"])
def test_distributions_ks(name):
    """Kolmogorov-Smirnov against SciPy's distribution, fixed keys."""
    k = random.key(2024)
    draws, dist = {
        "t": lambda: (random.t(k, 3.5, (STAT_N,)), st.t(3.5)),
        "chisquare": lambda: (random.chisquare(k, 2.7, (STAT_N,)), st.chi2(2.7)),
        "f": lambda: (random.f(k, 4.0, 9.0, (STAT_N,)), st.f(4.0, 9.0)),
        "generalized_normal": lambda: (random.generalized_normal(k, 1.5, (STAT_N,)),
                                       st.gennorm(1.5)),
    }[name]()
    assert st.kstest(arr(draws).astype(F64), dist.cdf).pvalue > 1e-3


def test_ball_is_uniform_in_the_ball():
    """Points lie inside the unit Lp ball and the fraction within radius r is r^d."""
    d, p = 3, 1.5
    x = arr(random.ball(random.key(5), d, p, (STAT_N,))).astype(F64)
    radius = (np.abs(x) ** p).sum(-1) ** (1 / p)
    assert radius.max() < 1
    assert st.kstest(radius, lambda r: np.clip(r, 0, 1) ** d).pvalue > 1e-3


@pytest.mark.parametrize("n,p", [(7.0, 0.3), (40.0, 0.15), (300.0, 0.6), (5000.0, 0.02)])
def test_binomial_frequencies(n, p):
    """Chi-square goodness of fit on the counts (both algorithms, and p > 1/2)."""
    x = arr(random.binomial(random.key(17), n, p, (STAT_N,))).astype(int)
    lo, hi = st.binom(n, p).ppf([0.001, 0.999]).astype(int)
    edges = np.arange(lo, hi + 2)
    observed = np.array([(x < lo).sum(), *np.histogram(x, edges)[0], (x > hi).sum()])
    cdf = st.binom(n, p).cdf
    expected = STAT_N * np.diff(np.concatenate([[0], cdf(edges - 1), [1]]))
    keep = expected > 5
    observed = np.append(observed[keep], observed[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    if expected[-1] == 0:
        observed, expected = observed[:-1], expected[:-1]
    assert st.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3


def test_chisquare_gradient_vs_jax():
    df = np.array([0.8, 3.0, 12.0], F32)
    want = jax.grad(lambda d: jax.random.chisquare(jax.random.key(4), d).sum())(df)
    got = llax.grad(lambda d: random.chisquare(random.key(4), d).sum())(df)
    np.testing.assert_allclose(arr(got), arr(want), rtol=2e-5)


def test_errors_as_jax():
    k = random.key(0)
    with pytest.raises(ValueError, match="dtype argument to `t` must be a float dtype"):
        random.t(k, 2.0, (3,), np.int32)
    with pytest.raises(ValueError, match="must be a float dtype"):
        random.binomial(k, 5, 0.5, (2,), np.int32)
    with pytest.raises(ValueError, match="dtype argument to `gamma` must be a float dtype"):
        random.generalized_normal(k, 2.0, (2,), np.int32)
    with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
        random.chisquare(k, np.ones(3), (2,))
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        random.ball(k, 2.5)
    with pytest.raises(TypeError, match="same number of dimensions"):
        random.f(k, np.ones(5, F32), 3.0, (2, 5))
    with pytest.raises(ValueError, match="cannot safely cast"):
        with x64_mode(True):
            random.t(k, np.float64(2.0), (3,), np.float32)
    # JAX raises the same (checked live, so a change in JAX shows here).
    with pytest.raises(ValueError, match="cannot safely cast"):
        with x64_mode(True):
            jax.random.t(jax.random.key(0), np.float64(2.0), (3,), np.float32)
