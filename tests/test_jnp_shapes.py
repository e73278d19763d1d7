"""Shape manipulation, products, selection and norms of ``llax.numpy`` against JAX."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import llax
import llax.numpy as lnp
from llax.frontend.core import ConcretizationTypeError
from llax.tests.jnp_oracle import as_jax, assert_same, check_many, pair, primitive_names, sample


def _fn(make):
    """(llax, JAX) versions of ``make(numpy_module, x)``."""
    return (lambda x: make(lnp, x)), (lambda x: make(jnp, x))


MANIPULATIONS = {
    "reshape": lambda m, x: m.reshape(x, (4, 6)),
    "reshape -1": lambda m, x: m.reshape(x, (-1, 3)),
    "reshape int": lambda m, x: m.reshape(x, -1),
    "reshape F": lambda m, x: m.reshape(x, (6, 4), order="F"),
    "reshape same": lambda m, x: m.reshape(x, (2, 3, 4)),
    "ravel": lambda m, x: m.ravel(x),
    "transpose": lambda m, x: m.transpose(x),
    "transpose axes": lambda m, x: m.transpose(x, (1, -1, 0)),
    "permute_dims": lambda m, x: m.permute_dims(x, (2, 0, 1)),
    "matrix_transpose": lambda m, x: m.matrix_transpose(x),
    "swapaxes": lambda m, x: m.swapaxes(x, 0, -1),
    "moveaxis": lambda m, x: m.moveaxis(x, 0, -1),
    "moveaxis seq": lambda m, x: m.moveaxis(x, (0, 1), (2, 0)),
    "expand_dims": lambda m, x: m.expand_dims(x, 1),
    "expand_dims tuple": lambda m, x: m.expand_dims(x, (0, -1)),
    "squeeze": lambda m, x: m.squeeze(m.expand_dims(x, (0, 2))),
    "squeeze axis": lambda m, x: m.squeeze(m.expand_dims(x, 0), axis=0),
    "concatenate": lambda m, x: m.concatenate([x, x], axis=1),
    "concatenate None": lambda m, x: m.concatenate([x, x[0]], axis=None),
    "concatenate mixed": lambda m, x: m.concatenate([x, m.ones((2, 1, 4), int)], axis=-2),
    "stack": lambda m, x: m.stack([x, x, x]),
    "stack axis": lambda m, x: m.stack([x, x], axis=-1),
    "hstack": lambda m, x: m.hstack([x, x]),
    "vstack": lambda m, x: m.vstack([x, x]),
    "dstack": lambda m, x: m.dstack([x, x]),
    "vstack 1d": lambda m, x: m.vstack([x[0, 0], x[1, 1]]),
    "hstack 1d": lambda m, x: m.hstack([x[0, 0], x[1, 1]]),
    "column_stack": lambda m, x: m.column_stack([x[0, 0], x[1, 1]]),
    "broadcast_to": lambda m, x: m.broadcast_to(x, (5, 2, 3, 4)),
    "broadcast_arrays": lambda m, x: m.broadcast_arrays(x, x[0, :1], 1.0),
    "atleast_1d": lambda m, x: m.atleast_1d(x[0, 0, 0]),
    "atleast_2d": lambda m, x: (m.atleast_2d(x[0, 0]), m.atleast_2d(x[0, 0, 0])),
    "atleast_3d": lambda m, x: (m.atleast_3d(x[0, 0]), m.atleast_3d(x[0])),
    "atleast many": lambda m, x: m.atleast_1d(x[0, 0, 0], x),
    "flip": lambda m, x: m.flip(x, 1),
    "flip all": lambda m, x: m.flip(x),
}


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_manipulation(dtype: str) -> None:
    x = sample(dtype, (2, 3, 4))
    check_many({name: _fn(make) for name, make in MANIPULATIONS.items()}, x)


def test_manipulation_of_weak_scalars_and_empties() -> None:
    check_many({"reshape": _fn(lambda m, x: m.reshape(x, (1, 1))),
                "stack": _fn(lambda m, x: m.stack([x, x])),
                "broadcast_to": _fn(lambda m, x: m.broadcast_to(x, (2,))),
                "expand": _fn(lambda m, x: m.expand_dims(x, 0))},
               np.float32(3.0) * np.ones((), np.float32))
    check_many({name: _fn(make) for name, make in {
        "reshape": lambda m, x: m.reshape(x, (3, 0)), "ravel": lambda m, x: m.ravel(x),
        "transpose": lambda m, x: m.transpose(x),
        "concatenate": lambda m, x: m.concatenate([x, x], 1)}.items()}, np.zeros((0, 3)))
    assert_same(lnp.stack([1.0, 2.0]), jnp.stack([1.0, 2.0]))
    assert_same(lnp.concatenate([lnp.asarray([1.0]), lnp.asarray([2])]),
                jnp.concatenate([jnp.asarray([1.0]), jnp.asarray([2])]))


def test_manipulation_errors() -> None:
    x = lnp.ones((2, 3))
    with pytest.raises(TypeError, match="cannot reshape"):
        lnp.reshape(x, (4,))
    with pytest.raises(ValueError, match="one unknown"):
        lnp.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="size not equal to one"):
        lnp.squeeze(x, 0)
    with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
        lnp.broadcast_to(x, (3, 3))
    with pytest.raises(ValueError, match="same shape"):
        lnp.stack([x, lnp.ones(3)])
    with pytest.raises(ValueError, match="Zero-dimensional"):
        lnp.concatenate([lnp.asarray(1.0), lnp.asarray(2.0)])
    with pytest.raises(ValueError, match="out of bounds"):
        lnp.swapaxes(x, 0, 2)
    with pytest.raises(TypeError, match="reshape requires ndarray"):
        lnp.reshape([1, 2], (2,))
    # A traced shape is a TypeError, not a ConcretizationTypeError, as in JAX.
    with pytest.raises(TypeError, match="(?i)shapes must be 1D sequences") as info:
        llax.jit(lambda n: lnp.reshape(lnp.ones(4), (n, 2)))(2)
    assert not isinstance(info.value, ConcretizationTypeError)


def test_shape_queries() -> None:
    x = lnp.ones((2, 3))
    assert lnp.shape(x) == (2, 3) and lnp.ndim(x) == 2 and lnp.size(x) == 6
    assert lnp.broadcast_shapes((2, 1), (3,)) == jnp.broadcast_shapes((2, 1), (3,))


# ---------------------------------------------------------------------------------------------
# Products

PRODUCT_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                  ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)),
                  ((5, 1, 2, 3), (4, 3, 2)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
                  ((1, 2, 3), (5, 3, 4)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("sa, sb", PRODUCT_SHAPES, ids=str)
def test_matmul_and_dot(sa: tuple, sb: tuple) -> None:
    a, b = sample("float32", sa, special=False), sample("float32", sb, seed=1, special=False)
    cases = {"matmul": (lnp.matmul, jnp.matmul),
             "@": (lambda x, y: lnp.asarray(x) @ y, lambda x, y: jnp.asarray(x) @ y)}
    if len(sb) <= 2 or len(sa) == 1:
        cases["dot"] = (lnp.dot, jnp.dot)
    check_many(cases, a, b)


@pytest.mark.parametrize("da, db", [("int32", "int32"), ("int32", "float32"), ("bool", "bool"),
                                    ("float16", "float32"), ("uint8", "int8")])
def test_products_dtypes(da: str, db: str) -> None:
    a, b = sample(da, (2, 3), special=False), sample(db, (3, 2), seed=1, special=False)
    check_many({"matmul": (lnp.matmul, jnp.matmul), "dot": (lnp.dot, jnp.dot),
                "inner": (lambda x, y: lnp.inner(x, y.T), lambda x, y: jnp.inner(x, y.T)),
                "outer": (lnp.outer, jnp.outer), "vdot": (lnp.vdot, jnp.vdot),
                "tensordot": (lnp.tensordot, jnp.tensordot)}, a, b)


def test_other_products() -> None:
    a = sample("float32", (2, 3, 4), special=False)
    b = sample("float32", (4, 3, 2), seed=1, special=False)
    check_many({
        "tensordot 1": (lambda x, y: lnp.tensordot(x, y, 1), lambda x, y: jnp.tensordot(x, y, 1)),
        "tensordot 0": (lambda x, y: lnp.tensordot(x[0, 0], y[0, 0], 0),
                        lambda x, y: jnp.tensordot(x[0, 0], y[0, 0], 0)),
        "tensordot pairs": (lambda x, y: lnp.tensordot(x, y, ((1, 2), (1, 0))),
                            lambda x, y: jnp.tensordot(x, y, ((1, 2), (1, 0)))),
        "inner": (lambda x, y: lnp.inner(x, y[..., 0].T), lambda x, y: jnp.inner(x, y[..., 0].T)),
        "outer": (lnp.outer, jnp.outer),
        "vdot": (lambda x, y: lnp.vdot(x, y.T), lambda x, y: jnp.vdot(x, y.T)),
        "dot nd": (lambda x, y: lnp.dot(x, y), lambda x, y: jnp.dot(x, y)),
        "dot scalar": (lambda x, y: lnp.dot(x, 2.0), lambda x, y: jnp.dot(x, 2.0)),
        "preferred": (lambda x, y: lnp.matmul(x, y[:, :, 0], preferred_element_type=lnp.float32),
                      lambda x, y: jnp.matmul(x, y[:, :, 0], preferred_element_type=jnp.float32)),
    }, a, b)


def test_product_errors() -> None:
    with pytest.raises(TypeError, match=r"\(2, 3\).*\(2, 3\)"):
        lnp.matmul(lnp.ones((2, 3)), lnp.ones((2, 3)))
    with pytest.raises(ValueError, match="at least one dimension"):
        lnp.matmul(lnp.ones(3), 2.0)
    with pytest.raises(ValueError, match="incompatible shapes"):
        lnp.matmul(lnp.ones((2, 2, 3)), lnp.ones((3, 3, 4)))


# ---------------------------------------------------------------------------------------------
# where, clip, nonzero


def test_where_three_arguments() -> None:
    x = sample("float32", (2, 3))
    check_many({
        "where": _fn(lambda m, a: m.where(a > 0, a, 0)),
        "where ints": _fn(lambda m, a: m.where(a > 0, 1, 2)),
        "where int cond": _fn(lambda m, a: m.where(m.asarray(a).astype(int), a, -a)),
        "where broadcast": _fn(lambda m, a: m.where(a[0] > 0, a, m.arange(3))),
        "where scalar cond": _fn(lambda m, a: m.where(True, a, 1.5)),
        "where mixed": _fn(lambda m, a: m.where(a > 1, a.astype(int), a.astype(bool))),
    }, x)
    assert_same(lnp.where(1, 2, 3.0), jnp.where(1, 2, 3.0))


@settings(max_examples=10, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
def test_where_broadcasting(shapes) -> None:
    (sc, sx, sy), _ = shapes
    c, x, y = sample("bool", sc), sample("float32", sx, seed=1), sample("int32", sy, seed=2)
    assert_same(lnp.where(c, x, y), jnp.where(c, x, y))


def test_where_one_argument_and_nonzero() -> None:
    x = np.array([[0, 1, 2], [3, 0, 0]], np.int32)
    assert_same(lnp.where(x), jnp.where(x))
    assert_same(lnp.nonzero(x), jnp.nonzero(x))
    assert_same(lnp.nonzero(x, size=5, fill_value=-1), jnp.nonzero(x, size=5, fill_value=-1))
    assert_same(lnp.argwhere(x), jnp.argwhere(x))
    assert_same(lnp.asarray(x).nonzero(), jnp.asarray(x).nonzero())
    with pytest.raises(ConcretizationTypeError):
        llax.jit(lambda a: lnp.where(a))(x)
    with pytest.raises(ValueError):
        lnp.where(x, 1)


def test_clip() -> None:
    x = sample("float32", (2, 5))
    check_many({
        "clip": _fn(lambda m, a: m.clip(a, 0, 1)),
        "clip min": _fn(lambda m, a: m.clip(a, min=0.5)),
        "clip max": _fn(lambda m, a: m.clip(a, max=0)),
        "clip arrays": _fn(lambda m, a: m.clip(a, a[0], 2.0)),
        "clip ints": _fn(lambda m, a: m.clip(m.asarray(a).astype(int), 0.5, 1.5)),
        "method": _fn(lambda m, a: m.asarray(a).clip(-1, 1)),
    }, x)
    with pytest.warns(DeprecationWarning):
        assert_same(lnp.clip(lnp.asarray(x), a_min=0, a_max=1), jnp.clip(jnp.asarray(x), 0, 1))


# ---------------------------------------------------------------------------------------------
# Norms and comparisons


NORMS = [dict(), dict(ord=1), dict(ord=-np.inf), dict(ord="fro", keepdims=True),
         dict(ord=1, axis=(1, 0)), dict(axis=1), dict(ord=3, axis=1), dict(ord=0, axis=1),
         dict(ord=np.inf, axis=1, keepdims=True), dict(ord=-1), dict(ord=np.inf),
         dict(axis=(0, 1), keepdims=True), dict(ord=2, axis=0), dict(ord=0.5, axis=-1),
         dict(ord=-np.inf, axis=0)]


def test_norm() -> None:
    m = sample("float32", (3, 4), special=False)
    check_many({repr(kw): (lambda x, kw=kw: lnp.linalg.norm(x, **kw),
                           lambda x, kw=kw: jnp.linalg.norm(x, **kw)) for kw in NORMS}, m)
    check_many({"vector": _fn(lambda mod, x: mod.linalg.norm(x[0])),
                "ints": _fn(lambda mod, x: mod.linalg.norm(mod.asarray(x).astype(int))),
                "3d": _fn(lambda mod, x: mod.linalg.norm(mod.stack([x, x]))),
                "3d axis": _fn(lambda mod, x: mod.linalg.norm(mod.stack([x, x]), axis=(0, 2)))},
               m)
    with pytest.raises(ValueError):
        lnp.linalg.norm(lnp.ones(3), "fro")
    # The spectral norm is the largest singular value (of this rank-1 matrix: 2).
    np.testing.assert_allclose(lnp.linalg.norm(lnp.ones((2, 2)), 2), 2.0, rtol=1e-6)


def test_isclose_allclose_array_equal() -> None:
    a = np.array([1.0, np.nan, np.inf, -np.inf, 1e-9, 2.0], np.float32)
    b = np.array([1.0000001, np.nan, np.inf, np.inf, 0.0, np.inf], np.float32)
    check_many({"isclose": (lnp.isclose, jnp.isclose),
                "equal_nan": (lambda x, y: lnp.isclose(x, y, equal_nan=True),
                              lambda x, y: jnp.isclose(x, y, equal_nan=True)),
                "allclose": (lnp.allclose, jnp.allclose),
                "array_equal": (lnp.array_equal, jnp.array_equal)}, a, b)
    assert bool(lnp.array_equal(lnp.ones(2), lnp.ones(3))) is False
    assert bool(lnp.allclose(lnp.arange(3), lnp.arange(3.0)))


@pytest.mark.parametrize("make", [
    lambda m, x: m.reshape(x, (3, 2)), lambda m, x: m.transpose(x), lambda m, x: x.T,
    lambda m, x: m.expand_dims(x, 0), lambda m, x: m.squeeze(x[None]),
    lambda m, x: m.concatenate([x, x]), lambda m, x: x @ x.T, lambda m, x: m.dot(x[0], x[1]),
    lambda m, x: m.matmul(x, x.T), lambda m, x: m.broadcast_to(x, (4, 2, 3)),
    # (JAX wraps where and clip in a nested jit, so their names cannot be compared.)
])
def test_primitive_names_match_jax(make) -> None:
    x = np.ones((2, 3), np.float32)
    fn = lambda a: make(lnp, a)  # noqa: E731
    assert primitive_names(fn, x) == primitive_names(as_jax(fn), x, use_jax=True) or \
        primitive_names(fn, x) == primitive_names(lambda a: make(jnp, a), x, use_jax=True)


def test_method_pairs() -> None:
    x = sample("float32", (2, 3))
    check_many({"sum": pair("sum", axis=0), "var": pair("var", ddof=1)}, x)


@pytest.mark.parametrize("make", [
    lambda: llax.jit(lambda x: lnp.broadcast_to(x, (1 << 32, 1 << 32)).sum())(1.0),
    lambda: lnp.broadcast_to(1.0, (1 << 32, 1 << 32)),
    lambda: llax.make_jaxpr(lambda x: lnp.broadcast_to(x, (1 << 62, 2)))(1.0),
    lambda: llax.jit(lambda: lnp.ones((1 << 31, 1 << 31)).sum())(),
    lambda: llax.eval_shape(lambda: lnp.arange(1 << 62)),
], ids=["jit-broadcast-sum", "eager-broadcast", "make_jaxpr", "ones", "iota"])
def test_shapes_beyond_64_bit_indexing_are_rejected_at_trace_time(make) -> None:
    # Their element counts wrap in 64-bit byte offsets: the native loop would never end.
    with pytest.raises(ValueError, match=r"more than 64-bit indexing can address"):
        make()


def test_the_largest_addressable_shapes_still_trace() -> None:
    out = llax.eval_shape(lambda x: lnp.broadcast_to(x, (1 << 30, 1 << 30)).sum(0), 1.0)
    assert out.shape == (1 << 30,)
    out = llax.eval_shape(lambda x: lnp.broadcast_to(x, (1 << 30, 1 << 31)), np.int8(1))
    assert out.shape == (1 << 30, 1 << 31)  # 2**61 bytes
