"""Splitting, joining, repeating, rolling and flipping in ``llax.numpy`` against JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.core import ConcretizationTypeError
from llax.tests.jnp_oracle import assert_same, check, check_many, sample

DTYPES = ["float32", "int32", "bool"]


def _fn(make):
    """(llax, JAX) versions of ``make(numpy_module, x)``."""
    return (lambda x: make(lnp, x)), (lambda x: make(jnp, x))


# Functions of one (3, 4, 5) array.
CUBE_CASES = {
    "split 3 axis0": lambda m, x: m.split(x, 3, axis=0),
    "split idx": lambda m, x: m.split(x, [1, 3], axis=1),
    "split idx repeated": lambda m, x: m.split(x, [2, 2, 5], axis=2),
    "split array idx": lambda m, x: m.split(x, np.array([2]), axis=-1),
    "array_split 3": lambda m, x: m.array_split(x, 3, axis=2),
    "array_split 7": lambda m, x: m.array_split(x, 7, axis=1),
    "hsplit": lambda m, x: m.hsplit(x, 2),
    "vsplit": lambda m, x: m.vsplit(x, [1]),
    "dsplit": lambda m, x: m.dsplit(x, 5),
    "unstack": lambda m, x: m.unstack(x),
    "unstack axis": lambda m, x: m.unstack(x, axis=-1),
    "concat": lambda m, x: m.concat([x, x], axis=1),
    "concat None": lambda m, x: m.concat([x, x[0]], axis=None),
    "append flat": lambda m, x: m.append(x, x[0]),
    "append axis": lambda m, x: m.append(x, x[:, :1], axis=1),
    "insert scalar": lambda m, x: m.insert(x, 2, 7),
    "insert axis": lambda m, x: m.insert(x, 1, x[:, 0], axis=1),
    "insert scalar obj block": lambda m, x: m.insert(x, -1, x[:, :, 0], axis=2),
    "insert seq": lambda m, x: m.insert(x, np.array([0, 2, 2, 4]), 1, axis=1),
    "insert seq values": lambda m, x: m.insert(x, np.array([3, 0]), x[:, :, :2], axis=2),
    "insert slice": lambda m, x: m.insert(x, slice(0, 4, 2), 0, axis=1),
    "insert oob": lambda m, x: m.insert(x, np.array([9, -9]), 1, axis=0),
    "delete int": lambda m, x: m.delete(x, 1, axis=1),
    "delete neg": lambda m, x: m.delete(x, -1, axis=2),
    "delete flat": lambda m, x: m.delete(x, np.array([0, 5, 5, 59])),
    "delete slice": lambda m, x: m.delete(x, slice(1, None, 2), axis=2),
    "delete mask": lambda m, x: m.delete(x, np.array([True, False, True]), axis=0),
    "tile int": lambda m, x: m.tile(x, 2),
    "tile long": lambda m, x: m.tile(x, (2, 1, 1, 3)),
    "tile zero": lambda m, x: m.tile(x, (1, 0, 1)),
    "repeat scalar": lambda m, x: m.repeat(x, 2, axis=1),
    "repeat flat": lambda m, x: m.repeat(x, 3),
    "repeat array": lambda m, x: m.repeat(x, np.array([1, 0, 2, 3]), axis=1),
    "repeat total": lambda m, x: m.repeat(x, np.array([2, 1, 1]), axis=0,
                                          total_repeat_length=3),
    "repeat total pad": lambda m, x: m.repeat(x, 2, axis=2, total_repeat_length=12),
    "resize": lambda m, x: m.resize(x, (7, 11)),
    "resize small": lambda m, x: m.resize(x, 4),
    "resize zero": lambda m, x: m.resize(x, (0, 3)),
    "roll flat": lambda m, x: m.roll(x, 7),
    "roll axis": lambda m, x: m.roll(x, -2, axis=1),
    "roll tuple": lambda m, x: m.roll(x, (1, -8), axis=(0, 2)),
    "roll bcast shift": lambda m, x: m.roll(x, 2, axis=(0, 1)),
    "roll bcast axis": lambda m, x: m.roll(x, (1, 2), axis=1),
    "rollaxis": lambda m, x: m.rollaxis(x, 2),
    "rollaxis start": lambda m, x: m.rollaxis(x, 0, 3),
    "rollaxis neg": lambda m, x: m.rollaxis(x, -1, 1),
    "rot90": lambda m, x: m.rot90(x),
    "rot90 k2": lambda m, x: m.rot90(x, 2),
    "rot90 k3 axes": lambda m, x: m.rot90(x, 3, axes=(2, 0)),
    "rot90 k-1": lambda m, x: m.rot90(x, -1, axes=(1, 2)),
    "fliplr": lambda m, x: m.fliplr(x),
    "flipud": lambda m, x: m.flipud(x),
    "block": lambda m, x: m.block([[x[0], x[1]], [x[2], x[0]]]),
    "block 3d": lambda m, x: m.block([[[x], [x]]]),
    "block scalars": lambda m, x: m.block([x[0, 0, 0], x[0, 0]]),
}


@pytest.mark.parametrize("dtype", DTYPES)
def test_cube_functions_match_jax(dtype):
    x = sample(dtype, (3, 4, 5))
    # Compiling every case once (float32) is enough to cover the traced paths.
    check_many({n: _fn(f) for n, f in CUBE_CASES.items()}, x, jit=dtype == "float32")


VECTOR_CASES = {
    "split": lambda m, x: m.split(x, [2, 5]),
    "hsplit": lambda m, x: m.hsplit(x, [3]),
    "tile": lambda m, x: m.tile(x, (2, 2)),
    "repeat": lambda m, x: m.repeat(x, 2),
    "roll": lambda m, x: m.roll(x, 3),
    "flipud": lambda m, x: m.flipud(x),
    "append": lambda m, x: m.append(x, 1),
    "insert": lambda m, x: m.insert(x, 3, 2),
    "delete": lambda m, x: m.delete(x, np.array([1, 3])),
    "resize": lambda m, x: m.resize(x, (2, 7)),
}


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_functions_match_jax(dtype):
    check_many({n: _fn(f) for n, f in VECTOR_CASES.items()}, sample(dtype, (8,)))


def test_scalar_and_empty_inputs():
    for make in [lambda m, x: m.tile(x, 3), lambda m, x: m.repeat(x, 4),
                 lambda m, x: m.append(x, x), lambda m, x: m.resize(x, (2, 2)),
                 lambda m, x: m.roll(x, 1)]:
        check(*_fn(make), np.float32(2.5))
    empty = np.zeros((0, 3), np.float32)
    for make in [lambda m, x: m.split(x, 3, axis=1), lambda m, x: m.roll(x, 2, axis=0),
                 lambda m, x: m.tile(x, (2, 2)), lambda m, x: m.repeat(x, 2, axis=0),
                 lambda m, x: m.resize(x, (2, 2)), lambda m, x: m.append(x, x, axis=0),
                 lambda m, x: m.delete(x, 1, axis=1), lambda m, x: m.rot90(x)]:
        check(*_fn(make), empty)


def test_python_scalars_keep_weak_types():
    check(lambda x: lnp.append(x, 2), lambda x: jnp.append(x, 2), 1.5, jit=False)
    check(lambda x: lnp.tile(x, 2), lambda x: jnp.tile(x, 2), 3, jit=False)
    check(lambda x: lnp.insert(x, 0, 2.5), lambda x: jnp.insert(x, 0, 2.5),
          np.arange(3, dtype=np.int32))


def test_traced_roll_shift_and_repeats():
    x = sample("float32", (4, 6))
    assert_same(llax.jit(lambda x, s: lnp.roll(x, s, axis=1))(x, np.int32(4)),
                jnp.roll(x, 4, axis=1))
    assert_same(llax.jit(lambda x, s: lnp.roll(x, s, axis=(0, 1)))(x, np.array([-1, 9])),
                jnp.roll(x, np.array([-1, 9]), axis=(0, 1)))
    reps = np.array([0, 3, 1, 2], np.int32)
    for total in (4, 6, 9):
        f = lambda m, t=total: lambda x, r: m.repeat(x, r, axis=0,  # noqa: E731
                                                     total_repeat_length=t)
        assert_same(llax.jit(f(lnp))(x, reps), jax.jit(f(jnp))(x, reps))
    with pytest.raises(ConcretizationTypeError):
        llax.jit(lambda x, r: lnp.repeat(x, r, axis=0))(x, reps)


def test_traced_insert_positions():
    x = sample("float32", (4, 5))
    for obj, values, axis in [(np.array([0, 4, 2, 2], np.int32), 1.5, 1),
                              (np.array([-1, 9], np.int32), x[:2], 0),
                              (np.int32(-2), x[0], 0), (np.array([1, 7], np.int32), 0.5, None)]:
        f = lambda m, v=values, ax=axis: lambda x, i: m.insert(x, i, v, axis=ax)  # noqa: E731
        want = jnp.insert(x, obj, values, axis=axis)
        assert_same(llax.jit(f(lnp))(x, obj), jax.jit(f(jnp))(x, obj))
        assert_same(lnp.insert(x, obj, values, axis=axis), want)


def test_traced_delete_with_unique_indices():
    x = sample("float32", (7, 3))
    idx = np.array([5, 0, -1], np.int32)
    f = lambda m: lambda x, i: m.delete(x, i, axis=0, assume_unique_indices=True)  # noqa: E731
    assert_same(llax.jit(f(lnp))(x, idx), jax.jit(f(jnp))(x, idx))


def test_gradients_match_jax():
    x = sample("float32", (3, 4), special=False)
    makes = [lambda m, x: m.split(x, 2, axis=1)[1] * m.arange(2.0),
                 lambda m, x: m.tile(x, (2, 1)) ** 2,
                 lambda m, x: m.repeat(x, np.array([1, 0, 3, 1]), axis=1) ** 2,
                 lambda m, x: m.roll(x, (1, 3), axis=(0, 1)) * m.arange(4.0),
                 lambda m, x: m.insert(x, np.array([1, 1]), 2.0, axis=1) ** 3,
                 lambda m, x: m.delete(x, np.array([0, 2]), axis=1) ** 2,
                 lambda m, x: m.rot90(x) * m.arange(3.0),
                 lambda m, x: m.resize(x, (5, 5)) ** 2,
                 lambda m, x: m.block([[x, x[:, :1] * 2]]) ** 2]
    for make in makes:
        loss = lambda m, make=make: lambda x: m.sum(make(m, x))  # noqa: E731
        assert_same(llax.grad(loss(lnp))(x), jax.grad(loss(jnp))(x))
    # All of them under one jit: the gradients of the sum, one compilation.
    total = lambda m: lambda x: sum(m.sum(f(m, x)) * (i + 1)  # noqa: E731
                                    for i, f in enumerate(makes))
    assert_same(llax.jit(llax.grad(total(lnp)))(x), jax.grad(total(jnp))(x))


def test_vmap_matches_a_loop():
    xs = sample("float32", (3, 4, 6))
    for make in [lambda m, x: m.split(x, 3, axis=1)[2], lambda m, x: m.roll(x, 2, axis=0),
                 lambda m, x: m.tile(x, (2, 1)), lambda m, x: m.repeat(x, 2, axis=1),
                 lambda m, x: m.insert(x, 1, 0.0, axis=0), lambda m, x: m.rot90(x),
                 lambda m, x: m.delete(x, np.array([1, 4]), axis=1), lambda m, x: m.fliplr(x)]:
        lf, _ = _fn(make)
        want = np.stack([np.asarray(lf(x)) for x in xs])
        np.testing.assert_array_equal(np.asarray(llax.vmap(lf)(xs)), want)
    shifts = np.array([0, 1, -5], np.int32)
    got = llax.vmap(lambda x, s: lnp.roll(x, s, axis=1))(xs, shifts)
    np.testing.assert_array_equal(
        np.asarray(got), np.stack([np.roll(x, s, axis=1) for x, s in zip(xs, shifts)]))


def test_trim_zeros_matches_jax():
    for v in [np.array([0, 0, 1, 2, 0, 3, 0], np.int32), np.zeros(4, np.float32),
              np.array([1.0, 0.0], np.float32), np.array([False, True, False])]:
        for trim in ("fb", "f", "b", "FB"):
            assert_same(lnp.trim_zeros(v, trim), jnp.trim_zeros(v, trim))
    m = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 2]], np.int32)
    assert_same(lnp.trim_zeros(m), jnp.trim_zeros(m))
    assert_same(lnp.trim_zeros(m, axis=1), jnp.trim_zeros(m, axis=1))
    with pytest.raises(ConcretizationTypeError):
        llax.jit(lnp.trim_zeros)(np.ones(3, np.float32))


def test_errors_match_jax():
    x = np.zeros((4, 6), np.float32)
    for make in [lambda m: m.split(x, 5, axis=1), lambda m: m.vsplit(x[0, 0], 2),
                 lambda m: m.dsplit(x, 2), lambda m: m.split(x, -1),
                 lambda m: m.rot90(x[0]), lambda m: m.rot90(x, axes=(1, 1)),
                 lambda m: m.fliplr(x[0]), lambda m: m.unstack(x[0, 0]),
                 lambda m: m.block([[x], x]), lambda m: m.insert(x, [[1]], 0, axis=0),
                 lambda m: m.delete(x, np.array([True]), axis=0),
                 lambda m: m.repeat(x[0, 0], np.array([1, 2])),
                 lambda m: m.split(x, [3, 1], axis=1), lambda m: m.split(x, [-2, 9], axis=1),
                 lambda m: m.insert(x, [1], 0.0), lambda m: m.delete(x, [1])]:
        with pytest.raises((ValueError, TypeError, IndexError)):
            make(jnp)
        with pytest.raises((ValueError, TypeError, IndexError)):
            make(lnp)


def test_x64_dtypes():
    from llax.tests.jnp_oracle import x64_mode

    with x64_mode(True):
        x = np.arange(6, dtype=np.int64).reshape(2, 3)
        for make in [lambda m, x: m.repeat(x, 2, axis=0), lambda m, x: m.insert(x, 1, 2.7),
                     lambda m, x: m.roll(x, 1), lambda m, x: m.tile(x, 2)]:
            check(*_fn(make), x)
