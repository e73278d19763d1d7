"""Reductions as loop nests over their input, combined pairwise.

Loop order follows memory: loads are unit-stride in the innermost loop.

Accuracy: a float sum kept in one running total has a rounding error that grows like
n (2^20 copies of 0.1 in float32 came out 2.6e-4 too large, and ones stopped counting
at 2^24). Float sums are taken in blocks of about ``BLOCK`` elements, each accumulated
in registers (``reassoc`` on the combine lets LLVM vectorise that loop over several
lanes), and the block results are combined pairwise by ``_Pairwise``, so the error
bound grows like ``BLOCK / lanes + log2(n)`` roundings, as with NumPy's pairwise sum.
(Other reductions keep one running total per unit: their result does not depend on
the order, or, for a product, takes one rounding per element in any order.) The order
of combination depends on the shapes (and the lanes LLVM picks for the host), never on
how many threads ran.

Three loop structures, each split into independent units that may run on the pool:

- A reduction over every non-unit dim (one output element) is cut into units of
  whole blocks; the units' results go to a small array and are combined pairwise
  (on one thread unless ``POOL_WHOLE``).
- When the reduced axes are the trailing (non-unit) dims, each output element
  accumulates over one coalesced inner loop as above; rows of outputs are the units.
- Otherwise some reduced axis lies outside a kept one. The output is cut into tiles
  along its last kept dim (the units). For each tile the reduced positions are walked
  in order, ``TERMS`` at a time accumulated into one tile of a pairwise stack; the
  inner loop runs along the kept dim, so it stays unit-stride and vectorises.

Sums start from +0.0, as NumPy's do (a sum of -0.0s, or of nothing, is +0.0), and
their adds carry ``reassoc`` but not ``nsz``: with ``nsz`` LLVM may fold ``0.0 + x``
to ``x``, and the sign of a zero result would be up to the optimiser.

argmax/argmin keep (best value, index) pairs over their one axis; ties keep
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
from llax.codegen.emitter import Emitter, Index, all_carry, group_start, index_maps, suffix_products
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.ltypes import FLOAT, HALF, I1, I64, PTR, i64
from llax.codegen.scalar_rules import convert, identity_min_max, max_min
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.primitive import Primitive
from llax.ir.types import TensorType

FAST = ["reassoc"]
# Elements accumulated in registers per block before its result joins the pairwise
# combination. LLVM vectorises the block loop 32 lanes wide here (4 x <8 x float>), so
# a lane adds 4 elements per block; but not every loop vectorises (a broadcast scalar's
# does not), and unvectorised, a block sum of 128 copies of 0.1 in float32 is within 8
# eps (512 copies: 34). Each block ends with a horizontal sum of the lanes and a push:
# on a memory-bound sum that is free, in cache it shows: jit(sum(x * x + 1)) over 1e6
# float32 took 97, 92, 86 and 81 us with blocks of 128, 256, 512 and 1024, 80 without.
BLOCK = 128
# Reduced positions accumulated into one tile (in memory) per pairwise level when a
# reduced axis lies outside a kept one: TERMS + log2(positions / TERMS) roundings. Each
# output element has one accumulator here, no lanes; the merges cost 1.5% of a [4096,
# 4096] float32 sum over axis 0 (8% with 16 terms per block and a separate clearing pass).
TERMS = 16
# Up to this many reduced positions make one block there: less code for small reductions
# (a bias gradient over a batch of 128), and a running total of 128 copies of 0.1 in
# float32 is still within 8 eps.
SHORT_TERMS = 128
# Elements in those tiles at most (one tile per pairwise level).
TILE = 1 << 14
# Scratch up to this many bytes lives on the stack, larger on the heap.
STACK_BYTES = 1 << 16
# A whole-array reduction is cut into units of at least this many elements (a multiple
# of the block), at most MAX_UNITS of them (their results live on the stack).
UNIT = 1 << 16
MAX_UNITS = 1024
# Run those units on the thread pool? Not by default: on the 2-core test machine, under
# the load of other jobs, the pool gained nothing at best (jit(jnp.sum) of 1e7 float32 is
# memory-bound: 1.68 ms best of repeats either way) and lost 3.5x in the median (6.4 vs
# 1.84 ms: a preempted pool thread holding a chunk). Rows and tiles do use the pool.
POOL_WHOLE = False

UnitBody = Callable[[Emitter, list[ir.Value], ir.Value, ir.Value | int], None]
# ``units(n, pointers, body)`` emits ``body(emitter, pointers, lo, count)`` for units
# [lo, lo + count) covering [0, n), maybe outlined onto the thread pool (then with the
# emitter and ``pointers`` remapped to the outlined function's own values, and a
# dynamic count; run in place, the count is ``n``).
Units = Callable[[int, Sequence[ir.Value], UnitBody], None]


def serial_units(em: Emitter) -> Units:
    """All units in one loop, at ``em``'s position."""

    def run(n: int, pointers: Sequence[ir.Value], body: UnitBody) -> None:
        body(em, list(pointers), i64(0), n)

    return run


