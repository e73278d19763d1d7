"""Lowering of ``conv_general_dilated``: im2col blocks feeding a matrix-product kernel.

The convolution of each feature group is one matrix product ``C = A B``:

- ``A`` (the patches): a row per output position ``(n, p...)``, a column per filter tap
  and input feature ``(k..., c)``: the input element under that tap, or 0 where the tap
  falls on padding or on a hole of the input's dilation;
- ``B`` (the filter): ``(k..., c)`` by the group's output features, packed once per call
  into the column panels of llax's own kernel (codegen/gemm.py);
- ``C``: the output rows. An output stored as ``(batch, spatial..., feature)`` (NHWC)
  receives them in place (``ldc`` spans all groups' features); any other layout gets them
  through a block-sized buffer and a strided copy.

``A`` is never formed whole: blocks of ``ROWS_BYTES`` of it are filled and multiplied in
turn, so the patches stay in cache, and the blocks are shared out over llax's thread pool.
Copying a tap's input features is
a unit-stride loop when the input stores features last (NHWC).

A convolution with fewer output positions than the product contracts over (a filter
gradient: the outputs are filter taps, the sum runs over every image position) is turned
around instead, with BLAS's ``gemm`` (codegen/blas.py): ``out = L^T R`` with ``L`` a row
per (input feature, tap) and a column per (output position, batch), ``R`` the filter as
(input feature, tap) by output features. Blocks of ``L`` are filled and multiplied in
turn, each part of the contraction into its own sum (one per thread), and the parts are
added at the end. For the NHWC filter gradient the filter operand (the forward's output
cotangent) already is ``R`` and the batch of ``L``'s columns is the input's contiguous
feature axis.

Other element types (integers, half precision, complex) and batch groups call the NumPy
reference (llax.codegen.numpy_routines).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import llvmlite.ir as ir
import numpy as np

from llax.codegen import blas, gemm, ltypes, parallel
from llax.codegen.emitter import Emitter, Index, suffix_products
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.lower import EPILOGUE_RULES, OPAQUE_RULES, KernelBuilder, local_values
from llax.codegen.ltypes import I1, I32, i64
from llax.codegen.numpy_routines import lower_by_reference
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Atom, Literal, Op, Var
from llax.ir.prims.convolution import as_conv_dnums

# Bytes of patches per block: small enough to stay in L2 beside gemm's packed panels. On
# the 2-core dev machine 64 KiB to 1 MiB ran within noise of each other (8x56x56x64 by
# 3x3x64x64: 12-15 ms, about what NumPy's threaded sgemm takes for the whole im2col matrix).
ROWS_BYTES = 1 << 17
# Below this many multiply-adds a convolution stays on the calling thread.
PARALLEL_MIN_FLOPS = 1 << 22
_GEMM = {dtypes.float32: "sgemm", dtypes.float64: "dgemm"}


def _blas_gemm(dtype: np.dtype) -> bool:
    """Is BLAS's gemm there for the turned-around product?"""
    return blas.available() and blas.register().has(_GEMM[dtype])


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
    if dtype not in gemm.DTYPES or out.type.dtype != dtype or p["batch_group_count"] != 1:
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
    """B for every group in the panels ``gemm`` reads: per group and panel of
    ``panel_width`` output features, the ``(k..., c)`` rows of those features, zero past
    the group's last feature."""
    b, dt = kb.b, g.dtype
    width = gemm.panel_width(dt)
    panels = -(-g.out_features // width)
    nbytes = g.groups * panels * g.depth * width * dt.itemsize
    packed = ltypes.heap_alloc(b, nbytes)
    if g.out_features % width:
        _zero(b, packed, nbytes)

    def element(ivs: list[ir.Value]) -> None:
        grp, *taps, c, o = ivs
        src = _add(b, _mul(b, _add(b, _mul(b, grp, g.out_features), o), g.rhs[0]),
                   _mul(b, c, g.rhs[1]), *(_mul(b, k, s) for k, s in zip(taps, g.rhs[2:])))
        row = _add(b, _mul(b, _flatten(b, taps, g.kernel), g.in_features), c)
        panel = _add(b, _mul(b, grp, panels), b.udiv(o, i64(width)))
        dst = _add(b, _mul(b, _add(b, _mul(b, panel, g.depth), row), width),
                   b.urem(o, i64(width)))
        ltypes.store(b, ltypes.load(b, ltypes.element_ptr(b, rhs, dt, src), dt),
                     ltypes.element_ptr(b, packed, dt, dst), dt)

    loop_nest(b, [g.groups, *g.kernel, g.in_features, g.out_features], element, name="f")
    return packed


def _unflatten(b: ir.IRBuilder, flat: ir.Value, sizes: tuple[int, ...]
               ) -> tuple[list[ir.Value], ir.Value]:
    """The row-major indices over ``sizes`` of ``flat``'s trailing part, and what is left
    of it (the index along the axes before them)."""
    indices = []
    for n in reversed(sizes):
        indices.append(b.urem(flat, i64(n)))
        flat = b.udiv(flat, i64(n))
    return indices[::-1], flat


def _flatten(b: ir.IRBuilder, indices: list[ir.Value], sizes: tuple[int, ...]) -> ir.Value:
    flat = i64(0)
    for i, n in zip(indices, sizes):
        flat = _add(b, _mul(b, flat, n), i)
    return flat


def _source(b: ir.IRBuilder, g: _Conv, positions: list[ir.Value], taps: list[ir.Value],
            base: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(inside?, element offset from ``base``) of the input under ``taps`` at output
    ``positions``."""
    valid: ir.Value = ir.Constant(I1, 1)
    offset = base
    for d, (p, k) in enumerate(zip(positions, taps)):
        inside, at = _input_index(b, g, d, p, k)
        valid = b.and_(valid, inside)
        offset = _add(b, offset, _mul(b, at, g.lhs[2 + d]))
    return valid, offset


def _input_index(b: ir.IRBuilder, g: _Conv, d: int, position: ir.Value, tap: ir.Value
                 ) -> tuple[ir.Value, ir.Value]:
    """(inside?, index along spatial axis ``d`` of the input) of ``tap`` at output
    ``position``: a tap on padding or on a hole of the input's dilation is outside."""
    at = b.sub(_add(b, _mul(b, position, g.strides[d]), _mul(b, tap, g.rhs_dilation[d])),
               i64(g.pad_lo[d]))
    inside = b.icmp_signed(">=", at, i64(0))
    dilation = g.lhs_dilation[d]
    if dilation > 1:
        inside = b.and_(inside, b.icmp_signed("==", b.srem(at, i64(dilation)), i64(0)))
        at = b.sdiv(at, i64(dilation))
    return b.and_(inside, b.icmp_signed("<", at, i64(g.in_sizes[d]))), at


def _copy_or_zero(b: ir.IRBuilder, dt: np.dtype, valid: ir.Value, src: ir.Value, stride: int,
                  dst: ir.Value, count: int) -> None:
    """``dst[:count]`` = ``src[::stride][:count]`` if ``valid``, else zeros. A unit stride is
    a ``memcpy``/``memset``: as fast as a vectorised loop, and nothing for LLVM to vectorise
    (the loops cost compile time on every convolution)."""
    nbytes = i64(count * dt.itemsize)
    with b.if_else(valid) as (then, otherwise):
        with then:
            if stride == 1:
                ltypes.intrinsic(b, "memcpy", [dst, src, nbytes, ir.Constant(I1, 0)],
                                 ir.VoidType(), [ltypes.PTR, ltypes.PTR, ltypes.I64])
            else:
                for_range(b, count, lambda c, _: (ltypes.store(b, ltypes.load(
                    b, ltypes.element_ptr(b, src, dt, _mul(b, c, stride)), dt),
                    ltypes.element_ptr(b, dst, dt, c), dt), [])[1], name="c")
        with otherwise:
            ltypes.intrinsic(b, "memset", [dst, ir.Constant(ir.IntType(8), 0), nbytes,
                                           ir.Constant(I1, 0)], ir.VoidType(),
                             [ltypes.PTR, ltypes.I64])


def _fill_patches(b: ir.IRBuilder, g: _Conv, lhs: ir.Value, patches: ir.Value,
                  first: ir.Value, count: ir.Value, group: ir.Value) -> None:
    """Rows ``first .. first + count`` of group ``group``'s A into ``patches``."""
    dt = g.dtype
    channel0 = _mul(b, group, g.in_features * g.lhs[1])

    def row(i: ir.Value, _: list) -> list:
        positions, n = _unflatten(b, b.add(first, i), g.out_sizes)
        base = _add(b, _mul(b, n, g.lhs[0]), channel0)
        dst_row = _mul(b, i, g.depth)

        def tap(ks: list[ir.Value]) -> None:
            valid, offset = _source(b, g, positions, ks, base)
            column = _mul(b, _flatten(b, ks, g.kernel), g.in_features)
            _copy_or_zero(b, dt, valid, ltypes.element_ptr(b, lhs, dt, offset), g.lhs[1],
                          ltypes.element_ptr(b, patches, dt, _add(b, dst_row, column)),
                          g.in_features)

        loop_nest(b, list(g.kernel), tap, name="k")
        return []

    for_range(b, count, row, name="row")


def _scatter_rows(b: ir.IRBuilder, g: _Conv, rows: ir.Value, out: ir.Value, first: ir.Value,
                  count: ir.Value, group: ir.Value) -> None:
    """The block's C (``count`` x group features) into the output's own layout."""
    dt = g.dtype

    def row(i: ir.Value, _: list) -> list:
        positions, n = _unflatten(b, b.add(first, i), g.out_sizes)
        offset = _add(b, _mul(b, group, g.out_features * g.out[1]), _mul(b, n, g.out[0]),
                      *(_mul(b, p, s) for p, s in zip(positions, g.out[2:])))

        def feature(o: ir.Value, _: list) -> list:
            value = ltypes.load(b, ltypes.element_ptr(
                b, rows, dt, _add(b, _mul(b, i, g.out_features), o)), dt)
            ltypes.store(b, value, ltypes.element_ptr(
                b, out, dt, _add(b, offset, _mul(b, o, g.out[1]))), dt)
            return []

        for_range(b, g.out_features, feature, name="o")
        return []

    for_range(b, count, row, name="row")


def _turned(g: _Conv) -> bool:
    """Is the product better turned around (a filter gradient's shape)?"""
    return g.groups == 1 and g.rows < g.depth and _blas_gemm(g.dtype)


def _lower_conv(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    g = _geometry(op)
    if g is None:
        lower_by_reference(kb, op, outs)
    elif _turned(g):
        _lower_turned(kb, op, outs, g)
    else:
        lhs, rhs = (kb.buffer(x) for x in op.inputs)
        _lower_patches(kb, g, lhs, rhs, outs[0])


@dataclass
class _Epilogue:
    """Elementwise ops applied to each block of output rows as the products land in
    ``results``' buffer of the convolution's own type (an epilogue region)."""

    value: Var  # the convolution's output, read by ``ops``
    ops: Sequence[Op]
    sources: dict
    results: Sequence[tuple[Atom, ir.Value]]
    literal_ptr: Callable[[Literal], ir.Value]
    axes: tuple[int, ...]  # logical axes of the output's batch, feature, spatial...

    def apply(self, b: ir.IRBuilder, g: _Conv, pointers: dict[int, ir.Value],
              rows_ptr: ir.Value, first: ir.Value, count: ir.Value) -> None:
        """Rows ``first .. first + count`` of every result (``pointers`` maps the kernel's
        pointers to the outlined loop's)."""
        sources = {k: pointers.get(id(v), v) for k, v in self.sources.items()}
        sources[self.value] = rows_ptr
        results = [(a, pointers.get(id(p), p)) for a, p in self.results if a is not self.value]
        em = Emitter(b, self.ops, sources, self.literal_ptr)
        shape = self.value.type.shape

        def row(i: ir.Value, _: list) -> list:
            positions, n = _unflatten(b, b.add(first, i), g.out_sizes)

            def feature(f: ir.Value, _: list) -> list:
                dims: list[ir.Value] = [i64(0)] * len(shape)
                for axis, v in zip(self.axes, [n, f, *positions]):
                    dims[axis] = v
                index = Index(b, shape, dims)
                with em.scope():
                    for atom, ptr in results:
                        em.store(em.emit(atom, index), ptr, atom.type.dtype, index)
                return []

            for_range(b, g.groups * g.out_features, feature, name="ep")
            return []

        for_range(b, count, row, name="row")


def _lower_with_epilogue(kb: KernelBuilder, op: Op, ops: Sequence[Op], sources: dict,
                         results: Sequence[tuple[Atom, ir.Value]]) -> bool:
    """The patches path with the epilogue applied per block (an NHWC-style output), else
    False (lower.EPILOGUE_RULES)."""
    g = _geometry(op)
    if g is None or not g.output_is_rows or _turned(g):
        return False
    # Rows land in the producer's own output when it is a result, else in any result of
    # its type (the epilogue reads each element before writing it).
    value = op.outputs[0]
    rows_ptr = next((p for a, p in results if a is value), None) or next(
        (p for a, p in results if a.type.dtype == g.dtype), None)
    if rows_ptr is None:
        return False
    lhs, rhs = (kb.buffer(a) if isinstance(a, Literal) else sources[a] for a in op.inputs)
    axes = as_conv_dnums(op.rule_params["dimension_numbers"]).out_spec
    epilogue = _Epilogue(value, ops, sources, results, kb.literal_ptr, tuple(axes))
    _lower_patches(kb, g, lhs, rhs, rows_ptr, epilogue)
    return True


def _compiled_for_size(b: ir.IRBuilder) -> None:
    """Mark the outlined worker ``b`` builds in as compiled for size. Its time goes to gemm
    and to memcpy; LLVM's loop optimisations would only add compile time."""
    if b.function.name.endswith("_worker"):
        for attr in ("noinline", "optsize", "minsize"):
            b.function.attributes.add(attr)


def _gemm_call(b: ir.IRBuilder, gemm: ir.Function, dt: np.dtype, trans_a: bool, m: ir.Value,
               n: int, k: ir.Value, a: ir.Value, lda: int, bm: ir.Value, ldb: int,
               beta: ir.Value, c: ir.Value, ldc: int) -> None:
    """``C = op(A) B + beta C``, row-major."""
    one = ir.Constant(ltypes.reg_type(dt), 1.0)
    b.call(gemm, [ir.Constant(I32, blas.ROW_MAJOR),
                  ir.Constant(I32, blas.TRANS if trans_a else blas.NO_TRANS),
                  ir.Constant(I32, blas.NO_TRANS), m, i64(n), k, one, a, i64(lda), bm,
                  i64(ldb), beta, c, i64(ldc)])


def _lower_patches(kb: KernelBuilder, g: _Conv, lhs: ir.Value, rhs: ir.Value, out: ir.Value,
                   epilogue: _Epilogue | None = None) -> None:
    """``C = A B`` per feature group, blocks of A's rows at a time (codegen.gemm), then
    the ``epilogue``'s ops over each block's rows."""
    b, dt = kb.b, g.dtype
    filters = _pack_filter(kb, g, rhs)
    group_panels = -(-g.out_features // gemm.panel_width(dt)) * gemm.panel_width(dt) * g.depth
    # Whole register tiles of rows per block: gemm reads A's rows in ROWS at a time.
    tiles = -(-g.rows // gemm.ROWS)
    block = gemm.ROWS * max(1, min(tiles, ROWS_BYTES // (g.depth * dt.itemsize * gemm.ROWS)))
    blocks = -(-g.rows // block)
    direct = g.output_is_rows
    ldc = g.groups * g.out_features if direct else g.out_features
    shared = [lhs, filters, out]
    if epilogue is not None:
        shared += [v for v in local_values(epilogue.sources, epilogue.results)
                   if not any(v is w for w in shared)]

    def run(bld: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        x, w, y = values[:3]
        if epilogue is None:  # (an epilogue's loop is worth vectorising)
            _compiled_for_size(bld)
        kernel = gemm.declare(bld.module, dt)
        patches = ltypes.heap_alloc(bld, block * g.depth * dt.itemsize)
        # The last block's rows past the end are read (and their products dropped): zeros.
        _zero(bld, patches, block * g.depth * dt.itemsize)
        staging = None if direct else ltypes.heap_alloc(bld, block * g.out_features
                                                        * dt.itemsize)

        def each_block(j: ir.Value, _: list) -> list:
            first = _mul(bld, bld.add(lo, j), block)
            count = ltypes.intrinsic(bld, "smin", [i64(block), bld.sub(i64(g.rows), first)],
                                     ltypes.I64)

            def each_group(grp: ir.Value, _: list) -> list:
                _fill_patches(bld, g, x, patches, first, count, grp)
                b_ptr = ltypes.element_ptr(bld, w, dt, _mul(bld, grp, group_panels))
                if direct:
                    c_ptr = ltypes.element_ptr(bld, y, dt, _add(
                        bld, _mul(bld, first, ldc), _mul(bld, grp, g.out_features)))
                else:
                    c_ptr = staging
                bld.call(kernel, [count, i64(g.out_features), i64(g.depth), patches,
                                  i64(g.depth), b_ptr, c_ptr, i64(ldc)])
                if not direct:
                    _scatter_rows(bld, g, staging, y, first, count, grp)
                return []

            for_range(bld, g.groups, each_group, name="grp")
            if epilogue is not None:
                epilogue.apply(bld, g, dict(zip(map(id, shared), values)), y, first, count)
            return []

        for_range(bld, bld.sub(hi, lo), each_block, name="blk")
        ltypes.heap_free(bld, patches)
        if staging is not None:
            ltypes.heap_free(bld, staging)

    flops = g.rows * g.depth * g.out_features * g.groups
    if blocks > 1 and parallel.threads() > 1 and flops >= PARALLEL_MIN_FLOPS:
        parallel.emit_parallel(b, blocks, shared, run, align=1)
    else:
        run(b, shared, i64(0), i64(blocks))
    ltypes.heap_free(b, filters)


def _zero(b: ir.IRBuilder, ptr: ir.Value, nbytes: int) -> None:
    ltypes.intrinsic(b, "memset", [ptr, ir.Constant(ir.IntType(8), 0), i64(nbytes),
                                   ir.Constant(I1, 0)], ir.VoidType(), [ltypes.PTR, ltypes.I64])


def _turned_filter(kb: KernelBuilder, g: _Conv, rhs: ir.Value) -> tuple[ir.Value, int, bool]:
    """R, (input feature, tap) by output feature: the filter itself when it is stored so
    (output features contiguous, rows a uniform stride apart), else a packed copy; returns
    (pointer, row stride, whether it is a copy to free)."""
    b, dt = kb.b, g.dtype
    taps = suffix_products(g.kernel)
    ld = g.rhs[1] // g.taps if g.taps and g.rhs[1] % g.taps == 0 else 0
    stored = (g.rhs[0] == 1 and ld >= g.out_features
              and all(s == ld * t for s, t, k in zip(g.rhs[2:], taps[1:], g.kernel) if k != 1))
    if stored:
        return rhs, ld, False
    packed = ltypes.heap_alloc(b, g.depth * g.out_features * dt.itemsize)

    def element(ivs: list[ir.Value]) -> None:
        f, *ts, o = ivs
        src = _add(b, _mul(b, o, g.rhs[0]), _mul(b, f, g.rhs[1]),
                   *(_mul(b, t, s) for t, s in zip(ts, g.rhs[2:])))
        row = _add(b, _mul(b, f, g.taps), _flatten(b, ts, g.kernel))
        ltypes.store(b, ltypes.load(b, ltypes.element_ptr(b, rhs, dt, src), dt),
                     ltypes.element_ptr(b, packed, dt, _add(b, _mul(b, row, g.out_features), o)),
                     dt)

    loop_nest(b, [g.in_features, *g.kernel, g.out_features], element, name="f")
    return packed, g.out_features, True


def _fill_turned(b: ir.IRBuilder, g: _Conv, lhs: ir.Value, block: ir.Value, first: ir.Value,
                 count: ir.Value) -> None:
    """Rows ``first .. first + count`` of L: per (input feature, tap), the input under
    that tap at every (output position, batch)."""
    dt, columns = g.dtype, g.rows

    def row(i: ir.Value, _: list) -> list:
        taps, feature = _unflatten(b, b.add(first, i), g.kernel)
        base = _mul(b, feature, g.lhs[1])
        dst_row = _mul(b, i, columns)

        def position(qs: list[ir.Value]) -> None:
            valid, offset = _source(b, g, qs, taps, base)
            column = _mul(b, _flatten(b, qs, g.out_sizes), g.batch)
            _copy_or_zero(b, dt, valid, ltypes.element_ptr(b, lhs, dt, offset), g.lhs[0],
                          ltypes.element_ptr(b, block, dt, _add(b, dst_row, column)), g.batch)

        loop_nest(b, list(g.out_sizes), position, name="q")
        return []

    for_range(b, count, row, name="row")


def _lower_turned(kb: KernelBuilder, op: Op, outs: list[ir.Value], g: _Conv) -> None:
    """``out = L^T R``, the contraction in blocks of L's rows, one partial sum per part."""
    b, dt = kb.b, g.dtype
    lhs, rhs = (kb.buffer(x) for x in op.inputs)
    (out,) = outs
    filters, ldr, packed = _turned_filter(kb, g, rhs)
    columns = g.rows
    block = max(1, min(g.depth, ROWS_BYTES // (columns * dt.itemsize)))
    blocks = -(-g.depth // block)
    flops = g.rows * g.depth * g.out_features
    parts = min(blocks, parallel.threads()) if flops >= PARALLEL_MIN_FLOPS else 1
    per_part = -(-blocks // parts)
    partial_size = columns * g.out_features
    sums = ltypes.heap_alloc(b, parts * partial_size * dt.itemsize)
    blas_gemm = blas.declare(kb.module, _GEMM[dt])

    def run(bld: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        x, w, acc = values
        _compiled_for_size(bld)
        rows = ltypes.heap_alloc(bld, block * columns * dt.itemsize)

        def each_part(p: ir.Value, _: list) -> list:
            part = bld.add(lo, p)
            partial = ltypes.element_ptr(bld, acc, dt, _mul(bld, part, partial_size))
            ltypes.intrinsic(bld, "memset", [partial, ir.Constant(ir.IntType(8), 0),
                                             i64(partial_size * dt.itemsize),
                                             ir.Constant(I1, 0)], ir.VoidType(),
                             [ltypes.PTR, ltypes.I64])

            def each_block(j: ir.Value, _: list) -> list:
                first = _mul(bld, _add(bld, _mul(bld, part, per_part), j), block)
                count = ltypes.intrinsic(bld, "smin", [i64(block), bld.sub(i64(g.depth),
                                                                           first)], ltypes.I64)
                with bld.if_then(bld.icmp_signed(">", count, i64(0))):
                    _fill_turned(bld, g, x, rows, first, count)
                    _gemm_call(bld, blas_gemm, dt, True, i64(columns), g.out_features, count, rows,
                               columns, ltypes.element_ptr(bld, w, dt, _mul(bld, first, ldr)),
                               ldr, ir.Constant(ltypes.reg_type(dt), 1.0), partial,
                               g.out_features)
                return []

            for_range(bld, per_part, each_block, name="blk")
            return []

        for_range(bld, bld.sub(hi, lo), each_part, name="part")
        ltypes.heap_free(bld, rows)

    if parts > 1:
        parallel.emit_parallel(b, parts, [lhs, filters, sums], run, align=1)
    else:
        run(b, [lhs, filters, sums], i64(0), i64(1))
    _add_parts(b, g, sums, parts, out)
    ltypes.heap_free(b, sums)
    if packed:
        ltypes.heap_free(b, filters)


def _add_parts(b: ir.IRBuilder, g: _Conv, sums: ir.Value, parts: int, out: ir.Value) -> None:
    """``out[batch, feature, position...]`` = the parts' sums, each (position, batch) by
    feature."""
    dt = g.dtype
    partial_size = g.rows * g.out_features

    def element(ivs: list[ir.Value]) -> None:
        *qs, n, o = ivs
        flat = _flatten(b, qs, g.out_sizes)
        at = _add(b, _mul(b, _add(b, _mul(b, flat, g.batch), n), g.out_features), o)
        total = ltypes.load(b, ltypes.element_ptr(b, sums, dt, at), dt)
        for p in range(1, parts):
            total = b.fadd(total, ltypes.load(b, ltypes.element_ptr(
                b, sums, dt, _add(b, at, i64(p * partial_size))), dt))
        dst = _add(b, _mul(b, n, g.out[0]), _mul(b, o, g.out[1]),
                   *(_mul(b, q, s) for q, s in zip(qs, g.out[2:])))
        ltypes.store(b, total, ltypes.element_ptr(b, out, dt, dst), dt)

    loop_nest(b, [*g.out_sizes, g.batch, g.out_features], element, name="sum")


OPAQUE_RULES[P.conv_general_dilated] = _lower_conv
EPILOGUE_RULES[P.conv_general_dilated] = _lower_with_epilogue
# (Not in lower.OUTLINED: with the convolutions on the side thread too, the CNN's first
# call took ~450 ms; with only the window ops there, ~350.)
