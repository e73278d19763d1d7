"""Lowering of the window primitives (ir.prims.windows) to loop nests.

Every output position walks its window's taps; a tap's operand element is found per axis
as ``at = position * stride + tap * window_dilation - pad_lo``, inside the operand when
``0 <= at`` and, with base dilation ``d``, ``at % d == 0`` and ``at / d`` is in range (holes
and padding hold the reduction's identity, so they are skipped).

When the last axis has a trivial window (one tap, no stride, padding or dilation: the
feature axis of an NHWC pool) it is the innermost loop, running over contiguous elements
for every tap, so LLVM vectorises it; otherwise it is walked like the others, one element
at a time.

- ``reduce_window_*``: each output row starts at the identity and combines every tap's row.
- ``select_and_gather_add`` / ``select_and_scatter_add``: each output row keeps, per
  element, the best operand value so far and where it was (a strictly better candidate
  replaces it, so the first extreme is selected, as XLA's select with ``ge``/``le``); then
  gathers the tangent from there, or adds the source there (into a zeroed output).

Complex and low-precision element types call the NumPy reference.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes, parallel
from llax.codegen.emitter import suffix_products
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.lower import OPAQUE_RULES, OUTLINED, KernelBuilder
from llax.codegen.ltypes import I1, I64, i64
from llax.codegen.numpy_routines import lower_by_reference
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.prims.convolution import dilate_dim
from llax.ir.reference_windows import identity

# Longest contiguous row a select keeps its per-element best values and offsets for on the
# stack (16 bytes per element).
MAX_SELECT_ROW = 4096
# Output elements times taps above which a window op is split over the thread pool.
PARALLEL_MIN_WORK = 1 << 20
_NATIVE_SELECT = frozenset(np.dtype(d) for d in (
    np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
    np.uint32, np.uint64))
_NATIVE = _NATIVE_SELECT | {np.dtype(np.bool_)}
_INDEX = np.dtype(np.int64)  # where a window's selected element is (-1: none yet)


@dataclass(frozen=True)
class _Window:
    """A window walk: the operand's and the output's shapes and the window params."""

    dtype: np.dtype
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    window: tuple[int, ...]
    strides: tuple[int, ...]
    pad_lo: tuple[int, ...]
    base_dilation: tuple[int, ...]
    window_dilation: tuple[int, ...]

    @property
    def row(self) -> int:
        """Elements of the innermost contiguous run (the last axis when its window is
        trivial, else 1)."""
        last = len(self.in_shape) - 1
        trivial = (last >= 0 and self.window[last] == 1 and self.strides[last] == 1
                   and self.pad_lo[last] == 0 and self.base_dilation[last] == 1
                   and self.in_shape[last] == self.out_shape[last])
        return self.in_shape[last] if trivial else 1

    @property
    def walked(self) -> int:
        """How many leading axes the loops walk (the rest is the contiguous row)."""
        return len(self.in_shape) - (1 if self.row > 1 else 0)


def _window(op: Op, operand) -> _Window | None:
    """The walk ``op`` makes over ``operand``, or None for an element type left to the
    reference."""
    t = operand.type
    native = _NATIVE if op.prim in P.REDUCE_WINDOWS else _NATIVE_SELECT
    if np.dtype(t.dtype) not in native:
        return None
    if op.prim not in P.REDUCE_WINDOWS and t.ndim and t.shape[-1] > MAX_SELECT_ROW:
        return None  # the per-row best values and offsets live on the stack
    p = op.rule_params
    ones = (1,) * t.ndim
    return _Window(np.dtype(t.dtype), t.shape, op.outputs[0].type.shape
                   if op.prim is not P.select_and_scatter_add else op.inputs[0].type.shape,
                   tuple(p["window_dimensions"]), tuple(p["window_strides"]),
                   tuple(lo for lo, _ in p["padding"]), tuple(p.get("base_dilation", ones)),
                   tuple(p.get("window_dilation", ones)))


def _tap_offset(b: ir.IRBuilder, w: _Window, position: list[ir.Value], taps: list[ir.Value]
                ) -> tuple[ir.Value, ir.Value]:
    """(inside?, the operand's element offset) of tap ``taps`` of output ``position``
    (walked axes only; the row offset is added by the caller)."""
    strides = suffix_products(w.in_shape)
    inside: ir.Value = ir.Constant(I1, 1)
    offset: ir.Value = i64(0)
    for d in range(w.walked):
        at = b.sub(b.add(b.mul(position[d], i64(w.strides[d])),
                         b.mul(taps[d], i64(w.window_dilation[d]))), i64(w.pad_lo[d]))
        ok = b.icmp_signed(">=", at, i64(0))
        if w.base_dilation[d] > 1:
            ok = b.and_(ok, b.icmp_signed("==", b.srem(at, i64(w.base_dilation[d])), i64(0)))
            at = b.sdiv(at, i64(w.base_dilation[d]))
        inside = b.and_(inside, b.and_(ok, b.icmp_signed("<", at, i64(w.in_shape[d]))))
        offset = b.add(offset, b.mul(at, i64(strides[d + 1])))
    return inside, offset


def _walk(kb: KernelBuilder, w: _Window, pointers: list[ir.Value],
          body: Callable[[ir.IRBuilder, list[ir.Value], list[ir.Value], ir.Value], None],
          may_split: bool = True) -> None:
    """``body(builder, pointers, position, out_offset)`` for every output row (the walked
    axes' positions), split over the pool when there is enough work (and ``may_split``)."""
    walked = list(w.out_shape[:w.walked])
    out_strides = suffix_products(w.out_shape)
    work = math.prod(w.out_shape) * math.prod(w.window)

    def rows(b: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        def first(i: ir.Value, _: list) -> list:
            start = b.add(lo, i)

            def inner(ivs: list[ir.Value]) -> None:
                position = [start, *ivs]
                offset = i64(0)
                for d, p in enumerate(position):
                    offset = b.add(offset, b.mul(p, i64(out_strides[d + 1])))
                body(b, values, position, offset)

            loop_nest(b, walked[1:], inner, name="w")
            return []

        for_range(b, b.sub(hi, lo), first, name="w0")

    if not walked:
        body(kb.b, pointers, [], i64(0))
    elif may_split and walked[0] > 1 and parallel.threads() > 1 and work >= PARALLEL_MIN_WORK:
        parallel.emit_parallel(kb.b, walked[0], pointers, rows, align=1)
    else:
        rows(kb.b, pointers, i64(0), i64(walked[0]))


def _combine(b: ir.IRBuilder, prim, dt: np.dtype, acc: ir.Value, x: ir.Value) -> ir.Value:
    kind = dtypes.kind(dt)
    if prim is P.reduce_window_sum:
        return b.fadd(acc, x) if kind == "f" else b.add(acc, x)
    if kind == "f":
        # max/min as XLA's: NaN wins (llvm.maximum/minimum propagate it).
        return ltypes.intrinsic(b, "maximum" if prim is P.reduce_window_max else "minimum",
                                [acc, x], acc.type)
    if kind == "b":
        return b.or_(acc, x) if prim is P.reduce_window_max else b.and_(acc, x)
    signed = kind == "i"
    name = ("smax" if signed else "umax") if prim is P.reduce_window_max else (
        "smin" if signed else "umin")
    return ltypes.intrinsic(b, name, [acc, x], acc.type)


def _taps(b: ir.IRBuilder, w: _Window, body: Callable[[list[ir.Value]], None]) -> None:
    loop_nest(b, list(w.window[:w.walked]), body, name="t")


def _lower_reduce_window(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    (x,) = op.inputs
    w = _window(op, x)
    if w is None:
        lower_by_reference(kb, op, outs)
        return
    if math.prod(w.out_shape) == 0:  # no windows: nothing to write
        return
    dt, row = w.dtype, w.row
    start = ltypes.const(dt, identity(op.prim.name, dt))

    def body(b: ir.IRBuilder, values: list[ir.Value], position: list[ir.Value],
             out_offset: ir.Value) -> None:
        src, dst = values
        for_range(b, row, lambda c, _: (ltypes.store(
            b, start, ltypes.element_ptr(b, dst, dt, b.add(out_offset, c)), dt), [])[1],
                  name="init")

        def tap(taps: list[ir.Value]) -> None:
            inside, offset = _tap_offset(b, w, position, taps)
            with b.if_then(inside):
                def element(c: ir.Value, _: list) -> list:
                    at = ltypes.element_ptr(b, dst, dt, b.add(out_offset, c))
                    value = ltypes.load(b, ltypes.element_ptr(b, src, dt, b.add(offset, c)), dt)
                    ltypes.store(b, _combine(b, op.prim, dt, ltypes.load(b, at, dt), value),
                                 at, dt)
                    return []

                for_range(b, row, element, name="c")

        _taps(b, w, tap)

    _walk(kb, w, [kb.buffer(x), outs[0]], body)


def _select_rows(b: ir.IRBuilder, w: _Window, select_prim: str, operand: ir.Value,
                 position: list[ir.Value], best: ir.Value, where: ir.Value) -> None:
    """Per element of the row: the selected operand value of the window (``best``) and
    its element offset (``where``; -1 while nothing is selected)."""
    dt, row = w.dtype, w.row
    worst = ltypes.const(dt, identity("max" if select_prim == "ge" else "min", dt))
    for_range(b, row, lambda c, _: (
        ltypes.store(b, worst, ltypes.element_ptr(b, best, dt, c), dt),
        ltypes.store(b, i64(-1), ltypes.element_ptr(b, where, _INDEX, c),
                     _INDEX), [])[2], name="init")
    kind = dtypes.kind(dt)

    def tap(taps: list[ir.Value]) -> None:
        inside, offset = _tap_offset(b, w, position, taps)
        with b.if_then(inside):
            def element(c: ir.Value, _: list) -> list:
                at = b.add(offset, c)
                value = ltypes.load(b, ltypes.element_ptr(b, operand, dt, at), dt)
                best_ptr = ltypes.element_ptr(b, best, dt, c)
                where_ptr = ltypes.element_ptr(b, where, _INDEX, c)
                current = ltypes.load(b, best_ptr, dt)
                unset = b.icmp_signed("<", ltypes.load(b, where_ptr, _INDEX),
                                      i64(0))
                op = ">" if select_prim == "ge" else "<"
                if kind == "f":
                    better = b.fcmp_ordered(op, value, current)
                elif kind == "i":
                    better = b.icmp_signed(op, value, current)
                else:
                    better = b.icmp_unsigned(op, value, current)
                take = b.or_(better, unset)
                ltypes.store(b, b.select(take, value, current), best_ptr, dt)
                ltypes.store(b, b.select(take, at, ltypes.load(b, where_ptr, _INDEX)),
                             where_ptr, _INDEX)
                return []

            for_range(b, row, element, name="c")

    _taps(b, w, tap)


def _scratch(b: ir.IRBuilder, w: _Window) -> tuple[ir.Value, ir.Value]:
    """Per-row buffers for the best values and their offsets, on the calling frame."""
    best = b.alloca(ltypes.mem_type(w.dtype), size=w.row)
    where = b.alloca(I64, size=w.row)
    return best, where


def _lower_select(kb: KernelBuilder, op: Op, outs: list[ir.Value],
                  use: Callable[[ir.IRBuilder, np.dtype, list[ir.Value], ir.Value, ir.Value,
                                 ir.Value], None]) -> None:
    """Per output row, select in each window, then ``use(builder, dtype, (first operand,
    output), selected offset (-1: none), row element, output offset)``."""
    first, x = op.inputs
    w = _window(op, x)
    if w is None:
        lower_by_reference(kb, op, outs)
        return
    (out,) = outs
    scatter = op.prim is P.select_and_scatter_add
    if scatter:  # the output gathers sums: it starts at zero
        ltypes.zero_fill(kb.b, out, x.type.nbytes)
    if math.prod(w.out_shape) == 0:  # no windows: nothing gathered, nothing scattered
        return
    select_prim = op.rule_params["select_prim"]

    def body(b: ir.IRBuilder, values: list[ir.Value], position: list[ir.Value],
             out_offset: ir.Value) -> None:
        source, operand, dst = values
        best, where = _scratch_at_entry(b, w)
        _select_rows(b, w, select_prim, operand, position, best, where)

        def element(c: ir.Value, _: list) -> list:
            at = ltypes.load(b, ltypes.element_ptr(b, where, _INDEX, c), _INDEX)
            use(b, w.dtype, [source, dst], at, c, out_offset)
            return []

        for_range(b, w.row, element, name="use")

    # The pool splits the first axis. A scatter whose windows overlap along it (a stride
    # shorter than the window) could have two threads add at one element: one thread.
    may_split = not scatter or w.strides[0] >= dilate_dim(w.window[0], w.window_dilation[0])
    _walk(kb, w, [kb.buffer(first), kb.buffer(x), out], body, may_split=may_split)


def _gather_selected(b: ir.IRBuilder, dt: np.dtype, values: list[ir.Value], at: ir.Value,
                     c: ir.Value, out_offset: ir.Value) -> None:
    """``select_and_gather_add``: the tangent at the selected element (0 if none)."""
    tangents, dst = values
    picked = b.icmp_signed(">=", at, i64(0))
    value = ltypes.load(b, ltypes.element_ptr(b, tangents, dt, b.select(picked, at, i64(0))),
                        dt)
    ltypes.store(b, b.select(picked, value, ltypes.const(dt, 0)),
                 ltypes.element_ptr(b, dst, dt, b.add(out_offset, c)), dt)


def _scatter_to_selected(b: ir.IRBuilder, dt: np.dtype, values: list[ir.Value], at: ir.Value,
                         c: ir.Value, out_offset: ir.Value) -> None:
    """``select_and_scatter_add``: the window's source element added at the selected one."""
    source, dst = values
    with b.if_then(b.icmp_signed(">=", at, i64(0))):
        target = ltypes.element_ptr(b, dst, dt, at)
        value = ltypes.load(b, ltypes.element_ptr(b, source, dt, b.add(out_offset, c)), dt)
        total = (b.fadd if dtypes.kind(dt) == "f" else b.add)(ltypes.load(b, target, dt), value)
        ltypes.store(b, total, target, dt)


def _scratch_at_entry(b: ir.IRBuilder, w: _Window) -> tuple[ir.Value, ir.Value]:
    """``_scratch`` allocated in the function's entry block (once, not per row)."""
    entry = b.function.entry_basic_block
    with b.goto_block(entry):
        b.position_at_start(entry)
        return _scratch(b, w)


for _prim in P.REDUCE_WINDOWS:
    OPAQUE_RULES[_prim] = _lower_reduce_window
for _prim in (*P.REDUCE_WINDOWS, P.select_and_gather_add, P.select_and_scatter_add):
    OUTLINED[_prim] = lambda op: _window(op, op.inputs[-1]) is not None
OPAQUE_RULES[P.select_and_gather_add] = functools.partial(_lower_select, use=_gather_selected)
OPAQUE_RULES[P.select_and_scatter_add] = functools.partial(_lower_select,
                                                           use=_scatter_to_selected)
