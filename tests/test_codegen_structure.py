"""Compiled index maps, reductions, dot_general, fusion regions and kernel plumbing
(intermediates, results that are parameters/literals/repeated), against the reference."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from llax.ir import prims as P
from llax.ir.core import Function, Var
from llax.tests.codegen_util import (
    BOOL,
    F32,
    F64,
    I32,
    assert_vectorised,
    check,
    float_vector_lanes,
    fused,
    lit,
    loop_nest_chain,
    op,
    random_values,
    run,
    single,
    tt,
)

DTYPES = [F32, I32, BOOL]


def _args(fn: Function, seed: int = 0, low: float = -10, high: float = 10) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [random_values(v.type.dtype, v.type.shape, rng, low, high) for v in fn.params]


def _check1(prim, in_types, seed: int = 0, **params) -> None:
    fn = single(prim, in_types, **params)
    check(fn, _args(fn, seed))
    check(fused(fn), _args(fn, seed))  # the same op as a one-op fusion region


# --- index maps ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("src, shape, dims", [
    ((), (5,), ()), ((3,), (2, 3), (1,)), ((3, 1), (3, 4), (0, 1)),
    ((2, 1, 3), (2, 4, 3), (0, 1, 2)),
    ((1,), (1,), (0,)), ((3,), (3, 0), (0,)), ((4,), (4, 7, 33), (0,)), ((33,), (2, 3, 33), (2,)),
    ((1, 1), (5, 1, 6), (1, 2)),
], ids=str)
def test_broadcast_in_dim(dtype, src, shape, dims) -> None:
    _check1(P.broadcast_in_dim, [tt(src, dtype)], shape=shape, broadcast_dimensions=dims)


@pytest.mark.parametrize("src, new", [
    ((6,), (2, 3)), ((2, 3), (3, 2)), ((2, 3, 4), (6, 4)), ((4, 6), (24,)), ((), (1, 1)),
    ((0, 3), (3, 0)), ((2, 3, 4), (4, 3, 2)), ((1, 7), (7, 1)), ((5, 6, 7), (30, 7)),
], ids=str)
def test_reshape(src, new) -> None:
    _check1(P.reshape, [tt(src, F32)], new_sizes=new, dimensions=None)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))), ids=str)
def test_transpose(perm) -> None:
    _check1(P.transpose, [tt((2, 3, 5), I32)], permutation=perm)


@pytest.mark.parametrize("shape, perm, dtype", [
    ((67, 129), (1, 0), F32),  # walked in blocks, partial ones at both edges
    ((64, 48), (1, 0), F64),  # whole blocks
    ((3, 40, 50), (0, 2, 1), I32), ((2, 33, 70), (0, 2, 1), BOOL),  # a stack of matrices
    ((40, 3, 50), (2, 1, 0), F32),  # not a matrix transpose: rows, unblocked
    ((520, 1030), (1, 0), F32),  # enough work to split the blocked rows across threads
], ids=str)
def test_transpose_large(shape, perm, dtype) -> None:
    _check1(P.transpose, [tt(shape, dtype)], permutation=perm)


def test_fused_transpose_is_blocked_and_right() -> None:
    # exp(x).T + y in one region: the transposing read inside a fusion.
    x, y = Var(tt((96, 80), F32)), Var(tt((80, 96), F32))
    e = op(P.exp, x)
    t = op(P.transpose, e.out, permutation=(1, 0))
    s = op(P.add, t.out, y)
    region = Function((x, y), (e, t, s), (s.out,))
    check(fused(region), _args(region, 0, -2, 2), 2e-6, 1e-6)


@pytest.mark.parametrize("src, dims", [((1, 3, 1), (0, 2)), ((1,), (0,)), ((4, 1), (1,))],
                         ids=str)
def test_squeeze(src, dims) -> None:
    _check1(P.squeeze, [tt(src, F32)], dimensions=dims)


@pytest.mark.parametrize("dims", [(), (0,), (1,), (0, 1)], ids=str)
def test_rev(dims) -> None:
    _check1(P.rev, [tt((3, 33), I32)], dimensions=dims)


@pytest.mark.parametrize("start, limit, strides", [
    ((0, 0), (4, 9), None), ((1, 2), (3, 9), None), ((0, 1), (4, 9), (2, 3)),
    ((3, 0), (3, 9), None), ((1, 8), (4, 9), (5, 1)),
], ids=str)
def test_slice(start, limit, strides) -> None:
    _check1(P.slice, [tt((4, 9), F32)], start_indices=start, limit_indices=limit,
            strides=strides)


# Unsigned index dtypes only with non-negative starts (a negative one is not representable).
@pytest.mark.parametrize("starts, idx_dtype", [
    (s, d) for s in [(0, 0), (1, 2), (-5, 100), (3, -1), (2**31 - 1, 0)]
    for d in (I32, np.dtype(np.uint32), np.dtype(np.int64)) if d.kind != "u" or min(s) >= 0],
    ids=str)
def test_dynamic_slice(starts, idx_dtype) -> None:
    x = Var(tt((5, 7), F32))
    s = [Var(tt((), idx_dtype)) for _ in range(2)]
    o = op(P.dynamic_slice, x, *s, slice_sizes=(2, 3))
    fn = Function((x, *s), (o,), o.outputs)
    args = [np.arange(35, dtype=np.float32).reshape(5, 7),
            *[np.array(v, idx_dtype) for v in starts]]
    check(fn, args)
    check(fused(fn), args)


@pytest.mark.parametrize("starts", [(0, 0), (1, 2), (-5, 100), (4, 6)], ids=str)
@pytest.mark.parametrize("ushape", [(2, 3), (5, 7), (0, 3), (1, 1)], ids=str)
def test_dynamic_update_slice(starts, ushape) -> None:
    x = Var(tt((5, 7), I32))
    u = Var(tt(ushape, I32))
    s = [Var(tt((), I32)) for _ in range(2)]
    o = op(P.dynamic_update_slice, x, u, *s)
    fn = Function((x, u, *s), (o,), o.outputs)
    args = [np.arange(35, dtype=np.int32).reshape(5, 7), -np.ones(ushape, np.int32),
            *[np.array(v, np.int32) for v in starts]]
    check(fn, args)


@pytest.mark.parametrize("config", [
    ((0, 0, 0), (0, 0, 0)), ((1, 2, 0), (0, 3, 0)), ((-1, 1, 0), (2, -3, 0)),
    ((0, 0, 1), (1, 1, 2)), ((-2, -1, 1), (3, 0, 3)),
], ids=str)
@pytest.mark.parametrize("dtype", [F32, BOOL])
def test_pad(config, dtype) -> None:
    x, v = Var(tt((4, 5), dtype)), Var(tt((), dtype))
    o = op(P.pad, x, v, padding_config=config)
    fn = Function((x, v), (o,), o.outputs)
    check(fn, _args(fn))
    check(fused(fn), _args(fn))


def test_pad_empty_operand() -> None:
    x, v = Var(tt((0, 2), F32)), Var(tt((), F32))
    o = op(P.pad, x, v, padding_config=((1, 1, 0), (0, 1, 0)))
    check(Function((x, v), (o,), o.outputs), [np.zeros((0, 2)), np.float32(7)])


@pytest.mark.parametrize("shapes, dim", [
    (((2, 3), (4, 3)), 0), (((2, 3), (2, 1), (2, 0), (2, 5)), 1), (((7,),), 0),
    (((0, 3), (0, 3)), 1), (((3, 2, 2), (3, 1, 2)), 1),
], ids=str)
def test_concatenate(shapes, dim) -> None:
    _check1(P.concatenate, [tt(s, I32) for s in shapes], dimension=dim)


@pytest.mark.parametrize("dtype", [F32, I32, F64, np.dtype(np.uint8)])
@pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 300), 2),
                                        ((0, 3), 1), ((1, 1), 1)], ids=str)
def test_iota(dtype, shape, dim) -> None:
    fn = single(P.iota, [], dtype=dtype, shape=shape, dimension=dim)
    check(fn, [])


# --- reductions ----------------------------------------------------------------------------

REDUCE = ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
          "reduce_xor"]
REDUCE_CASES = [((1000,), (0,)), ((3, 5, 7), (0,)), ((3, 5, 7), (1,)), ((3, 5, 7), (2,)),
                ((3, 5, 7), (0, 2)), ((3, 5, 7), (1, 2)), ((3, 5, 7), (0, 1, 2)),
                ((3, 5, 7), ()), ((0, 4), (0,)), ((4, 0), (1,)), ((), ()), ((1, 9, 1), (1,)),
                ((33, 1, 8), (0, 1)), ((6, 1), (0,))]


def _reduce_ok(name: str, dtype) -> bool:
    kind = "b" if dtype == BOOL else np.dtype(dtype).kind
    allowed = {"reduce_sum": "fiu", "reduce_prod": "fiu", "reduce_max": "fiub",
               "reduce_min": "fiub"}.get(name, "iub")
    return kind in allowed


@pytest.mark.parametrize("shape, axes", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("name, dtype", [(n, d) for n in REDUCE for d in (F32, F64, I32, BOOL)
                                         if _reduce_ok(n, d)], ids=str)
def test_reduce(name: str, dtype, shape, axes) -> None:
    from llax.ir.primitive import PRIMITIVES

    fn = single(PRIMITIVES[name], [tt(shape, dtype)], axes=axes)
    low, high = (0.5, 1.5) if name == "reduce_prod" else (-10, 10)
    args = _args(fn, 7, low, high)
    rtol = 1e-5 if dtype == F32 and name in ("reduce_sum", "reduce_prod") else \
        1e-12 if dtype == F64 else 0.0
    check(fn, args, rtol, rtol)
    check(fused(fn), args, rtol, rtol)


@pytest.mark.parametrize("name", ["reduce_max", "reduce_min", "argmax", "argmin"])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_reduce_nan(name: str, dtype) -> None:
    from llax.ir.primitive import PRIMITIVES

    x = np.array([[1, np.nan, 3, np.nan], [-np.inf, -np.inf, -np.inf, -np.inf],
                  [np.inf, 2, np.inf, 0], [np.nan] * 4, [-0.0, 0.0, 5, 5]], dtype)
    extra = {"index_dtype": I32} if name.startswith("arg") else {}
    for axes in ((0,), (1,)):
        fn = single(PRIMITIVES[name], [tt(x.shape, dtype)], axes=axes, **extra)
        check(fn, [x])


@pytest.mark.parametrize("shape, axis", [((1000,), 0), ((3, 5, 7), 0), ((3, 5, 7), 1),
                                         ((3, 5, 7), 2), ((1, 6), 1), ((6, 1), 1), ((0, 3), 1)],
                         ids=str)
@pytest.mark.parametrize("dtype", [F32, I32, BOOL])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argminmax(name: str, dtype, shape, axis) -> None:
    from llax.ir.primitive import PRIMITIVES

    fn = single(PRIMITIVES[name], [tt(shape, dtype)], axes=(axis,),
                index_dtype=np.dtype(np.int32))
    args = _args(fn, 3, -3, 3)  # small range: many ties, first occurrence must win
    check(fn, args)
    check(fused(fn), args)


def test_sum_large_float32_accuracy() -> None:
    x = np.random.default_rng(0).random(1_000_003).astype(np.float32)
    fn = single(P.reduce_sum, [tt(x.shape, F32)], axes=(0,))
    (got,), _ = run(fn, [x])
    assert abs(float(got) - float(x.astype(np.float64).sum())) < 1e-5 * x.size


# --- dot_general ---------------------------------------------------------------------------

def _dot(lhs, rhs, dtype, dn, pref=None, seed=0, rtol=None) -> None:
    fn = single(P.dot_general, [tt(lhs, dtype), tt(rhs, dtype)], dimension_numbers=dn,
                precision=None, preferred_element_type=pref)
    args = _args(fn, seed, -3, 3)
    out = np.dtype(pref or dtype)
    if rtol is None:
        rtol = 1e-5 if out == F32 else 1e-12 if out == F64 else 0.0
    # Sums of K products of values up to 3 cancel: the error scales with K, not the result.
    k = max([1] + [lhs[d] for d in dn[0][0]])
    check(fn, args, rtol, rtol * 10 * k)


MATMUL = (((1,), (0,)), ((), ()))


@pytest.mark.parametrize("dtype", [F32, F64, I32, BOOL])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (7, 33, 5), (64, 64, 64), (3, 0, 4), (0, 3, 4),
                                     (1, 100, 1), (100, 1, 100), (40, 50, 60)], ids=str)
def test_matmul(dtype, m, k, n) -> None:
    _dot((m, k), (k, n), dtype, MATMUL)


@pytest.mark.parametrize("dtype", [F32, I32])
@pytest.mark.parametrize("lhs, rhs, dn", [
    ((5, 4), (6, 4), (((1,), (1,)), ((), ()))),          # A @ B.T
    ((4, 5), (4, 6), (((0,), (0,)), ((), ()))),          # A.T @ B
    ((4, 5), (6, 4), (((0,), (1,)), ((), ()))),          # A.T @ B.T
    ((70, 80), (90, 80), (((1,), (1,)), ((), ()))),      # BLAS with trans flags
    ((80, 70), (80, 90), (((0,), (0,)), ((), ()))),
    ((80, 70), (90, 80), (((0,), (1,)), ((), ()))),
    ((3, 4, 5), (3, 5, 6), (((2,), (1,)), ((0,), (0,)))),   # batched
    ((4, 3, 5), (5, 3, 6), (((2,), (0,)), ((1,), (1,)))),   # batch dims not leading
    ((2, 3, 4), (3, 4, 5), (((1, 2), (0, 1)), ((), ()))),   # two contracting dims
    ((2, 3, 4), (4, 3, 5), (((1, 2), (1, 0)), ((), ()))),   # ... paired in another order
    ((3, 7), (7,), (((1,), (0,)), ((), ()))),               # matvec
    ((2, 3), (4, 5), (((), ()), ((), ()))),                  # outer product
    ((3, 70, 80), (3, 80, 90), (((2,), (1,)), ((0,), (0,)))),  # batched BLAS calls
], ids=str)
def test_dot_general_layouts(dtype, lhs, rhs, dn) -> None:
    _dot(lhs, rhs, dtype, dn)


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
@pytest.mark.parametrize("dtype", [F32, I32, BOOL])
def test_vector_dot(dtype, n: int) -> None:
    # A rank-0 result: the reference's final reshape cannot express it, so NumPy is the oracle.
    fn = single(P.dot_general, [tt((n,), dtype)] * 2, dimension_numbers=(((0,), (0,)), ((), ())),
                precision=None, preferred_element_type=None)
    x, y = _args(fn, 0, -3, 3)
    from llax.codegen import compile_native

    got = compile_native(fn, fn).call([x, y])[0]
    want = np.dot(x, y) if dtype != BOOL else np.bool_(np.any(x & y))
    assert got.shape == () and got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_dot_preferred_element_type() -> None:
    _dot((5, 6), (6, 7), I32, MATMUL, pref=F32)
    _dot((30, 40), (40, 50), F32, MATMUL, pref=F64, rtol=1e-6)
    _dot((70, 80), (80, 90), F32, MATMUL, pref=F64, rtol=1e-6)


def test_dot_float16() -> None:
    _dot((9, 17), (17, 5), np.dtype(np.float16), MATMUL, rtol=2e-2)


# --- fusion regions --------------------------------------------------------------------------

def _selu_region(shape, dtype=F32) -> Function:
    x = Var(tt(shape, dtype))
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    e = op(P.exp, x)
    em1 = op(P.sub, e.out, lit(1.0, dtype))
    neg = op(P.mul, em1.out, lit(alpha, dtype))
    pos = op(P.gt, x, lit(0.0, dtype))
    sel = op(P.select_n, pos.out, neg.out, x)
    out = op(P.mul, sel.out, lit(scale, dtype))
    return Function((x,), (e, em1, neg, pos, sel, out), out.outputs)


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (1000,), (3, 33)], ids=str)
def test_fused_selu(shape) -> None:
    region = _selu_region(shape)
    check(fused(region), _args(region), 2e-6, 1e-6)


def test_fusion_broadcast_transpose_reshape() -> None:
    # out = exp(x + bcast(y)).T.reshape(-1) * 2, all inside one region.
    x, y = Var(tt((4, 6), F32)), Var(tt((6,), F32))
    b = op(P.broadcast_in_dim, y, shape=(4, 6), broadcast_dimensions=(1,))
    a = op(P.add, x, b.out)
    e = op(P.exp, a.out)
    t = op(P.transpose, e.out, permutation=(1, 0))
    r = op(P.reshape, t.out, new_sizes=(24,), dimensions=None)
    m = op(P.mul, r.out, lit(2.0, F32))
    region = Function((x, y), (b, a, e, t, r, m), (m.out, a.out))
    check(fused(region), _args(region, 0, -2, 2), 2e-6, 1e-6)


def test_fusion_reshape_chain_coalesces() -> None:
    # Reshapes that keep the layout: one flat loop, no div/mod left in the loop body.
    x = Var(tt((8, 16, 32), F32))
    r1 = op(P.reshape, x, new_sizes=(128, 32), dimensions=None)
    n = op(P.neg, r1.out)
    r2 = op(P.reshape, n.out, new_sizes=(8, 512), dimensions=None)
    region = Function((x,), (r1, n, r2), r2.outputs)
    check(fused(region), _args(region))


def test_fusion_with_reduction() -> None:
    # sum((x - bcast(m))**2, axis=1) with everything in one region.
    x, m = Var(tt((9, 1000), F32)), Var(tt((9,), F32))
    b = op(P.broadcast_in_dim, m, shape=(9, 1000), broadcast_dimensions=(0,))
    d = op(P.sub, x, b.out)
    s = op(P.square, d.out)
    r = op(P.reduce_sum, s.out, axes=(1,))
    region = Function((x, m), (b, d, s, r), r.outputs)
    check(fused(region), _args(region), 1e-5, 1e-4)


def test_fusion_reduction_outer_axis() -> None:
    x = Var(tt((50, 3, 37), F64))
    e = op(P.mul, x, x)
    r = op(P.reduce_max, e.out, axes=(0, 2))
    region = Function((x,), (e, r), r.outputs)
    check(fused(region), _args(region))


def test_fusion_literal_and_param_inputs() -> None:
    region = _selu_region((33,))
    outer_x = Var(tt((33,), F32))
    from llax.ir.core import Literal

    c = Literal.of(np.linspace(-3, 3, 33, dtype=np.float32), tt((33,), F32))
    o1 = op(P.fusion, c, regions=(region,))
    o2 = op(P.fusion, outer_x, regions=(region,))
    s = op(P.add, o1.out, o2.out)
    fn = Function((outer_x,), (o1, o2, s), (s.out, outer_x, o1.out))
    check(fn, _args(fn), 2e-6, 1e-6)


def test_fusion_result_is_region_param() -> None:
    x, y = Var(tt((5,), I32)), Var(tt((5,), I32))
    a = op(P.add, x, y)
    region = Function((x, y), (a,), (a.out, y, x))
    check(fused(region), _args(region))


def test_fusion_results_of_different_shapes() -> None:
    x = Var(tt((4, 5), F32))
    n = op(P.neg, x)
    s = op(P.slice, n.out, start_indices=(0, 0), limit_indices=(2, 5), strides=None)
    region = Function((x,), (n, s), (n.out, s.out))
    check(fused(region), _args(region))


# --- kernel plumbing --------------------------------------------------------------------------

def test_chain_of_lone_ops_with_intermediates() -> None:
    x = Var(tt((300,), F32))
    a = op(P.exp, x)
    b = op(P.reduce_sum, a.out, axes=(0,))
    c = op(P.div, a.out, b.out)                 # rank-0 operand
    w = Var(tt((300, 4), F32))
    d = op(P.dot_general, c.out, w, dimension_numbers=(((0,), (0,)), ((), ())),
           precision=None, preferred_element_type=None)
    dead = op(P.neg, a.out)                     # unused: computed and freed
    fn = Function((x, w), (a, b, c, d, dead), (d.out, c.out, c.out))
    check(fn, _args(fn, 0, -1, 1), 1e-5, 1e-6)


def test_results_params_literals_repeated() -> None:
    x, y = Var(tt((3,), I32)), Var(tt((), F32))
    a = op(P.add, x, x)
    fn = Function((x, y), (a,), (x, a.out, a.out, lit(np.full((2, 2), 7), I32, (2, 2)), y,
                                 lit(np.arange(4, dtype=np.int32), I32, (4,))))
    check(fn, _args(fn))


def test_no_ops_and_no_params() -> None:
    fn = Function((), (), (lit(1.5, F32),))
    check(fn, [])


def test_bool_in_memory_is_one_byte() -> None:
    x = Var(tt((9,), BOOL))
    n = op(P.not_, x)
    fn = Function((x,), (n,), n.outputs)
    raw = np.array([0, 1, 2, 255, 0, 1, 0, 0, 7], np.uint8).view(np.bool_)
    (got,), _ = run(fn, [raw])
    np.testing.assert_array_equal(got.view(np.uint8), [1, 0, 0, 0, 1, 0, 1, 1, 0])


def test_matmul_without_blas(monkeypatch: pytest.MonkeyPatch) -> None:
    from llax.codegen import dot

    monkeypatch.setattr(dot.blas, "available", lambda: False)
    _dot((70, 80), (80, 90), F32, MATMUL)
    _dot((70, 80), (90, 80), F64, (((1,), (1,)), ((), ())))


# --- threads ---------------------------------------------------------------------------------

@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch):
    """Parallel nests on (whatever LLAX_NUM_THREADS says), splitting even tiny nests."""
    from llax.codegen import parallel

    monkeypatch.setenv("LLAX_NUM_THREADS", "2")
    monkeypatch.setattr(parallel, "MIN_WORK", 0)
    parallel.threads.cache_clear()
    if parallel.threads() < 2:
        pytest.skip("no thread pool on this platform")
    yield
    monkeypatch.undo()
    parallel.threads.cache_clear()


@pytest.mark.parametrize("shape", [(2,), (7,), (1000,), (100_003,), (3, 50), (129, 7)], ids=str)
def test_parallel_nests(two_threads, shape) -> None:
    region = _selu_region(shape)
    fn = fused(region)
    from llax.codegen import compile_native

    assert "llax_parallel_for" in compile_native(fn, fn).stages["llvm"]
    check(fn, _args(region), 2e-6, 1e-6)
    x, y = Var(tt(shape, I32)), Var(tt(shape[-1:], I32))
    b = op(P.broadcast_in_dim, y, shape=shape, broadcast_dimensions=(len(shape) - 1,))
    a = op(P.add, x, b.out)
    m = op(P.mul, a.out, x)
    two = Function((x, y), (b, a, m), (m.out, a.out))
    check(fused(two), _args(two))


@pytest.mark.parametrize("name, shape, axes", [
    ("reduce_sum", (129, 33), (1,)), ("reduce_max", (3, 5, 7), (2,)),
    ("reduce_prod", (70, 4, 3), (1, 2)), ("reduce_sum", (64, 50), (0,)),
    ("argmax", (129, 33), (1,)), ("argmin", (33, 129), (0,)),
], ids=str)
def test_parallel_reductions(two_threads, name: str, shape, axes) -> None:
    from llax.ir.primitive import PRIMITIVES

    extra = {"index_dtype": I32} if name.startswith("arg") else {}
    fn = single(PRIMITIVES[name], [tt(shape, F32)], axes=axes, **extra)
    split = "llax_parallel_for" in _stages(fn)["llvm"]
    assert split == (axes != (0,) or name.startswith("arg"))  # sum over rows: not split
    low, high = (0.5, 1.5) if name == "reduce_prod" else (-10, 10)
    check(fn, _args(fn, 1, low, high), 1e-5, 1e-5)
    check(fused(fn), _args(fn, 1, low, high), 1e-5, 1e-5)


def _run_in_child(entry, x, expected) -> None:
    import os

    os._exit(0 if np.array_equal(entry(x), expected) else 1)


def test_parallel_kernel_after_fork(two_threads) -> None:
    # Pool threads do not survive fork(); a forked child must run serially, not hang.
    import multiprocessing

    from llax.codegen import compile_native

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs fork()")
    fn = fused(_selu_region((4096,)))
    entry = compile_native(fn, fn).entry
    x = np.linspace(-3, 3, 4096, dtype=np.float32)
    expected = entry(x)  # starts the thread pool in this process
    child = multiprocessing.get_context("fork").Process(target=_run_in_child,
                                                        args=(entry, x, expected))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung in a parallel region")
    assert child.exitcode == 0


# --- generated code shape ---------------------------------------------------------------------

def _stages(fn: Function) -> dict:
    from llax.codegen import compile_native

    return compile_native(fn, fn).stages


@pytest.mark.parametrize("shape", [(3000,), (57, 61), (8, 16, 32)], ids=str)
def test_elementwise_float32_loops_vectorise(shape) -> None:
    from llax.codegen.lower import SMALL_GROUP

    assert math.prod(shape) > SMALL_GROUP
    opt = _stages(fused(_selu_region(shape)))["llvm-opt"]
    assert_vectorised(opt)
    assert "expf" not in opt and "llvm.exp." not in opt  # vecmath, not libm
    # Coalesced: the row-major nest is one flat loop, so no index splitting is left.
    assert " udiv " not in opt and " urem " not in opt


def test_small_groups_are_compiled_for_size() -> None:
    # Below SMALL_GROUP elements a loop runs in microseconds whatever LLVM does with it,
    # so it is not worth vectorising time on a first call.
    from llax.codegen.lower import SMALL_GROUP

    opt = _stages(fused(_selu_region((SMALL_GROUP // 2,))))["llvm-opt"]
    assert "minsize" in opt and not float_vector_lanes(opt)
    assert "expf" not in opt and "llvm.exp." not in opt  # still vecmath, not libm


def test_broadcast_row_keeps_inner_loop_unit_stride() -> None:
    x, y = Var(tt((64, 1000), F32)), Var(tt((1000,), F32))
    b = op(P.broadcast_in_dim, y, shape=(64, 1000), broadcast_dimensions=(1,))
    a = op(P.mul, x, b.out)
    opt = _stages(fused(Function((x, y), (b, a), a.outputs)))["llvm-opt"]
    assert_vectorised(opt)
    assert " urem " not in opt


def _temporaries(n: int) -> str:
    """Unoptimised LLVM IR of a function with three temporaries of ``n`` float32 each."""
    x = Var(tt((n,), F32))
    a = op(P.exp, x)
    b = op(P.reduce_sum, a.out, axes=(0,))
    c = op(P.div, a.out, b.out)
    d = op(P.neg, c.out)
    return _stages(Function((x,), (a, b, c, d), d.outputs))["llvm"]


def test_temporaries_are_freed() -> None:
    from llax.codegen.lower import STACK_BUFFER_BYTES

    text = _temporaries(STACK_BUFFER_BYTES)  # 4 bytes each: too big for the stack
    allocs = len(re.findall(r"call ptr @\"aligned_alloc\"", text))
    frees = len(re.findall(r"call void @\"free\"", text))
    # exp and div are heap buffers; the sum (a scalar) is a stack slot.
    assert allocs == frees == 2
    assert len(re.findall(r"= alloca \[1 x float\]", text)) == 1


def test_small_temporaries_are_stack_slots() -> None:
    from llax.codegen.lower import STACK_BUFFER_BYTES

    n = STACK_BUFFER_BYTES // 4
    text = _temporaries(n)
    assert "aligned_alloc" not in text and '@"free"' not in text
    assert len(re.findall(rf"= alloca \[{n} x float\]", text)) == 2


def test_groups_computing_the_same_thing_share_one_function() -> None:
    # Two relu layers on equal shapes: one group function, called twice. ``mul x x`` and
    # ``mul y z`` look alike but read one and two buffers: they must not share.
    x, y, z = (Var(tt((64, 64), F32)) for _ in range(3))
    r1 = op(P.max, x, lit(0.0, F32))
    r2 = op(P.max, y, lit(0.0, F32))
    sq = op(P.mul, x, x)
    prod = op(P.mul, y, z)
    fn = Function((x, y, z), (r1, r2, sq, prod), (*r1.outputs, *r2.outputs, *sq.outputs,
                                                   *prod.outputs))
    llvm = _stages(fn)["llvm"]
    assert llvm.count('define internal void @"llax_group') == 3
    args = [np.random.default_rng(i).normal(size=(64, 64)).astype(np.float32) for i in range(3)]
    check(fn, args)


def _many_groups(n: int = 8) -> tuple[Function, list[np.ndarray]]:
    fn, _ = loop_nest_chain(n, (300, 40), 0.025)
    return fn, [np.random.default_rng(0).uniform(-0.1, 0.1, size=(300, 40)).astype(np.float32)]


@pytest.fixture
def two_cpu_threads(monkeypatch: pytest.MonkeyPatch):
    """Two threads whatever the host's core count (a one-core host would use none)."""
    from llax.codegen import parallel

    monkeypatch.setenv("LLAX_NUM_THREADS", "2")
    parallel.threads.cache_clear()
    yield
    monkeypatch.undo()
    parallel.threads.cache_clear()


