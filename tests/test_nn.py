"""``llax.nn`` and ``llax.scipy.special.logsumexp`` against ``jax.nn`` and JAX's logsumexp:
values, dtypes and weak types, gradients (``llax.grad`` of a randomly weighted sum against
``jax.grad``), eager and under jit, float32 with extreme inputs and float64 for a subset.
"""

from __future__ import annotations

import math

import jax
import jax.scipy.special as jsp
import numpy as np
import pytest

import llax
import llax.nn as lnn
import llax.numpy as lnp
import llax.scipy.special as lsp
from llax.tests.jnp_oracle import assert_same, check, check_many, x64_mode

jnn = jax.nn

# Inputs where the functions or their derivatives are special: kinks (0, 6, +-1, +-3),
# overflow of exp (+-100, +-1e4), infinities.
SPECIAL = [0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 0.5, -0.5, 20.0, -20.0, 100.0, -100.0,
           1e4, -1e4, np.inf, -np.inf]


def inputs(shape: tuple[int, ...], dtype: str = "float32", seed: int = 0,
           special: bool = True) -> np.ndarray:
    """Random normal values (scale 4) with the SPECIAL values first."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if special and x.size:
        flat = x.reshape(-1)
        n = min(flat.size, len(SPECIAL))
        flat[:n] = SPECIAL[:n]
    return x


def weights(shape: tuple[int, ...], dtype: str = "float32", seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(dtype)


def both(name: str, **kwargs):
    """llax.nn's and jax.nn's ``name`` with ``kwargs`` bound, as functions of ``x``."""
    lf, jf = getattr(lnn, name), getattr(jnn, name)
    return (lambda x: lf(x, **kwargs)), (lambda x: jf(x, **kwargs))


ELEMENTWISE = {
    **{name: both(name) for name in (
        "relu relu6 sigmoid log_sigmoid softplus silu swish mish soft_sign squareplus elu selu "
        "celu leaky_relu hard_tanh hard_sigmoid hard_silu hard_swish sparse_plus "
        "sparse_sigmoid gelu identity tanh").split()},
    "elu_alpha": both("elu", alpha=0.5),
    "celu_alpha": both("celu", alpha=2.0),
    "leaky_relu_slope": both("leaky_relu", negative_slope=0.2),
    "gelu_exact": both("gelu", approximate=False),
}
# XLA's float32 tanh is exactly +-1 beyond |x| ~ 7.9 where ours is a few ulps closer to the
# truth, so gelu's tail derivative (about 1e-6 there) is 0 in JAX: compare absolutely.
GRAD_ATOL = {"gelu": 1e-5}


def grad_pair(lf, jf, w, argnums=0):
    """``grad`` of ``sum(w * f(...))`` in llax and in JAX."""
    return (llax.grad(lambda *a: lnp.sum(lf(*a) * w), argnums),
            jax.grad(lambda *a: jax.numpy.sum(jf(*a) * w), argnums))


def check_grad(lf, jf, *args, argnums=0, w=None, jit=True, **tol):
    out = lf(*args)
    w = weights(np.shape(out), np.asarray(out).dtype) if w is None else w
    lg, jg = grad_pair(lf, jf, w, argnums)
    want = jg(*args)
    assert_same(lg(*args), want, what="grad (eager)", **tol)
    if jit:
        assert_same(llax.jit(lg)(*args), want, what="grad (jit)", **tol)


# ---------------------------------------------------------------------------------------------
# Elementwise activations


@pytest.mark.parametrize("shape", [(18,), (3, 8), ()], ids=str)
def test_elementwise_values(shape):
    check_many(ELEMENTWISE, inputs(shape))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_grads(name):
    lf, jf = ELEMENTWISE[name]
    check_grad(lf, jf, inputs((6, 7)), atol=GRAD_ATOL.get(name))


@pytest.mark.parametrize("name", ["relu", "relu6", "hard_tanh", "hard_sigmoid", "leaky_relu",
                                  "elu", "sparse_plus", "sparse_sigmoid"])
def test_derivative_at_kinks(name):
    # Scalar grads at the points where the function has a corner: JAX's choice of one side.
    lf, jf = ELEMENTWISE[name]
    for x in (0.0, 6.0, 1.0, -1.0, 3.0, -3.0):
        assert_same(llax.grad(lf)(np.float32(x)), jax.grad(jf)(np.float32(x)), what=f"x={x}")


@pytest.mark.parametrize("name", ["relu", "relu6", "softplus", "log_sigmoid", "gelu", "elu",
                                  "softmax", "log_softmax", "logsumexp", "standardize"])
def test_jvp_and_hessian(name):
    # Forward mode through the custom_jvp rules, and second derivatives (rules of rules).
    lf, jf = getattr(lnn, name), getattr(jnn, name)
    x = np.array([-2.0, 0.0, 0.5, 3.0, 6.0, 100.0], np.float32)
    t = weights(x.shape)
    assert_same(llax.jvp(lf, (x,), (t,)), jax.jvp(jf, (x,), (t,)), what="jvp")
    x = x[:4]
    w = weights(np.shape(jf(x)), seed=2)
    assert_same(llax.hessian(lambda x: lnp.sum(lf(x) * w))(x),
                jax.hessian(lambda x: jax.numpy.sum(jf(x) * w))(x), what="hessian", atol=1e-5)


def test_relu_derivative_is_zero_at_zero():
    assert float(llax.grad(lnn.relu)(0.0)) == 0.0
    assert float(llax.grad(lnn.relu6)(0.0)) == 0.0
    assert float(llax.grad(lnn.relu6)(6.0)) == 0.0
    assert float(llax.grad(lnn.relu6)(3.0)) == 1.0


def test_python_scalars_and_weak_types():
    for name in ("relu", "relu6", "sigmoid", "softplus", "silu", "elu", "gelu", "gelu_exact",
                 "leaky_relu", "hard_tanh", "log_sigmoid", "celu", "selu"):
        lf, jf = ELEMENTWISE[name]
        check(lf, jax.jit(jf), 1.5)
        check(lf, jax.jit(jf), -2.0)


@pytest.mark.parametrize("dtype", ["int32", "float64", "bool"])
def test_other_input_dtypes(dtype):
    # Integers promote (or are rejected) as in JAX; float64 NumPy input is float32 in x32.
    check_many(ELEMENTWISE, np.array([-3, 0, 2, 7, 1]).astype(dtype))


def test_log1mexp():
    x = np.array([0.0, 1e-6, 0.1, 0.5, math.log(2.0), 1.0, 5.0, 30.0, 100.0, np.inf],
                 np.float32)
    check(lnn.log1mexp, jnn.log1mexp, x)
    check_grad(lnn.log1mexp, jnn.log1mexp, x[1:])


def test_logaddexp():
    # jnp.logaddexp (added for softplus): stable form, NaN/inf cases, grads in both operands.
    x = inputs((4, 18))
    y = np.concatenate([x[:, ::-1][:, :9], x[:, :9]], axis=1)
    ljnp, jjnp = lnp.logaddexp, jax.numpy.logaddexp
    for b in (y, y[0], np.float32(2.0), 0.0, np.nan):
        check(ljnp, jjnp, x, b)
    check(ljnp, jax.jit(jjnp), 1, 2.5)
    finite = np.where(np.isinf(x), 5.0, x).astype(np.float32)
    check_grad(ljnp, jjnp, x, y[0])
    check_grad(ljnp, jjnp, finite, y[0], argnums=1)


def test_softplus_stability():
    assert float(llax.grad(lnn.softplus)(100.0)) == 1.0
    assert float(llax.jit(llax.grad(lnn.softplus))(100.0)) == 1.0
    assert float(llax.grad(lnn.softplus)(-100.0)) == pytest.approx(math.exp(-100), abs=1e-30)
    x = np.array([-1e4, 1e4, 89.0, -89.0], np.float32)
    assert np.isfinite(np.asarray(lnn.softplus(x))).all()
    assert np.isfinite(np.asarray(lnn.log_sigmoid(x))).all()


@pytest.mark.parametrize("axis", [-1, 0])
def test_glu(axis):
    x = inputs((4, 6), special=False)
    check(lambda x: lnn.glu(x, axis), lambda x: jnn.glu(x, axis), x)
    check_grad(lambda x: lnn.glu(x, axis), lambda x: jnn.glu(x, axis), x)
    with pytest.raises(ValueError):
        lnn.glu(np.ones((3,), np.float32))


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax, logsumexp, logmeanexp, standardize


def rows(dtype: str = "float32") -> np.ndarray:
    """(3, 4, 5) values with large, tiny and -inf entries (no all -inf row along any axis)."""
    x = inputs((3, 4, 5), dtype, special=False)
    x[0, 0] = [1000.0, 0.0, -1000.0, 1e4, -1e4]
    x[0, 1, :2] = -np.inf
    x[1, 2] = [80.0, 80.0, 80.5, 79.0, -np.inf]
    return x


AXES = [-1, 0, 1, (0, 2), None]


@pytest.mark.parametrize("axis", AXES, ids=str)
def test_normalizations_values(axis):
    x = rows()
    cases = {
        "softmax": both("softmax", axis=axis),
        "log_softmax": both("log_softmax", axis=axis),
        "logsumexp": (lambda x: lnn.logsumexp(x, axis), lambda x: jnn.logsumexp(x, axis)),
        "logsumexp_keepdims": (lambda x: lsp.logsumexp(x, axis, keepdims=True),
                               lambda x: jsp.logsumexp(x, axis, keepdims=True)),
        "logmeanexp": (lambda x: lnn.logmeanexp(x, axis), lambda x: jnn.logmeanexp(x, axis)),
    }
    check_many(cases, x)
    finite = inputs((3, 4, 5), special=False)
    check_many({"standardize": both("standardize", axis=axis),
                "standardize_stable": both("standardize", axis=axis, algorithm="stable")},
               finite)


@pytest.mark.parametrize("axis", [-1, 0, (0, 2), None], ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "logmeanexp",
                                  "standardize"])
def test_normalizations_grads(name, axis):
    x = inputs((3, 4, 5), special=False) if name == "standardize" else rows()
    lf, jf = getattr(lnn, name), getattr(jnn, name)
    check_grad(lambda x: lf(x, axis), lambda x: jf(x, axis), x, atol=1e-5)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_where(name):
    x = rows()
    mask = np.random.default_rng(3).uniform(size=x.shape) > 0.3
    mask[..., 0] = True  # every row keeps one element
    lf, jf = getattr(lnn, name), getattr(jnn, name)
    check(lambda x: lf(x, where=mask), lambda x: jf(x, where=mask), x)
    check_grad(lambda x: lf(x, where=mask), lambda x: jf(x, where=mask), x,
               w=np.where(mask, weights(x.shape), 0).astype(np.float32))


# JAX casts the -inf initial value of its max to the integer dtype, which NumPy warns about.
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("dtype", ["int32", "float64", "bool"])
def test_normalizations_other_input_dtypes(dtype):
    x = np.arange(12).reshape(3, 4).astype(dtype)
    check_many({n: both(n) for n in ("softmax", "log_softmax", "logsumexp", "logmeanexp",
                                     "standardize", "glu")}, x)


def test_standardize_options():
    x = inputs((4, 6), special=False)
    mask = np.random.default_rng(4).uniform(size=x.shape) > 0.3
    mean, var = np.float32(0.5), np.float32(2.0)
    for kwargs in ({"where": mask}, {"mean": mean}, {"mean": mean, "variance": var},
                   {"epsilon": 0.1}, {"axis": 0, "where": mask}):
        check(lambda x, kw=kwargs: lnn.standardize(x, **kw),
              lambda x, kw=kwargs: jnn.standardize(x, **kw), x)
        check_grad(lambda x, kw=kwargs: lnn.standardize(x, **kw),
                   lambda x, kw=kwargs: jnn.standardize(x, **kw), x, jit=False, atol=1e-5)
    with pytest.raises(ValueError, match="algorithm"):
        lnn.standardize(x, algorithm="other")


def test_softmax_stability():
    out = np.asarray(lnn.softmax(lnp.array([1000.0, 0.0])))
    assert not np.isnan(out).any()
    np.testing.assert_allclose(out, [1.0, 0.0])
    assert not np.isnan(np.asarray(lnn.log_softmax(lnp.array([1000.0, 0.0])))).any()
    g = llax.grad(lambda x: lnn.softmax(x)[0])(lnp.array([1000.0, 0.0]))
    assert not np.isnan(np.asarray(g)).any()
    x = np.array([[1e4, 1e4 - 1.0, -1e4], [-1e4, 1e4, 0.0]], np.float32)
    for f in (lnn.logsumexp, lnn.log_softmax, lnn.softmax):
        g = llax.grad(lambda x, f=f: lnp.sum(f(x) * weights(np.shape(f(x)))))(x)
        assert np.isfinite(np.asarray(g)).all(), f.__name__


def test_logsumexp_infinities():
    x = np.array([[-np.inf, -np.inf], [np.inf, 0.0], [np.inf, np.inf], [np.nan, 0.0],
                  [-np.inf, 1.0]], np.float32)
    check(lambda x: lsp.logsumexp(x, 1), lambda x: jsp.logsumexp(x, 1), x)
    out = lsp.logsumexp(np.full((3,), -np.inf, np.float32))
    assert float(out) == -np.inf
    g = llax.grad(lambda x: lsp.logsumexp(x))(np.array([-np.inf, 0.0, 1.0], np.float32))
    assert_same(g, jax.grad(lambda x: jsp.logsumexp(x))(np.array([-np.inf, 0.0, 1.0],
                                                                  np.float32)))


def test_logsumexp_same_function():
    assert lnn.logsumexp is lsp.logsumexp


B_CASES = {
    "positive": np.array([[0.5], [2.0], [1.0]], np.float32),
    "negative": np.array([[1.0, -1.0, 0.5, -2.0, 0.0]], np.float32),
    "all_negative": np.float32(-1.0),
    "zeros": np.array([0.0, 1.0, 0.0, 1.0, 0.0], np.float32),
}


@pytest.mark.parametrize("return_sign", [False, True])
@pytest.mark.parametrize("b", sorted(B_CASES))
def test_logsumexp_b(b, return_sign):
    a = inputs((3, 5), special=False)
    a[1, 1] = np.inf  # weighted by 0 in the "zeros" case
    bv = B_CASES[b]

    def lf(a, b):
        return lsp.logsumexp(a, axis=-1, b=b, return_sign=return_sign)

    def jf(a, b):
        return jsp.logsumexp(a, axis=-1, b=b, return_sign=return_sign)

    check(lf, jf, a, bv)
    if b == "zeros" or (b != "positive" and not return_sign):
        return  # gradients through an inf, or through NaN results: nothing to compare
    for argnums in (0, 1):
        check_grad(lambda a, b: lf(a, b)[0] if return_sign else lf(a, b),
                   lambda a, b: jf(a, b)[0] if return_sign else jf(a, b),
                   np.where(np.isinf(a), 1.0, a).astype(np.float32), bv, argnums=argnums)


def test_logsumexp_where_and_scalars():
    a = inputs((4, 5), special=False)
    mask = np.random.default_rng(5).uniform(size=a.shape) > 0.4
    check(lambda a: lsp.logsumexp(a, 1, where=mask), lambda a: jsp.logsumexp(a, 1, where=mask),
          a)
    check(lambda a: lsp.logsumexp(a, where=mask, b=2.0),
          lambda a: jsp.logsumexp(a, where=mask, b=2.0), a)
    check_grad(lambda a: lsp.logsumexp(a, 1, where=mask),
               lambda a: jsp.logsumexp(a, 1, where=mask), a)
    check(lsp.logsumexp, jax.jit(jsp.logsumexp), 2.0)
    check(lsp.logsumexp, jsp.logsumexp, np.arange(4, dtype=np.int32))


def test_logsumexp_grad_large_inputs():
    x = np.array([1e4, 1e4, -1e4, 3e38], np.float32)
    for xs in (x, x[:3], x[:3] * -1):
        g = np.asarray(llax.grad(lambda x: lsp.logsumexp(x))(xs))
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g.sum(), 1.0, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# one_hot


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    x = np.array([[-1, 0, 2], [3, 5, -7]], np.int32)  # out-of-range rows are all zeros
    check(lambda x: lnn.one_hot(x, 4, axis=axis), lambda x: jnn.one_hot(x, 4, axis=axis), x)


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "uint8", "float16"])
def test_one_hot_dtype(dtype):
    x = np.array([0, 3, 1, -1, 4], np.int32)
    check(lambda x: lnn.one_hot(x, 4, dtype=dtype),
          lambda x: jnn.one_hot(x, 4, dtype=dtype), x)


def test_one_hot_float_input_warns():
    x = np.array([0.0, 1.5, 2.0, -1.0], np.float32)
    with pytest.warns(DeprecationWarning, match="integer-typed"):
        got = lnn.one_hot(x, 3)
    with pytest.warns(DeprecationWarning):
        assert_same(got, jnn.one_hot(x, 3))


def test_one_hot_inputs():
    check(lambda x: lnn.one_hot(x, 3), lambda x: jnn.one_hot(x, 3), np.int32(2))
    check(lambda x: lnn.one_hot(x, 3), lambda x: jnn.one_hot(x, 3),
          np.array([0, 2, 9], np.uint8))
    assert_same(lnn.one_hot([0, 1], 2), jnn.one_hot(jax.numpy.array([0, 1]), 2))


# ---------------------------------------------------------------------------------------------
# float64


def test_x64():
    with x64_mode(True):
        x = inputs((18,), "float64")
        names = ("relu", "sigmoid", "log_sigmoid", "softplus", "silu", "elu", "selu", "gelu",
                 "gelu_exact", "leaky_relu", "hard_tanh", "relu6")
        check_many({n: ELEMENTWISE[n] for n in names}, x)
        for n in ("softplus", "gelu", "elu", "sigmoid", "relu"):
            check_grad(*ELEMENTWISE[n], x, jit=n == "softplus")
        r = rows("float64")
        check_many({"softmax": both("softmax"), "log_softmax": both("log_softmax", axis=0),
                    "logsumexp": (lambda x: lnn.logsumexp(x, 1), lambda x: jnn.logsumexp(x, 1))},
                   r)
        check_grad(lambda x: lnn.log_softmax(x, 1), lambda x: jnn.log_softmax(x, 1), r)
        check_grad(lambda x: lsp.logsumexp(x, (0, 2)), lambda x: jsp.logsumexp(x, (0, 2)), r)
        check(lambda x: lnn.one_hot(x, 3), lambda x: jnn.one_hot(x, 3),
              np.array([0, 2, 5], np.int64))
        assert float(llax.grad(lnn.softplus)(800.0)) == 1.0
