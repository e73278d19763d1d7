"""Lowering of the cumulative reductions (``cumsum``, ``cumprod``, ``cummax``, ``cummin``,
``cumlogsumexp``): a sequential loop along the axis.

The operand is viewed as ``(outer, n, inner)``: ``outer`` blocks before the axis, the ``n``
steps along it, ``inner`` contiguous elements after it. Within a block, step ``k`` (counted
from the end with ``reverse``) is

    out[k, :] = combine(out[k - 1, :], x[k, :])      (out[first, :] = x[first, :])

so the innermost loop runs over the ``inner`` contiguous elements of a row, independent
of one another: LLVM vectorises it at the host's width. When the axis is the last one
(``inner == 1``) each row is one running value carried in a register along it, and rows
go ``ROW_GROUP`` at a time so that their chains of dependent steps overlap.
Either way every element is combined in NumPy's ``accumulate`` order (left to right, one
rounding per step), so integer results are exact and float ones match the reference to
rounding (bit for bit where NumPy's scalar loop is the same operation).

The combining step is the elementwise primitive's scalar rule (llax.codegen.scalar_rules,
which also handles float16 and complex values); ``cumlogsumexp`` composes
``max(a, b) + log1p(exp(-|a - b|))`` from them, and ``a + b`` where ``a - b`` is NaN (a NaN
operand, or infinities of one sign), as ``lax``'s ``logaddexp``.

Blocks are independent: many of them with enough work are split across cores.
Importing this module registers the rules in the code generator's tables.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes, parallel
from llax.codegen.loops import for_range
from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.codegen.ltypes import FLOAT, HALF, i64
from llax.codegen.scalar_rules import emit
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op, Params, Var
from llax.ir.primitive import Primitive
from llax.ir.types import TensorType

# Rows of a cumulative reduction along the last axis computed together (independent chains
# the core overlaps; enough to cover an add's latency at a few per cycle).
ROW_GROUP = 8

_COMBINE: dict[Primitive, Primitive] = {
    P.cumsum: P.add, P.cumprod: P.mul, P.cummax: P.max, P.cummin: P.min,
}


def _scalar_op(prim: Primitive, dtype: np.dtype, arity: int) -> Op:
    """A one-element op of ``prim`` on ``dtype``, for its scalar rule."""
    t = TensorType((), dtype)
    return Op(prim, tuple(Var(t) for _ in range(arity)), (Var(t),), Params({}))


class _Combiner:
    """Emits ``combine(acc, x)`` for one cumulative primitive on one dtype."""

    def __init__(self, prim: Primitive, dtype: np.dtype) -> None:
        self.prim, self.dtype = prim, dtype
        if prim is P.cumlogsumexp:
            # float16 is computed in float32 and rounded once per step, as NumPy's half loop.
            wide = np.dtype(np.float32) if dtype == dtypes.float16 else dtype
            self.wide = wide
            self.ops = {p: _scalar_op(p, wide, n) for p, n in (
                (P.sub, 2), (P.max, 2), (P.add, 2), (P.abs, 1), (P.neg, 1), (P.exp, 1),
                (P.log1p, 1))}
        else:
            self.op = _scalar_op(_COMBINE[prim], dtype, 2)

    def __call__(self, b: ir.IRBuilder, acc: ir.Value, x: ir.Value) -> ir.Value:
        if self.prim is not P.cumlogsumexp:
            return emit(b, self.op, [acc, x])
        narrow = acc.type == HALF
        if narrow:
            acc, x = b.fpext(acc, FLOAT), b.fpext(x, FLOAT)
        ops = self.ops
        delta = emit(b, ops[P.sub], [acc, x])
        tail = emit(b, ops[P.log1p], [emit(b, ops[P.exp], [
            emit(b, ops[P.neg], [emit(b, ops[P.abs], [delta])])])])
        stable = emit(b, ops[P.add], [emit(b, ops[P.max], [acc, x]), tail])
        out = b.select(b.fcmp_unordered("uno", delta, delta), emit(b, ops[P.add], [acc, x]),
                       stable)
        return b.fptrunc(out, HALF) if narrow else out


def _emit_blocks(b: ir.IRBuilder, combine: _Combiner, src: ir.Value, dst: ir.Value,
                 n: int, inner: int, reverse: bool, lo: ir.Value, count: ir.Value) -> None:
    """Blocks ``lo .. lo + count`` of the ``(outer, n, inner)`` view of ``src`` into
    ``dst``."""
    dt = combine.dtype

    def at(base: ir.Value, k: int | ir.Value, j: ir.Value | None) -> ir.Value:
        """The element offset of step ``k`` (in memory order), column ``j``."""
        k = i64(k) if isinstance(k, int) else k
        row = b.mul(k, i64(inner), flags=["nuw", "nsw"]) if inner != 1 else k
        off = b.add(base, row, flags=["nuw", "nsw"])
        return off if j is None else b.add(off, j, flags=["nuw", "nsw"])

    def memory_step(s: ir.Value) -> ir.Value:
        return b.sub(i64(n - 1), s, flags=["nuw", "nsw"]) if reverse else s

    first = n - 1 if reverse else 0

    def rows(start: ir.Value, group: int) -> None:
        """Rows ``start .. start + group`` (the axis is the last one) in lockstep: one
        running value per row, ``group`` independent chains per step along the rows."""
        bases = [b.mul(b.add(start, i64(r), flags=["nuw", "nsw"]), i64(n),
                       flags=["nuw", "nsw"]) for r in range(group)]
        firsts = []
        for base in bases:
            v = ltypes.load(b, ltypes.element_ptr(b, src, dt, at(base, first, None)), dt)
            ltypes.store(b, v, ltypes.element_ptr(b, dst, dt, at(base, first, None)), dt)
            firsts.append(v)

        def step(s: ir.Value, carry: list) -> list:
            k = memory_step(b.add(s, i64(1), flags=["nuw", "nsw"]))
            out = []
            for base, acc in zip(bases, carry):
                x = ltypes.load(b, ltypes.element_ptr(b, src, dt, at(base, k, None)), dt)
                acc = combine(b, acc, x)
                ltypes.store(b, acc, ltypes.element_ptr(b, dst, dt, at(base, k, None)), dt)
                out.append(acc)
            return out

        for_range(b, n - 1, step, firsts, name="cum")

    if inner == 1:
        # One row's steps depend on each other (a chain at the combine's latency), so rows
        # go ROW_GROUP at a time, their chains overlapping; the remaining rows one by one.
        groups = b.udiv(count, i64(ROW_GROUP))
        for_range(b, groups, lambda g, _: (rows(b.add(lo, b.mul(g, i64(ROW_GROUP)),
                                                       flags=["nuw", "nsw"]), ROW_GROUP),
                                            [])[1], name="grp")
        done = b.mul(groups, i64(ROW_GROUP), flags=["nuw", "nsw"])
        for_range(b, b.sub(count, done), lambda r, _: (rows(b.add(b.add(lo, done), r), 1),
                                                        [])[1], name="row")
        return

    def block(o: ir.Value, _: list) -> list:
        base = b.mul(b.add(lo, o, flags=["nuw", "nsw"]), i64(n * inner), flags=["nuw", "nsw"])

        def copy_first(j: ir.Value, _: list) -> list:
            v = ltypes.load(b, ltypes.element_ptr(b, src, dt, at(base, first, j)), dt)
            ltypes.store(b, v, ltypes.element_ptr(b, dst, dt, at(base, first, j)), dt)
            return []

        for_range(b, inner, copy_first, name="cum0")

        def step(s: ir.Value, _: list) -> list:
            s1 = b.add(s, i64(1), flags=["nuw", "nsw"])
            k, prev = memory_step(s1), memory_step(s)

            def column(j: ir.Value, _: list) -> list:
                acc = ltypes.load(b, ltypes.element_ptr(b, dst, dt, at(base, prev, j)), dt)
                x = ltypes.load(b, ltypes.element_ptr(b, src, dt, at(base, k, j)), dt)
                ltypes.store(b, combine(b, acc, x), ltypes.element_ptr(b, dst, dt, at(base, k, j)),
                             dt)
                return []

            for_range(b, inner, column, name="col")
            return []

        for_range(b, n - 1, step, name="cum")
        return []

    for_range(b, count, block, name="blk")


def _lower_cumulative(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    (x,), (out,) = op.inputs, outs
    shape = x.type.shape
    if math.prod(shape) == 0:
        return
    axis, reverse = op.params["axis"], bool(op.params["reverse"])
    outer, n, inner = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
    if n == 1:  # nothing to combine
        kb.copy(x, out)
        return
    combine = _Combiner(op.prim, x.type.dtype)
    src = kb.buffer(x)
    work = outer * n * inner
    if parallel.worth_it(outer, work):
        pointers = [p for p in (src, out) if not isinstance(p, (ir.GlobalValue, ir.Constant))]

        def build(b: ir.IRBuilder, values: list[ir.Value], lo: ir.Value,
                  hi: ir.Value) -> None:
            remap = dict(zip(map(id, pointers), values))
            _emit_blocks(b, combine, remap.get(id(src), src), remap.get(id(out), out), n, inner,
                         reverse, lo, b.sub(hi, lo))

        parallel.emit_parallel(kb.b, outer, pointers, build, align=1)
        return
    _emit_blocks(kb.b, combine, src, out, n, inner, reverse, i64(0), i64(outer))


for _prim in P.CUMULATIVE:
    OPAQUE_RULES[_prim] = _lower_cumulative
