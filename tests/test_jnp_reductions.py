"""Reductions of ``llax.numpy`` against JAX: sum, prod, max, min, any, all, mean, var, std,
argmax, argmin, with axis (int, tuple, negative, None), keepdims, dtype, initial, where."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import llax.numpy as lnp
from llax.tests.jnp_oracle import as_jax, check, check_many, pair, primitive_names, sample, x64_mode
from llax.tests.jnp_oracle import x64 as x64  # noqa: F401 - fixture

REDUCTIONS = "sum prod max min amax amin any all mean var std argmax argmin".split()
AXES = [None, 0, 1, -1, (0, 2), (), (-1, 0)]


def _cases(axis, keepdims: bool) -> dict:
    cases = {}
    for name in REDUCTIONS:
        if name in ("argmax", "argmin") and isinstance(axis, tuple):
            continue
        cases[f"{name}(axis={axis}, keepdims={keepdims})"] = pair(name, axis=axis,
                                                                   keepdims=keepdims)
    return cases


def test_reductions_axes_and_keepdims() -> None:
    x = sample("float32", (2, 3, 4), special=False)
    cases = {}
    for axis in AXES:
        for keepdims in (False, True):
            cases.update(_cases(axis, keepdims))
    check_many(cases, x)


@pytest.mark.parametrize("dtype", ["int32", "bool", "uint8", "float16", "int8"])
def test_reductions_x32(dtype: str) -> None:
    x = sample(dtype, (2, 3, 4))
    cases = {}
    for axis, keepdims in ((None, False), (1, False), ((0, 2), False), (-1, True)):
        cases.update(_cases(axis, keepdims))
    check_many(cases, x)


@pytest.mark.parametrize("dtype", ["float64", "int64", "int32", "bool"])
def test_reductions_x64(dtype: str) -> None:
    with x64_mode(True):
        x = sample(dtype, (2, 3, 4), special=False)
        cases = {}
        for axis in (None, 1, (0, 2)):
            cases.update(_cases(axis, False))
        check_many(cases, x)
        if dtype == "float64":  # the same values as NumPy
            for name in ("sum", "prod", "max", "mean", "var", "std", "argmin"):
                np.testing.assert_allclose(getattr(lnp, name)(x, axis=1),
                                           getattr(np, name)(x, axis=1), rtol=1e-12)


def test_nan_and_special_values() -> None:
    x = np.array([[1.0, np.nan, 3.0], [np.inf, -np.inf, 0.0], [-0.0, 2.0, 2.0]], np.float32)
    cases = {}
    for axis in (None, 0, 1):
        cases.update(_cases(axis, False))
    check_many(cases, x)


def test_scalars_and_empty_arrays() -> None:
    cases = {n: (getattr(lnp, n), getattr(jnp, n)) for n in REDUCTIONS}
    check_many(cases, np.float32(2.5) * np.ones((), np.float32))
    check_many({n: (getattr(lnp, n), getattr(jnp, n))
                for n in ("sum", "prod", "any", "all", "mean")}, np.zeros((0, 3), np.float32))
    check_many({"sum0": (lambda x: lnp.sum(x, 0), lambda x: jnp.sum(x, 0)),
                "max1": (lambda x: lnp.max(x, 1), lambda x: jnp.max(x, 1)),
                "argmax1": (lambda x: lnp.argmax(x, 1), lambda x: jnp.argmax(x, 1))},
               np.zeros((0, 3), np.float32))
    # Python scalars reduce too, and the result is never weak.
    for name in REDUCTIONS:
        check(getattr(lnp, name), getattr(jnp, name), 2.0, jit=False)


def test_dtype_arguments(x64: bool) -> None:
    x = sample("int32", (3, 4), special=False)
    b = sample("bool", (3, 4))
    cases = {
        "sum f32": pair("sum", dtype="float32"),
        "sum i8": (lambda a: lnp.sum(a, dtype="int8"), lambda a: jnp.sum(a, dtype="int8")),
        "prod f16": (lambda a: lnp.prod(a, 0, dtype=lnp.float16),
                     lambda a: jnp.prod(a, 0, dtype=jnp.float16)),
        "mean i32": pair("mean", dtype="int32"),
        "mean f16": (lambda a: lnp.mean(a, 1, dtype=lnp.float16),
                     lambda a: jnp.mean(a, 1, dtype=jnp.float16)),
        "var f16": pair("var", dtype="float16"),
        "no promotion": (lambda a: lnp.sum(a.astype(lnp.int8), promote_integers=False),
                         lambda a: jnp.sum(a.astype(jnp.int8), promote_integers=False)),
    }
    check_many(cases, x)
    check_many({"sum": (lnp.sum, jnp.sum), "prod": (lnp.prod, jnp.prod),
                "mean": (lnp.mean, jnp.mean)}, b)


def test_ddof_and_correction() -> None:
    x = sample("float32", (4, 5), special=False)
    cases = {}
    for ddof in (0, 1, 2, 5, 6):
        cases[f"var ddof={ddof}"] = (lambda a, d=ddof: lnp.var(a, axis=1, ddof=d),
                                     lambda a, d=ddof: jnp.var(a, axis=1, ddof=d))
        cases[f"std ddof={ddof}"] = (lambda a, d=ddof: lnp.std(a, ddof=d, keepdims=True),
                                     lambda a, d=ddof: jnp.std(a, ddof=d, keepdims=True))
    cases["correction"] = (lambda a: lnp.var(a, correction=1), lambda a: jnp.var(a, correction=1))
    check_many(cases, x)


def test_initial_and_where() -> None:
    x = sample("float32", (3, 4), special=False)
    mask = sample("bool", (3, 4), seed=5)
    cases = {
        "sum initial": (lambda a: lnp.sum(a, initial=2.0), lambda a: jnp.sum(a, initial=2.0)),
        "max initial": (lambda a: lnp.max(a, 0, initial=5.0), lambda a: jnp.max(a, 0, initial=5.0)),
        "sum where": (lambda a: lnp.sum(a, 1, where=mask), lambda a: jnp.sum(a, 1, where=mask)),
        "prod where": (lambda a: lnp.prod(a, where=mask), lambda a: jnp.prod(a, where=mask)),
        "max where": (lambda a: lnp.max(a, 1, where=mask, initial=-1.0),
                      lambda a: jnp.max(a, 1, where=mask, initial=-1.0)),
        "mean where": (lambda a: lnp.mean(a, 0, where=mask), lambda a: jnp.mean(a, 0, where=mask)),
        "any where": (lambda a: lnp.any(a > 1, where=mask), lambda a: jnp.any(a > 1, where=mask)),
        "all where": (lambda a: lnp.all(a > 1, 0, where=mask),
                      lambda a: jnp.all(a > 1, 0, where=mask)),
    }
    check_many(cases, x)
    with pytest.raises(ValueError, match="initial"):
        lnp.max(x, where=mask)


def test_errors() -> None:
    x = lnp.ones((2, 3))
    with pytest.raises(ValueError, match="out of bounds"):
        lnp.sum(x, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        lnp.sum(x, axis=(0, 0))
    with pytest.raises(ValueError, match="zero-size array to reduction operation max"):
        lnp.max(lnp.ones((0,)))
    with pytest.raises(ValueError, match="empty sequence"):
        lnp.argmax(lnp.ones((0,)))
    with pytest.raises(TypeError, match="sum requires ndarray or scalar arguments"):
        lnp.sum([1, 2, 3])
    with pytest.raises(NotImplementedError):
        lnp.sum(x, out=x)


@pytest.mark.parametrize("fn", [
    lambda x: lnp.sum(x), lambda x: lnp.sum(x, axis=1, keepdims=True), lambda x: lnp.max(x, 0),
    lambda x: lnp.argmax(x), lambda x: lnp.argmax(x, axis=1, keepdims=True),
    lambda x: lnp.mean(x, axis=(0, 1)), lambda x: lnp.prod(x), lambda x: lnp.any(x),
    lambda x: lnp.sum(x.astype(lnp.int32)),
])
def test_primitive_names_match_jax(fn) -> None:
    x = np.ones((2, 3), np.float32)
    assert primitive_names(fn, x) == primitive_names(as_jax(fn), x, use_jax=True)
