"""Reductions as loop nests over their input, in the input's row-major order.

Loop order follows memory: the input is walked row-major, so every load is
unit-stride in the innermost loop.

- When the reduced axes are the trailing (non-unit) dims, each output element
  accumulates in registers over one coalesced inner loop (loop-carried phi).
  Float adds and multiplies carry ``reassoc nsz`` so LLVM can vectorise the
  accumulation (the only place llax lets LLVM reassociate floats).
- Otherwise the output is filled with the identity first and the walk combines
  into it: the inner loop runs along a kept axis, so the output row stays
  unit-stride too (a trailing run of reduced axes still uses a register
  accumulator before touching memory).
- argmax/argmin keep (best value, index) pairs over their one axis; ties keep
  the first index and NaN counts as the maximum (and minimum), as the reference.

Empty reductions give the identity; float16 accumulates in float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes
from llax.codegen.emitter import Emitter, Index, all_carry, group_start, index_maps
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.ltypes import FLOAT, HALF, i64
from llax.codegen.scalar_rules import convert, identity_min_max, max_min
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.primitive import Primitive
from llax.ir.types import TensorType

FAST = ["reassoc", "nsz"]


class Reducer(NamedTuple):
    identity: Callable[[np.dtype], ir.Constant]
    combine: Callable[[ir.IRBuilder, ir.Value, ir.Value, np.dtype], ir.Value]


def _fast(instr: ir.Instruction) -> ir.Instruction:
    instr.flags.extend(FAST)
    return instr


def _sum(b, acc, x, dt):
    return _fast(b.fadd(acc, x)) if dt.kind == "f" else b.add(acc, x)


def _prod(b, acc, x, dt):
    return _fast(b.fmul(acc, x)) if dt.kind == "f" else b.mul(acc, x)


def _tt(dt: np.dtype) -> TensorType:
    return TensorType((), dt)


REDUCERS: dict[Primitive, Reducer] = {
    # -0.0 is the additive identity (+0.0 would turn a sum of -0.0s positive).
    P.reduce_sum: Reducer(lambda dt: ltypes.const(dt, -0.0 if dt.kind == "f" else 0), _sum),
    P.reduce_prod: Reducer(lambda dt: ltypes.const(dt, 1), _prod),
    P.reduce_max: Reducer(lambda dt: identity_min_max(dt, True),
                          lambda b, acc, x, dt: max_min(b, acc, x, _tt(dt), True)),
    P.reduce_min: Reducer(lambda dt: identity_min_max(dt, False),
                          lambda b, acc, x, dt: max_min(b, acc, x, _tt(dt), False)),
    P.reduce_and: Reducer(lambda dt: ltypes.const(dt, True if dtypes.is_bool(dt) else -1),
                          lambda b, acc, x, dt: b.and_(acc, x)),
    P.reduce_or: Reducer(lambda dt: ltypes.const(dt, 0), lambda b, acc, x, dt: b.or_(acc, x)),
    P.reduce_xor: Reducer(lambda dt: ltypes.const(dt, 0), lambda b, acc, x, dt: b.xor(acc, x)),
}


def _acc_dtype(dt: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dt == dtypes.float16 else dt


def _widen(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    return b.fpext(v, FLOAT) if v.type == HALF else v


def _accumulate(b: ir.IRBuilder, sizes: Sequence[int],
                body: Callable[[list[ir.Value], list[ir.Value]], list[ir.Value]],
                init: list[ir.Value]) -> list[ir.Value]:
    """Nested loops over ``sizes`` threading loop-carried values through all levels."""

    def level(k: int, ivs: list[ir.Value], carried: list[ir.Value]) -> list[ir.Value]:
        if k == len(sizes):
            return body(ivs, carried)
        return for_range(b, sizes[k], lambda iv, c: level(k + 1, [*ivs, iv], c), carried,
                         name=f"r{k}")

    return level(0, [], init)


class _Plan:
    """The loop structure for reducing ``x`` over ``axes``."""

    def __init__(self, shape: Sequence[int], axes: Sequence[int]) -> None:
        self.shape = tuple(shape)
        self.axes = set(axes)
        nonunit = [d for d, n in enumerate(shape) if n != 1]
        k = len(nonunit)
        while k and nonunit[k - 1] in self.axes:
            k -= 1
        self.outer = nonunit[:k]           # looped one by one, in order
        self.trailing = nonunit[k:]        # reduced in registers
        self.outer_reduces = any(d in self.axes for d in self.outer)
        self.kept = [d for d in range(len(shape)) if d not in self.axes]  # output dims

    def out_index(self, b: ir.IRBuilder, fixed: dict[int, ir.Value]) -> Index:
        shape = tuple(self.shape[d] for d in self.kept)
        return Index(b, shape, [fixed.get(d, i64(0)) for d in self.kept])


def _reduce_trailing(em: Emitter, op: Op, plan: _Plan, fixed: dict[int, ir.Value],
                     reducer: Reducer, dt: np.dtype, coalesce: bool) -> ir.Value:
    """Register accumulation over the trailing reduced dims at the outer position ``fixed``."""
    b = em.b
    x = op.inputs[0]
    shape = plan.shape
    acc_dt = _acc_dtype(dt)
    init = [reducer.identity(acc_dt)]

    def combine(index: Index, carried: list[ir.Value]) -> list[ir.Value]:
        with em.scope():  # values from inside the loop do not dominate what follows it
            v = _widen(b, em.emit(x, index))
            return [reducer.combine(b, carried[0], v, acc_dt)]

    dims = [fixed.get(d, i64(0)) for d in range(len(shape))]
    if not plan.trailing:  # nothing left to reduce here (e.g. axes=()): the element itself
        return combine(Index(b, shape, dims), init)[0]
    if coalesce:
        n = math.prod(shape[d] for d in plan.trailing)
        start = group_start(shape, n)
        (acc,) = for_range(b, n, lambda iv, c: combine(Index(b, shape, dims, (start, iv)), c),
                           init, name="r")
        return acc

    def body(ivs: list[ir.Value], carried: list[ir.Value]) -> list[ir.Value]:
        full = list(dims)
        for d, iv in zip(plan.trailing, ivs):
            full[d] = iv
        return combine(Index(b, shape, full), carried)

    (acc,) = _accumulate(b, [shape[d] for d in plan.trailing], body, init)
    return acc


def _store(em: Emitter, value: ir.Value, ptr: ir.Value, dt: np.dtype, index: Index) -> None:
    if value.type != ltypes.reg_type(dt):
        value = em.b.fptrunc(value, HALF)  # f16 accumulated in f32
    em.store(value, ptr, dt, index)


def _fill(em: Emitter, ptr: ir.Value, dt: np.dtype, size: int, value: ir.Value) -> None:
    b = em.b
    if size == 0:
        return
    if value.type != ltypes.reg_type(dt):
        value = b.fptrunc(value, HALF)
    for_range(b, size, lambda i, _: (ltypes.store(
        b, value, ltypes.element_ptr(b, ptr, dt, i), dt), [])[1], name="fill")


Rows = tuple[ir.Value, ir.Value] | None


def _outer_loops(b: ir.IRBuilder, sizes: Sequence[int], body: Callable[[list[ir.Value]], None],
                 rows: Rows) -> None:
    """``loop_nest`` over ``sizes``, the first loop restricted to ``rows = (start, count)``."""
    if rows is None or not sizes:
        loop_nest(b, sizes, body, name="o")
        return
    start, count = rows

    def row(i: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
        first = b.add(start, i, flags=["nuw", "nsw"])
        loop_nest(b, sizes[1:], lambda ivs: body([first, *ivs]), name="o")
        return []

    for_range(b, count, row, name="rows")


def parallel_rows(op: Op) -> int:
    """Trip count of the outermost loop that can be split across threads (each
    iteration writes its own outputs), or 0 if there is none."""
    shape = op.inputs[0].type.shape
    if op.prim in (P.argmax, P.argmin):
        outer = [d for d in range(len(shape)) if d != op.params["axes"][0] and shape[d] != 1]
        return shape[outer[0]] if outer else 0
    plan = _Plan(shape, op.params["axes"])
    if plan.outer_reduces or not plan.outer:
        return 0
    return shape[plan.outer[0]]


def lower_reduction(em: Emitter, op: Op, out_ptr: ir.Value, region_ops: Sequence[Op],
                    rows: Rows = None) -> None:
    """Emit the loops computing reduction ``op`` (its input evaluated by ``em``) into
    out_ptr; ``rows = (start, count)`` restricts the ``parallel_rows`` loop to a range."""
    x = op.inputs[0]
    if op.prim in (P.argmax, P.argmin):
        _lower_arg(em, op, out_ptr, rows)
        return
    reducer = REDUCERS[op.prim]
    dt = x.type.dtype
    out = op.outputs[0].type
    plan = _Plan(x.type.shape, op.params["axes"])
    b = em.b
    if out.size == 0:
        return
    n_trailing = math.prod(plan.shape[d] for d in plan.trailing)
    coalesce = len(plan.trailing) > 1 and all_carry(index_maps(region_ops, [x]), n_trailing)

    if x.type.size == 0:
        _fill(em, out_ptr, out.dtype, out.size, reducer.identity(_acc_dtype(dt)))
        return
    if not plan.outer_reduces:
        def body(ivs: list[ir.Value]) -> None:
            fixed = dict(zip(plan.outer, ivs))
            acc = _reduce_trailing(em, op, plan, fixed, reducer, dt, coalesce)
            _store(em, acc, out_ptr, out.dtype, plan.out_index(b, fixed))

        with em.scope():
            _outer_loops(b, [plan.shape[d] for d in plan.outer], body, rows)
        return

    # Some reduced axis is outside a kept one: combine into the output in memory.
    _fill(em, out_ptr, out.dtype, out.size, reducer.identity(_acc_dtype(dt)))

    def body_mem(ivs: list[ir.Value]) -> None:
        fixed = dict(zip(plan.outer, ivs))
        oidx = plan.out_index(b, fixed)
        with em.scope():
            if plan.trailing:
                v = _reduce_trailing(em, op, plan, fixed, reducer, dt, coalesce)
            else:
                full = [fixed.get(d, i64(0)) for d in range(len(plan.shape))]
                v = _widen(b, em.emit(x, Index(b, plan.shape, full)))
            acc_dt = _acc_dtype(dt)
            old = _widen(b, em.load(out_ptr, out.dtype, oidx))
            _store(em, reducer.combine(b, old, v, acc_dt), out_ptr, out.dtype, oidx)

    loop_nest(b, [plan.shape[d] for d in plan.outer], body_mem, name="o")


def _arg_better(b: ir.IRBuilder, x: ir.Value, best: ir.Value, dt: np.dtype,
                is_max: bool) -> ir.Value:
    """Should x replace best? Strictly better (so the first of equals wins), and the
    first NaN beats everything."""
    op = ">" if is_max else "<"
    if dt.kind == "f":
        better = b.fcmp_ordered(op, x, best)
        first_nan = b.and_(b.fcmp_unordered("uno", x, x), b.fcmp_ordered("ord", best, best))
        return b.or_(better, first_nan)
    if dt.kind == "i":
        return b.icmp_signed(op, x, best)
    return b.icmp_unsigned(op, x, best)


def _lower_arg(em: Emitter, op: Op, out_ptr: ir.Value, rows: Rows) -> None:
    b = em.b
    x = op.inputs[0]
    shape = x.type.shape
    (axis,) = op.params["axes"]
    out = op.outputs[0].type
    is_max = op.prim is P.argmax
    dt = _acc_dtype(x.type.dtype)
    if out.size == 0:
        return
    outer = [d for d in range(len(shape)) if d != axis and shape[d] != 1]
    kept = [d for d in range(len(shape)) if d != axis]

    def body(ivs: list[ir.Value]) -> None:
        fixed = dict(zip(outer, ivs))

        def step(i: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            best, idx = carried
            full = [fixed.get(d, i64(0)) for d in range(len(shape))]
            full[axis] = i
            with em.scope():
                v = _widen(b, em.emit(x, Index(b, shape, full)))
                take = _arg_better(b, v, best, dt, is_max)
                return [b.select(take, v, best), b.select(take, i, idx)]

        init = [identity_min_max(dt, is_max), i64(0)]
        _, idx = for_range(b, shape[axis], step, init, name="arg")
        oidx = Index(b, out.shape, [fixed.get(d, i64(0)) for d in kept])
        em.store(convert(b, idx, dtypes.int64, out.dtype), out_ptr, out.dtype, oidx)

    with em.scope():
        _outer_loops(b, [shape[d] for d in outer], body, rows)


RULES: dict[Primitive, Callable[..., None]] = {p: lower_reduction for p in REDUCERS}
RULES[P.argmax] = lower_reduction
RULES[P.argmin] = lower_reduction
