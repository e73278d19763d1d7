"""llax.scipy.special against jax.scipy.special (jax 0.10.2 as the oracle): values of
every name on float32 arguments spread over each function's domain, eager and jitted;
dtype promotion (int32, bool, Python scalars); scalar, empty and broadcast shapes;
gradients of the differentiable ones against JAX's (its custom rules included); vmap
against a loop; the errors JAX raises."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jjnp
import jax.scipy.special as js
import numpy as np
import pytest

import llax
import llax.scipy.special as ls

jax.config.update("jax_platforms", "cpu")


@functools.cache
def _jax(name):
    """The JAX function, jitted: one compilation instead of JAX's op-by-op eager mode."""
    return jax.jit(getattr(js, name))

_rng = np.random.default_rng(12)
POS = _rng.uniform(0.1, 10, 24).astype(np.float32)
REAL = _rng.uniform(-6, 6, 24).astype(np.float32)
UNIT = _rng.uniform(0.001, 0.999, 24).astype(np.float32)
SMALL_INT = (np.arange(24) % 4).astype(np.int32)

# name -> (arguments, relative tolerance). Tolerances are a few ulp where JAX's formula
# is elementary; the series llax uses in place of XLA kernels (zeta, polygamma, i1e,
# expn/exp1/expi) are held to 1e-5.
VALUE_CASES = {
    "erf": ((REAL,), 1e-6), "erfc": ((REAL,), 4e-6), "erfinv": ((UNIT * 2 - 1,), 1e-6),
    "expit": ((REAL,), 1e-6), "logit": ((UNIT,), 1e-6), "gammaln": ((REAL,), 1e-6),
    "digamma": ((POS,), 1e-6), "xlogy": ((REAL, POS), 1e-6), "xlog1py": ((REAL, POS), 1e-6),
    "entr": ((REAL,), 1e-6), "ndtr": ((REAL * 2,), 4e-6), "ndtri": ((UNIT,), 1e-6),
    "log_ndtr": ((REAL * 4,), 4e-6), "i0e": ((REAL * 3,), 1e-6), "i1e": ((REAL * 3,), 4e-6),
    "i0": ((REAL,), 1e-6), "i1": ((REAL,), 4e-6), "betaln": ((POS, POS[::-1] * 3), 1e-6),
    "gammainc": ((POS, POS[::-1]), 1e-6), "gammaincc": ((POS, POS[::-1]), 1e-6),
    "logsumexp": ((REAL,), 1e-6), "softmax": ((REAL,), 1e-6), "log_softmax": ((REAL,), 1e-6),
    "polygamma": ((SMALL_INT, POS), 1e-5), "zeta": ((POS + 1.5, POS), 1e-5),
    "gamma": ((REAL,), 1e-6), "beta": ((POS / 3, POS[::-1] / 3), 1e-6),
    "factorial": ((POS,), 1e-6), "rel_entr": ((UNIT, UNIT[::-1]), 4e-6),
    "poch": ((POS, POS[::-1] / 3), 1e-6), "expn": ((SMALL_INT + 1, POS / 2), 1e-5),
    "exp1": ((POS / 2,), 1e-5), "expi": ((REAL * 4,), 1e-5), "spence": ((POS,), 1e-6),
    "gammasgn": ((REAL,), 0), "loggamma": ((REAL,), 1e-6), "comb": ((POS * 3, POS), 1e-6),
    "erfcx": ((REAL,), 1e-6), "dawsn": ((REAL * 2,), 1e-6), "boxcox": ((POS, REAL / 3), 1e-6),
    "boxcox1p": ((POS, REAL / 3), 1e-6), "owens_t": ((REAL / 2, REAL[::-1] / 1.5), 2e-6),
}


def _close(got, want, rtol, atol=0.0):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def test_names_cover_ninety_percent_of_jax():
    public = [n for n in dir(js) if not n.startswith("_")]
    present = [n for n in public if hasattr(ls, n)]
    assert len(present) / len(public) >= 0.9, sorted(set(public) - set(present))


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_values_eager_and_jit(name):
    args, rtol = VALUE_CASES[name]
    want = _jax(name)(*args)
    # atol: JAX flushes subnormal results to zero (log_ndtr's far tail).
    _close(getattr(ls, name)(*args), want, rtol, 1e-30)
    _close(llax.jit(getattr(ls, name))(*args), want, rtol, 1e-30)


def test_betainc_and_kl_div():
    # JAX's own float32 betainc is ~1e-4 from the float64 truth; llax follows the same
    # continued fraction, so both are compared with an absolute tolerance.
    a, b, x = POS, POS[::-1], UNIT
    _close(ls.betainc(a, b, x), js.betainc(a, b, x), 0, 1e-5)
    _close(ls.betainc(2.0, 3.0, 0.4), js.betainc(2.0, 3.0, 0.4), 1e-6)
    _close(ls.kl_div(UNIT, UNIT[::-1]), js.kl_div(UNIT, UNIT[::-1]), 1e-6, 1e-6)
    edges = np.array([0.0, 1.0, -0.1, 1.1, np.nan], np.float32)
    _close(ls.betainc(2.0, 3.0, edges), js.betainc(2.0, 3.0, edges), 1e-6)


