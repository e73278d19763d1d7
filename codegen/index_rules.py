"""Index-map rules: an op's value at an output index, from its operands at mapped indices.

``RULES[prim]`` is an ``IndexRule``:

- ``emit(em, op, index)`` returns the op's value at ``index`` by asking the
  emitter for operand values at indices computed from ``index`` (broadcast drops
  or zeroes dims, transpose permutes, slice scales and offsets, pad and
  concatenate select between clamped in-bounds loads, iota is the index itself);
- ``carries(op, n)`` says the map keeps the row-major layout of the last ``n``
  output elements (then a coalesced inner loop passes through unsplit).

Out-of-range positions (padding, the other operands of a concatenation) still
load, from a clamped in-bounds index, and are discarded by a select: that keeps
the loop body branch-free so it vectorises, and never reads outside a buffer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import llvmlite.ir as ir

from llax.codegen import ltypes
from llax.codegen.emitter import Emitter, Index, group_start
from llax.codegen.ltypes import I1, I64, i64
from llax.codegen.scalar_rules import convert
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.primitive import Primitive


class IndexRule(NamedTuple):
    emit: Callable[[Emitter, Op, Index], ir.Value]
    carries: Callable[[Op, int], bool]


RULES: dict[Primitive, IndexRule] = {}


def identity_suffix(out_shape: Sequence[int], in_shape: Sequence[int],
                    same: dict[int, int]) -> int:
    """How many trailing output dims lay out like the operand's trailing dims.

    ``same[d] = i`` says operand dim ``i`` is indexed by output dim ``d`` unchanged
    (and has its size). Size-1 dims never matter to the layout.
    """
    in_nonunit = [i for i, n in enumerate(in_shape) if n != 1]
    j = len(in_nonunit) - 1
    k = 0
    for d in range(len(out_shape) - 1, -1, -1):
        if out_shape[d] == 1:
            k += 1
        elif j >= 0 and same.get(d) == in_nonunit[j] and in_shape[in_nonunit[j]] == out_shape[d]:
            k += 1
            j -= 1
        else:
            break
    return k


def _carries_within(op: Op, n: int, k: int) -> bool:
    """A group of ``n`` elements passes if it lies within the last ``k`` output dims."""
    shape = op.outputs[0].type.shape
    return n <= math.prod(shape[len(shape) - k:])


def _carries(op: Op, index: Index) -> bool:
    """Does ``op`` pass ``index``'s coalesced group through to its operand?"""
    return RULES[op.prim].carries(op, index.group_size)


def _clamp(b: ir.IRBuilder, v: ir.Value, lo: int, hi: int) -> ir.Value:
    v = ltypes.intrinsic(b, "smax", [v, i64(lo)], I64)
    return ltypes.intrinsic(b, "smin", [v, i64(hi)], I64)


def _dim(index: Index, d: int) -> Callable[[], ir.Value]:
    return lambda: index.dim(d)


def _suffix_rule(emit: Callable[[Emitter, Op, Index], ir.Value],
                 same: Callable[[Op], dict[int, int]]) -> IndexRule:
    """A rule whose operand 0 is indexed unchanged along the output dims in ``same(op)``."""

    def carries(op: Op, n: int) -> bool:
        x = op.inputs[0].type.shape
        return _carries_within(op, n, identity_suffix(op.outputs[0].type.shape, x, same(op)))

    return IndexRule(emit, carries)


# broadcast_in_dim: operand dim i is output dim bd[i] (always 0 where the operand has size 1).
def _broadcast_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    (x,) = op.inputs
    bd = op.params["broadcast_dimensions"]
    dims = [_dim(index, d) for d in bd]
    return em.emit(x, index.derive(x.type.shape, dims, _carries(op, index)))


def _broadcast_same(op: Op) -> dict[int, int]:
    return {d: i for i, d in enumerate(op.params["broadcast_dimensions"])}


RULES[P.broadcast_in_dim] = _suffix_rule(_broadcast_emit, _broadcast_same)


def _decompose(b: ir.IRBuilder, linear: Callable[[], ir.Value],
               shape: Sequence[int]) -> list[Callable[[], ir.Value]]:
    """Row-major dims of ``shape`` from a linear index (computed only if asked for)."""
    out = []
    for d in range(len(shape)):
        inner, outer = math.prod(shape[d + 1:]), math.prod(shape[:d])

        def dim(d=d, inner=inner, outer=outer) -> ir.Value:
            v = linear()
            if inner > 1:
                v = b.udiv(v, i64(inner))
            if outer > 1:
                v = b.urem(v, i64(shape[d]))
            return v

        out.append(dim)
    return out


