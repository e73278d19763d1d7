"""Set operations of llax.numpy (unique and the unique_* family, isin, intersect1d, union1d,
setdiff1d, setxor1d) against JAX: eager without size, eager and jitted with size=/fill_value=,
x64; vmap against loops; JAX's errors without a static size under jit."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.core import ConcretizationTypeError
from llax.tests.jnp_oracle import assert_same, check_many, x64_mode

A = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], np.int32)
B = np.array([5, 7, 1, 8, 1, 10], np.int32)
F = np.array([1.5, np.nan, -0.0, 0.0, np.nan, 1.5, -2.0], np.float32)
M = np.array([[1, 2, 0], [3, 4, 1], [1, 2, 0], [0, 0, 1]], np.int32)


def _both(fn):
    return (lambda *a: fn(lnp, *a)), (lambda *a: fn(jnp, *a))


def _eager(fn, *args):
    assert_same(fn(lnp, *args), fn(jnp, *args))


UNIQUE_FLAGS = [dict(return_index=True), dict(return_inverse=True), dict(return_counts=True),
                dict(return_index=True, return_inverse=True, return_counts=True)]


@pytest.mark.parametrize("x", [A, F, A.astype(bool), A[:0], M], ids=["int", "float", "bool",
                                                                   "empty", "2d"])
def test_unique_eager(x):
    for flags in [{}, *UNIQUE_FLAGS]:
        _eager(lambda m, v, f=flags: m.unique(v, **f), x)
        if x.ndim == 2 and len(flags) != 1:
            _eager(lambda m, v, f=flags: m.unique(v, axis=0, **f), x)
            _eager(lambda m, v, f=flags: m.unique(v, axis=1, **f), x)
    _eager(lambda m, v: m.unique(v, equal_nan=False), x)
    for name in ("unique_all", "unique_counts", "unique_inverse", "unique_values"):
        got, want = getattr(lnp, name)(x), getattr(jnp, name)(x)
        assert_same(tuple(got) if isinstance(got, tuple) else got,
                    tuple(want) if isinstance(want, tuple) else want, what=name)
        if isinstance(want, tuple):
            assert got._fields == want._fields


@pytest.mark.parametrize("x", [A, F, A.astype(bool), M], ids=["int", "float", "bool", "2d"])
def test_unique_with_size(x):
    cases = {
        "plain": _both(lambda m, v: m.unique(v, size=4)),
        "padded": _both(lambda m, v: m.unique(v, size=12)),
        "fill": _both(lambda m, v: m.unique(v, size=12, fill_value=-3)),
        "all": _both(lambda m, v: m.unique(v, size=9, return_index=True, return_inverse=True,
                                           return_counts=True)),
        "all_api": _both(lambda m, v: tuple(m.unique_all(v, size=5, fill_value=0))),
        "counts_api": _both(lambda m, v: tuple(m.unique_counts(v, size=9))),
        "values_api": _both(lambda m, v: m.unique_values(v, size=9)),
    }
    if x.ndim == 2:
        cases["axis"] = _both(lambda m, v: m.unique(v, axis=0, size=5, return_counts=True,
                                                    return_inverse=True))
    check_many(cases, x)


def test_unique_errors_and_x64():
    with pytest.raises(ConcretizationTypeError):
        llax.jit(lnp.unique)(A)
    with pytest.raises(ValueError, match="fill_value must be specified"):
        lnp.unique(A[:0], size=3)
    _eager(lambda m, v: m.unique(v, size=3, fill_value=7), A[:0])
    with x64_mode(True):
        check_many({"unique": _both(lambda m, v: m.unique(v, size=6, return_index=True,
                                                          return_inverse=True,
                                                          return_counts=True))}, A)


def test_unique_vmap():
    rows = np.array([[3, 1, 3, 2], [0, 0, 0, 0], [5, 4, 3, 2]], np.int32)
    fn = lambda r: lnp.unique(r, size=4, fill_value=-1, return_counts=True)  # noqa: E731
    vals, counts = llax.vmap(fn)(rows)
    for i, r in enumerate(rows):
        want_v, want_c = fn(r)
        np.testing.assert_array_equal(np.asarray(vals[i]), np.asarray(want_v))
        np.testing.assert_array_equal(np.asarray(counts[i]), np.asarray(want_c))


def test_isin():
    x = np.array([[1, 2, 3], [7, 0, 10]], np.int32)
    cases = {}
    for method in ("auto", "compare_all", "binary_search", "sort"):
        for invert in (False, True):
            cases[f"{method}_{invert}"] = _both(
                lambda m, v, method=method, invert=invert: m.isin(v, B, invert=invert,
                                                                 method=method))
    cases["unique"] = _both(lambda m, v: m.isin(v, np.array([1, 7, 3]), assume_unique=True,
                                                method="sort"))
    cases["float"] = _both(lambda m, v: m.isin(v * 0.5, F))
    cases["scalar"] = _both(lambda m, v: m.isin(v[0, 0], B))
    cases["empty"] = _both(lambda m, v: m.isin(v, B[:0], invert=True))
    check_many(cases, x)
    with pytest.raises(ValueError, match="not implemented"):
        lnp.isin(x, B, method="hash")
    batched = llax.vmap(lambda v: lnp.isin(v, B))(x)
    np.testing.assert_array_equal(np.asarray(batched), np.isin(x, B))


def test_two_set_ops_eager():
    pairs = [(A, B), (F, np.array([0.0, 1.5, 3.0], np.float32)), (A[:0], B.astype(np.float32))]
    for x, y in pairs:
        _eager(lambda m, a, b: m.union1d(a, b), x, y)
        _eager(lambda m, a, b: m.setdiff1d(a, b), x, y)
        _eager(lambda m, a, b: m.setxor1d(a, b), x, y)
        _eager(lambda m, a, b: m.intersect1d(a, b), x, y)
        _eager(lambda m, a, b: m.intersect1d(a, b, return_indices=True), x, y)
    u1, u2 = np.unique(A), np.unique(B)
    _eager(lambda m, a, b: m.setdiff1d(a, b, assume_unique=True), u1, u2)
    _eager(lambda m, a, b: m.setxor1d(a, b, assume_unique=True), u1, u2)
    _eager(lambda m, a, b: m.intersect1d(a, b, assume_unique=True, return_indices=True), u1, u2)


def test_two_set_ops_with_size():
    y = B
    u1, u2 = np.unique(A), np.unique(y)
    cases = {
        "union": _both(lambda m, a, b: m.union1d(a, b, size=12)),
        "union_fill": _both(lambda m, a, b: m.union1d(a, b, size=4, fill_value=-1)),
        "diff": _both(lambda m, a, b: m.setdiff1d(a, b, size=8)),
        "diff_fill": _both(lambda m, a, b: m.setdiff1d(a, b, size=3, fill_value=9)),
        "xor": _both(lambda m, a, b: m.setxor1d(a, b, size=11)),
        "xor_fill": _both(lambda m, a, b: m.setxor1d(a, b, size=11, fill_value=0)),
        "inter": _both(lambda m, a, b: m.intersect1d(a, b, size=5)),
        "inter_idx": _both(lambda m, a, b: m.intersect1d(a, b, return_indices=True, size=4,
                                                         fill_value=-2)),
    }
    check_many(cases, A, y)
    mixed = {  # int and float operands promote together
        "union": _both(lambda m, a, b: m.union1d(a, b, size=12)),
        "inter_idx": _both(lambda m, a, b: m.intersect1d(a, b, return_indices=True, size=4)),
    }
    check_many(mixed, M, y.astype(np.float32))
    unique_cases = {
        "diff": _both(lambda m, a, b: m.setdiff1d(a, b, assume_unique=True, size=8)),
        "xor": _both(lambda m, a, b: m.setxor1d(a, b, assume_unique=True, size=9)),
        "inter": _both(lambda m, a, b: m.intersect1d(a, b, assume_unique=True,
                                                     return_indices=True, size=3)),
    }
    check_many(unique_cases, u1, u2)


def test_two_set_ops_errors():
    for fn in (lnp.union1d, lnp.setdiff1d, lnp.setxor1d, lnp.intersect1d):
        with pytest.raises(ConcretizationTypeError):
            llax.jit(fn)(A, B)
    with pytest.raises(TypeError):
        lnp.union1d([1, 2], B)


def test_gradients_vs_jax():
    import jax

    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0], np.float32)
    fns = {
        "unique": lambda m, v: (m.unique(v, size=5) ** 2).sum(),
        "union1d": lambda m, v: (m.union1d(v, v[:2], size=6) * np.arange(6)).sum(),
        "intersect1d": lambda m, v: (m.intersect1d(v, v[2:], size=3) ** 3).sum(),
    }
    for name, fn in fns.items():
        want = jax.grad(lambda v, fn=fn: fn(jnp, v))(x)
        assert_same(llax.grad(lambda v, fn=fn: fn(lnp, v))(x), want, what=name)
