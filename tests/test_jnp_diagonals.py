"""Diagonals, triangles, their index helpers, vander, kron and cross against JAX."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import (
    assert_grads_match_jax,
    assert_same,
    check,
    check_many,
    sample,
    x64_mode,
)

DTYPES = ["float32", "int32", "bool"]


def _fn(make):
    return (lambda x: make(lnp, x)), (lambda x: make(jnp, x))


MATRIX_CASES = {
    "diag": lambda m, x: m.diag(x),
    "diag k": lambda m, x: m.diag(x, 2),
    "diag -k": lambda m, x: m.diag(x, -3),
    "diag far": lambda m, x: m.diag(x, 9),
    "diag of row": lambda m, x: m.diag(x[1]),
    "diag of row k": lambda m, x: m.diag(x[1], -2),
    "diagflat": lambda m, x: m.diagflat(x[:2]),
    "diagflat k": lambda m, x: m.diagflat(x[:2, :2], 1),
    "diagonal": lambda m, x: m.diagonal(x),
    "diagonal offset": lambda m, x: m.diagonal(x, 1),
    "diagonal -offset": lambda m, x: m.diagonal(x, -2),
    "diagonal swapped": lambda m, x: m.diagonal(x, 1, 1, 0),
    "trace": lambda m, x: m.trace(x),
    "trace offset": lambda m, x: m.trace(x, -1),
    "trace dtype": lambda m, x: m.trace(x, dtype=m.float32),
    "tril": lambda m, x: m.tril(x),
    "tril k": lambda m, x: m.tril(x, 2),
    "triu": lambda m, x: m.triu(x),
    "triu -k": lambda m, x: m.triu(x, -1),
    "fill_diagonal": lambda m, x: m.fill_diagonal(x, 1, inplace=False),
    "fill_diagonal vals": lambda m, x: m.fill_diagonal(x, x[0, :3], inplace=False),
    "fill_diagonal cycled": lambda m, x: m.fill_diagonal(x, x[0, :2], inplace=False),
    "fill_diagonal tall": lambda m, x: m.fill_diagonal(x.T, 7.5, inplace=False),
    "kron": lambda m, x: m.kron(x, x[:2, :2]),
    "kron ranks": lambda m, x: m.kron(x[0], x),
    "kron scalar": lambda m, x: m.kron(x, 2),
    "vander": lambda m, x: m.vander(x[0]),
    "vander N": lambda m, x: m.vander(x[0], 3, increasing=True),
    "vander 0": lambda m, x: m.vander(x[0], 0),
    "cross 3": lambda m, x: m.cross(x[:, :3], x[::-1, 1:4]),
    "cross 2x2": lambda m, x: m.cross(x[:, :2], x[:, 2:4]),
    "cross 2x3": lambda m, x: m.cross(x[:, :2], x[:, 2:5]),
    "cross 3x2 bcast": lambda m, x: m.cross(x[:, :3], x[0, :2]),
    "cross axes": lambda m, x: m.cross(x[:3], x[:3, ::-1], axisa=0, axisb=0, axisc=0),
    "cross axis": lambda m, x: m.cross(x[:, :3].T, x[:, 2:5].T, axis=0),
}


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_functions_match_jax(dtype):
    x = sample(dtype, (3, 5), low=-3, high=3)
    # JAX rejects vander(bools, 0) only by accident of its implementation (an iota of
    # bool); llax gives the empty matrix.
    skip = {"vander 0"} if dtype == "bool" else set()
    cases = {n: _fn(f) for n, f in MATRIX_CASES.items() if n not in skip}
    check_many(cases, x, jit=dtype == "float32")


STACK_CASES = {
    "diagonal 3d": lambda m, x: m.diagonal(x, 0, 2, 0),
    "diagonal 3d neg axes": lambda m, x: m.diagonal(x, 1, -1, -2),
    "trace 3d": lambda m, x: m.trace(x, 1, 1, 2),
    "tril 3d": lambda m, x: m.tril(x, -1),
    "triu 3d": lambda m, x: m.triu(x, 1),
    "fill_diagonal cube": lambda m, x: m.fill_diagonal(x[:, :3, :3][:3], -1, inplace=False),
    "kron 3d": lambda m, x: m.kron(x, x[0, :2]),
}


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_stacked_functions_match_jax(dtype):
    check_many({n: _fn(f) for n, f in STACK_CASES.items()}, sample(dtype, (4, 3, 5)))


def test_empty_and_small_inputs():
    for make in [lambda m, x: m.diag(x), lambda m, x: m.diag(x, 2), lambda m, x: m.vander(x),
                 lambda m, x: m.diagflat(x, -1)]:
        check(*_fn(make), np.zeros((0,), np.float32))
    for make in [lambda m, x: m.diagonal(x), lambda m, x: m.trace(x),
                 lambda m, x: m.tril(x), lambda m, x: m.fill_diagonal(x, 1.0, inplace=False)]:
        check(*_fn(make), np.zeros((0, 3), np.float32))
    check(*_fn(lambda m, x: m.diag(x)), np.ones(1, np.int32))
    check(*_fn(lambda m, x: m.kron(x, x)), np.float32(3.0))
    check(*_fn(lambda m, x: m.trace(x)), np.ones((3, 3), np.int8))


def test_creation_and_index_helpers_match_jax():
    for args in [(3,), (3, 4, 1), (4, 2, -1)]:
        assert_same(lnp.tri(*args), jnp.tri(*args))
        assert_same(lnp.tril_indices(*args[:1], *args[2:3], *args[1:2]),
                    jnp.tril_indices(*args[:1], *args[2:3], *args[1:2]))
        assert_same(lnp.triu_indices(*args[:1], *args[2:3], *args[1:2]),
                    jnp.triu_indices(*args[:1], *args[2:3], *args[1:2]))
    assert_same(lnp.tri(0), jnp.tri(0))
    assert_same(lnp.tri(3, dtype=int), jnp.tri(3, dtype=int))
    assert_same(lnp.tri(2, 3, dtype=bool), jnp.tri(2, 3, dtype=bool))
    assert_same(lnp.tril_indices(3, m=5), jnp.tril_indices(3, m=5))
    assert_same(lnp.diag_indices(4), jnp.diag_indices(4))
    assert_same(lnp.diag_indices(2, 3), jnp.diag_indices(2, 3))
    x = np.zeros((3, 5))
    assert_same(lnp.tril_indices_from(x, 1), jnp.tril_indices_from(x, 1))
    assert_same(lnp.triu_indices_from(x, -1), jnp.triu_indices_from(x, -1))
    assert_same(lnp.diag_indices_from(np.zeros((3, 3, 3))),
                jnp.diag_indices_from(np.zeros((3, 3, 3))))
    assert_same(lnp.mask_indices(4, lnp.triu, 1), jnp.mask_indices(4, jnp.triu, 1))
    assert_same(lnp.mask_indices(3, lnp.tril, size=8), jnp.mask_indices(3, jnp.tril, size=8))
    with x64_mode(True):
        assert_same(lnp.tri(2), jnp.tri(2))
        assert_same(lnp.tril_indices(3), jnp.tril_indices(3))
        assert_same(lnp.trace(np.ones((2, 2), np.int32)), jnp.trace(np.ones((2, 2), np.int32)))


def test_python_scalars_and_weak_types():
    check(lambda x: lnp.kron(x, 2.0), lambda x: jnp.kron(x, 2.0), np.ones(2, np.int32))
    check(lambda x: lnp.fill_diagonal(x, 5.7, inplace=False),
          lambda x: jnp.fill_diagonal(x, 5.7, inplace=False), np.zeros((3, 3), np.int32))
    check(lambda x: lnp.cross(x, np.ones(3, np.float32)),
          lambda x: jnp.cross(x, np.ones(3, np.float32)), np.arange(3, dtype=np.int32))


def test_errors_match_jax():
    x = np.zeros((3, 4), np.float32)
    for make in [lambda m: m.diag(x[0, 0]), lambda m: m.diag(np.zeros((2, 2, 2))),
                 lambda m: m.diagonal(x[0]), lambda m: m.tril(x[0]), lambda m: m.triu(1.0),
                 lambda m: m.vander(x), lambda m: m.cross(x, x),
                 lambda m: m.fill_diagonal(x[0], 1.0, inplace=False),
                 lambda m: m.fill_diagonal(np.zeros((2, 2, 3)), 1.0, inplace=False),
                 lambda m: m.diag_indices_from(x), lambda m: m.tri(-1)]:
        with pytest.raises((ValueError, TypeError)):
            make(jnp)
        with pytest.raises((ValueError, TypeError)):
            make(lnp)
    for make in [lambda m: m.fill_diagonal(x, 1.0),
                 lambda m: m.fill_diagonal(x, 1.0, wrap=True, inplace=False)]:
        with pytest.raises(NotImplementedError):
            make(jnp)
        with pytest.raises(NotImplementedError):
            make(lnp)


def test_gradients_match_jax():
    x = sample("float32", (4, 4), special=False)
    makes = [lambda m, x: m.diag(x, 1) ** 2, lambda m, x: m.diag(x[0], -1) * m.arange(25.0)
             .reshape(5, 5), lambda m, x: m.trace(x * x), lambda m, x: m.tril(x, 1) ** 2,
             lambda m, x: m.triu(x) * x, lambda m, x: m.kron(x[:2], x) ** 2,
             lambda m, x: m.vander(x[1]) * m.arange(16.0).reshape(4, 4),
             lambda m, x: m.cross(x[:, :3], x[:, 1:]) ** 2,
             lambda m, x: m.fill_diagonal(x, x[0, :2] ** 3, inplace=False) * x]
    assert_grads_match_jax(makes, x)


def test_vmap_matches_a_loop():
    xs = sample("float32", (3, 4, 4))
    for make in [lambda m, x: m.diag(x, 1), lambda m, x: m.diag(x[0]), lambda m, x: m.trace(x),
                 lambda m, x: m.tril(x), lambda m, x: m.kron(x[0], x[:2, :2]),
                 lambda m, x: m.vander(x[0], 3), lambda m, x: m.cross(x[:3, :3], x[1:, 1:]),
                 lambda m, x: m.fill_diagonal(x, x[0], inplace=False)]:
        lf, _ = _fn(make)
        want = np.stack([np.asarray(lf(x)) for x in xs])
        np.testing.assert_array_equal(np.asarray(llax.vmap(lf)(xs)), want)