class Reducer(NamedTuple):
    identity: Callable[[np.dtype], ir.Constant]
    combine: Callable[[ir.IRBuilder, ir.Value, ir.Value, np.dtype], ir.Value]


def _fast(instr: ir.Instruction) -> ir.Instruction:
    instr.flags.extend(FAST)
    return instr


def _sum(b, acc, x, dt):
    if dt.kind == "c":  # part by part, each a float sum
        (ar, ai), (xr, xi) = ltypes.parts(b, acc), ltypes.parts(b, x)
        return ltypes.make_complex(b, _fast(b.fadd(ar, xr)), _fast(b.fadd(ai, xi)))
    return _fast(b.fadd(acc, x)) if dt.kind == "f" else b.add(acc, x)


def _prod(b, acc, x, dt):
    if dt.kind == "c":  # NumPy's multiply loop, element after element
        from llax.codegen.complex_rules import cmul_simd

        return cmul_simd(b, acc, x)
    return _fast(b.fmul(acc, x)) if dt.kind == "f" else b.mul(acc, x)


def _tt(dt: np.dtype) -> TensorType:
    return TensorType((), dt)


REDUCERS: dict[Primitive, Reducer] = {
    P.reduce_sum: Reducer(lambda dt: ltypes.const(dt, 0), _sum),
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


def _accumulate(b: ir.IRBuilder, sizes: Sequence[int | ir.Value],
                body: Callable[[list[ir.Value], list[ir.Value]], list[ir.Value]],
                init: list[ir.Value]) -> list[ir.Value]:
    """Nested loops over ``sizes`` threading loop-carried values through all levels."""

    def level(k: int, ivs: list[ir.Value], carried: list[ir.Value]) -> list[ir.Value]:
        if k == len(sizes):
            return body(ivs, carried)
        return for_range(b, sizes[k], lambda iv, c: level(k + 1, [*ivs, iv], c), carried,
                         name=f"r{k}")

    return level(0, [], init)


def _entry_alloca(b: ir.IRBuilder, ty: ir.Type, count: int) -> ir.Value:
    """Stack space for ``count`` values of ``ty``, allocated once in the entry block."""
    entry = b.function.entry_basic_block
    with b.goto_block(entry):
        b.position_at_start(entry)
        # (llvmlite types an alloca's result; the cast makes it a plain opaque ptr)
        return b.bitcast(b.alloca(ty, size=count), PTR)


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return ltypes.intrinsic(b, "smin", [x, y], I64)


class _Pairwise:
    """Results of consecutive blocks combined pairwise, as a binary counter.

    Block k (counting from 0) is accumulated into level popcount(k), the first free
    one; ``merge(k)`` then combines it downwards once per trailing one bit of k. So a
    level always holds a power-of-two run of blocks, combined as halves of halves,
    and every value meets at most 2 log2(blocks) more roundings after its block. A
    level holds ``width`` values: a tile of outputs, or one.
    """

    def __init__(self, b: ir.IRBuilder, reducer: Reducer, dt: np.dtype, blocks: int,
                 width: int = 1, base: ir.Value | None = None) -> None:
        """Levels for up to ``blocks`` blocks: on the stack, or at ``base`` if given
        (``levels(blocks) * width`` values)."""
        self.b, self.reducer, self.dt, self.width = b, reducer, dt, width
        self.type = ltypes.reg_type(dt)
        self.base = base if base is not None else _entry_alloca(
            b, self.type, self.levels(blocks) * width)

    @staticmethod
    def levels(blocks: int) -> int:
        """Levels needed: block k goes to level popcount(k), and k < blocks."""
        return max(1, (blocks - 1).bit_length() + 1)

    def level(self, k: ir.Value) -> ir.Value:
        """The level block ``k`` accumulates into."""
        if isinstance(k, ir.Constant):
            return i64(k.constant.bit_count())
        return ltypes.intrinsic(self.b, "ctpop", [k], I64)

    def slot(self, level: ir.Value, o: ir.Value) -> ir.Value:
        b = self.b
        at = b.add(b.mul(level, i64(self.width), flags=["nuw", "nsw"]), o, flags=["nuw", "nsw"])
        return b.gep(self.base, [at], inbounds=True, source_etype=self.type)

    def _combine(self, acc: ir.Value, x: ir.Value) -> ir.Value:
        return self.reducer.combine(self.b, acc, x, self.dt)

    def _load(self, level: ir.Value, o: ir.Value) -> ir.Value:
        return self.b.load(self.slot(level, o), typ=self.type)

    def merge(self, k: ir.Value, width: int | ir.Value = 1) -> None:
        """Combine block ``k`` (the first ``width`` values of its level) downwards."""
        b = self.b
        top = self.level(k)
        if isinstance(k, ir.Constant):  # (a static count of merges: often none)
            ones: int | ir.Value = (~k.constant & (k.constant + 1)).bit_length() - 1
        else:
            ones = ltypes.intrinsic(b, "cttz", [b.not_(k), ir.Constant(I1, 0)], I64)

        def step(j: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
            upper = b.sub(top, j)
            lower = b.sub(upper, i64(1))

            def each(o: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
                b.store(self._combine(self._load(lower, o), self._load(upper, o)),
                        self.slot(lower, o))
                return []

            for_range(b, width, each, name="merge.o")
            return []

        for_range(b, ones, step, name="merge")

    def push(self, k: ir.Value, value: ir.Value) -> None:
        """Block ``k``'s result is ``value`` (width 1)."""
        self.b.store(value, self.slot(self.level(k), i64(0)))
        self.merge(k)

    def fold(self, blocks: ir.Value, width: int | ir.Value,
             use: Callable[[ir.Value, ir.Value], None]) -> None:
        """``use(o, result)`` for each o < ``width``: the identity combined with every
        occupied level after ``blocks`` blocks, the latest (smallest) first."""
        b = self.b
        top = self.level(blocks)
        if isinstance(top, ir.Constant):
            top = top.constant

        def each(o: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
            def step(j: ir.Value, acc: list[ir.Value]) -> list[ir.Value]:
                level = b.sub(b.sub(i64(top) if isinstance(top, int) else top, j), i64(1))
                return [self._combine(self._load(level, o), acc[0])]

            (acc,) = for_range(b, top, step, [self.reducer.identity(self.dt)], name="fold")
            use(o, acc)
            return []

        for_range(b, width, each, name="fold.o")

    def total(self, blocks: ir.Value) -> ir.Value:
        """The result of ``blocks`` blocks of width 1."""
        out: list[ir.Value] = []
        self.fold(blocks, 1, lambda _, v: out.append(v))
        return out[0]


def _blocking(sizes: Sequence[int], block: int | None) -> tuple[int, int] | None:
    """Where blocks of about ``block`` elements start in the index box ``sizes``: ``(q,
    c)`` says a block is ``c`` consecutive indices of dim ``q`` times all of the dims
    after it; None if the whole box is one block."""
    prods = suffix_products(sizes)
    if block is None or prods[0] <= block:
        return None
    q = max(j for j in range(len(sizes)) if prods[j] > block)
    return q, block // prods[q + 1]


class Span(NamedTuple):
    """Indices [start, start + count) of a box's first dim, ``count <= most``."""

    start: ir.Value
    count: ir.Value | int
    most: int


def _reduce_box(b: ir.IRBuilder, reducer: Reducer, dt: np.dtype, sizes: Sequence[int],
                element: Callable[[list[ir.Value]], ir.Value], block: int | None,
                first: Span | None = None) -> ir.Value:
    """``element(ivs)`` combined over the index box ``sizes`` (its first dim restricted
    to ``first``), in blocks of about ``block`` elements combined pairwise (None: one
    running total)."""
    if first is None:
        first = Span(i64(0), sizes[0], sizes[0])
    sizes = [first.most, *sizes[1:]]
    identity = reducer.identity(dt)

    def accumulate(prefix: list[ir.Value], start: ir.Value, counts: Sequence[int | ir.Value],
                   init: ir.Value) -> ir.Value:
        """Over ``counts`` dims after ``prefix``, the first offset by ``start``."""
        def body(ivs: list[ir.Value], acc: list[ir.Value]) -> list[ir.Value]:
            at = [*prefix, b.add(start, ivs[0], flags=["nuw", "nsw"]), *ivs[1:]]
            return [reducer.combine(b, acc[0], element(at), dt)]

        return _accumulate(b, counts, body, [init])[0]

    blocking = _blocking(sizes, block)
    if blocking is None:
        return accumulate([], first.start, [first.count, *sizes[1:]], identity)
    q, c = blocking
    pairwise = _Pairwise(b, reducer, dt, math.prod(sizes[:q]) * (sizes[q] // c + 1))

    def block(prefix: list[ir.Value], start: ir.Value, count: int | ir.Value,
              k: ir.Value) -> ir.Value:
        pairwise.push(k, accumulate(prefix, start, [count, *sizes[q + 1:]], identity))
        return b.add(k, i64(1), flags=["nuw", "nsw"])

    def along(prefix: list[ir.Value], k: ir.Value) -> ir.Value:
        """The blocks along dim q at the outer position ``prefix``: one loop whose last block
        may be short, so the element code is emitted once (a separate tail block doubled
        the IR, and LLVM's time, of every reduction: 30 -> 56 ms to compile a small sum)."""
        start, count = (first.start, first.count) if q == 0 else (i64(0), sizes[q])
        if isinstance(count, int):
            blocks, count = -(-count // c), i64(count)
        else:
            blocks = b.udiv(b.add(count, i64(c - 1)), i64(c))

        def one(j: ir.Value, carried: list[ir.Value]) -> list[ir.Value]:
            offset = b.mul(j, i64(c))
            length = _min(b, i64(c), b.sub(count, offset))
            return [block(prefix, b.add(start, offset), length, carried[0])]

        (k,) = for_range(b, blocks, one, [k], name="blk")
        return k

    def outer(ivs: list[ir.Value], carried: list[ir.Value]) -> list[ir.Value]:
        prefix = [b.add(first.start, ivs[0]), *ivs[1:]] if ivs else []
        return [along(prefix, carried[0])]

    (blocks,) = _accumulate(b, [first.count, *sizes[1:q]][:q], outer, [i64(0)])
    return pairwise.total(blocks)


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


class _Reduction:
    """One reduction op being lowered: what every loop structure needs."""

    def __init__(self, op: Op, region_ops: Sequence[Op]) -> None:
        self.op = op
        self.x = op.inputs[0]
        self.reducer = REDUCERS[op.prim]
        self.dt = _acc_dtype(self.x.type.dtype)
        self.out = op.outputs[0].type
        self.plan = plan = _Plan(self.x.type.shape, op.params["axes"])
        n = math.prod(plan.shape[d] for d in plan.trailing)
        # One coalesced loop over the trailing dims, if no index map must split it.
        self.coalesce = len(plan.trailing) > 1 and all_carry(index_maps(region_ops, [self.x]), n)
        self.sizes = [n] if self.coalesce else [plan.shape[d] for d in plan.trailing]
        # Only a float sum's error depends on the order: a product takes one rounding
        # per element in any order, and the rest are exact. Blocks cost the others time
        # (a float32 max over 1e6 elements in cache: 118 us with blocks of 128, 78 without).
        float_sum = op.prim is P.reduce_sum and self.dt.kind in "fc"
        self.block = BLOCK if float_sum else None

    def element(self, em: Emitter, fixed: dict[int, ir.Value]) -> ir.Value:
        """The input at the position ``fixed`` (dims not in it: 0), widened."""
        b = em.b
        shape = self.plan.shape
        with em.scope():  # values from inside a loop do not dominate what follows it
            return _widen(b, em.emit(self.x, Index(b, shape, [fixed.get(d, i64(0))
                                                               for d in range(len(shape))])))

    def trailing(self, em: Emitter, fixed: dict[int, ir.Value],
                 first: Span | None = None) -> ir.Value:
        """The identity combined with every element over the trailing reduced dims at the
        outer position ``fixed`` (the first trailing loop restricted to ``first``)."""
        b = em.b
        plan, shape = self.plan, self.plan.shape
        if not plan.trailing:  # nothing left to reduce here: the element itself
            value = self.element(em, fixed)
            if not plan.axes:  # reducing over no axes is the identity function
                return value
            return self.reducer.combine(b, self.reducer.identity(self.dt), value, self.dt)
        if self.coalesce:
            dims = [fixed.get(d, i64(0)) for d in range(len(shape))]
            start = group_start(shape, self.sizes[0])

            def element(ivs: list[ir.Value]) -> ir.Value:
                with em.scope():
                    return _widen(b, em.emit(self.x, Index(b, shape, dims, (start, ivs[0]))))
        else:
            def element(ivs: list[ir.Value]) -> ir.Value:
                return self.element(em, {**fixed, **dict(zip(plan.trailing, ivs))})

        return _reduce_box(b, self.reducer, self.dt, self.sizes, element, self.block, first)

    def store(self, em: Emitter, value: ir.Value, ptr: ir.Value,
              fixed: dict[int, ir.Value]) -> None:
        _store(em, value, ptr, self.out.dtype, self.plan.out_index(em.b, fixed))


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


Rows = tuple[ir.Value, ir.Value | int] | None


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


def _unravel(b: ir.IRBuilder, linear: ir.Value, dims: Sequence[int],
             shape: Sequence[int]) -> dict[int, ir.Value]:
    """The row-major position over ``dims`` (of ``shape``) of index ``linear``."""
    out: dict[int, ir.Value] = {}
    for j in range(len(dims) - 1, 0, -1):
        n = i64(shape[dims[j]])
        out[dims[j]] = b.urem(linear, n)
        linear = b.udiv(linear, n)
    if dims:
        out[dims[0]] = linear
    return out


def lower_reduction(em: Emitter, op: Op, out_ptr: ir.Value, region_ops: Sequence[Op],
                    units: Units | None = None) -> None:
    """Emit the loops computing reduction ``op`` (its input evaluated by ``em``) into
    ``out_ptr``, their independent parts run through ``units`` (default: serially)."""
    units = units or serial_units(em)
    if op.prim in (P.argmax, P.argmin):
        _lower_arg(em, op, out_ptr, units)
        return
    r = _Reduction(op, region_ops)
    if r.out.size == 0:
        return
    if r.x.type.size == 0:
        _fill(em, out_ptr, r.out.dtype, r.out.size, r.reducer.identity(r.dt))
    elif r.plan.outer_reduces:
        _lower_tiles(r, em, out_ptr, units)
    elif r.plan.outer:
        _lower_rows(r, em, out_ptr, units)
    else:
        _lower_whole(r, em, out_ptr, units)


def _lower_rows(r: _Reduction, em: Emitter, out_ptr: ir.Value, units: Units) -> None:
    """Every reduced axis trails every kept one: output rows are the units."""
    outer = r.plan.outer

    def body(em: Emitter, ptrs: list[ir.Value], lo: ir.Value, count: ir.Value | int) -> None:
        def row(ivs: list[ir.Value]) -> None:
            fixed = dict(zip(outer, ivs))
            r.store(em, r.trailing(em, fixed), ptrs[0], fixed)

        with em.scope():
            _outer_loops(em.b, [r.plan.shape[d] for d in outer], row, (lo, count))

    units(r.plan.shape[outer[0]], [out_ptr], body)


def _lower_whole(r: _Reduction, em: Emitter, out_ptr: ir.Value, units: Units) -> None:
    """Every non-unit axis is reduced: units of whole blocks along the first trailing
    loop, their results combined pairwise."""
    sizes = r.sizes
    if not sizes:  # a single element
        r.store(em, r.trailing(em, {}), out_ptr, {})
        return
    inner = math.prod(sizes[1:])
    step = max(1, UNIT // inner, -(-sizes[0] // MAX_UNITS))
    blocking = _blocking(sizes, r.block)
    if blocking is not None and blocking[0] == 0:  # units of whole blocks
        step = -(-step // blocking[1]) * blocking[1]
    n_units = -(-sizes[0] // step)
    if n_units == 1:
        r.store(em, r.trailing(em, {}), out_ptr, {})
        return
    partials = _entry_alloca(em.b, ltypes.reg_type(r.dt), n_units)

    def body(em: Emitter, ptrs: list[ir.Value], lo: ir.Value, count: ir.Value | int) -> None:
        b = em.b

        def one(i: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
            u = b.add(lo, i, flags=["nuw", "nsw"])
            start = b.mul(u, i64(step), flags=["nuw", "nsw"])
            n = _min(b, i64(step), b.sub(i64(sizes[0]), start))
            acc = r.trailing(em, {}, Span(start, n, step))
            b.store(acc, b.gep(ptrs[0], [u], inbounds=True, source_etype=acc.type))
            return []

        for_range(b, count, one, name="unit")

    (units if POOL_WHOLE else serial_units(em))(n_units, [partials], body)
    b = em.b
    pairwise = _Pairwise(b, r.reducer, r.dt, n_units)
    t = pairwise.type

    def push(u: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
        pairwise.push(u, b.load(b.gep(partials, [u], inbounds=True, source_etype=t), typ=t))
        return []

    for_range(b, n_units, push, name="partials")
    r.store(em, pairwise.total(i64(n_units)), out_ptr, {})


def _lower_tiles(r: _Reduction, em: Emitter, out_ptr: ir.Value, units: Units) -> None:
    """Some reduced axis lies outside a kept one: tiles of the output are the units, each
    combining its reduced positions into a pairwise stack of tiles."""
    plan, shape = r.plan, r.plan.shape
    kept = [d for d in plan.outer if d not in plan.axes]
    reduced = [d for d in plan.outer if d in plan.axes]
    last = kept[-1]  # outer_reduces: the last outer dim is kept (trailing ones are reduced)
    n_terms = math.prod(shape[d] for d in reduced)
    per_block = n_terms if r.block is None or n_terms <= SHORT_TERMS else TERMS
    blocks = -(-n_terms // per_block)
    # Whole rows when they fit (tiles that split rows cost: 1.33x the time with half
    # rows of a [4096, 4096] float32 sum over axis 0, 1.6x with quarters).
    tile = min(shape[last], TILE)
    n_tiles = -(-shape[last] // tile)
    levels = _Pairwise.levels(blocks)
    itemsize = np.dtype(r.dt).itemsize

    def body(em: Emitter, ptrs: list[ir.Value], lo: ir.Value, count: ir.Value | int) -> None:
        b = em.b
        on_heap = levels * tile * itemsize > STACK_BYTES
        scratch = ltypes.heap_alloc(b, levels * tile * itemsize) if on_heap else None
        pairwise = _Pairwise(b, r.reducer, r.dt, blocks, tile, scratch)

        def unit(i: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
            u = b.add(lo, i, flags=["nuw", "nsw"])
            first: ir.Value = i64(0)
            width: int | ir.Value = tile
            if n_tiles > 1:
                first = b.mul(b.urem(u, i64(n_tiles)), i64(tile), flags=["nuw", "nsw"])
                width = _min(b, i64(tile), b.sub(i64(shape[last]), first))
                u = b.udiv(u, i64(n_tiles))
            fixed = _unravel(b, u, kept[:-1], shape)

            def block(start: ir.Value, n: int, k: ir.Value) -> None:
                level = pairwise.level(k)

                def term(j: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
                    at = {**fixed, **_unravel(b, b.add(start, j), reduced, shape)}
                    # The block's first term starts its level afresh (LLVM unswitches this).
                    fresh = b.icmp_unsigned("==", j, i64(0))

                    def each(o: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
                        pos = {**at, last: b.add(first, o, flags=["nuw", "nsw"])}
                        v = r.trailing(em, pos) if plan.trailing else r.element(em, pos)
                        slot = pairwise.slot(level, o)
                        old = b.select(fresh, r.reducer.identity(r.dt),
                                       b.load(slot, typ=pairwise.type))
                        b.store(r.reducer.combine(b, old, v, r.dt), slot)
                        return []

                    for_range(b, width, each, name="tile")
                    return []

                for_range(b, n, term, name="term")
                pairwise.merge(k, width)

            full, tail = divmod(n_terms, per_block)
            for_range(b, full, lambda j, _: (block(b.mul(j, i64(per_block)), per_block, j),
                                             [])[1], name="blk")
            if tail:
                block(i64(full * per_block), tail, i64(full))

            def put(o: ir.Value, v: ir.Value) -> None:
                r.store(em, v, ptrs[0], {**fixed, last: b.add(first, o, flags=["nuw", "nsw"])})

            pairwise.fold(i64(blocks), width, put)
            return []

        for_range(b, count, unit, name="unit")
        if scratch is not None:
            ltypes.heap_free(b, scratch)

    units(math.prod(shape[d] for d in kept[:-1]) * n_tiles, [out_ptr], body)


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


def _lower_arg(em: Emitter, op: Op, out_ptr: ir.Value, units: Units) -> None:
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

    def rows(em: Emitter, ptrs: list[ir.Value], lo: ir.Value, count: ir.Value | int) -> None:
        b = em.b

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
            em.store(convert(b, idx, dtypes.int64, out.dtype), ptrs[0], out.dtype, oidx)

        with em.scope():
            _outer_loops(b, [shape[d] for d in outer], body, (lo, count))

    units(shape[outer[0]] if outer else 1, [out_ptr], rows)


RULES: dict[Primitive, Callable[..., None]] = {p: lower_reduction for p in REDUCERS}
RULES[P.argmax] = lower_reduction
RULES[P.argmin] = lower_reduction
