"""Searching in llax.numpy (lexsort, partition, argpartition, searchsorted, digitize,
nonzero/argwhere/flatnonzero/count_nonzero/extract with size=, bincount, histograms) against
JAX: values and dtypes, eager and jitted, x64; vmap against loops; JAX's errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.core import ConcretizationTypeError
from llax.tests.jnp_oracle import as_jax, assert_same, check, check_many, sample, x64_mode
from llax.tests.jnp_oracle import x64 as x64  # noqa: F401 - fixture

RNG = np.random.default_rng(0)


def _both(fn):
    """``fn(lib, x)`` as an (llax, JAX) pair of functions of ``x``."""
    return (lambda *a: fn(lnp, *a)), (lambda *a: fn(jnp, *a))


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8", "bool"])
def test_lexsort_partition(dtype):
    x = sample(dtype, (4, 9), seed=1)
    cases = {
        "lexsort": _both(lambda m, a: m.lexsort([a[0], a[1], a[2]])),
        "lexsort_axis0": _both(lambda m, a: m.lexsort((a, a[::-1]), axis=0)),
        "lexsort_1": _both(lambda m, a: m.lexsort([a[3]])),
    }
    if dtype != "bool":  # JAX negates for partitions, which bools do not allow
        for k in (0, -1):
            cases[f"partition_{k}"] = _both(lambda m, a, k=k: m.partition(a, k))
            cases[f"argpartition_{k}"] = _both(lambda m, a, k=k: m.argpartition(a, k))
        cases["partition_axis0"] = _both(lambda m, a: m.partition(a, 2, axis=0))
        cases["argpartition_axis0"] = _both(lambda m, a: m.argpartition(a, 1, axis=0))
    check_many(cases, x)
    check(lambda: lnp.lexsort([np.float32(1)]), lambda: jnp.lexsort([np.float32(1)]), jit=False)
    with pytest.raises(TypeError, match="len > 0"):
        lnp.lexsort([])
    with pytest.raises(ValueError, match="same shape"):
        lnp.lexsort([np.ones(2), np.ones(3)])


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_searchsorted_digitize(dtype, x64):
    a = np.sort(sample(dtype, (11,), seed=2))
    a[3] = a[4]  # a run of equal elements
    v = sample(dtype, (3, 5), seed=3)
    v[0, :3] = a[[0, 4, -1]]
    cases = {}
    for side in ("left", "right"):
        for method in ("scan", "compare_all"):
            cases[f"{side}_{method}"] = _both(
                lambda m, q, side=side, method=method: m.searchsorted(a, q, side=side,
                                                                      method=method))
    cases["sorter"] = _both(lambda m, q: m.searchsorted(a[::-1], q, sorter=np.arange(11)[::-1]))
    cases["digitize"] = _both(lambda m, q: m.digitize(q, a))
    cases["digitize_right"] = _both(lambda m, q: m.digitize(q, a, right=True))
    cases["digitize_desc"] = _both(lambda m, q: m.digitize(q, a[::-1]))
    cases["digitize_desc_right"] = _both(lambda m, q: m.digitize(q, a[::-1], True))
    cases["digitize_empty"] = _both(lambda m, q: m.digitize(q, a[:0]))
    cases["empty_a"] = _both(lambda m, q: m.searchsorted(a[:0], q))
    cases["scalar_query"] = _both(lambda m, q: m.searchsorted(a, q[0, 1]))
    cases["python_query"] = _both(lambda m, q: m.searchsorted(a, 2))
    check_many(cases, v)
    with pytest.raises(ValueError, match="1-dimensional"):
        lnp.searchsorted(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="method"):
        lnp.searchsorted(a, v, method="bogus")
    with pytest.raises(ValueError, match="bins must be a 1-dimensional"):
        lnp.digitize(v, np.ones((2, 2)))


def test_searchsorted_nans_and_vmap():
    a = np.array([-np.inf, -1.0, 0.0, 0.0, 2.0, np.inf, np.nan], np.float32)
    v = np.array([np.nan, -0.0, np.inf, -np.inf, 5.0, -2.0], np.float32)
    for side in ("left", "right"):
        for method in ("scan", "compare_all"):
            check(lambda q, s=side, m=method: lnp.searchsorted(a, q, side=s, method=m),
                  lambda q, s=side, m=method: jnp.searchsorted(a, q, side=s, method=m), v)
    sorted_rows = np.sort(RNG.normal(size=(4, 8)).astype(np.float32), axis=1)
    queries = RNG.normal(size=(4, 3)).astype(np.float32)
    batched = llax.vmap(lnp.searchsorted)(sorted_rows, queries)
    looped = np.stack([np.asarray(lnp.searchsorted(r, q)) for r, q in zip(sorted_rows, queries)])
    np.testing.assert_array_equal(np.asarray(batched), looped)
    # The result is an integer: its gradient with respect to the data is zero.
    g = llax.grad(lambda q: (lnp.searchsorted(a[:6], q) * q).sum())(v[1:])
    assert_same(g, jax.grad(lambda q: (jnp.searchsorted(a[:6], q) * q).sum())(v[1:]))


@pytest.mark.parametrize("dtype", ["float32", "bool"])
def test_nonzero_family(dtype):
    x = sample(dtype, (3, 5), seed=4)
    x[1] = 0
    cases = {}
    for size in (0, 20):
        cases[f"nonzero_{size}"] = _both(lambda m, a, s=size: m.nonzero(a, size=s))
        cases[f"nonzero_fill_{size}"] = _both(
            lambda m, a, s=size: m.nonzero(a, size=s, fill_value=-1))
        cases[f"argwhere_{size}"] = _both(lambda m, a, s=size: m.argwhere(a, size=s))
        cases[f"flatnonzero_{size}"] = _both(
            lambda m, a, s=size: m.flatnonzero(a, size=s, fill_value=99))
    cases["nonzero_tuple_fill"] = _both(lambda m, a: m.nonzero(a, size=9, fill_value=(7, 8)))
    cases["count"] = _both(lambda m, a: m.count_nonzero(a))
    cases["count_axis"] = _both(lambda m, a: m.count_nonzero(a, axis=1, keepdims=True))
    cases["extract"] = _both(lambda m, a: m.extract(a, a * 3, size=6))
    cases["extract_fill"] = _both(lambda m, a: m.extract(a[0] != 0, a[2], size=5,
                                                         fill_value=-1))
    check_many(cases, x)
    # Without size the result size comes from the data: eager only.
    for name in ("nonzero", "flatnonzero", "argwhere"):
        assert_same(getattr(lnp, name)(x), getattr(jnp, name)(x), what=name)
    assert_same(lnp.extract(x, x), jnp.extract(x, x))
    assert_same(lnp.argwhere(np.float32(2)), jnp.argwhere(np.float32(2)))
    assert_same(lnp.nonzero(np.zeros((0, 3), dtype)), jnp.nonzero(np.zeros((0, 3), dtype)))


def test_nonzero_errors_and_vmap():
    x = np.array([[0, 1, 2], [3, 0, 0]], np.int32)
    for fn in (lnp.nonzero, lnp.flatnonzero, lnp.argwhere,
               lambda a: lnp.extract(a, a), lambda a: lnp.bincount(a[0])):
        with pytest.raises(ConcretizationTypeError):
            llax.jit(fn)(x)
    with x64_mode(True):  # indices in the default int
        for fn in (lambda a: lnp.nonzero(a, size=3), lambda a: lnp.argwhere(a, size=2),
                   lnp.count_nonzero, lambda a: lnp.flatnonzero(a, size=1, fill_value=-1)):
            got = llax.jit(fn)(x)
            assert_same(got, as_jax(fn)(x))
    with pytest.raises(ValueError, match="0d"):
        lnp.nonzero(np.int32(1))
    with pytest.raises(ValueError, match="fill_value"):
        lnp.nonzero(x, size=2, fill_value=(1, 2, 3))
    with pytest.raises(ValueError, match="size"):
        lnp.extract(x, x, size=7)
    batched = llax.vmap(lambda a: lnp.nonzero(a, size=2, fill_value=-1))(x)
    for i in range(2):
        np.testing.assert_array_equal(np.asarray(batched[0][i]),
                                      np.asarray(lnp.nonzero(x[i], size=2, fill_value=-1)[0]))
    batched = llax.vmap(lambda a: lnp.bincount(a, length=4))(x)
    np.testing.assert_array_equal(np.asarray(batched),
                                  np.stack([np.bincount(r, minlength=4)[:4] for r in x]))


def test_bincount(x64):
    x = np.array([0, 1, 1, 3, 2, 1, 7, -2], np.int32)
    w = RNG.uniform(size=8).astype(np.float32)
    cases = {
        "plain": _both(lambda m, a: m.bincount(a, length=9)),
        "short": _both(lambda m, a: m.bincount(a, length=3)),
        "weights": _both(lambda m, a: m.bincount(a, w, length=8)),
        "bool": _both(lambda m, a: m.bincount(a > 1, length=2)),
        "int_weights": _both(lambda m, a: m.bincount(a, a, length=8)),
    }
    check_many(cases, x)
    assert_same(lnp.bincount(x), jnp.bincount(x))
    assert_same(lnp.bincount(x, minlength=12), jnp.bincount(x, minlength=12))
    assert_same(lnp.bincount(x[:0]), jnp.bincount(x[:0]))
    with pytest.raises(TypeError, match="integer"):
        lnp.bincount(w)
    with pytest.raises(ValueError, match="1-dimensional"):
        lnp.bincount(np.ones((2, 2), np.int32))
    g = llax.grad(lambda v: lnp.bincount(x, v, length=8)[1])(w)
    assert_same(g, jax.grad(lambda v: jnp.bincount(x, v, length=8)[1])(w))


def test_histograms():
    # Float data never sits exactly on an edge; integer data is binned over ranges whose
    # edges are exact (llax's and JAX's linspace may round inner edges an ulp apart).
    data = (RNG.normal(size=40) * 3).astype(np.float32)
    ints = RNG.integers(-6, 6, 40).astype(np.int32)
    pts = (RNG.normal(size=(30, 3)) * 2).astype(np.float32)
    w = RNG.uniform(size=40).astype(np.float32)
    edges = np.array([-4, -1, 0, 2, 5], np.float32)
    one = {
        "edges": _both(lambda m, a, i: m.histogram_bin_edges(a, 6)),
        "edges_range": _both(lambda m, a, i: m.histogram_bin_edges(i, 4, range=(-1, 1))),
        "edges_flat": _both(lambda m, a, i: m.histogram_bin_edges(a * 0, 3)),
        "hist": _both(lambda m, a, i: m.histogram(a)),
        "hist_int": _both(lambda m, a, i: m.histogram(i, 6, range=(-6.5, 5.5))),
        "hist_bins": _both(lambda m, a, i: m.histogram(i, edges)),
        "hist_w": _both(lambda m, a, i: m.histogram(a, 7, weights=w, density=True)),
        "hist2d": _both(lambda m, a, i: m.histogram2d(a[:20], a[20:], bins=[3, edges],
                                                     weights=w[:20], density=True)),
        "dd": _both(lambda m, a, i: m.histogramdd(pts, bins=[2, edges, 4],
                                                  range=[(-1, 1), None, None])),
    }
    check_many(one, data, ints)
    with pytest.raises(NotImplementedError):
        lnp.histogram(data, bins="auto")
    with pytest.raises(ValueError, match="same shape"):
        lnp.histogram(data, weights=w[:3])
    with pytest.raises(ValueError, match="bin for each"):
        lnp.histogramdd(pts, bins=[2, 2])
    with pytest.raises(ValueError, match="sequence of scalars"):
        lnp.histogram(data, 3, range=(0, 1, 2))
    # A traced range bound under jit.
    got = llax.jit(lambda a, lo: lnp.histogram(a, 4, range=(lo, 1.0)))(data, np.float32(-2))
    assert_same(got, jnp.histogram(data, 4, range=(np.float32(-2), 1.0)))


def test_gradients_vs_jax():
    x = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0], np.float32)
    fns = {
        "partition": lambda m, v: (m.partition(v, 2) * np.arange(7)).sum(),
        "histogram_weights": lambda m, v: (m.histogram(x, 4, weights=v)[0] * np.arange(4)).sum(),
        "extract": lambda m, v: (m.extract(v > 2, v, size=4) ** 2).sum(),
        "bincount": lambda m, v: (m.bincount(np.arange(7) % 3, v * v, length=3) ** 2).sum(),
    }
    for name, fn in fns.items():
        want = jax.grad(lambda v, fn=fn: fn(jnp, v))(x)
        assert_same(llax.grad(lambda v, fn=fn: fn(lnp, v))(x), want, what=name)
