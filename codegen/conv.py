"""Lowering of ``conv_general_dilated``: im2col blocks feeding BLAS ``gemm``.

The convolution of each feature group is one matrix product ``C = A B``:

- ``A`` (the patches): a row per output position ``(n, p...)``, a column per filter tap
  and input feature ``(k..., c)``: the input element under that tap, or 0 where the tap
  falls on padding or on a hole of the input's dilation;
- ``B`` (the filter): ``(k..., c)`` by the group's output features. A filter stored as
  ``(spatial..., in, out)`` (HWIO) with one group already is that matrix; any other is
  packed once per call;
- ``C``: the output rows. An output stored as ``(batch, spatial..., feature)`` (NHWC)
  receives them in place (``ldc`` spans all groups' features); any other layout gets them
  through a block-sized buffer and a strided copy.

``A`` is never formed whole: blocks of ``ROWS_BYTES`` of it are filled and multiplied in
turn, so the patches stay in cache, and the blocks are shared out over llax's thread pool
(the BLAS instance is single-threaded, codegen/blas.py). Copying a tap's input features is
a unit-stride loop when the input stores features last (NHWC).

Other element types (integers, half precision, complex) and batch groups call the NumPy
reference (llax.codegen.numpy_routines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import llvmlite.ir as ir
import numpy as np

from llax.codegen import blas, ltypes, parallel
from llax.codegen.emitter import suffix_products
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.codegen.ltypes import I1, I32, i64
from llax.codegen.numpy_routines import lower_by_reference
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.prims.convolution import as_conv_dnums

# Bytes of patches per block: 256 KiB stay in L2 while gemm reads them (8x56x56x64 with a
# 3x3 filter: 28.9 ms at 1 MiB, 26.4 at 256 KiB, 27.3 at 64 KiB on one core).
ROWS_BYTES = 1 << 18
# Below this many multiply-adds a convolution stays on the calling thread.
PARALLEL_MIN_FLOPS = 1 << 22
_GEMM = {dtypes.float32: "sgemm", dtypes.float64: "dgemm"}


@dataclass(frozen=True)
class _Conv:
    """A convolution's sizes and the element strides of each logical axis."""

    dtype: np.dtype
    batch: int
    groups: int
    in_features: int  # per group
    out_features: int  # per group
    in_sizes: tuple[int, ...]
    kernel: tuple[int, ...]
    out_sizes: tuple[int, ...]
    strides: tuple[int, ...]
    lhs_dilation: tuple[int, ...]
    rhs_dilation: tuple[int, ...]
    pad_lo: tuple[int, ...]
    lhs: tuple[int, ...]  # element strides: batch, feature, spatial...
    rhs: tuple[int, ...]  # out feature, in feature, spatial...
    out: tuple[int, ...]  # batch, feature, spatial...

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    @property
    def depth(self) -> int:
        """Columns of A: taps times the group's input features."""
        return self.taps * self.in_features

    @property
    def rows(self) -> int:
        return self.batch * math.prod(self.out_sizes)

    @property
    def filter_is_matrix(self) -> bool:
        """Is the filter stored as B, (spatial..., in, out) row-major, one group?"""
        b = self.rhs
        taps_strides = suffix_products(self.kernel)[1:]
        return (self.groups == 1 and b[0] == 1 and b[1] == self.out_features
                and all(s == t * self.in_features * self.out_features
                        for s, t, k in zip(b[2:], taps_strides, self.kernel) if k != 1))

    @property
    def output_is_rows(self) -> bool:
        """Is the output stored as (batch, spatial..., feature) row-major?"""
        o, features = self.out, self.groups * self.out_features
        row = suffix_products(self.out_sizes)
        return o[1] == 1 and all(s == r * features for s, r, n in
                                 zip(o[2:], row[1:], self.out_sizes) if n != 1) and (
            self.batch == 1 or o[0] == row[0] * features)


