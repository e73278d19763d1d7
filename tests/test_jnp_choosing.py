"""choose, compress, select, piecewise, put, put_along_axis and place against JAX."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_grads_match_jax, assert_same, check, check_many, sample

DTYPES = ["float32", "int32", "bool"]

# Functions of one (3, 4) array x.
CASES = {
    "choose": lambda m, x: m.choose(np.array([0, 1, 2, 1]), [x[0], x[1], x[2]]),
    "choose bcast": lambda m, x: m.choose(np.array([[0], [1], [0]]), [x, x[0]]),
    "choose wrap": lambda m, x: m.choose(np.array([0, 3, -1, 1]), [x[0], x[1]], mode="wrap"),
    "choose clip": lambda m, x: m.choose(np.array([0, 3, -1, 1]), [x[0], x[1]], mode="clip"),
    "choose array": lambda m, x: m.choose(np.array([1, 0, 2, 2]), x),
    "choose scalar": lambda m, x: m.choose(np.array([1, 0, 1, 1]), [x[0], 1]),
    "compress": lambda m, x: m.compress(np.array([True, False, True]), x, axis=0),
    "compress ints": lambda m, x: m.compress(np.array([1, 0]), x, axis=1),
    "compress long": lambda m, x: m.compress(np.array([1, 0, 1, 0, 0]), x, axis=1),
    "compress flat": lambda m, x: m.compress(np.array([True, False, True]), x),
    "compress none": lambda m, x: m.compress(np.zeros(4, bool), x, axis=-1),
    "compress size": lambda m, x: m.compress(np.array([0, 1, 1]), x, size=3, fill_value=1),
    "compress size axis": lambda m, x: m.compress(np.array([1, 0, 1, 1]), x, axis=-1, size=2),
    "select": lambda m, x: m.select([x[0] > 0, x[1] > 0], [x[0], x[1]], default=x[2]),
    "select bcast": lambda m, x: m.select([np.array([[True], [False], [True]]),
                                           np.array([False, True, True, False])],
                                          [x, 1], default=0),
    "select int conds": lambda m, x: m.select([np.array([1, 0, 0, 2])], [x]),
    "piecewise": lambda m, x: m.piecewise(x, [x < 1, x > 2], [lambda v: v * 2, 7]),
    "piecewise otherwise": lambda m, x: m.piecewise(x, [x < 1], [lambda v: -v, lambda v: v]),
    "piecewise consts": lambda m, x: m.piecewise(x, [x < 1, x > 2], [1.5, 2, -1]),
    "piecewise args": lambda m, x: m.piecewise(x, [x < 1], [lambda v, k: v * k, 0], 3),
    "put": lambda m, x: m.put(x, np.array([0, 7, -1, 20]), x[1, :2], inplace=False),
    "put clip": lambda m, x: m.put(x, np.array([0, 17, -1]), x[2, :2], mode="clip",
                                   inplace=False),
    "put wrap": lambda m, x: m.put(x, np.array([[0, 13], [-1, 3]]), x[0, :3], mode="wrap",
                                   inplace=False),
    "put scalar": lambda m, x: m.put(x, 5, 1, inplace=False),
    "put_along_axis": lambda m, x: m.put_along_axis(x, np.array([[0], [2], [3]]), x[:, 3:],
                                                    axis=1, inplace=False),
    "put_along_axis drop": lambda m, x: m.put_along_axis(x, np.array([[0], [5], [-1]]), 1,
                                                         axis=1, inplace=False),
    "put_along_axis clip": lambda m, x: m.put_along_axis(x, np.array([[0], [5], [-9]]), 1,
                                                         axis=1, inplace=False, mode="clip"),
    "put_along_axis axis0": lambda m, x: m.put_along_axis(x, np.array([[1, 0, 2, 1]]), x[2],
                                                          axis=0, inplace=False),
    "put_along_axis None": lambda m, x: m.put_along_axis(x, np.array([0, 5]), x[0, :2],
                                                         axis=None, inplace=False),
    "place": lambda m, x: m.place(x, np.arange(12).reshape(3, 4) % 3 == 0, x[0, :2],
                                  inplace=False),
    "place more vals": lambda m, x: m.place(x, np.arange(12).reshape(4, 3) % 5 == 0, x[2],
                                            inplace=False),
    "place none": lambda m, x: m.place(x, np.zeros((3, 4), bool), x[0], inplace=False),
}


# JAX traces NumPy constants under jit, so it can check choose's indices (mode='raise') and
# compress's condition (no size) only eagerly; llax keeps constants concrete under jit.
EAGER_IN_JAX = {n for n in CASES if n in ("choose", "choose bcast", "choose array",
                                           "choose scalar") or
                (n.startswith("compress") and "size" not in n)}


@pytest.mark.parametrize("dtype", DTYPES)
def test_functions_match_jax(dtype):
    x = sample(dtype, (3, 4), low=-3, high=3)
    check_many({n: ((lambda x, f=f: f(lnp, x)), (lambda x, f=f: f(jnp, x)))
                for n, f in CASES.items() if n not in EAGER_IN_JAX}, x,
               jit=dtype == "float32")
    for name in sorted(EAGER_IN_JAX):
        f = CASES[name]
        want = f(jnp, x)
        assert_same(f(lnp, x), want, what=name)
        if dtype == "float32":
            assert_same(llax.jit(lambda x, f=f: f(lnp, x))(x), want, what=f"{name} (jit)")


def test_scalars_and_python_values():
    for expr in ["m.choose(1, [1, 2.0])", "m.choose(np.array([0, 1, 2, 1]), "
                 "[np.arange(4), np.arange(4) * 10, 5.0])",
                 "m.select([np.array([True, False])], [2.5])",
                 "m.select([True], [np.int8(3)], default=np.int8(1))",
                 "m.piecewise(np.float32(2.0), [True], [lambda x: x * 3])",
                 "m.piecewise(np.arange(5) - 2, [np.arange(5) < 2], [1.5, 2])",
                 "m.put(np.arange(6), np.array([1, 4]), 2.7, inplace=False)",
                 "m.place(np.arange(6), np.arange(6) % 2 == 0, 2.5, inplace=False)",
                 "m.compress(np.array([True]), 3.0)",
                 "m.put(np.zeros(0, np.float32), np.array([1]), 2.0, inplace=False)",
                 "m.compress(np.array([], bool), np.zeros(0, np.int32))"]:
        env = {"np": np}
        assert_same(eval(expr, {**env, "m": lnp}), eval(expr, {**env, "m": jnp}), what=expr)


def test_traced_operands_under_jit():
    x = sample("float32", (3, 4))
    which = np.array([[2, 0, 1, 1]], np.int32)
    check(lambda w, x: lnp.choose(w, [x[0], x[1], x[2]], mode="clip"),
          lambda w, x: jnp.choose(w, [x[0], x[1], x[2]], mode="clip"), which, x)
    cond = np.array([False, True, True])
    check(lambda c, x: lnp.compress(c, x, axis=0, size=2, fill_value=-5.0),
          lambda c, x: jnp.compress(c, x, axis=0, size=2, fill_value=-5.0), cond, x)
    mask = x > 0.5
    check(lambda m, x: lnp.place(x, m, x[0, 1:3], inplace=False),
          lambda m, x: jnp.place(x, m, x[0, 1:3], inplace=False), mask, x)
    idx = np.array([3, -2, 40], np.int32)
    check(lambda i, x: lnp.put(x, i, 9.0, inplace=False),
          lambda i, x: jnp.put(x, i, 9.0, inplace=False), idx, x)
    along = np.array([[1], [3], [0]], np.int32)
    check(lambda i, x: lnp.put_along_axis(x, i, -1.0, axis=1, inplace=False),
          lambda i, x: jnp.put_along_axis(x, i, -1.0, axis=1, inplace=False), along, x)
    with pytest.raises(TypeError):
        llax.jit(lambda w, x: lnp.choose(w, [x[0], x[1]]))(which, x)
    with pytest.raises(Exception):  # noqa: B017, PT011 - a concretization error
        llax.jit(lambda c, x: lnp.compress(c, x, axis=0))(cond, x)


def test_errors_match_jax():
    x = np.zeros((3, 4), np.float32)
    for make in [lambda m: m.choose(np.array([0, 2]), [x[0, :2], x[1, :2]]),
                 lambda m: m.choose(np.array([0.5]), [x[0]]),
                 lambda m: m.choose(np.array([0]), [x[0]], mode="x"),
                 lambda m: m.compress(np.array([[True]]), x),
                 lambda m: m.compress(np.array([1, 0, 1, 0, 1]), x, axis=1),
                 lambda m: m.compress(np.array([1, 0, 1]), x, axis=0, size=4),
                 lambda m: m.select([], []), lambda m: m.select([x > 0], [x, x]),
                 lambda m: m.piecewise(x, [x > 0], [1, 2, 3]),
                 lambda m: m.put(x, np.array([1]), 1.0),
                 lambda m: m.put(x, np.array([1]), 1.0, mode="fill", inplace=False),
                 lambda m: m.put_along_axis(x, np.array([1]), 1.0, axis=1, inplace=False),
                 lambda m: m.put_along_axis(x, np.array([[1]]), x, axis=1, inplace=False),
                 lambda m: m.put_along_axis(x, np.array([[1]]), 1.0, axis=1),
                 lambda m: m.place(x, x > 0, np.ones(2)),
                 lambda m: m.place(x, x[0] > 0, np.ones(2), inplace=False),
                 lambda m: m.place(x, x > 0, np.ones(0), inplace=False)]:
        with pytest.raises((ValueError, TypeError)):
            make(jnp)
        with pytest.raises((ValueError, TypeError)):
            make(lnp)
    for make in [lambda m: m.put(x, np.array([1]), 1.0, mode="raise", inplace=False),
                 lambda m: m.choose(np.array([0]), [x[0]], out=x[0])]:
        with pytest.raises(NotImplementedError):
            make(jnp)
        with pytest.raises(NotImplementedError):
            make(lnp)


def test_gradients_match_jax():
    x = sample("float32", (3, 4), special=False)
    makes = [
        lambda m, x: m.choose(np.array([0, 1, 2, 1]), [x[0], x[1] ** 2, x[2] * 3]),
        lambda m, x: m.compress(np.array([1, 0, 1]), x, axis=0) ** 2,
        lambda m, x: m.compress(np.array([0, 1, 1]), x, axis=0, size=2) ** 2,
        lambda m, x: m.select([x > 0, x < -1], [x ** 2, x * 3], default=x),
        lambda m, x: m.piecewise(x, [x < 0], [lambda v: v ** 3, lambda v: m.sin(v)]),
        lambda m, x: m.put(x, np.array([0, 5]), x[2, :2] ** 2, inplace=False) * x,
        lambda m, x: m.put_along_axis(x, np.array([[1], [0], [3]]), x[:, :1] * 2, axis=1,
                                      inplace=False) ** 2,
        lambda m, x: m.place(x, x > 0, x[0, :3] * 5, inplace=False) ** 2,
    ]
    assert_grads_match_jax(makes, x)


def test_vmap_matches_a_loop():
    xs = sample("float32", (3, 3, 4))
    for make in [lambda x: lnp.choose(np.array([0, 2, 1, 1]), [x[0], x[1], x[2]]),
                 lambda x: lnp.compress(np.array([1, 0, 1]), x, axis=0),
                 lambda x: lnp.select([x > 0], [x * 2], default=-1.0),
                 lambda x: lnp.piecewise(x, [x < 0], [lambda v: v * v, 1.0]),
                 lambda x: lnp.put(x, np.array([1, 7]), x[0, :2], inplace=False),
                 lambda x: lnp.put_along_axis(x, np.array([[0], [1], [3]]), 0.0, axis=1,
                                              inplace=False),
                 lambda x: lnp.place(x, x > 0, x[1, :2], inplace=False)]:
        want = np.stack([np.asarray(make(x)) for x in xs])
        np.testing.assert_array_equal(np.asarray(llax.vmap(make)(xs)), want)
    which = np.array([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]], np.int32)
    got = llax.vmap(lambda w, x: lnp.choose(w, [x[0], x[1]], mode="wrap"))(which, xs)
    want = np.stack([np.choose(w, [x[0], x[1]]) for w, x in zip(which, xs)])
    np.testing.assert_array_equal(np.asarray(got), want)
