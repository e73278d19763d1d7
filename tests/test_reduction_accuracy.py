"""Accuracy of large reductions, and the sign of a zero sum.

A float sum kept in one running total has a rounding error that grows like n: before
pairwise blocks, ``jit(jnp.sum)`` of 2^20 copies of 0.1 in float32 was 2168 eps off
and ones stopped counting at 2^24. The bound asserted here is the one pairwise
summation gives, relative error < C * log2(n) * eps with C = 1; a single running
total breaks it by a factor of 100 or more on these inputs (see
``test_the_bound_catches_a_running_total``).

Oracles are exact: a constant input's sum is n times the constant (Fraction), random
ones go through math.fsum; both are independent of the summation order under test.
Each case compiles one kernel over a large array, so the cases are few.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax.config import config
from llax.ir import prims as P
from llax.tests.codegen_util import F32, F64, I32, run, single, tt

C = 1.0


def bound(n: int, dtype) -> float:
    return C * math.log2(n) * float(np.finfo(dtype).eps)


def rel_error(got, exact) -> float:
    exact = Fraction(exact)
    return float(abs(Fraction(float(got)) - exact) / abs(exact))


def constant_sum(value, dtype, n: int) -> Fraction:
    """The exact sum of ``n`` copies of ``value`` rounded to ``dtype``."""
    return Fraction(float(np.asarray(value, dtype))) * n


# --- whole-array sums and means ---------------------------------------------------------------

@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("log2n", [20, 25])
def test_float32_sum_and_mean_of_many_copies(reduce: str, log2n: int) -> None:
    n = 1 << log2n
    x = np.full(n, 0.1, np.float32)
    got = llax.jit(getattr(jnp, reduce))(x)
    exact = constant_sum(0.1, np.float32, n) / (n if reduce == "mean" else 1)
    assert rel_error(got, exact) < bound(n, np.float32)


def test_float32_sum_of_random_values_against_fsum() -> None:
    n = 1 << 21
    x = np.random.default_rng(0).random(n, dtype=np.float32)
    got = llax.jit(jnp.sum)(x)
    assert rel_error(got, math.fsum(x.astype(np.float64))) < bound(n, np.float32)


def test_float64_sum() -> None:
    n = 1 << 24
    x = np.full(n, 0.1)
    with config.override("jax_enable_x64", True):
        got = llax.jit(jnp.sum)(x)
    assert np.asarray(got).dtype == np.float64
    assert rel_error(got, constant_sum(0.1, np.float64, n)) < bound(n, np.float64)


def test_float16_sum_accumulates_in_float32() -> None:
    # 2^16 ones overflow float16 (max 65504); 2^15 of 0.5 is 16384, exact in float16.
    fn = single(P.reduce_sum, [tt((1 << 15,), np.float16)], axes=(0,))
    (got,), _ = run(fn, [np.full(1 << 15, 0.5, np.float16)])
    assert got == np.float16(16384)


# --- over one axis ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis", [((1 << 22, 4), 0), ((4, 1 << 22), -1),
                                         ((1 << 12, 1 << 12), 0), ((1 << 12, 1 << 12), -1)],
                         ids=str)
def test_float32_sum_over_an_axis(shape, axis: int) -> None:
    x = np.full(shape, 0.1, np.float32)
    got = np.asarray(llax.jit(lambda x: jnp.sum(x, axis))(x))
    terms = shape[axis]
    exact = constant_sum(0.1, np.float32, terms)
    worst = max(rel_error(g, exact) for g in np.unique(got))
    assert got.shape == (shape[1 - axis % 2],)
    assert worst < bound(terms, np.float32)


def test_float32_mean_over_the_middle_axis_with_random_values() -> None:
    # A reduced axis between two kept ones: the output is combined in memory, in tiles.
    x = np.random.default_rng(1).random((3, 1 << 20, 2), dtype=np.float32)
    got = np.asarray(llax.jit(lambda x: jnp.mean(x, 1))(x))
    x64 = x.astype(np.float64)
    for i in range(3):
        for j in range(2):
            exact = Fraction(math.fsum(x64[i, :, j])) / x.shape[1]
            assert rel_error(got[i, j], exact) < bound(x.shape[1], np.float32), (i, j)


# --- fused reductions ---------------------------------------------------------------------------

def _fused_text(f: Callable, *args) -> str:
    return llax.jit(f).lower(*args).as_text()


def test_broadcast_then_sum_counts_past_2_to_the_24() -> None:
    # Every partial sum of ones is an integer below 2^26, exact in float32, whatever
    # the order: the result must be exact.
    constant = lambda: jnp.broadcast_to(1.0, (8192, 8192)).sum()  # noqa: E731
    traced = lambda s: jnp.broadcast_to(s, (8192, 8192)).sum()  # noqa: E731
    assert "fusion" in _fused_text(traced, np.float32(1))
    assert float(llax.jit(constant)()) == 2.0 ** 26
    assert float(llax.jit(traced)(np.float32(1))) == 2.0 ** 26
    got = llax.jit(traced)(np.float32(0.1))
    assert rel_error(got, constant_sum(0.1, np.float32, 1 << 26)) < bound(1 << 26, np.float32)


def test_sum_of_a_fused_elementwise_expression() -> None:
    # sqrt is correctly rounded in both llax and NumPy, so the summands agree exactly.
    n = 1 << 22
    x = np.random.default_rng(2).random(n, dtype=np.float32)
    f = lambda x: jnp.sum(jnp.sqrt(x))  # noqa: E731
    text = _fused_text(f, x)
    assert "fusion" in text and "sqrt" in text
    exact = math.fsum(np.sqrt(x).astype(np.float64))
    assert rel_error(llax.jit(f)(x), exact) < bound(n, np.float32)


def test_the_bound_catches_a_running_total(monkeypatch: pytest.MonkeyPatch) -> None:
    # With blocks (and units) larger than the input, the sum is one vectorised running
    # total again, and the bound above fails: the tests here can fail.
    from llax.codegen import reductions

    monkeypatch.setattr(reductions, "BLOCK", 1 << 40)
    monkeypatch.setattr(reductions, "UNIT", 1 << 40)
    n = 1 << 20
    got = llax.jit(lambda x: jnp.sum(x))(np.full(n, 0.1, np.float32))
    assert rel_error(got, constant_sum(0.1, np.float32, n)) > 10 * bound(n, np.float32)


# --- other reductions through the same loops ----------------------------------------------------

def test_integer_sums_wrap_as_numpy() -> None:
    x = np.random.default_rng(3).integers(1 << 28, 1 << 30, size=(1 << 20) + 77, dtype=np.int32)
    fn = single(P.reduce_sum, [tt(x.shape, I32)], axes=(0,))
    (got,), (want,) = run(fn, [x])
    assert got == np.sum(x, dtype=np.int32) == want


@pytest.mark.parametrize("name", ["reduce_max", "reduce_min", "argmax", "argmin"])
def test_max_min_and_arg_over_many_elements(name: str) -> None:
    from llax.ir.primitive import PRIMITIVES

    x = np.random.default_rng(4).integers(-1000, 1000, size=(3, (1 << 17) + 5)).astype(np.float32)
    extra = {"index_dtype": I32} if name.startswith("arg") else {}
    for axes in ((1,), (0,)) if extra else ((1,), (0,), (0, 1)):
        fn = single(PRIMITIVES[name], [tt(x.shape, F32)], axes=axes, **extra)
        (got,), _ = run(fn, [x])
        numpy = getattr(np, name.removeprefix("reduce_"))
        want = numpy(x, axis=axes[0]) if len(axes) == 1 else numpy(x)
        np.testing.assert_array_equal(got, want)


def test_product_over_many_elements() -> None:
    x = np.random.default_rng(5).uniform(0.999, 1.001, size=(1 << 20) + 3)
    fn = single(P.reduce_prod, [tt(x.shape, F64)], axes=(0,))
    (got,), _ = run(fn, [x])
    want = math.exp(math.fsum(np.log(x)))
    assert abs(float(got) / want - 1) < 1e-12


def test_threads_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # A whole-array sum is cut into the same units whether they run on one thread or
    # on the pool, and combined in the same order: the same bits.
    from llax.codegen import compile_native, parallel, reductions

    x = np.random.default_rng(6).standard_normal((1 << 20) + 12345).astype(np.float32)
    fn = single(P.reduce_sum, [tt(x.shape, F32)], axes=(0,))
    monkeypatch.setattr(parallel, "MIN_WORK", 1 << 62)
    serial = compile_native(fn, fn)
    monkeypatch.setenv("LLAX_NUM_THREADS", "2")
    monkeypatch.setattr(parallel, "MIN_WORK", 0)
    monkeypatch.setattr(reductions, "POOL_WHOLE", True)
    parallel.threads.cache_clear()
    try:
        pooled = compile_native(fn, fn)
    finally:
        monkeypatch.undo()
        parallel.threads.cache_clear()
    assert "llax_parallel_for" not in serial.stages["llvm"]
    assert "llax_parallel_for" in pooled.stages["llvm"]
    assert serial.call([x])[0].tobytes() == pooled.call([x])[0].tobytes()


# --- the sign of zero -------------------------------------------------------------------------

ZERO_SUMS = [  # (input, axis): every one sums to +0.0 in NumPy
    (np.zeros(0, np.float32), None),
    (np.array([-0.0], np.float32), None),
    (np.array([-0.0, 0.0, -0.0], np.float32), None),
    (-np.zeros(5, np.float32), None),
    (-np.zeros((1 << 17) + 3, np.float32), None),   # through blocks and units
    (-np.zeros((3, 1), np.float32), 1),             # over a unit axis only
    (-np.zeros((40, 3), np.float32), 0),            # combined in memory (tiles)
    (-np.zeros((3, 300), np.float32), 1),
    (np.zeros((0, 3), np.float32), 0),
    (-np.zeros((2, 3), np.float64), None),
]


@pytest.mark.parametrize("x, axis", ZERO_SUMS, ids=lambda v: str(getattr(v, "shape", v)))
def test_zero_sums_are_positive_zero(x: np.ndarray, axis) -> None:
    axes = tuple(range(x.ndim)) if axis is None else (axis,)
    fn = single(P.reduce_sum, [tt(x.shape, x.dtype)], axes=axes)
    (got,), (reference,) = run(fn, [x])
    numpy = np.sum(x, axis=axis)
    assert np.array_equal(np.signbit(got), np.signbit(numpy))
    assert np.array_equal(np.signbit(reference), np.signbit(numpy))
    assert not np.signbit(numpy).any()
    with np.errstate(divide="ignore"):
        assert np.all(1 / got.astype(np.float64) == np.inf)


def test_zero_sums_through_jit() -> None:
    # JAX starts from +0.0 too, except that XLA turns a reduction of one element per
    # output into a copy (its sum of [-0.0] is -0.0); llax follows NumPy throughout.
    for x, axis in ZERO_SUMS:
        got = llax.jit(lambda x, axis=axis: jnp.sum(x, axis))(x)
        want = np.sum(x, axis=axis, dtype=np.float32)
        assert np.array_equal(np.signbit(got), np.signbit(want)), (x.shape, axis)


@pytest.mark.parametrize("prim, x", [(P.reduce_prod, [-0.0, 1.0]), (P.reduce_max, [-0.0]),
                                     (P.reduce_min, [-0.0, -0.0])], ids=str)
def test_other_reductions_keep_a_negative_zero(prim, x) -> None:
    x = np.array(x, np.float32)
    fn = single(prim, [tt(x.shape, F32)], axes=(0,))
    (got,), (reference,) = run(fn, [x])
    assert np.signbit(got) and np.signbit(reference)


def test_reducing_over_no_axes_is_the_identity() -> None:
    x = np.array([-0.0, 1.0, -2.0], np.float32)
    fn = single(P.reduce_sum, [tt(x.shape, F32)], axes=())
    (got,), (reference,) = run(fn, [x])
    assert got.tobytes() == reference.tobytes() == x.tobytes()


# --- the loops stay vectorised ------------------------------------------------------------------

@pytest.mark.parametrize("shape, axes", [((1 << 20,), (0,)), ((1 << 10, 1 << 10), (0,)),
                                         ((1 << 10, 1 << 10), (1,)), ((64, 128, 128), (1,))],
                         ids=str)
def test_pairwise_loops_vectorise(shape, axes) -> None:
    from llax.codegen import compile_native
    from llax.ir.core import Function, Var
    from llax.tests.codegen_util import assert_vectorised, fused, op

    x = Var(tt(shape, F32))
    e = op(P.sqrt, x)
    r = op(P.reduce_sum, e.out, axes=axes)
    fn = fused(Function((x,), (e, r), r.outputs))
    assert_vectorised(compile_native(fn, fn).stages["llvm-opt"], F32, f"sum over {axes}")
