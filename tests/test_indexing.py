"""Indexing, ``.at[]`` updates, and the gather/scatter primitives, against JAX and NumPy.

Every index expression runs eagerly, under ``llax.jit`` with the index closed
over (constants), and under jit with its integer parts passed as traced
arguments; all three must give JAX's result (values, shape and dtype).
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend import indexing
from llax.frontend.indexing import (
    GatherDimensionNumbers,
    GatherScatterMode,
    NonConcreteBooleanIndexError,
    ScatterDimensionNumbers,
)
from llax.ir import prims as P
from llax.ir.primitive import FusionClass, fusion_class, infer_types
from llax.ir.reference import reference
from llax.ir.types import TensorType
from tests.pairwise import pairwise

jnp = jax.numpy

try:  # native lowering of gather/scatter (until the code generator imports it itself)
    import llax.codegen.indexing  # noqa: F401
except ImportError:  # pragma: no cover - no code generator
    pass


def arange(shape, dtype=np.float32) -> np.ndarray:
    n = int(np.prod(shape))
    v = np.arange(n) - n // 3
    if np.dtype(dtype) == np.bool_:
        return (v % 3 == 0).reshape(shape)
    return v.astype(dtype).reshape(shape)


def assert_same(got, want) -> None:
    got_np, want_np = np.asarray(got), np.asarray(want)
    assert got_np.shape == want_np.shape, (got_np.shape, want_np.shape)
    assert got_np.dtype == want_np.dtype, (got_np.dtype, want_np.dtype)
    np.testing.assert_array_equal(got_np, want_np)


def split_index(idx):
    """Turn the integer parts of an index (ints, int arrays) into jit arguments.

    Returns (leaves, rebuild) with rebuild(leaves) giving the index back.
    """
    items = idx if isinstance(idx, tuple) else (idx,)
    leaves, template = [], []
    for it in items:
        is_int = type(it) is int or (isinstance(it, np.ndarray) and it.dtype.kind in "iu")
        if is_int:
            template.append(len(leaves))
            leaves.append(lnp.asarray(np.asarray(it, np.int32)))
        else:
            template.append(("static", it))

    def rebuild(args):
        out = tuple(args[t] if isinstance(t, int) else t[1] for t in template)
        return out if isinstance(idx, tuple) else out[0]

    return leaves, rebuild


def check_getitem(x_np: np.ndarray, idx, *, traced: bool = True) -> None:
    want = jnp.asarray(x_np)[idx]
    x = lnp.asarray(x_np)
    before = np.array(x_np)
    assert_same(x[idx], want)
    try:  # NumPy agrees wherever it accepts the index (it rejects out-of-bound ones)
        np_want = x_np[idx]
    except IndexError:
        np_want = None
    if np_want is not None:
        np.testing.assert_array_equal(np.asarray(x[idx]), np_want)
    assert_same(llax.jit(lambda x: x[idx])(x), want)
    leaves, rebuild = split_index(idx)
    if traced and leaves:
        assert_same(llax.jit(lambda x, *a: x[rebuild(a)])(x, *leaves), want)
    np.testing.assert_array_equal(np.asarray(x), before)  # never mutated


A = np.array
IDX_CASES = [
    # 1-d
    ((5,), 0), ((5,), -1), ((5,), 4), ((5,), slice(None)), ((5,), slice(1, 4)),
    ((5,), slice(None, None, 2)), ((5,), slice(None, None, -1)), ((5,), slice(4, 0, -2)),
    ((5,), slice(-2, None)), ((5,), slice(10, 20)), ((5,), slice(3, 1)), ((5,), None),
    ((5,), Ellipsis), ((5,), (None, slice(1, 3))), ((5,), A([0, 4, -1, 2])),
    ((5,), A([[0, 1], [2, 3]])), ((5,), A([], np.int32)), ((5,), (A([1, 1, 1]),)),
    ((5,), ([0, 2],)), ((5,), A(2)), ((5,), ()),
    # 2-d
    ((3, 4), 1), ((3, 4), -1), ((3, 4), (1, 2)), ((3, 4), (-1, -4)), ((3, 4), (slice(1, 3),)),
    ((3, 4), (slice(None, None, -1), slice(1, None, 2))), ((3, 4), (None, Ellipsis, 1)),
    ((3, 4), (Ellipsis, None)), ((3, 4), (1, None, slice(None, None, -2))),
    ((3, 4), A([0, 2])), ((3, 4), (A([[0, 1], [2, 0]]), slice(1, None))),
    ((3, 4), (slice(1, None), A([0, 1, -1]))), ((3, 4), (A([0, 1]), A([2, 3]))),
    ((3, 4), (A([[0], [2]]), A([1, 3]))), ((3, 4), (Ellipsis, A([3, 0]))),
    ((3, 4), (A([0, 2]), None)), ((3, 4), (None, A([0, 2]), slice(None))),
    ((3, 4), (1, A([0, 3]))), ((3, 4), (A([2, 1]), slice(None, None, 2))),
    ((3, 4), (A([2, 1]), slice(None, None, -3))), ((3, 4), (slice(None), None, slice(None))),
    ((3, 4), ([0, 2], [1, 1])), ((3, 4), (A([0, 2]), 1)),
    # 3-d: advanced indices separated by a slice (or None) go to the front
    ((2, 3, 4), (A([0, 1]), slice(None), A([1, 2]))), ((2, 3, 4), (0, slice(None), A([0, 1]))),
    ((2, 3, 4), (slice(None), A([0, 2]), 1)), ((2, 3, 4), (A([1]), None, A([0, 1]))),
    ((2, 3, 4), (Ellipsis, 1)), ((2, 3, 4), (1, Ellipsis, A([[0, 1], [3, 2]]))),
    ((2, 3, 4), (slice(None, None, -1), A([0, 2]), slice(1, 3))),
    ((2, 3, 4), (slice(None), slice(1, 2), A([[1], [0]]))),
    # rank 0 and empty
    ((), ()), ((), Ellipsis), ((), None), ((), (None, None)), ((), (Ellipsis, None)),
    ((0,), slice(None)), ((0,), slice(1, 3)), ((0,), None), ((0,), A([], np.int32)),
    ((3, 0), 1), ((3, 0), (slice(None), slice(None))), ((3, 0), A([0, 2])),
    ((3, 0), (A([0, 2]), slice(None))),
    # boolean scalars (0-d masks)
    ((3, 4), True), ((3, 4), False), ((3, 4), (slice(None), True)), ((3, 4), (A([0, 1]), True)),
    # out of bounds: indexing clamps
    ((5,), 7), ((5,), -9), ((5,), A([5, -6, 100, -1])), ((3, 4), (A([7, -9]), slice(1, 3))),
    ((3, 4), (5, slice(None, None, -1))),
]


def _case_id(case) -> str:
    return f"{case[0]}-{case[1]!r}".replace("\n", "").replace(" ", "")


@pytest.mark.parametrize("case", IDX_CASES, ids=[_case_id(c) for c in IDX_CASES])
def test_getitem_matches_jax(case):
    shape, idx = case
    check_getitem(arange(shape), idx)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.float32])
@pytest.mark.parametrize("idx", [1, (slice(None, None, -1), 2), (A([2, 0, 2]), slice(1, None)),
                                 (A([[0], [1]]), A([3, 0]))], ids=repr)
def test_getitem_dtypes(dtype, idx):
    check_getitem(arange((3, 4), dtype), idx)


MASKS = [
    ((6,), lambda x: x > 0), ((3, 4), lambda x: x % 2 == 0), ((3, 4), lambda x: x > 100),
    ((3, 4), lambda x: (slice(None), A([True, False, True, True]))),
    ((3, 4), lambda x: (A([True, False, True]), A([0, 3]))),
    ((2, 3, 4), lambda x: (x[..., 0] > 0)), ((2, 3, 4), lambda x: (Ellipsis, A([1, 0, 0, 1]) > 0)),
]


@pytest.mark.parametrize("case", range(len(MASKS)))
def test_boolean_masks_eager(case):
    shape, make = MASKS[case]
    x_np = arange(shape)
    idx = make(x_np)
    want = jnp.asarray(x_np)[idx]
    x = lnp.asarray(x_np)
    assert_same(x[idx], want)
    np.testing.assert_array_equal(np.asarray(x[idx]), x_np[idx])
    # A concrete llax mask works too, and so does a closed-over mask under jit.
    if isinstance(idx, np.ndarray):
        assert_same(x[lnp.asarray(idx)], want)
    assert_same(llax.jit(lambda x: x[idx])(x), want)


def test_boolean_mask_under_jit_raises():
    x = lnp.asarray(arange((3, 4)))
    with pytest.raises(NonConcreteBooleanIndexError, match="must be concrete; got bool\\[3,4\\]"):
        llax.jit(lambda x: x[x > 0])(x)
    with pytest.raises(IndexError):
        llax.jit(lambda x, m: x[m])(x, np.ones((3, 4), bool))
    with pytest.raises(IndexError, match="did not match shape"):
        x[np.ones(4, bool)]


@pytest.mark.parametrize("idx, exc, match", [
    ([0, 1], TypeError, "non-tuple sequence"),
    (1.0, TypeError, "integer or boolean type"),
    (A([0.0, 1.0]), TypeError, "integer or boolean type"),
    ("a", TypeError, "string indexing"),
    ((0, 0, 0), IndexError, "Too many indices"),
    ((Ellipsis, 0, Ellipsis), IndexError, "single ellipsis"),
    (slice(1.5, None), TypeError, "integer"),
], ids=repr)
def test_index_errors(idx, exc, match):
    x = lnp.asarray(arange((3, 4)))
    with pytest.raises(exc, match=match):
        x[idx]
    with pytest.raises(exc):
        jnp.asarray(arange((3, 4)))[idx]


def test_traced_slice_bound_and_empty_axis_errors():
    x = lnp.asarray(arange((5,)))
    with pytest.raises(IndexError, match="Slice entries must be static integers"):
        llax.jit(lambda x, s: x[s:])(x, 1)
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 0"):
        lnp.zeros((0, 3))[0]


def test_traced_scalar_index_clamps_and_wraps():
    x_np = arange((5, 3))
    f = llax.jit(lambda x, i: x[i])
    for i in [-7, -1, 0, 3, 4, 9]:
        assert_same(f(x_np, lnp.int32(i)), jnp.asarray(x_np)[i])
    g = llax.jit(lambda x, i: x[1:, i])  # dynamic index mixed with a static slice
    for i in [-4, -1, 2, 5]:
        assert_same(g(x_np, lnp.int32(i)), jnp.asarray(x_np)[1:, i])


def test_traced_lists_and_index_dtypes():
    x_np = arange((3, 4))
    xj = jnp.asarray(x_np)
    f = llax.jit(lambda x, i: x[[i, 0], [1, i]])  # lists holding tracers are stacked
    assert_same(f(x_np, lnp.int32(2)), xj[[2, 0], [1, 2]])
    assert_same(llax.jit(lambda x, i: x.at[[i, 0],].add(1.0))(x_np, lnp.int32(2)),
                xj.at[[2, 0],].add(1.0))
    for dt in [np.uint8, np.int8, np.uint32, np.int16]:
        i = A([250 % 128, 1, 3], dt)
        assert_same(llax.jit(lambda x, i: x[i])(x_np, lnp.asarray(i)), xj[jnp.asarray(i)])
        assert_same(llax.jit(lambda x, i: x[:, i])(x_np, lnp.asarray(i[0])), xj[:, i[0]])


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.bool_])
def test_get_fill_mode(dtype):
    x_np = arange((5,)).astype(dtype)
    idx = A([0, 5, -1, -6, 2])
    x, xj = lnp.asarray(x_np), jnp.asarray(x_np)
    assert_same(x.at[idx].get(mode="fill"), xj.at[idx].get(mode="fill"))
    assert_same(x.at[7].get(mode="fill"), xj.at[7].get(mode="fill"))
    assert_same(x.at[idx].get(mode="clip"), xj.at[idx].get(mode="clip"))
    assert_same(x.at[idx].get(), xj.at[idx].get())
    assert_same(llax.jit(lambda x, i: x.at[i].get(mode="fill"))(x, idx),
                xj.at[idx].get(mode="fill"))
    assert_same(llax.jit(lambda x, i: x.at[i].get(mode="fill"))(x, lnp.int32(9)),
                xj.at[9].get(mode="fill"))
    if dtype != np.bool_:
        assert_same(x.at[idx].get(mode="fill", fill_value=3), xj.at[idx].get(mode="fill",
                                                                             fill_value=3))


def test_get_without_wrapping_negative_indices():
    x_np = arange((4, 3))
    x, xj = lnp.asarray(x_np), jnp.asarray(x_np)
    for idx in [-1, A([-1, 2]), (slice(None), -2)]:
        for mode in [None, "fill", "clip"]:
            want = xj.at[idx].get(mode=mode, wrap_negative_indices=False)
            assert_same(x.at[idx].get(mode=mode, wrap_negative_indices=False), want)


# ------------------------------------------------------------------------------------------
# .at[] updates

UPDATE_CASES = [
    # (shape, index, values)
    ((5,), 1, 7.0), ((5,), -1, 7.0), ((5,), 9, 7.0), ((5,), -9, 7.0),
    ((5,), slice(1, 4), A([1.0, 2.0, 3.0], np.float32)), ((5,), slice(None, None, -2), 2.0),
    ((5,), A([0, 0, 3, 0]), A([1.0, 2.0, 3.0, 4.0], np.float32)),
    ((5,), A([4, 5, -1, -6, 1]), A([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)),
    ((5,), (A([[1, 2], [2, 1]]),), 1.5), ((5,), A([], np.int32), 1.0),
    ((3, 4), 1, A([1.0, 2.0, 3.0, 4.0], np.float32)), ((3, 4), (1, 2), -3.0),
    ((3, 4), (slice(None), 1), A([1.0, 2.0, 3.0], np.float32)),
    ((3, 4), (A([0, 2, 0]), slice(1, 3)), A([[1.0], [2.0], [3.0]], np.float32)),
    ((3, 4), (slice(None, None, -1), A([0, 3])), A([1.0, 2.0], np.float32)),
    ((3, 4), (A([[0], [2]]), A([1, 3, 1])), 4.0), ((3, 4), (None, 1), 5.0),
    ((3, 4), Ellipsis, 2.0), ((3, 4), (A([0, 1]), None, A([0, 1])), A([[8.0], [9.0]], np.float32)),
    ((3, 4), A([True, False, True]), 6.0), ((3, 4), True, 1.0),
    ((2, 3, 4), (A([0, 1]), slice(None), A([1, 2])), A([1.0, 2.0, 3.0], np.float32)),
    ((2, 3, 4), (0, slice(None), A([3, 3])), A([[1.0], [2.0]], np.float32)),
    ((), (), 3.0), ((0,), slice(None), 1.0), ((3, 0), 1, 1.0),
]
METHODS = ["set", "add", "multiply", "mul", "min", "max", "subtract"]


# Every case with set and add, and with one of the other methods in turn (each meets five
# or six cases): the index lowering is shared by every method, which picks the scatter
# primitive (each primitive on its own is checked by the scatter tests below).
AT_ROWS = [(m, c) for c in range(len(UPDATE_CASES))
           for m in ("set", "add", METHODS[2:][c % len(METHODS[2:])])]


@pytest.mark.parametrize("method, case", AT_ROWS,
                         ids=[f"{m}-{_case_id(UPDATE_CASES[c])}" for m, c in AT_ROWS])
def test_at_updates_match_jax(method, case):
    shape, idx, values = UPDATE_CASES[case]
    x_np = arange(shape)
    jax_method = "multiply" if method == "mul" else method
    want = getattr(jnp.asarray(x_np).at[idx], jax_method)(values)
    x = lnp.asarray(x_np)
    assert_same(getattr(x.at[idx], method)(values), want)
    assert_same(llax.jit(lambda x: getattr(x.at[idx], method)(values))(x), want)
    leaves, rebuild = split_index(idx)
    if leaves:
        f = llax.jit(lambda x, v, *a: getattr(x.at[rebuild(a)], method)(v))
        assert_same(f(x, lnp.asarray(values), *leaves), want)
    np.testing.assert_array_equal(np.asarray(x), x_np)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
@pytest.mark.parametrize("method", ["set", "add", "min", "max", "multiply"])
@pytest.mark.parametrize("values", [1, 2.7, True, A([3, -2, 5], np.int32)], ids=repr)
def test_at_update_dtypes(dtype, method, values):
    # Updates are promoted with the array, combined, and cast back to the array's dtype.
    x_np = arange((5,), dtype)
    idx = A([0, 0, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # JAX warns about unsafe casts
        try:
            want = getattr(jnp.asarray(x_np).at[idx], method)(values)
        except TypeError:
            with pytest.raises(TypeError):
                getattr(lnp.asarray(x_np).at[idx], method)(values)
            return
    assert_same(getattr(lnp.asarray(x_np).at[idx], method)(values), want)
    assert_same(llax.jit(lambda x, i: getattr(x.at[i], method)(values))(x_np, idx), want)


@pytest.mark.parametrize("mode", ["clip", "drop", "fill", "promise_in_bounds", None])
def test_at_update_modes(mode):
    x_np = arange((5,))
    idx = A([7, -1, 2, -8])
    vals = A([1.0, 2.0, 3.0, 4.0], np.float32)
    if mode == "promise_in_bounds":
        idx = A([4, -1, 2, 0])  # out-of-bound updates are undefined behaviour in JAX
    for method in ["set", "add"]:
        want = getattr(jnp.asarray(x_np).at[idx], method)(vals, mode=mode)
        got = getattr(lnp.asarray(x_np).at[idx], method)(vals, mode=mode)
        assert_same(got, want)
        f = llax.jit(lambda x, i, m=method: getattr(x.at[i], m)(vals, mode=mode))
        assert_same(f(x_np, idx), want)
    want = jnp.asarray(x_np).at[-1].set(9.0, wrap_negative_indices=False, mode="drop")
    assert_same(lnp.asarray(x_np).at[-1].set(9.0, wrap_negative_indices=False, mode="drop"),
                want)


def test_duplicate_indices_accumulate():
    x = lnp.zeros(4, dtype=lnp.int32)
    idx = A([1, 1, 1, 3, 1])
    assert_same(x.at[idx].add(1), jnp.zeros(4, jnp.int32).at[idx].add(1))
    assert_same(x.at[idx].add(A([1, 2, 3, 4, 5], np.int32)), A([0, 11, 0, 4], np.int32))
    assert_same(llax.jit(lambda x, i: x.at[i].add(2))(x, idx), A([0, 8, 0, 2], np.int32))
    assert_same(x.at[idx].set(A([1, 2, 3, 4, 5], np.int32)), A([0, 5, 0, 4], np.int32))


@pytest.mark.parametrize("method", ["divide", "power"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_at_divide_power(method, dtype):
    x_np = arange((6,), dtype) + 7
    idx, vals = A([1, 4, 4]), A([2, 3, 2], dtype)
    want = getattr(jnp.asarray(x_np).at[idx], method)(vals)
    assert_same(getattr(lnp.asarray(x_np).at[idx], method)(vals), want)
    assert_same(llax.jit(lambda x: getattr(x.at[idx], method)(vals))(x_np), want)


def test_at_apply():
    x_np = arange((5,))
    idx = A([0, 3])
    want = jnp.asarray(x_np).at[idx].apply(jnp.negative)
    assert_same(lnp.asarray(x_np).at[idx].apply(lnp.negative), want)
    assert_same(llax.jit(lambda x: x.at[idx].apply(lnp.negative))(x_np), want)


def test_at_update_shape_errors():
    x = lnp.asarray(arange((3,)))
    with pytest.raises(ValueError, match="Incompatible shapes"):
        x.at[0:2].set(lnp.ones(3))
    with pytest.raises(ValueError, match="fewer dimensions"):
        x.at[0:2].set(lnp.ones((1, 2)))  # JAX does not drop leading 1s here
    with pytest.raises(ValueError, match="Unknown gather mode"):
        x.at[1].get(mode="bogus")


def test_item_assignment_raises_with_pointer_to_at():
    x = lnp.asarray(arange((3,)))
    with pytest.raises(TypeError, match=r"\.at"):
        x[0] = 1

    def f(x):
        x[0] = 1
        return x

    with pytest.raises(TypeError, match=r"\.at"):
        llax.jit(f)(x)


def test_repr_and_helpers():
    x = lnp.asarray(arange((3,)))
    assert "_IndexUpdateHelper" in repr(x.at)
    assert "_IndexUpdateRef" in repr(x.at[1])
    assert indexing.at(x)[1].get() == x[1]


# ------------------------------------------------------------------------------------------
# Traced programs: primitive names as JAX's


def _names(closed) -> list[str]:
    return [e.primitive.name for e in closed.jaxpr.eqns]


# Index arithmetic JAX emits around the structural ops (wrapping negative indices); JAX
# also wraps the constant 0 starts of untouched dims, which llax leaves as literals.
_INDEX_ARITH = {"lt", "add", "select_n", "convert_element_type"}


@pytest.mark.parametrize("fn, args", [
    (lambda x: x[1], ()),
    (lambda x: x[1:3], ()),
    (lambda x: x[-1], ()),
    (lambda x: x[::-1, 1::2], ()),
    (lambda x: x[None, ..., 1], ()),
    (lambda x: x[...], ()),
    (lambda x, i: x[i], (np.int32(1),)),
    (lambda x, i: x[i], (A([0, 2], np.int32),)),
    (lambda x, i: x[i, 1:], (A([[0, 1], [2, 0]], np.int32),)),
    (lambda x, i, j: x[i, j], (A([0, 1], np.int32), A([2, 3], np.int32))),
    (lambda x: x.at[1].set(2.0), ()),
    (lambda x: x.at[1].add(2.0), ()),
    (lambda x: x.at[1].max(2.0), ()),
    (lambda x: x.at[1].get(), ()),
    (lambda x, i: x.at[i].set(2.0), (A([0, 2], np.int32),)),
], ids=["int", "slice", "neg", "steps", "newaxis", "ellipsis", "traced_int", "int_array",
        "int_array_slice", "two_arrays", "at_set", "at_add", "at_max", "at_get", "at_set_array"])
def test_jaxpr_primitives_match_jax(fn, args):
    x = arange((3, 4))
    ours = _names(llax.make_jaxpr(fn)(lnp.asarray(x), *args))
    theirs = _names(jax.make_jaxpr(fn)(jnp.asarray(x), *args))
    assert [n for n in ours if n not in _INDEX_ARITH] == \
        [n for n in theirs if n not in _INDEX_ARITH]
    assert set(ours) <= set(theirs)


def test_jaxpr_params():
    x = lnp.asarray(arange((3, 4)))
    (eqn,) = [e for e in llax.make_jaxpr(lambda x, i: x[i])(x, A([0, 2], np.int32)).jaxpr.eqns
              if e.primitive.name == "gather"]
    assert eqn.params["dimension_numbers"] == GatherDimensionNumbers(
        offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    assert eqn.params["slice_sizes"] == (1, 4)
    assert eqn.params["mode"] is GatherScatterMode.PROMISE_IN_BOUNDS
    (eqn,) = [e for e in llax.make_jaxpr(lambda x: x.at[1].set(2.0))(x).jaxpr.eqns
              if e.primitive.name == "scatter"]
    assert eqn.params["dimension_numbers"] == ScatterDimensionNumbers(
        update_window_dims=(0,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
    assert eqn.params["mode"] is GatherScatterMode.FILL_OR_DROP
    assert eqn.params["indices_are_sorted"] and eqn.params["unique_indices"]


# ------------------------------------------------------------------------------------------
# The primitives themselves: reference vs jax.lax, abstract evaluation


GATHERS = [
    # (operand shape, indices, dnums, slice_sizes)
    ((5, 4), A([[0], [4], [2]]), GatherDimensionNumbers((1,), (0,), (0,)), (1, 4)),
    ((5, 4), A([[0, 1], [4, 3], [2, 0]]), GatherDimensionNumbers((1,), (0,), (0, 1)), (1, 2)),
    ((5, 4), A([[1, 0], [3, 2]]), GatherDimensionNumbers((1, 2), (), (1, 0)), (2, 3)),
    ((5, 4), A([[[1], [3]]]), GatherDimensionNumbers((0,), (1,), (1,)), (5, 1)),
    ((6,), A([[7], [-2], [3]]), GatherDimensionNumbers((1,), (), (0,)), (2,)),
    ((3, 5, 2), A([[1], [4], [0]]), GatherDimensionNumbers((1,), (1,), (1,), (0,), (0,)),
     (1, 1, 2)),
    ((2, 3, 4), A([[[0, 1]], [[2, 3]], [[1, 0]]]),
     GatherDimensionNumbers((1,), (1, 2), (1, 2)), (2, 1, 1)),
    ((4,), np.zeros((3, 0), np.int32), GatherDimensionNumbers((1,), (), ()), (2,)),
    ((), np.zeros((2, 0), np.int32), GatherDimensionNumbers((), (), ()), ()),
]


# Index dtypes: negative values cast to an unsigned type become huge (4e9 as uint32), which
# must stay out of bounds past the end, never wrap to a negative int32.
INDEX_DTYPES = [np.int32, np.uint32, np.uint8, np.int8]


def _ids(row) -> str:
    return "-".join(np.dtype(v).name if isinstance(v, type) else getattr(v, "name", str(v))
                    for v in row)


# Every case meets every mode and every index dtype, and every mode every index dtype
# (pairwise, not the full product: each row compiles a program, here and in JAX).
GATHER_ROWS = pairwise(range(len(GATHERS)), list(GatherScatterMode), INDEX_DTYPES)


@pytest.mark.parametrize("case, mode, index_dtype", GATHER_ROWS, ids=map(_ids, GATHER_ROWS))
def test_gather_reference_matches_lax(case, mode, index_dtype):
    shape, indices, dn, sizes = GATHERS[case]
    operand = arange(shape)
    indices = indices.astype(index_dtype)
    jmode = jax.lax.GatherScatterMode.from_any(mode.name.lower().replace("fill_or_drop", "fill"))
    want = jax.lax.gather(jnp.asarray(operand), jnp.asarray(indices),
                          jax.lax.GatherDimensionNumbers(*dn), sizes, mode=jmode)
    got = reference[P.gather](operand, indices, dimension_numbers=dn, slice_sizes=sizes,
                              mode=mode)
    assert_same(got, want)
    out = infer_types(P.gather, (TensorType(shape, np.float32), TensorType(indices.shape,
                                                                         indices.dtype)),
                      dict(dimension_numbers=dn, slice_sizes=sizes, mode=mode))
    assert out[0].shape == np.shape(want)
    assert_same(llax.jit(lambda o, i: P.gather.bind(
        o, i, dimension_numbers=dn, slice_sizes=sizes, mode=mode))(operand, indices), want)


SCATTERS = [
    # (operand shape, indices, updates shape, dnums)
    ((5,), A([[0], [4], [0], [2], [0]]), (5,), ScatterDimensionNumbers((), (0,), (0,))),
    ((5, 4), A([[0], [3], [0]]), (3, 4), ScatterDimensionNumbers((1,), (0,), (0,))),
    ((5, 4), A([[1, 0], [3, 2], [1, 0]]), (3, 2, 2), ScatterDimensionNumbers((1, 2), (), (0, 1))),
    ((5, 4), A([[9], [-1], [2]]), (3, 4), ScatterDimensionNumbers((1,), (0,), (0,))),
    ((5, 4), A([[3, 1], [4, 3]]), (2, 2, 2), ScatterDimensionNumbers((1, 2), (), (0, 1))),
    ((3, 5), A([[1], [4], [1]]), (3,), ScatterDimensionNumbers((), (1,), (1,), (0,), (0,))),
    ((), np.zeros((3, 0), np.int32), (3,), ScatterDimensionNumbers((), (), ())),
]


# XLA rejects a scatter into a rank-0 operand: those cases are covered by the native tests.
# Pairwise over case, mode, primitive and index dtype (see GATHER_ROWS).
SCATTER_ROWS = pairwise([i for i, c in enumerate(SCATTERS) if c[0] != ()],
                        [GatherScatterMode.CLIP, GatherScatterMode.FILL_OR_DROP], P.SCATTERS,
                        INDEX_DTYPES)


@pytest.mark.parametrize("case, mode, prim, index_dtype", SCATTER_ROWS,
                         ids=map(_ids, SCATTER_ROWS))
def test_scatter_reference_matches_lax(case, mode, prim, index_dtype):
    shape, indices, ushape, dn = SCATTERS[case]
    operand = arange(shape)
    updates = (np.arange(int(np.prod(ushape))) % 7 - 2).astype(np.float32).reshape(ushape)
    indices = indices.astype(index_dtype)
    lax_fn = {"scatter": jax.lax.scatter, "scatter-add": jax.lax.scatter_add,
              "scatter-sub": jax.lax.scatter_sub, "scatter-mul": jax.lax.scatter_mul,
              "scatter-min": jax.lax.scatter_min, "scatter-max": jax.lax.scatter_max}[prim.name]
    jmode = "clip" if mode is GatherScatterMode.CLIP else "drop"
    want = lax_fn(jnp.asarray(operand), jnp.asarray(indices), jnp.asarray(updates),
                  jax.lax.ScatterDimensionNumbers(*dn), mode=jmode)
    got = reference[prim](operand, indices, updates, dimension_numbers=dn, mode=mode)
    compiled = np.asarray(llax.jit(lambda o, i, u: prim.bind(
        o, i, u, dimension_numbers=dn, mode=mode))(operand, indices, updates))
    assert_same(compiled, got)  # the same order of updates as the reference
    if prim is P.scatter and case == 0:
        # Repeated indices: XLA picks one of the updates; the reference (and codegen) the last.
        got, want = np.delete(got, 0), np.delete(np.asarray(want), 0)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6)
    assert got.dtype == np.float32


def test_fusion_classes_and_names():
    assert fusion_class[P.gather] is FusionClass.INDEX_MAP
    for p in P.SCATTERS:
        assert fusion_class[p] is FusionClass.OPAQUE
    names = {p.name for p in P.SCATTERS}
    assert names == {"scatter", "scatter-add", "scatter-sub", "scatter-mul", "scatter-min",
                     "scatter-max"}


def test_dimension_numbers_and_modes():
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    assert dn.operand_batching_dims == () and hash(dn) == hash(((1,), (0,), (0,), (), ()))
    assert dn == ((1,), (0,), (0,), (), ())  # prints and parses back as a plain tuple
    sdn = ScatterDimensionNumbers((0,), (0,), (0,))
    assert sdn._replace(inserted_window_dims=()).inserted_window_dims == ()
    assert GatherScatterMode.from_any("clip") is GatherScatterMode.CLIP
    assert GatherScatterMode.from_any("fill") is GatherScatterMode.FILL_OR_DROP
    assert GatherScatterMode.from_any("drop") is GatherScatterMode.FILL_OR_DROP
    assert GatherScatterMode.from_any(None) is GatherScatterMode.FILL_OR_DROP
    assert GatherScatterMode.from_any("promise_in_bounds") is GatherScatterMode.PROMISE_IN_BOUNDS
    assert repr(GatherScatterMode.CLIP) == "GatherScatterMode.CLIP"
    with pytest.raises(ValueError, match="Unknown gather mode"):
        GatherScatterMode.from_any("wrap")


def _gather_types(operand, indices, **params):
    return infer_types(P.gather, (TensorType(operand, np.float32), TensorType(*indices)),
                       params)


@pytest.mark.parametrize("operand, indices, params, match", [
    ((5, 4), ((3, 1), np.float32), dict(slice_sizes=(1, 4)), "integer dtype"),
    ((5, 4), ((3, 2), np.int32), dict(slice_sizes=(1, 4)), "len\\(start_index_map\\)"),
    ((5, 4), ((3, 1), np.int32), dict(slice_sizes=(1, 5)), "out of range"),
    ((5, 4), ((3, 1), np.int32), dict(slice_sizes=(2, 4)), "collapse"),
    ((5, 4), ((3, 1), np.int32), dict(slice_sizes=(1,)), "one entry per operand"),
    ((5, 4), ((), np.int32), dict(slice_sizes=(1, 4)), "rank >= 1"),
], ids=["float-indices", "index-vector", "slice-too-big", "collapse-big", "sizes-rank",
        "rank0-indices"])
def test_gather_abstract_eval_errors(operand, indices, params, match):
    params.setdefault("dimension_numbers", GatherDimensionNumbers((1,), (0,), (0,)))
    with pytest.raises(TypeError, match=match):
        _gather_types(operand, indices, **params)


def test_scatter_abstract_eval_errors():
    dn = ScatterDimensionNumbers((1,), (0,), (0,))
    f32, i32 = np.float32, np.int32

    def types(o, i, u, udt=f32):
        return (TensorType(o, f32), TensorType(i, i32), TensorType(u, udt))

    assert infer_types(P.scatter_add, types((5, 4), (3, 1), (3, 4)),
                       dict(dimension_numbers=dn))[0] == TensorType((5, 4), f32)
    with pytest.raises(TypeError, match="updates dtype"):
        infer_types(P.scatter, types((5, 4), (3, 1), (3, 4), i32), dict(dimension_numbers=dn))
    with pytest.raises(TypeError, match="scatter dims of updates"):
        infer_types(P.scatter, types((5, 4), (3, 1), (2, 4)), dict(dimension_numbers=dn))
    with pytest.raises(TypeError, match="larger than operand"):
        infer_types(P.scatter, types((5, 4), (3, 1), (3, 6)), dict(dimension_numbers=dn))
    with pytest.raises(TypeError, match="bool"):
        infer_types(P.scatter_add, (TensorType((5,), np.bool_), TensorType((1, 1), i32),
                                    TensorType((1,), np.bool_)),
                    dict(dimension_numbers=ScatterDimensionNumbers((), (0,), (0,))))


# ------------------------------------------------------------------------------------------
# Native code vs the reference (hand-built IR, so the optimiser cannot hide anything)


def _native_check(fn, args):
    from llax.codegen import compile_native
    from llax.ir.interpreter import evaluate_function

    got = compile_native(fn, fn).call([np.array(a, order="C") for a in args])
    want = evaluate_function(fn, args)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def _single(prim, args, **params):
    from llax.ir.core import Function, Op, Params, Var

    ins = tuple(Var(TensorType(np.shape(a), np.asarray(a).dtype)) for a in args)
    p = Params(params)
    outs = tuple(Var(t) for t in infer_types(prim, tuple(v.type for v in ins), p))
    return Function(ins, (Op(prim, ins, outs, p),), outs)


NATIVE_GATHER_ROWS = pairwise(range(len(GATHERS)),
                              [np.float32, np.int32, np.bool_, np.float16, np.uint8],
                              list(GatherScatterMode))


@pytest.mark.parametrize("case, dtype, mode", NATIVE_GATHER_ROWS,
                         ids=map(_ids, NATIVE_GATHER_ROWS))
def test_gather_native_matches_reference(case, dtype, mode):
    shape, indices, dn, sizes = GATHERS[case]
    args = [arange(shape, dtype), indices.astype(np.int32)]
    _native_check(_single(P.gather, args, dimension_numbers=dn, slice_sizes=sizes, mode=mode),
                  args)


# Booleans have no add, sub or mul scatter.
NATIVE_SCATTER_ROWS = pairwise(
    range(len(SCATTERS)), [np.float32, np.int32, np.float16, np.uint8, np.bool_],
    [GatherScatterMode.CLIP, GatherScatterMode.FILL_OR_DROP], P.SCATTERS,
    valid=lambda case, dtype, mode, prim: not (
        dtype == np.bool_ and prim in (P.scatter_add, P.scatter_sub, P.scatter_mul)))


@pytest.mark.parametrize("case, dtype, mode, prim", NATIVE_SCATTER_ROWS,
                         ids=map(_ids, NATIVE_SCATTER_ROWS))
def test_scatter_native_matches_reference(case, dtype, mode, prim):
    shape, indices, ushape, dn = SCATTERS[case]
    updates = (np.arange(int(np.prod(ushape))) % 7 - 2).reshape(ushape)
    updates = (updates > 0) if dtype == np.bool_ else updates.astype(dtype)
    args = [arange(shape, dtype), indices.astype(np.int32), updates]
    _native_check(_single(prim, args, dimension_numbers=dn, mode=mode), args)


def test_native_gather_with_index_dtypes_and_fusion():
    # Indices of other integer dtypes, and a gather fused between elementwise ops.
    x = arange((6, 5))
    for dt in [np.int8, np.uint16, np.int32, np.uint32]:
        idx = A([[5], [0], [3]]).astype(dt)
        args = [x, idx]
        fn = _single(P.gather, args, dimension_numbers=GatherDimensionNumbers((1,), (0,), (0,)),
                     slice_sizes=(1, 5), mode=GatherScatterMode.FILL_OR_DROP)
        _native_check(fn, args)
    f = llax.jit(lambda x, i: (lnp.exp(x) * 2)[i, ::-1] + 1)
    i = A([5, -1, 0, 9], np.int32)
    np.testing.assert_allclose(np.asarray(f(x, i)),
                               np.asarray((jnp.exp(jnp.asarray(x)) * 2)[i, ::-1] + 1),
                               rtol=1e-6)


@pytest.mark.parametrize("index_dtype", [np.uint8, np.uint16, np.uint32, np.int8, np.int32],
                         ids=lambda t: np.dtype(t).name)
def test_index_values_of_every_integer_type_clamp_as_their_own_type(index_dtype):
    # Every value of the type (ends and middle): unsigned 4e9 is past the end, never negative.
    info = np.iinfo(index_dtype)
    values = np.array(sorted({info.min, info.max, 0, 3, 9, info.max // 2, max(info.min, -3)}),
                      dtype=index_dtype)
    x = np.arange(10, dtype=np.float32)
    la = lnp.asarray(x)

    def clamped(i) -> int:  # the oracle: Python ints, negatives from the end, then clamp
        i = int(i)
        i = i + 10 if i < 0 else i
        return min(max(i, 0), 9)

    for i in values:
        want = x[clamped(i)]
        assert float(la[i]) == want
        assert float(llax.jit(lambda a, i: a[i])(la, i)) == want
        wrapped = int(i) + 10 if int(i) < 0 else int(i)
        start = min(max(wrapped, 0), 7)  # a window of 3 fits
        assert_same(np.asarray(llax.jit(lambda a, i: llax.lax.dynamic_slice(a, (i,), (3,)))(
            la, i)), x[start:start + 3])
        assert_same(np.asarray(llax.lax.dynamic_slice(la, (i,), (3,))), x[start:start + 3])
        upd = x.copy()
        at = min(max(wrapped, 0), 8)  # a window of 2 fits
        upd[at:at + 2] = -1
        assert_same(np.asarray(llax.jit(lambda a, i: llax.lax.dynamic_update_slice(
            a, -lnp.ones(2, lnp.float32), (i,)))(la, i)), upd)
    # An array of indices: gather (clamped) and scatter (out-of-bounds updates dropped).
    want = x[[clamped(i) for i in values]]
    assert_same(np.asarray(la[values]), want)
    assert_same(np.asarray(llax.jit(lambda a, i: a[i])(la, values)), want)
    dropped = x.copy()
    for i in values:
        if -10 <= int(i) < 10:
            dropped[int(i)] += 1
    assert_same(np.asarray(llax.jit(lambda a, i: a.at[i].add(1.0))(la, values)), dropped)
    assert_same(np.asarray(la.at[values].add(1.0)), dropped)