def _geometry(op: Op) -> _Conv | None:
    """The convolution ``op`` computes, or None when it is not one for gemm."""
    lhs, rhs = op.inputs
    out = op.outputs[0]
    p = op.rule_params
    dtype = np.dtype(lhs.type.dtype)
    if (dtype not in _GEMM or out.type.dtype != dtype or p["batch_group_count"] != 1
            or not blas.available() or not blas.register().has(_GEMM[dtype])):
        return None
    dn = as_conv_dnums(p["dimension_numbers"])

    def strides(shape: tuple[int, ...], spec: tuple[int, ...]) -> tuple[int, ...]:
        sp = suffix_products(shape)
        return tuple(sp[a + 1] for a in spec)

    groups = p["feature_group_count"]
    geometry = _Conv(
        dtype=dtype, batch=lhs.type.shape[dn.lhs_spec[0]], groups=groups,
        in_features=rhs.type.shape[dn.rhs_spec[1]],
        out_features=rhs.type.shape[dn.rhs_spec[0]] // groups,
        in_sizes=tuple(lhs.type.shape[a] for a in dn.lhs_spec[2:]),
        kernel=tuple(rhs.type.shape[a] for a in dn.rhs_spec[2:]),
        out_sizes=tuple(out.type.shape[a] for a in dn.out_spec[2:]),
        strides=tuple(p["window_strides"]), lhs_dilation=tuple(p["lhs_dilation"]),
        rhs_dilation=tuple(p["rhs_dilation"]), pad_lo=tuple(lo for lo, _ in p["padding"]),
        lhs=strides(lhs.type.shape, dn.lhs_spec), rhs=strides(rhs.type.shape, dn.rhs_spec),
        out=strides(out.type.shape, dn.out_spec))
    if geometry.rows == 0 or geometry.out_features == 0 or geometry.depth == 0:
        return None  # nothing to multiply: the reference fills what there is
    return geometry


def _mul(b: ir.IRBuilder, x: ir.Value, k: int) -> ir.Value:
    return b.mul(x, i64(k), flags=["nsw"])


def _add(b: ir.IRBuilder, *xs: ir.Value) -> ir.Value:
    total = xs[0]
    for x in xs[1:]:
        total = b.add(total, x, flags=["nsw"])
    return total


def _pack_filter(kb: KernelBuilder, g: _Conv, rhs: ir.Value) -> ir.Value:
    """B for every group, ``(groups, taps, in, out)`` row-major, in a new buffer."""
    b, dt = kb.b, g.dtype
    packed = ltypes.heap_alloc(b, g.groups * g.depth * g.out_features * dt.itemsize)

    def element(ivs: list[ir.Value]) -> None:
        grp, *taps, c, o = ivs
        src = _add(b, _mul(b, _add(b, _mul(b, grp, g.out_features), o), g.rhs[0]),
                   _mul(b, c, g.rhs[1]), *(_mul(b, k, s) for k, s in zip(taps, g.rhs[2:])))
        tap = i64(0)
        for k, n in zip(taps, g.kernel):
            tap = _add(b, _mul(b, tap, n), k)
        dst = _add(b, _mul(b, _add(b, _mul(b, grp, g.taps), tap), g.in_features * g.out_features),
                   _mul(b, c, g.out_features), o)
        ltypes.store(b, ltypes.load(b, ltypes.element_ptr(b, rhs, dt, src), dt),
                     ltypes.element_ptr(b, packed, dt, dst), dt)

    loop_nest(b, [g.groups, *g.kernel, g.in_features, g.out_features], element, name="f")
    return packed


def _fill_patches(b: ir.IRBuilder, g: _Conv, lhs: ir.Value, patches: ir.Value,
                  first: ir.Value, count: ir.Value, group: ir.Value) -> None:
    """Rows ``first .. first + count`` of group ``group``'s A into ``patches``."""
    dt = g.dtype
    zero = ltypes.const(dt, 0)
    channel0 = _mul(b, group, g.in_features * g.lhs[1])

    def row(i: ir.Value, _: list) -> list:
        m = b.add(first, i)
        positions = []
        for n in reversed(g.out_sizes):  # (n, p...) from the row number, last axis first
            positions.append(b.urem(m, i64(n)))
            m = b.udiv(m, i64(n))
        positions.reverse()
        base = _add(b, _mul(b, m, g.lhs[0]), channel0)
        dst_row = _mul(b, i, g.depth)

        def tap(ks: list[ir.Value]) -> None:
            valid = ir.Constant(I1, 1)
            offset = base
            tap_index = i64(0)
            for d, (k, p) in enumerate(zip(ks, positions)):
                tap_index = _add(b, _mul(b, tap_index, g.kernel[d]), k)
                at = b.sub(_add(b, _mul(b, p, g.strides[d]), _mul(b, k, g.rhs_dilation[d])),
                           i64(g.pad_lo[d]))
                ld = g.lhs_dilation[d]
                inside = b.icmp_signed(">=", at, i64(0))
                if ld > 1:  # a tap on a hole of the dilated input reads 0
                    inside = b.and_(inside, b.icmp_signed("==", b.srem(at, i64(ld)), i64(0)))
                    at = b.sdiv(at, i64(ld))
                inside = b.and_(inside, b.icmp_signed("<", at, i64(g.in_sizes[d])))
                valid = b.and_(valid, inside)
                offset = _add(b, offset, _mul(b, at, g.lhs[2 + d]))
            dst = ltypes.element_ptr(b, patches, dt,
                                     _add(b, dst_row, _mul(b, tap_index, g.in_features)))
            with b.if_else(valid) as (then, otherwise):
                with then:
                    src = ltypes.element_ptr(b, lhs, dt, offset)

                    def copy(c: ir.Value, _: list) -> list:
                        value = ltypes.load(b, ltypes.element_ptr(b, src, dt,
                                                                  _mul(b, c, g.lhs[1])), dt)
                        ltypes.store(b, value, ltypes.element_ptr(b, dst, dt, c), dt)
                        return []

                    for_range(b, g.in_features, copy, name="c")
                with otherwise:
                    for_range(b, g.in_features, lambda c, _: (ltypes.store(
                        b, zero, ltypes.element_ptr(b, dst, dt, c), dt), [])[1], name="z")

        loop_nest(b, list(g.kernel), tap, name="k")
        return []

    for_range(b, count, row, name="row")


