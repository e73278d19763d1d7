"""Grids and index tricks of ``llax.numpy`` against JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, check, sample, x64_mode

STATIC_CASES = [
    "m.mgrid[0:3, 0:2]", "m.mgrid[0:3:0.5]", "m.mgrid[0:1:5j, 0:2]", "m.mgrid[:3]",
    "m.mgrid[-2:2:3, 1.5:3]", "m.ogrid[0:3, 0:2.]", "m.ogrid[-1:3:4j]",
    "m.indices((2, 3))", "m.indices((2, 3), sparse=True)", "m.indices((2, 3), dtype=m.float32)",
    "m.indices((4,))", "m.indices(())", "m.indices((2, 0, 3))",
    "m.ix_(np.arange(3), np.array([4, 1]))", "m.ix_()", "m.ix_(np.zeros(0, np.int32))",
    "m.meshgrid(np.arange(3), np.arange(2.0))",
    "m.meshgrid(np.arange(3), np.arange(2.0), sparse=True, indexing='ij')",
    "m.meshgrid(np.arange(3), np.arange(2.0), np.arange(4), sparse=True)",
    "m.meshgrid(np.arange(3), np.arange(2.0), np.arange(4))", "m.meshgrid(np.arange(3))",
    "m.meshgrid()", "m.meshgrid(np.array([True, False]), np.arange(0))",
    "m.r_[np.arange(3), 0, 4]", "m.r_[1:4, 0, 4.]", "m.r_['-1,2,0', np.arange(3), np.arange(3)]",
    "m.r_['r', 1, 2]", "m.r_['c', 1, 2]", "m.c_[np.arange(3), np.arange(3)]", "m.c_[1:3:3j]",
    "m.r_['0,2', np.ones((2, 3)), np.zeros((1, 3))]",
    "m.r_['1,2,1', np.arange(3), np.arange(3)]", "m.r_['0,3,-1', np.ones((2, 2))]",
    "m.r_['1,3', np.ones((2, 2)), np.ones((2, 2))]",
    "m.c_[np.ones((2, 3)), np.zeros((2, 1)), 1:3]", "m.c_[np.float32(2)]",
    "m.r_[np.float32(2), 3]", "m.r_['0,2,1,5', np.ones(2)]", "m.r_['1', np.ones((2, 1))]",
    "m.r_[:4, 2.5:0.5:3j]", "m.r_[np.array([True]), False]",
    "m.ravel_multi_index((np.array([1, 2]), np.array([0, 3])), (3, 4))",
    "m.ravel_multi_index((np.array([1, 5]), np.array([0, 3])), (3, 4), mode='clip')",
    "m.ravel_multi_index((np.array([1, 5]), np.array([0, -3])), (3, 4), mode='wrap')",
    "m.ravel_multi_index((np.array([1, 2]), np.array([0, 3])), (3, 4), order='F')",
    "m.ravel_multi_index((1, 3), (3, 4))",
    "m.ravel_multi_index((np.array([1, 2], np.int8), np.array([[0], [3]])), (3, 4))",
    "m.ravel_multi_index((np.array(1), np.array([0, 3])), (3, 4), dtype=m.int16)",
    "m.unravel_index(np.array([1, 7, 11, 20, -1, -13]), (3, 4))",
    "m.unravel_index(5, (3, 4))", "m.unravel_index(5.0, (3, 4))",
    "m.unravel_index(np.uint8(200), (3, 4))", "m.unravel_index(np.array([3, 2]), (5,))",
    "m.unravel_index(np.array([3, 2]), 5)", "m.unravel_index(np.int8(-3), (2, 2, 3))",
]


def _run(expr: str, module: object) -> object:
    return eval(expr, {"m": module, "np": np})  # noqa: S307 - test expressions


@pytest.mark.parametrize("expr", STATIC_CASES)
def test_matches_jax(expr):
    assert_same(_run(expr, lnp), _run(expr, jnp), what=expr)


def test_index_expressions_are_numpys():
    assert lnp.s_[1:2, ..., None] == jnp.s_[1:2, ..., None]
    assert lnp.index_exp[::2] == jnp.index_exp[::2]


def test_x64_dtypes():
    with x64_mode(True):
        for expr in ["m.mgrid[0:3, 0:2]", "m.indices((2, 3))", "m.ogrid[0:1:3j]",
                     "m.ravel_multi_index((np.array([1]), np.array([2])), (3, 4))",
                     "m.unravel_index(np.array([5]), (3, 4))", "m.r_[1:3, 2.5]"]:
            assert_same(_run(expr, lnp), _run(expr, jnp), what=expr)


def test_traced_arguments_under_jit():
    x = sample("float32", (4,))
    y = sample("int32", (3,))
    check(lambda x, y: lnp.meshgrid(x, y), lambda x, y: jnp.meshgrid(x, y), x, y)
    check(lambda x, y: lnp.meshgrid(x, y, sparse=True, indexing="ij"),
          lambda x, y: jnp.meshgrid(x, y, sparse=True, indexing="ij"), x, y)
    check(lambda x, y: lnp.ix_(y, y[:2]), lambda x, y: jnp.ix_(y, y[:2]), x, y)
    check(lambda x, y: lnp.r_[x, 0, y], lambda x, y: jnp.r_[x, 0, y], x, y)
    check(lambda x, y: lnp.c_[x[:3], y], lambda x, y: jnp.c_[x[:3], y], x, y)
    idx = np.array([-20, -1, 0, 5, 11, 12, 40], np.int32)
    check(lambda i: lnp.unravel_index(i, (3, 4)), lambda i: jnp.unravel_index(i, (3, 4)), idx)
    rows, cols = np.array([0, 2, 5, -1], np.int32), np.array([3, -2, 1, 9], np.int32)
    for mode in ("clip", "wrap"):
        check(lambda r, c, mode=mode: lnp.ravel_multi_index((r, c), (3, 4), mode=mode),
              lambda r, c, mode=mode: jnp.ravel_multi_index((r, c), (3, 4), mode=mode),
              rows, cols)


def test_errors_match_jax():
    for expr in ["m.meshgrid(1.0, np.arange(2))", "m.meshgrid(np.ones((2, 2)))",
                 "m.meshgrid(np.arange(2), indexing='xx')", "m.ix_(np.ones((2, 2), np.int32))",
                 "m.ravel_multi_index((np.array([1, 5]), np.array([0, 3])), (3, 4))",
                 "m.ravel_multi_index((np.array([1.0]),), (3,))",
                 "m.ravel_multi_index((np.array([1]),), (3,), mode='x')",
                 "m.r_['0,x', np.ones(2)]", "m.r_['x', np.ones(2)]"]:
        with pytest.raises((ValueError, TypeError)):
            _run(expr, jnp)
        with pytest.raises((ValueError, TypeError)):
            _run(expr, lnp)
    with pytest.raises(NotImplementedError):
        jnp.ix_(np.array([True, False]))
    with pytest.raises(NotImplementedError):
        lnp.ix_(np.array([True, False]))
    with pytest.raises(ValueError):  # JAX fails an assertion here
        lnp.ravel_multi_index((np.array([1]),), (3, 4))
    # mode='raise' needs concrete coordinates.
    with pytest.raises(Exception):  # noqa: B017, PT011 - JAX's error is a ConcretizationTypeError
        jax.jit(lambda r: jnp.ravel_multi_index((r,), (3,)))(np.array([1]))
    with pytest.raises(TypeError):
        llax.jit(lambda r: lnp.ravel_multi_index((r,), (3,)))(np.array([1]))


def test_gradients_match_jax():
    x, y = sample("float32", (3,), special=False), sample("float32", (4,), special=False, seed=1)

    def loss(m):
        def f(x, y):
            gx, gy = m.meshgrid(x, y)
            ox, oy = m.meshgrid(x, y, sparse=True, indexing="ij")
            return m.sum(gx * gy ** 2) + m.sum(ox * oy) + m.sum(m.r_[x, y] ** 3) + \
                m.sum(m.c_[x, x] * 2.0)
        return f

    want = jax.grad(loss(jnp), argnums=(0, 1))(x, y)
    assert_same(llax.grad(loss(lnp), argnums=(0, 1))(x, y), want, rtol=1e-5)
    assert_same(llax.jit(llax.grad(loss(lnp), argnums=(0, 1)))(x, y), want, rtol=1e-5)


def test_vmap_matches_a_loop():
    idx = np.array([[0, 5, 11], [-1, 3, 7]], np.int32)
    got = llax.vmap(lambda i: lnp.stack(lnp.unravel_index(i, (3, 4))))(idx)
    want = np.stack([np.stack(np.unravel_index(np.clip(np.where(i < 0, i + 12, i), 0, 11),
                                                (3, 4))) for i in idx])
    np.testing.assert_array_equal(np.asarray(got), want)
    xs = sample("float32", (2, 3))
    got = llax.vmap(lambda x: lnp.meshgrid(x, x[:2])[0])(xs)
    np.testing.assert_array_equal(np.asarray(got), np.stack([np.meshgrid(x, x[:2])[0]
                                                             for x in xs]))
    rows = np.array([[0, 2], [1, 5]], np.int32)
    got = llax.vmap(lambda r: lnp.ravel_multi_index((r, r), (3, 4), mode="clip"))(rows)
    want = np.stack([np.ravel_multi_index((r, r), (3, 4), mode="clip") for r in rows])
    np.testing.assert_array_equal(np.asarray(got), want)
