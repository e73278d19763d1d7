"""Lowering of gather (an index map) and the scatters (opaque loops).

gather: the value at an output index is the operand at ``start + window``,
where the start of each indexed operand dim is read from ``indices`` at the
output's batch coordinates. Starts are always clamped into the operand, in
every mode, so no load leaves the buffer (PROMISE_IN_BOUNDS clamps too: that
is XLA's behaviour and the reference's); FILL_OR_DROP then selects the fill
value where the unclamped start was out of bounds.

scatter*: copy the operand to the output, then walk the updates in row-major
order (the reference's ``ufunc.at`` order, so repeated indices combine the same
way and float sums round the same), combining each update into its target. An
out-of-bound window is dropped (FILL_OR_DROP, PROMISE_IN_BOUNDS) or clamped
(CLIP); a dropped update still reads and rewrites a clamped in-bounds element,
unchanged, which keeps the loop body branch-free.

Importing this module registers the rules in the code generator's tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes
from llax.codegen.emitter import Emitter, Index, loop_index, loop_shape
from llax.codegen.index_rules import RULES as INDEX_RULES
from llax.codegen.index_rules import IndexRule, identity_suffix
from llax.codegen.loops import loop_nest
from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.codegen.ltypes import FLOAT, HALF, I1, I64, i64
from llax.codegen.scalar_rules import RULES as SCALAR_RULES
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Atom, Op
from llax.ir.prims.indexing import GatherScatterMode, as_gather_dnums, as_scatter_dnums
from llax.ir.reference_indexing import default_fill_value
from llax.ir.types import TensorType


def _mode(op: Op) -> GatherScatterMode:
    mode = op.params.get("mode")
    if isinstance(mode, int) and not isinstance(mode, (bool, GatherScatterMode)):
        return GatherScatterMode(mode)
    return GatherScatterMode.from_any(mode)


def _clamp(b: ir.IRBuilder, v: ir.Value, hi: int) -> ir.Value:
    v = ltypes.intrinsic(b, "smax", [v, i64(0)], I64)
    return ltypes.intrinsic(b, "smin", [v, i64(max(hi, 0))], I64)


def _read_index(em: Emitter, indices: Atom, batch: Sequence[Callable[[], ir.Value]],
                column: int) -> ir.Value:
    """``indices[batch..., column]`` as i64 (sign- or zero-extended from its dtype)."""
    b = em.b
    dims = [*batch, (lambda: i64(column))]
    v = em.emit(indices, Index(b, indices.type.shape, dims))
    dt = indices.type.dtype
    if v.type.width < 64:
        return b.sext(v, I64) if dtypes.is_signed(dt) else b.zext(v, I64)
    if not dtypes.is_signed(dt):
        # A u64 above INT64_MAX is far out of bounds: make it a large positive value.
        return b.select(b.icmp_signed("<", v, i64(0)), i64(1 << 62), v)
    return v


def _starts(em: Emitter, indices: Atom, batch: Sequence[Callable[[], ir.Value]],
            operand_shape: Sequence[int], index_map: Sequence[int],
            operand_batching: Sequence[int], indices_batching: Sequence[int],
            extent: Sequence[int], clamp_only: bool) -> tuple[list, ir.Value]:
    """Per operand dim: the (clamped) window start, or None for 0; and the in-bounds flag."""
    b = em.b
    starts: list = [None] * len(operand_shape)
    ok: ir.Value = ir.Constant(I1, 1)
    for j, d in enumerate(index_map):
        s = _read_index(em, indices, batch, j)
        hi = operand_shape[d] - extent[d]
        if not clamp_only:
            ok = b.and_(ok, b.and_(b.icmp_signed(">=", s, i64(0)),
                                   b.icmp_signed("<=", s, i64(hi))))
        starts[d] = _clamp(b, s, hi)
    for od, idd in zip(operand_batching, indices_batching):
        starts[od] = batch[idd]()
    return starts, ok


# --- gather: an index map ------------------------------------------------------------------

def _gather_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    operand, indices = op.inputs
    dn = as_gather_dnums(op.params["dimension_numbers"])
    sizes = op.params["slice_sizes"]
    mode = _mode(op)
    b = em.b
    shape = operand.type.shape
    out_rank = op.outputs[0].type.ndim
    batch_pos = [p for p in range(out_rank) if p not in dn.offset_dims]
    batch = [(lambda p=p: index.dim(p)) for p in batch_pos]
    fill = mode is GatherScatterMode.FILL_OR_DROP
    starts, ok = _starts(em, indices, batch, shape, dn.start_index_map, dn.operand_batching_dims,
                         dn.start_indices_batching_dims, sizes, clamp_only=not fill)
    window = [d for d in range(len(shape))
              if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    dims: list = []
    for d in range(len(shape)):
        w = None
        if d in window:
            pos = dn.offset_dims[window.index(d)]
            w = lambda p=pos: index.dim(p)  # noqa: E731
        s = starts[d]
        if s is None:
            dims.append(w if w is not None else (lambda: i64(0)))
        elif w is None:
            dims.append(lambda s=s: s)
        else:
            dims.append(lambda s=s, w=w: b.add(s, w(), flags=["nuw", "nsw"]))
    carries = INDEX_RULES[op.prim].carries(op, index.group_size)
    v = em.emit(operand, index.derive(shape, dims, carries))
    if not fill:
        return v
    value = op.params.get("fill_value")
    dtype = operand.type.dtype
    if value is None:
        value = default_fill_value(dtype)
    with np.errstate(invalid="ignore"):
        constant = ltypes.const(dtype, np.asarray(value).astype(dtype))
    return ltypes.select(b, ok, v, constant)


def _gather_same(op: Op) -> dict[int, int]:
    """Output dim -> operand dim for windows spanning their whole operand dim.

    Such a window's start clamps to 0, so the output dim indexes the operand dim
    unchanged (in FILL mode too: the load uses the clamped start).
    """
    operand = op.inputs[0].type
    dn = as_gather_dnums(op.params["dimension_numbers"])
    sizes = op.params["slice_sizes"]
    window = [d for d in range(operand.ndim)
              if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    return {p: d for p, d in zip(dn.offset_dims, window) if sizes[d] == operand.shape[d]}


def _gather_carries(op: Op, n: int) -> bool:
    shape = op.outputs[0].type.shape
    k = identity_suffix(shape, op.inputs[0].type.shape, _gather_same(op))
    return n <= math.prod(shape[len(shape) - k:])


INDEX_RULES[P.gather] = IndexRule(_gather_emit, _gather_carries)


# --- scatters: a serial loop over the updates ----------------------------------------------

def _combiner(prim) -> Callable[[ir.IRBuilder, ir.Value, ir.Value, TensorType], ir.Value]:
    if prim is P.scatter:
        return lambda b, old, new, t: new
    elementwise = {P.scatter_add: P.add, P.scatter_sub: P.sub, P.scatter_mul: P.mul,
                   P.scatter_min: P.min, P.scatter_max: P.max}[prim]
    rule = SCALAR_RULES[elementwise]

    def combine(b: ir.IRBuilder, old: ir.Value, new: ir.Value, t: TensorType) -> ir.Value:
        if dtypes.is_complex(t.dtype):
            from llax.codegen.complex_rules import emit as complex_emit

            return complex_emit(b, elementwise, [old, new], (t, t), t, {})
        if t.dtype == dtypes.float16:
            # As the elementwise rules (and NumPy's half loops): compute in f32, round once.
            f32 = t.with_dtype(np.float32)
            r = rule(b, [b.fpext(old, FLOAT), b.fpext(new, FLOAT)], (f32, f32), f32, {})
            return b.fptrunc(r, HALF)
        return rule(b, [old, new], (t, t), t, {})

    return combine


def _lower_scatter(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    operand, indices, updates = op.inputs
    (out,) = outs
    dn = as_scatter_dnums(op.params["dimension_numbers"])
    mode = _mode(op)
    t = op.outputs[0].type
    shape, ushape = t.shape, updates.type.shape
    if kb.buffer(operand) is not out:  # else in place (``aliases``): only updates are written
        kb.copy(operand, out)
    if t.size == 0 or updates.type.size == 0:
        return
    b = kb.b
    sources = {a: kb.buffer(a) for a in (operand, indices, updates) if not _is_literal(a)}
    em = kb.emitter([], sources)
    window = [d for d in range(len(shape))
              if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
    extent = [1] * len(shape)
    for pos, d in zip(dn.update_window_dims, window):
        extent[d] = ushape[pos]
    scatter_pos = [p for p in range(len(ushape)) if p not in dn.update_window_dims]
    combine = _combiner(op.prim)
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]
    group = ushape[-1] if ushape else 1

    def body(ivs: list[ir.Value]) -> None:
        uindex = loop_index(b, ushape, group, ivs)
        batch = [(lambda p=p: uindex.dim(p)) for p in scatter_pos]
        starts, ok = _starts(em, indices, batch, shape, dn.scatter_dims_to_operand_dims,
                             dn.operand_batching_dims, dn.scatter_indices_batching_dims,
                             extent, clamp_only=mode is GatherScatterMode.CLIP)
        linear: ir.Value = i64(0)
        for d in range(len(shape)):
            pos = starts[d] if starts[d] is not None else i64(0)
            if d in window:
                pos = b.add(pos, uindex.dim(dn.update_window_dims[window.index(d)]),
                            flags=["nuw", "nsw"])
            if shape[d] != 1:
                linear = b.add(linear, b.mul(pos, i64(strides[d]), flags=["nuw", "nsw"]),
                               flags=["nuw", "nsw"])
        addr = ltypes.element_ptr(b, out, t.dtype, linear) if shape else out
        old = ltypes.load(b, addr, t.dtype)
        new = combine(b, old, em.emit(updates, uindex), t)
        ltypes.store(b, ltypes.select(b, ok, new, old), addr, t.dtype)

    with em.scope():
        loop_nest(b, loop_shape(ushape, group), body)


def _is_literal(a: Atom) -> bool:
    from llax.ir.core import Literal

    return isinstance(a, Literal)


for _prim in P.SCATTERS:
    OPAQUE_RULES[_prim] = _lower_scatter
