"""Cumulative ops of llax.numpy (cumsum, cumprod, cumulative_sum/prod, nancum*, diff,
ediff1d, gradient, trapezoid) against JAX: values, dtypes and weak types, eager and jitted,
x64 on and off; gradients and vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, check, check_many, sample
from llax.tests.jnp_oracle import x64 as x64  # noqa: F401 - fixture

CASES = [("float32", (3, 4)), ("int32", (7,)), ("bool", (2, 0, 3)), ("int8", (0,)),
         ("uint8", (3, 4))]


def _pairs(name: str, **kwargs) -> tuple:
    return (lambda x: getattr(lnp, name)(x, **kwargs),
            lambda x: getattr(jnp, name)(x, **kwargs))


@pytest.mark.parametrize("dtype,shape", CASES)
def test_cumulative_reductions(dtype, shape, x64):
    x = sample(dtype, shape, seed=1, low=-2, high=2)
    cases = {}
    for name in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
        cases[f"{name}"] = _pairs(name)
        for axis in range(-len(shape), len(shape)):
            cases[f"{name}_{axis}"] = _pairs(name, axis=axis)
        cases[f"{name}_f32"] = _pairs(name, axis=-1, dtype="float32")
        cases[f"{name}_bool"] = _pairs(name, axis=0, dtype=bool)
        cases[f"{name}_i8"] = _pairs(name, axis=0, dtype="int8")
    for name in ("cumulative_sum", "cumulative_prod"):
        cases[f"{name}"] = _pairs(name, axis=-1)
        cases[f"{name}_init"] = _pairs(name, axis=0, include_initial=True)
        cases[f"{name}_f32"] = _pairs(name, axis=0, dtype="float32", include_initial=True)
    check_many(cases, x)


def test_scalars_and_python_values():
    for name in ("cumsum", "cumprod", "nancumsum"):
        for v in (3.0, 2, True, np.float32(1.5)):
            check(getattr(lnp, name), getattr(jnp, name), v)
        check(lambda x: lnp.cumsum(x, axis=0), lambda x: jnp.cumsum(x, axis=0), 2.5)


def test_nan_variants():
    x = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 3.0]], np.float32)
    check_many({"nancumsum": _pairs("nancumsum", axis=1), "nancumprod": _pairs("nancumprod"),
                "cumsum": _pairs("cumsum", axis=0)}, x)


def test_long_axis_accuracy():
    # The parallel prefix adds in a tree order: float32 sums of 5000 terms stay close to
    # the exact (float64) ones, as JAX's do.
    x = np.random.default_rng(0).uniform(0, 1, 5000).astype(np.float32)
    got = np.asarray(llax.jit(lnp.cumsum)(x))
    np.testing.assert_allclose(got, np.cumsum(x.astype(np.float64)), rtol=2e-6)
    assert_same(lnp.cumsum(x), jnp.cumsum(x), rtol=2e-6)


def test_array_api_errors():
    with pytest.raises(ValueError, match="non-scalar"):
        lnp.cumulative_sum(np.float32(1))
    with pytest.raises(ValueError, match="axis was not set"):
        lnp.cumulative_prod(np.ones((2, 2)))
    with pytest.raises(ValueError, match="out of bounds"):
        lnp.cumsum(np.ones(3), axis=1)
    with pytest.raises(NotImplementedError):
        lnp.cumsum(np.ones(3), out=np.ones(3))
    with pytest.raises(TypeError):
        lnp.cumsum([1, 2, 3])


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_diff(dtype, x64):
    x = sample(dtype, (4, 5), seed=2)
    cases = {
        "n1": (lambda a: lnp.diff(a), lambda a: jnp.diff(a)),
        "n0": (lambda a: lnp.diff(a, n=0), lambda a: jnp.diff(a, n=0)),
        "n2_axis0": (lambda a: lnp.diff(a, n=2, axis=0), lambda a: jnp.diff(a, n=2, axis=0)),
        "n7": (lambda a: lnp.diff(a, n=7), lambda a: jnp.diff(a, n=7)),
        "prepend_scalar": (lambda a: lnp.diff(a, prepend=1), lambda a: jnp.diff(a, prepend=1)),
        "append_array": (lambda a: lnp.diff(a, axis=0, append=a[:1]),
                         lambda a: jnp.diff(a, axis=0, append=a[:1])),
        "both": (lambda a: lnp.diff(a, prepend=a[:, :2], append=0.5),
                 lambda a: jnp.diff(a, prepend=a[:, :2], append=0.5)),
        "ediff1d": (lambda a: lnp.ediff1d(a), lambda a: jnp.ediff1d(a)),
    }
    if dtype != "bool":  # JAX subtracts for ediff1d, which bools do not allow
        cases["ediff1d_ends"] = (
            lambda a: lnp.ediff1d(a, to_begin=np.array([7, 8]), to_end=-1.0),
            lambda a: jnp.ediff1d(a, to_begin=np.array([7, 8]), to_end=-1.0))
    check_many(cases, x)
    check(lnp.diff, jnp.diff, np.zeros((0,), dtype), jit=False)
    if dtype == "bool":
        with pytest.raises(TypeError):
            lnp.ediff1d(x)
    else:
        check(lnp.ediff1d, jnp.ediff1d, np.zeros((1,), dtype), jit=False)


def test_diff_errors():
    with pytest.raises(ValueError, match="non-negative"):
        lnp.diff(np.ones(3), n=-1)
    with pytest.raises(ValueError, match="at least one dimensional"):
        lnp.diff(np.float32(1))
    with pytest.raises(TypeError):
        lnp.diff(np.ones(3), n=1.5)


def test_gradient_and_trapezoid(x64):
    f = sample("float32", (5, 6), seed=3, special=False)
    xs = np.cumsum(np.random.default_rng(4).uniform(0.5, 1.5, 6)).astype(np.float32)
    cases = {
        "grad_all": (lambda a: lnp.gradient(a), lambda a: jnp.gradient(a)),
        "grad_axis": (lambda a: lnp.gradient(a, 0.5, axis=1),
                      lambda a: jnp.gradient(a, 0.5, axis=1)),
        "grad_coords": (lambda a: lnp.gradient(a, xs, axis=-1),
                        lambda a: jnp.gradient(a, xs, axis=-1)),
        "grad_two": (lambda a: lnp.gradient(a, 2.0, xs), lambda a: jnp.gradient(a, 2.0, xs)),
        "trap": (lambda a: lnp.trapezoid(a), lambda a: jnp.trapezoid(a)),
        "trap_dx": (lambda a: lnp.trapezoid(a, dx=0.25, axis=0),
                    lambda a: jnp.trapezoid(a, dx=0.25, axis=0)),
        "trap_x": (lambda a: lnp.trapezoid(a, xs), lambda a: jnp.trapezoid(a, xs)),
        "trap_x2d": (lambda a: lnp.trapezoid(a, a * a, axis=0),
                     lambda a: jnp.trapezoid(a, a * a, axis=0)),
    }
    check_many(cases, f)
    check(lnp.gradient, jnp.gradient, np.arange(5, dtype=np.int32))
    check(lnp.trapezoid, jnp.trapezoid, np.arange(5, dtype=np.int32))
    assert lnp.gradient(f, axis=()) == []
    with pytest.raises(ValueError, match="at least 2"):
        lnp.gradient(np.ones((1, 3), np.float32))
    with pytest.raises(NotImplementedError):
        lnp.gradient(f, edge_order=2)
    with pytest.raises(ValueError, match="same length"):
        lnp.gradient(f, np.ones(3, np.float32), axis=1)


GRAD_CASES = {
    "cumsum": lambda lib, x: lib.cumsum(x * x, axis=0).sum(),
    "cumprod": lambda lib, x: (lib.cumprod(x, axis=1) * x).sum(),
    "cumulative_prod": lambda lib, x: lib.cumulative_prod(x, axis=0, include_initial=True).sum(),
    "nancumsum": lambda lib, x: lib.nancumsum(lib.log(x)).sum(),
    "diff": lambda lib, x: (lib.diff(x, n=2, prepend=1.0) ** 2).sum(),
    "ediff1d": lambda lib, x: (lib.ediff1d(x, to_end=x[0]) ** 3).sum(),
    "gradient": lambda lib, x: (lib.gradient(x, axis=0) * x).sum(),
    "trapezoid": lambda lib, x: lib.trapezoid(x * x, lib.cumsum(x[0]) + 3.0).sum(),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_grad_vs_jax(name):
    x = np.random.default_rng(5).uniform(-2, 2, (4, 3)).astype(np.float32)
    x[1, 1] = 0.0  # cumprod's gradient through a zero
    fn = GRAD_CASES[name]
    if name == "nancumsum":
        x = np.abs(x) + 0.5
        x[0, 0] = -1.0  # log gives NaN there: its gradient path is masked out
    want = jax.grad(lambda v: fn(jnp, v))(x)
    assert_same(llax.grad(lambda v: fn(lnp, v))(x), want, rtol=1e-5, atol=1e-5)
    assert_same(llax.jit(llax.grad(lambda v: fn(lnp, v)))(x), want, rtol=1e-5, atol=1e-5)


def test_vmap_vs_loop():
    x = np.random.default_rng(6).uniform(-2, 2, (3, 4, 5)).astype(np.float32)
    fns = {
        "cumsum": lambda v: lnp.cumsum(v, axis=1),
        "cumprod": lambda v: lnp.cumprod(v),
        "cumulative_sum": lambda v: lnp.cumulative_sum(v, axis=0, include_initial=True),
        "diff": lambda v: lnp.diff(v, axis=0, append=0.0),
        "gradient": lambda v: lnp.gradient(v)[1],
        "trapezoid": lambda v: lnp.trapezoid(v, dx=0.5),
    }
    for name, fn in fns.items():
        batched = llax.vmap(fn)(x)
        looped = np.stack([np.asarray(fn(x[i])) for i in range(x.shape[0])])
        np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-6, atol=1e-6,
                                   err_msg=name)
        in_axis2 = llax.vmap(fn, in_axes=2)(x)
        looped2 = np.stack([np.asarray(fn(x[:, :, i])) for i in range(x.shape[2])])
        np.testing.assert_allclose(np.asarray(in_axis2), looped2, rtol=1e-6, atol=1e-6,
                                   err_msg=name)