def test_special_points():
    x = np.array([0.0, -0.0, 1.0, -1.0, -2.5, np.inf, -np.inf, np.nan], np.float32)
    for name in ["gammaln", "gamma", "gammasgn", "loggamma", "entr", "erf", "erfc", "expit",
                 "i0e", "i1e", "ndtr", "log_ndtr", "erfcx", "dawsn"]:
        _close(getattr(ls, name)(x), _jax(name)(x), 1e-6, 1e-30)
    p = np.array([0.0, 1.0, 0.5, 1e-30, 1 - 1e-7, np.nan], np.float32)
    _close(ls.ndtri(p), js.ndtri(p), 1e-6)
    _close(ls.xlogy(0.0, 0.0), js.xlogy(0.0, 0.0), 0)
    _close(ls.xlog1py(0.0, -1.0), js.xlog1py(0.0, -1.0), 0)
    _close(ls.expi(np.float32(0)), js.expi(np.float32(0)), 0)
    _close(ls.spence(np.array([0.0, 1.0, -1.0, 3.0], np.float32)),
           js.spence(np.array([0.0, 1.0, -1.0, 3.0], np.float32)), 1e-6)


@pytest.mark.parametrize("x", [np.int32(3), np.array([1, 2, 5], np.int32), True, 2, 2.5,
                               np.zeros((0,), np.float32), np.ones((2, 3), np.float32)])
def test_promotion_and_shapes(x):
    for name in ["gammaln", "erf", "expit", "i0e", "digamma", "entr", "gamma", "expi"]:
        got, want = getattr(ls, name)(x), getattr(js, name)(x)  # (eager: weak types)
        _close(got, want, 1e-5)
        assert getattr(got, "weak_type", False) == getattr(want, "weak_type", False)


def test_broadcasting_two_arguments():
    a = np.linspace(0.5, 3, 3, dtype=np.float32)[:, None]
    x = np.linspace(0.1, 4, 4, dtype=np.float32)
    for name in ["gammainc", "gammaincc", "xlogy", "betaln", "poch", "zeta"]:
        args = (a + 1.5, x) if name == "zeta" else (a, x)
        _close(getattr(ls, name)(*args), _jax(name)(*args), 1e-5)


def test_multigammaln_bessel_jn_bernoulli():
    _close(ls.multigammaln(POS + 2, 3), js.multigammaln(POS + 2, 3), 1e-6)
    z = np.linspace(0.5, 8, 6, dtype=np.float32)
    _close(ls.bessel_jn(z, v=3), js.bessel_jn(z, v=3), 1e-4, 1e-6)
    _close(ls.bernoulli(12), js.bernoulli(12), 1e-6)
    _close(ls.logsumexp(REAL.reshape(4, 6), axis=1, b=UNIT.reshape(4, 6)),
           js.logsumexp(REAL.reshape(4, 6), axis=1, b=UNIT.reshape(4, 6)), 1e-6)
    _close(ls.softmax(REAL.reshape(4, 6), axis=0), js.softmax(REAL.reshape(4, 6), axis=0), 1e-6)


GRAD_ONE = {"erf": 0.7, "erfc": 0.7, "erfinv": 0.6, "expit": 0.7, "logit": 0.7,
            "gammaln": 2.3, "digamma": 2.3, "entr": 0.7, "ndtr": 0.7, "ndtri": 0.3,
            "log_ndtr": -14.0, "i0e": 2.3, "i1e": -2.3, "i0": 2.3, "i1": 2.3, "gamma": 2.3,
            "factorial": 2.3, "expi": 2.3, "exp1": 2.3, "spence": 2.3, "erfcx": 2.3,
            "dawsn": 2.3, "loggamma": 2.3}


@pytest.mark.parametrize("name", sorted(GRAD_ONE))
def test_grad_one_argument(name):
    x = np.float32(GRAD_ONE[name])
    want = jax.jit(jax.grad(getattr(js, name)))(x)
    _close(llax.grad(getattr(ls, name))(x), want, 1e-5)
    _close(llax.jit(llax.grad(getattr(ls, name)))(x), want, 1e-5)


GRAD_TWO = {"xlogy": (0.7, 2.3), "xlog1py": (0.7, 2.3), "betaln": (0.7, 2.3),
            "beta": (0.7, 2.3), "gammainc": (2.3, 0.7), "gammaincc": (2.3, 0.7),
            "rel_entr": (0.7, 2.3), "kl_div": (0.7, 2.3), "poch": (2.3, 0.7),
            "zeta": (3.3, 0.7), "boxcox": (2.3, 0.7), "comb": (6.9, 0.7),
            "owens_t": (0.7, 0.4)}


