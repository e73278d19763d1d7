"""The ``sort`` primitive and what is built on it (lax.sort/sort_key_val/top_k,
jnp.sort/argsort, take/take_along_axis).

Three oracles: NumPy's stable sorts for the reference implementation; the
reference, bit for bit, for the native kernel (every dtype, each axis, empty and
length-1 axes, many rows split across threads, inside loops); and live JAX for
the public functions eagerly, under jit, vmap and grad. Data has NaNs of both
signs, signed zeros, infinities and many repeated keys, so the placement of NaNs,
-0.0 == 0.0 and stability are all checked.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import llax
from llax.ir import prims as P
from llax.ir.reference import reference
from tests.codegen_util import lit, op, run, single, tt
from tests.jnp_oracle import x64_mode

jnp = jax.numpy

FLOATS = [np.float16, np.float32, np.float64]
INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
ALL = [*FLOATS, *INTS, np.bool_]


def data(dtype, shape, seed=0, distinct=False):
    """Values with many repeats; floats include NaNs of both signs, +-0.0 and +-inf."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        if distinct:
            return rng.permutation(size).astype(dtype).reshape(shape) - size // 2
        pool = np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1.5, -1.5, 2.0, -3.25,
                         1e-3], dtype)
        return pool[rng.integers(0, len(pool), shape)]
    info = np.iinfo(dtype)
    if distinct:
        return (rng.permutation(size) % (int(info.max) + 1)).astype(dtype).reshape(shape)
    pool = np.array([info.min, info.max, 0, 1, 2, info.max // 2, info.min // 2 + 1], dtype)
    return pool[rng.integers(0, len(pool), shape)]


def bits(x: np.ndarray) -> np.ndarray:
    """Exact comparison: floats by their bits (the sign of zero and of NaN included)."""
    x = np.asarray(x)
    return x.view(f"u{x.dtype.itemsize}") if x.dtype.kind == "f" else x


def assert_bits(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, \
        f"{what}: {got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    np.testing.assert_array_equal(bits(got), bits(want), err_msg=what)


def sort_ref(*xs, dimension, num_keys=1, is_stable=True):
    return reference[P.sort](*xs, dimension=dimension, is_stable=is_stable, num_keys=num_keys)


# ---------------------------------------------------------------------------------------------
# The reference against NumPy


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,dim", [((17,), 0), ((6, 9), 0), ((6, 9), 1), ((3, 4, 5), 1)])
def test_reference_is_numpys_stable_sort(dtype, shape, dim):
    x = data(dtype, shape)
    order = np.argsort(x, axis=dim, kind="stable")  # NumPy: -0.0 == 0.0, NaNs last, stable
    pos = np.broadcast_to(np.arange(shape[dim]).reshape(
        [-1 if d == dim else 1 for d in range(len(shape))]), shape).astype(np.int32)
    values, perm = sort_ref(x, pos, dimension=dim)
    np.testing.assert_array_equal(perm, order)
    assert_bits(values, np.take_along_axis(x, order, axis=dim))


def test_reference_two_keys_is_lexsort():
    k0, k1 = data(np.int8, (40,), 1), data(np.float32, (40,), 2)
    pos = np.arange(40, dtype=np.int32)
    *_, perm = sort_ref(k0, k1, pos, dimension=0, num_keys=2)
    np.testing.assert_array_equal(perm, np.lexsort((k1, k0)))


# ---------------------------------------------------------------------------------------------
# The native kernel against the reference, bit for bit


def check_native(types, args, **params):
    fn = single(P.sort, types, **params)
    got, want = run(fn, args)
    for g, w in zip(got, want):
        assert_bits(g, w, f"{[t for t in types]} {params}")


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: np.dtype(d).name)
def test_native_every_dtype(dtype):
    for shape, dim in [((1000,), 0), ((17,), 0), ((5, 33), 1), ((33, 5), 0)]:
        x = data(dtype, shape, seed=len(shape) + dim)
        pos = np.arange(x.size, dtype=np.int32).reshape(shape)  # a second, permuted operand
        t = tt(shape, dtype)
        check_native([t, tt(shape, np.int32)], [x, pos], dimension=dim, is_stable=True,
                     num_keys=1)


@pytest.mark.parametrize("shape", [(0,), (1,), (2,), (3, 0), (0, 4), (4, 1), (1, 4), (2, 3, 4)])
def test_native_small_and_empty_shapes(shape):
    x = data(np.float32, shape, seed=3)
    for dim in range(len(shape)):
        check_native([tt(shape, np.float32)] * 2, [x, x * 2], dimension=dim, is_stable=True,
                     num_keys=1)


@pytest.mark.parametrize("n", [2, 7, 8, 9, 16, 17, 100, 511, 512, 1023, 1025])
def test_native_lengths_around_runs_and_powers_of_two(n):
    # Distinct values (reverse sorted and shuffled), repeated ones, all equal (every radix
    # pass skipped), and ones differing in one byte only (one pass moves records).
    for x in (np.arange(n, 0, -1, dtype=np.int32), data(np.int32, (n,), n, distinct=True),
              data(np.int32, (n,), n), np.full(n, -7, np.int32),
              (np.arange(n, dtype=np.int32) * 7919 % 251) << 16):
        check_native([tt((n,), np.int32), tt((n,), np.int32)], [x, np.arange(n, dtype=np.int32)],
                     dimension=0, is_stable=True, num_keys=1)


@pytest.mark.parametrize("keys", [
    (np.bool_, np.float64), (np.int8, np.uint16, np.bool_), (np.float64, np.float64),
    (np.uint64, np.int64, np.float32), (np.float16, np.int32)])
def test_native_several_keys(keys):
    # Records of one, two or three words: key widths plus the position's bits.
    shape = (3, 700)  # rows merged (3) and sorted by radix (700)
    xs = [data(k, shape, seed=i) for i, k in enumerate(keys)]
    payload = data(np.float32, shape, seed=9)
    types = [tt(shape, k) for k in keys] + [tt(shape, np.float32)]
    for dim in (0, 1):
        check_native(types, [*xs, payload], dimension=dim, is_stable=True, num_keys=len(keys))


def test_native_unstable_flag_and_literal_operand():
    shape = (3, 50)
    x = data(np.float32, shape, seed=4)
    values = lit(np.arange(150, dtype=np.int64).reshape(shape), np.int64, shape)
    param = tt(shape, np.float32)
    from llax.ir.core import Function, Var

    p = Var(param)
    o = op(P.sort, p, values, dimension=1, is_stable=False, num_keys=1)
    got, want = run(Function((p,), (o,), o.outputs), [x])
    for g, w in zip(got, want):
        assert_bits(g, w)


def test_native_many_rows_split_across_threads():
    # Enough rows and work for the parallel path (if this host has threads); the results
    # must not depend on it.
    shape = (300, 1500)
    x = data(np.float32, shape, seed=5)
    check_native([tt(shape, np.float32)], [x], dimension=1, is_stable=True, num_keys=1)
    check_native([tt(shape, np.float32)], [x], dimension=0, is_stable=True, num_keys=1)


def test_native_sort_in_a_loop_body():
    x = data(np.float32, (4, 40), seed=6)

    def f(m, x):
        def body(i, c):
            return m.lax.sort(c * -1.0, dimension=1) + 1.0

        return m.lax.fori_loop(0, 3, body, x)

    got = llax.jit(lambda x: f(llax, x))(x)
    assert_bits(got, jax.jit(lambda x: f(jax, x))(x))


# ---------------------------------------------------------------------------------------------
# Against JAX


JAX_DTYPES = [np.float32, np.float64, np.int32, np.uint8, np.bool_]


def assert_equal_values(got, want, what=""):
    """Equal as numbers: -0.0 == 0.0, NaN == NaN (for orders among equal keys unspecified)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, what
    np.testing.assert_array_equal(got, want, err_msg=what)


def both(f, *args, exact=True):
    """``f(m)`` (a function written against the namespace ``m``) on llax, eagerly and under
    jit, against JAX eagerly: the same pytree of results, the same bits (``exact``) or
    numbers."""
    compare = assert_bits if exact else assert_equal_values
    tree = jax.tree_util
    want = jax.jit(f(jax))(*args)
    for how, got in (("eager", f(llax)(*args)), ("jit", llax.jit(f(llax))(*args))):
        assert tree.tree_structure(got) == tree.tree_structure(want), f"{how}: {got} vs {want}"
        for k, (g, w) in enumerate(zip(tree.tree_leaves(got), tree.tree_leaves(want))):
            compare(g, w, f"{how}, result {k}")


@pytest.fixture(params=JAX_DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    with x64_mode(np.dtype(request.param).itemsize == 8):
        yield request.param


@pytest.mark.parametrize("shape", [(0,), (1,), (2,), (17,), (1000,), (5, 7), (3, 4, 6)])
def test_lax_sort_matches_jax(dtype, shape):
    x = data(dtype, shape, seed=sum(shape))
    dims = range(-len(shape), len(shape))
    both(lambda m: lambda x: [m.lax.sort(x, dimension=d) for d in dims], x)


def test_sort_key_val_and_several_operands_match_jax(dtype):
    k = data(dtype, (6, 40), seed=1)
    v = data(np.float32, (6, 40), seed=2)
    w = np.arange(240, dtype=np.int32).reshape(6, 40)

    def f(m):
        def g(k, v, w):
            # A list of one operand gives a tuple of one result, as in JAX.
            return ([m.lax.sort_key_val(k, v, d) for d in (0, 1, -1)],
                    [m.lax.sort((k, v, w), dimension=d, num_keys=n)
                     for d in (0, 1) for n in (1, 2, 3)],
                    m.lax.sort([k]))

        return g

    both(f, k, v, w)


@pytest.mark.parametrize("descending", [False, True])
def test_jnp_sort_and_argsort_match_jax(dtype, descending):
    x = data(dtype, (7, 33), seed=3)
    both(lambda m: lambda x: [(m.numpy.sort(x, axis=a, descending=descending),
                               m.numpy.argsort(x, axis=a, descending=descending))
                              for a in (None, 0, 1, -1)], x)
    # Unstable sorts may order equal keys (0.0 and -0.0, NaNs) either way: compare numbers.
    both(lambda m: lambda x: m.numpy.sort(x, stable=False), x, exact=False)
    if dtype != np.bool_:  # (no 50 distinct bools)
        d = data(dtype, (50,), seed=4, distinct=True)  # distinct: every order is the same
        both(lambda m: lambda x: m.numpy.argsort(x, stable=False, descending=descending), d)


def test_argsort_dtype_and_errors_match_jax():
    x = data(np.float32, (9,))
    both(lambda m: lambda x: m.numpy.argsort(x, dtype=np.int16), x)
    for f in (lambda m: m.numpy.sort(x, kind="quicksort"), lambda m: m.numpy.argsort(x, order=1),
              lambda m: m.lax.sort(np.float32(1)), lambda m: m.lax.sort(x, dimension=1),
              lambda m: m.lax.sort((x, x[:3])), lambda m: m.lax.sort((x,), num_keys=2),
              lambda m: m.lax.top_k(x, 10), lambda m: m.lax.top_k(x, -1),
              lambda m: m.numpy.sort(np.float32(1)),
              lambda m: m.numpy.take(x, np.array([0]), mode="promise_in_bounds"),
              lambda m: m.numpy.take_along_axis(x, np.array([0.0]), axis=0)):
        with pytest.raises((TypeError, ValueError)) as want:
            f(jax)
        with pytest.raises(want.type):
            f(llax)


def test_top_k_matches_jax(dtype):
    # XLA orders by the bits: -0.0 < 0.0, NaNs of either sign at either end; ties lowest
    # index first. The result is a list, as JAX's.
    x = data(dtype, (4, 17), seed=5)
    both(lambda m: lambda x: ([m.lax.top_k(x, k) for k in (0, 1, 3, 17)],
                              [m.lax.top_k(x, k, axis=0) for k in (1, 4)]), x)


def test_take_and_take_along_axis_match_jax(dtype):
    x = data(dtype, (4, 5), seed=7)
    idx = np.array([[0, -1, 4, 7, -6], [2, 2, 1, 0, 3]], np.int32)
    narrow = np.array([[3, 0, 1, 2, 3]], np.int8)
    flat = np.array([19, 0, -1], np.int32)

    def f(m):
        def g(x, i, narrow, flat):
            return ([m.numpy.take_along_axis(x[:2], i[:, :4], axis=1, mode=mode)
                     for mode in (None, "fill", "clip")],
                    [m.numpy.take(x, i, axis=0, mode=mode) for mode in (None, "fill", "clip")],
                    m.numpy.take(x, i, mode="wrap"), m.numpy.take(x, i),
                    # Broadcast rows, indices of a narrow dtype, axis=None.
                    m.numpy.take_along_axis(x, narrow, axis=0),
                    m.numpy.take_along_axis(x, flat, axis=None),
                    # argsort then take_along_axis sorts.
                    m.numpy.take_along_axis(x, m.numpy.argsort(x, axis=0), axis=0))

        return g

    both(f, x, idx, narrow, flat)


@pytest.mark.parametrize("in_axes", [0, 1, 2])
def test_vmap_matches_jax(in_axes):
    x = data(np.float32, (4, 5, 6), seed=8)
    y = data(np.int32, (4, 5, 6), seed=9)

    def f(m):
        def g(a, b, c):
            s = m.lax.sort((a, b, c), dimension=0, num_keys=2)
            return s, m.numpy.argsort(a, axis=-1), m.lax.top_k(a, 2)

        return g

    example = tuple(n for d, n in enumerate(x.shape) if d != in_axes)
    c = np.arange(np.prod(example), dtype=np.float32).reshape(example)  # unbatched
    for g in (llax.vmap(f(llax), in_axes=(in_axes, in_axes, None)),
              llax.jit(llax.vmap(f(llax), in_axes=(in_axes, in_axes, None)))):
        got = g(x, y, c)
        want = jax.vmap(f(jax), in_axes=(in_axes, in_axes, None))(x, y, c)
        for gv, wv in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want),
                          strict=True):
            assert_bits(gv, wv)


def test_grad_matches_jax():
    with x64_mode(True):
        x = np.array([[3.0, 1.0, 2.0, 1.0, -0.0], [0.0, -1.0, 5.0, 2.0, 0.0]])
        v = np.arange(10.0).reshape(2, 5)

        def f(m):
            def loss(x, v):
                a = m.numpy.sort(x, axis=1) * np.arange(5.0)
                k, s = m.lax.sort_key_val(x, v * x, dimension=0)
                t, _ = m.lax.top_k(x, 2)
                return (a.sum() + (k * s).sum() + (t ** 2).sum()
                        + m.numpy.take_along_axis(x, m.numpy.argsort(-x), axis=1)[:, 0].sum())

            return loss

        want = jax.grad(f(jax), argnums=(0, 1))(x, v)
        for got in (llax.grad(f(llax), argnums=(0, 1))(x, v),
                    llax.jit(llax.grad(f(llax), argnums=(0, 1)))(x, v)):
            for g, w in zip(got, want, strict=True):
                assert_bits(g, w)


def test_jaxpr_is_one_sort_as_in_jax():
    x = np.zeros(10, np.float32)
    for f in (lambda m: m.numpy.argsort, lambda m: m.numpy.sort,
              lambda m: lambda x: m.lax.sort_key_val(x, x)):
        eqns = llax.make_jaxpr(f(llax))(x).jaxpr.eqns
        assert [e.primitive.name for e in eqns].count("sort") == 1


def test_take_along_axis_with_empty_dimensions_matches_jax():
    for a_shape, i_shape, axis in [((0, 3), (0, 2), 1), ((2, 0, 3), (2, 0, 1), 2),
                                   ((0, 3), (1, 3), 1), ((0, 3), (2, 3), 0), ((3, 0), (3, 2), 1),
                                   ((0,), (0,), 0)]:
        for dtype in (np.float32, np.int32, np.bool_):
            both(lambda m, ax=axis: lambda a, i: m.numpy.take_along_axis(a, i, axis=ax),
                 np.zeros(a_shape, dtype), np.zeros(i_shape, np.int32))