def test_large_functions_compile_their_loops_on_a_second_thread(two_cpu_threads) -> None:
    from llax.codegen import target
    from llax.codegen.lower import lower_function

    fn, args = _many_groups()
    assert target.parallel_compile_available(), "llvmlite's lock is not as expected"
    kernel = lower_function(fn)
    assert len(kernel.side_modules) == 1 and "define void @\"llax_side" in str(
        kernel.side_modules[0])
    stages = _stages(fn)
    assert stages["llvm"].count("; ModuleID") == 2 and stages["llvm-opt"].count("; ModuleID") == 2
    assert "llax_side" in stages["asm"]
    check(fn, args, rtol=1e-5, atol=1e-6)


def test_side_modules_compile_on_the_calling_thread_if_the_thread_fails(monkeypatch) -> None:
    from llax.codegen import target

    def broken(self) -> None:
        self.error = RuntimeError("the side thread failed")

    monkeypatch.setattr(target._SideCompile, "run", broken)
    fn, args = _many_groups()
    check(fn, args, rtol=1e-5, atol=1e-6)


def test_without_a_second_thread_there_are_no_side_modules(monkeypatch) -> None:
    from llax.codegen import target
    from llax.codegen.lower import lower_function

    monkeypatch.setattr(target, "parallel_compile_available", lambda: False)
    fn, args = _many_groups()
    assert lower_function(fn).side_modules == ()
    check(fn, args, rtol=1e-5, atol=1e-6)