@pytest.mark.parametrize("name", sorted(GRAD_TWO))
def test_grad_two_arguments(name):
    args = tuple(np.float32(v) for v in GRAD_TWO[name])
    want = jax.jit(jax.grad(getattr(js, name), argnums=(0, 1)))(*args)
    got = llax.grad(getattr(ls, name), argnums=(0, 1))(*args)
    for g, w in zip(got, want):
        _close(g, w, 1e-4)


def test_grad_of_functions_with_integer_orders():
    x = np.float32(2.3)
    _close(llax.grad(ls.polygamma, 1)(2, x), jax.grad(js.polygamma, 1)(2, x), 1e-5)
    _close(llax.grad(lambda t: ls.expn(3, t))(x), jax.grad(lambda t: js.expn(3, t))(x), 1e-5)
    _close(llax.grad(ls.betainc, 2)(x, 0.7, 0.4), jax.grad(js.betainc, 2)(x, 0.7, 0.4), 1e-5)
    f_l = lambda v: ls.logsumexp(v, b=UNIT[:3])  # noqa: E731
    f_j = lambda v: js.logsumexp(v, b=UNIT[:3])  # noqa: E731
    _close(llax.grad(f_l)(REAL[:3]), jax.grad(f_j)(REAL[:3]), 1e-6)


def test_grad_matches_finite_differences():
    for name, x in [("zeta", 0.7), ("i1e", 3.0), ("expi", -1.5), ("log_ndtr", -20.0)]:
        f = (lambda q: ls.zeta(np.float32(3.3), q)) if name == "zeta" else getattr(ls, name)
        h = 1e-3 * max(1.0, abs(x))
        fd = (float(f(np.float32(x + h))) - float(f(np.float32(x - h)))) / (2 * h)
        g = float(llax.grad(f)(np.float32(x)))
        assert abs(g - fd) <= 2e-3 * max(1.0, abs(fd)), (name, g, fd)


def test_vmap_matches_loop():
    for name, args in [("gammainc", (POS[:5], POS[5:10])), ("betainc", (POS[:5], POS[5:10],
                                                                         UNIT[:5])),
                       ("i1e", (REAL[:5],)), ("expi", (REAL[:5],)), ("ndtri", (UNIT[:5],))]:
        f = getattr(ls, name)
        batched = np.asarray(llax.vmap(f)(*args))
        looped = np.stack([np.asarray(f(*(a[i] for a in args))) for i in range(5)])
        np.testing.assert_allclose(batched, looped, rtol=1e-6, atol=1e-7)


def test_hyp1f1():
    a = _rng.uniform(0.1, 3, 12).astype(np.float32)
    b = _rng.uniform(0.5, 4, 12).astype(np.float32)
    x = _rng.uniform(-20, 30, 12).astype(np.float32)
    x[:3] = [-150.0, -120.0, 105.0]  # the asymptotic expansion
    a[3], b[4] = 0.0, a[4]  # the special cases 1 and exp(x)
    _close(ls.hyp1f1(a, b, x), _jax("hyp1f1")(a, b, x), 1e-5)
    _close(llax.jit(ls.hyp1f1)(a, b, x), _jax("hyp1f1")(a, b, x), 1e-5)
    args = (np.float32(1.3), np.float32(2.2), np.float32(1.7))
    got = llax.grad(ls.hyp1f1, argnums=(0, 1, 2))(*args)
    want = jax.grad(js.hyp1f1, argnums=(0, 1, 2))(*args)
    for g, w in zip(got, want):
        _close(g, w, 1e-5)


def test_errors_like_jax():
    with pytest.raises(ValueError, match="integer type"):
        ls.polygamma(1.0, 2.0)
    with pytest.raises(NotImplementedError):
        ls.zeta(2.0)
    with pytest.raises(TypeError):
        ls.ndtr(np.int32(1))
    with pytest.raises(TypeError):
        ls.ndtri(np.int32(1))
    with pytest.raises(TypeError):
        ls.log_ndtr(1.0, series_order=1.5)
    with pytest.raises(ValueError):
        ls.log_ndtr(1.0, series_order=-1)
    with pytest.raises(ValueError):
        ls.log_ndtr(1.0, series_order=31)
    with pytest.raises(NotImplementedError):
        ls.factorial(3, exact=True)
    with pytest.raises(ValueError):
        ls.bernoulli(-1)
    # What JAX raises for the same calls, so the two stay aligned.
    with pytest.raises(ValueError, match="integer type"):
        js.polygamma(1.0, 2.0)
    with pytest.raises(TypeError):
        js.ndtr(jjnp.int32(1))