def _scatter_rows(b: ir.IRBuilder, g: _Conv, rows: ir.Value, out: ir.Value, first: ir.Value,
                  count: ir.Value, group: ir.Value) -> None:
    """The block's C (``count`` x group features) into the output's own layout."""
    dt = g.dtype

    def row(i: ir.Value, _: list) -> list:
        m = b.add(first, i)
        offset = _mul(b, group, g.out_features * g.out[1])
        for n, s in zip(reversed(g.out_sizes), reversed(g.out[2:])):
            offset = _add(b, offset, _mul(b, b.urem(m, i64(n)), s))
            m = b.udiv(m, i64(n))
        offset = _add(b, offset, _mul(b, m, g.out[0]))

        def feature(o: ir.Value, _: list) -> list:
            value = ltypes.load(b, ltypes.element_ptr(
                b, rows, dt, _add(b, _mul(b, i, g.out_features), o)), dt)
            ltypes.store(b, value, ltypes.element_ptr(
                b, out, dt, _add(b, offset, _mul(b, o, g.out[1]))), dt)
            return []

        for_range(b, g.out_features, feature, name="o")
        return []

    for_range(b, count, row, name="row")


def _lower_conv(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    g = _geometry(op)
    if g is None:
        lower_by_reference(kb, op, outs)
        return
    b, dt = kb.b, g.dtype
    lhs, rhs = (kb.buffer(x) for x in op.inputs)
    (out,) = outs
    filters = rhs if g.filter_is_matrix else _pack_filter(kb, g, rhs)
    block = max(1, min(g.rows, ROWS_BYTES // (g.depth * dt.itemsize)))
    blocks = -(-g.rows // block)
    gemm = blas.declare(kb.module, _GEMM[dt])
    direct = g.output_is_rows
    ldc = g.groups * g.out_features if direct else g.out_features

    def run(bld: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        x, w, y = values
        patches = ltypes.heap_alloc(bld, block * g.depth * dt.itemsize)
        staging = None if direct else ltypes.heap_alloc(bld, block * g.out_features
                                                        * dt.itemsize)

        def each_block(j: ir.Value, _: list) -> list:
            first = _mul(bld, bld.add(lo, j), block)
            count = ltypes.intrinsic(bld, "smin", [i64(block), bld.sub(i64(g.rows), first)],
                                     ltypes.I64)

            def each_group(grp: ir.Value, _: list) -> list:
                _fill_patches(bld, g, x, patches, first, count, grp)
                b_ptr = ltypes.element_ptr(bld, w, dt, _mul(bld, grp, g.depth * g.out_features))
                if direct:
                    c_ptr = ltypes.element_ptr(bld, y, dt, _add(
                        bld, _mul(bld, first, ldc), _mul(bld, grp, g.out_features)))
                else:
                    c_ptr = staging
                one, zero = ir.Constant(ltypes.reg_type(dt), 1.0), ir.Constant(
                    ltypes.reg_type(dt), 0.0)
                bld.call(gemm, [ir.Constant(I32, blas.ROW_MAJOR), ir.Constant(I32, blas.NO_TRANS),
                                ir.Constant(I32, blas.NO_TRANS), count, i64(g.out_features),
                                i64(g.depth), one, patches, i64(g.depth), b_ptr,
                                i64(g.out_features), zero, c_ptr, i64(ldc)])
                if not direct:
                    _scatter_rows(bld, g, staging, y, first, count, grp)
                return []

            for_range(bld, g.groups, each_group, name="grp")
            return []

        for_range(bld, bld.sub(hi, lo), each_block, name="blk")
        ltypes.heap_free(bld, patches)
        if staging is not None:
            ltypes.heap_free(bld, staging)

    flops = g.rows * g.depth * g.out_features * g.groups
    if blocks > 1 and parallel.threads() > 1 and flops >= PARALLEL_MIN_FLOPS:
        parallel.emit_parallel(b, blocks, [lhs, filters, out], run, align=1)
    else:
        run(b, [lhs, filters, out], i64(0), i64(blocks))
    if filters is not rhs:
        ltypes.heap_free(b, filters)


OPAQUE_RULES[P.conv_general_dilated] = _lower_conv