# reshape: the same row-major linear position.
def _reshape_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    (x,) = op.inputs
    shape = x.type.shape
    b = em.b
    if not shape:
        return em.emit(x, em.scalar)
    n = index.group_size
    start = group_start(shape, n) if index.group is not None else None
    if start is not None:
        # The group maps onto the operand's trailing block; the dims before it come
        # from the outer linear index (loop-invariant in the inner loop, so cheap).
        outer = _decompose(b, index.outer_linear, shape[:start])
        dims = outer + [None] * (len(shape) - start)
        return em.emit(x, Index(b, shape, dims, (start, index.group[1])))
    return em.emit(x, Index(b, shape, [None] * len(shape), (0, index.linear())))


def _reshape_carries(op: Op, n: int) -> bool:
    return group_start(op.inputs[0].type.shape, n) is not None


RULES[P.reshape] = IndexRule(_reshape_emit, _reshape_carries)


# transpose: operand dim perm[i] is output dim i.
def _transpose_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    (x,) = op.inputs
    perm = op.params["permutation"]
    dims: list = [None] * len(perm)
    for i, p in enumerate(perm):
        dims[p] = _dim(index, i)
    return em.emit(x, index.derive(x.type.shape, dims, _carries(op, index)))


RULES[P.transpose] = _suffix_rule(
    _transpose_emit, lambda op: dict(enumerate(op.params["permutation"])))


def _squeeze_map(op: Op) -> dict[int, int]:
    """Output dim -> operand dim for the dims squeeze keeps."""
    dropped = set(op.params["dimensions"])
    kept = [i for i in range(op.inputs[0].type.ndim) if i not in dropped]
    return dict(enumerate(kept))


def _squeeze_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    (x,) = op.inputs
    dims: list = [lambda: i64(0)] * x.type.ndim
    for d, i in _squeeze_map(op).items():
        dims[i] = _dim(index, d)
    return em.emit(x, index.derive(x.type.shape, dims, _carries(op, index)))


RULES[P.squeeze] = _suffix_rule(_squeeze_emit, _squeeze_map)


def _unchanged(op: Op, changed: Callable[[int], bool]) -> dict[int, int]:
    return {d: d for d in range(op.outputs[0].type.ndim) if not changed(d)}


# rev: n - 1 - i along the reversed dims.
def _rev_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    (x,) = op.inputs
    shape = x.type.shape
    rev = set(op.params["dimensions"])
    b = em.b
    dims = [(lambda d=d: b.sub(i64(shape[d] - 1), index.dim(d))) if d in rev else _dim(index, d)
            for d in range(len(shape))]
    return em.emit(x, index.derive(shape, dims, _carries(op, index)))


RULES[P.rev] = _suffix_rule(
    _rev_emit, lambda op: _unchanged(op, lambda d: d in op.params["dimensions"]))


# slice: start + i * stride.
def _slice_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    (x,) = op.inputs
    shape = x.type.shape
    starts = op.params["start_indices"]
    strides = op.params.get("strides") or (1,) * len(shape)
    b = em.b

    def dim(d: int) -> ir.Value:
        v = index.dim(d)
        if strides[d] != 1:
            v = b.mul(v, i64(strides[d]), flags=["nuw", "nsw"])
        return b.add(v, i64(starts[d]), flags=["nuw", "nsw"]) if starts[d] else v

    dims = [lambda d=d: dim(d) for d in range(len(shape))]
    return em.emit(x, index.derive(shape, dims, _carries(op, index)))


def _slice_same(op: Op) -> dict[int, int]:
    shape = op.inputs[0].type.shape
    starts, limits = op.params["start_indices"], op.params["limit_indices"]
    strides = op.params.get("strides") or (1,) * len(shape)
    return _unchanged(op, lambda d: (starts[d], limits[d], strides[d]) != (0, shape[d], 1))


RULES[P.slice] = _suffix_rule(_slice_emit, _slice_same)


def _start_index(em: Emitter, atom, size: int, window: int) -> ir.Value:
    """A dynamic start, read as i64 and clamped to [0, size - window] like the reference."""
    b = em.b
    v = em.emit(atom, em.scalar)
    dt = atom.type.dtype
    if v.type.width < 64:
        v = b.sext(v, I64) if dtypes.is_signed(dt) else b.zext(v, I64)
    elif not dtypes.is_signed(dt):
        # A u64 start above INT64_MAX is far out of range: clamp it as a huge value.
        v = b.select(b.icmp_signed("<", v, i64(0)), i64(size), v)
    return _clamp(b, v, 0, size - window)


def _dynamic_slice_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    x, *starts = op.inputs
    shape = x.type.shape
    sizes = op.params["slice_sizes"]
    b = em.b
    begin = [_start_index(em, s, n, k) if k != n else None
             for s, n, k in zip(starts, shape, sizes)]
    dims = [_dim(index, d) if begin[d] is None else
            (lambda d=d: b.add(begin[d], index.dim(d), flags=["nuw", "nsw"]))
            for d in range(len(shape))]
    return em.emit(x, index.derive(shape, dims, _carries(op, index)))


RULES[P.dynamic_slice] = _suffix_rule(
    _dynamic_slice_emit,
    lambda op: _unchanged(op, lambda d: op.params["slice_sizes"][d] != op.inputs[0].type.shape[d]))


# pad: a clamped load from the operand where the position holds one of its elements,
# else the padding value.
def _pad_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    x, value = op.inputs
    shape = x.type.shape
    b = em.b
    pad_value = em.emit(value, em.scalar)
    if x.type.size == 0:
        return pad_value
    valid: ir.Value = ir.Constant(I1, 1)
    dims: list = []
    for d, (lo, hi, interior) in enumerate(op.params["padding_config"]):
        n = shape[d]
        if (lo, hi, interior) == (0, 0, 0):
            dims.append(_dim(index, d))
            continue
        t = b.sub(index.dim(d), i64(lo))  # position relative to the operand's first element
        ok = b.icmp_signed(">=", t, i64(0))
        if interior:
            step = i64(interior + 1)
            ok = b.and_(ok, b.icmp_signed("==", b.srem(t, step), i64(0)))
            t = b.sdiv(t, step)
        ok = b.and_(ok, b.icmp_signed("<", t, i64(n)))
        valid = b.and_(valid, ok)
        dims.append(_clamp(b, t, 0, n - 1))
    v = em.emit(x, index.derive(shape, dims, _carries(op, index)))
    return ltypes.select(b, valid, v, pad_value)


RULES[P.pad] = _suffix_rule(_pad_emit, lambda op: _unchanged(
    op, lambda d: tuple(op.params["padding_config"][d]) != (0, 0, 0)))


# concatenate: the operand whose range holds the position along ``dimension``.
def _concatenate_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    c = op.params["dimension"]
    b = em.b
    pos = index.dim(c)
    carries = _carries(op, index)
    result, offset = None, 0
    for x in op.inputs:
        shape = x.type.shape
        n = shape[c]
        if n == 0:
            continue
        local = _clamp(b, b.sub(pos, i64(offset)), 0, n - 1)
        dims = [(lambda local=local: local) if d == c else _dim(index, d)
                for d in range(len(shape))]
        v = em.emit(x, index.derive(shape, dims, carries))
        result = v if result is None else ltypes.select(
            b, b.icmp_signed(">=", pos, i64(offset)), v, result)
        offset += n
    if result is None:  # every operand is empty, so is the output: never read
        return ltypes.const(op.outputs[0].type.dtype, 0)
    return result


def _concatenate_carries(op: Op, n: int) -> bool:
    shape = op.outputs[0].type.shape
    return _carries_within(op, n, len(shape) - 1 - op.params["dimension"])


RULES[P.concatenate] = IndexRule(_concatenate_emit, _concatenate_carries)


# iota: the index along ``dimension``, converted to the dtype.
def _iota_emit(em: Emitter, op: Op, index: Index) -> ir.Value:
    d = op.params["dimension"]
    return convert(em.b, index.dim(d), dtypes.int64, op.outputs[0].type.dtype)


def _iota_carries(op: Op, n: int) -> bool:
    shape = op.outputs[0].type.shape
    return _carries_within(op, n, len(shape) - 1 - op.params["dimension"])


RULES[P.iota] = IndexRule(_iota_emit, _iota_carries)
