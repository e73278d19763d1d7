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
Elementwise ops fused after the convolution (an epilogue region, passes/fuse_epilogue.py)
run on each block's rows right after its product, while they are in cache. Copying a
tap's input features is one ``memcpy`` when the input stores features last (NHWC).

A convolution with fewer output positions than the product contracts over (a filter
gradient: the outputs are filter taps, the sum runs over every image position) is turned
around instead, with BLAS's ``gemm`` (codegen/blas.py): ``out = L^T R`` with ``L`` a row
per (input feature, tap) and a column per (output position, batch), ``R`` the filter as
(input feature, tap) by output features. Blocks of ``L`` are filled and multiplied in
turn, each part of the contraction into its own sum (one per thread), and the parts are
added at the end. For the NHWC filter gradient the filter operand (the forward's output
cotangent) already is ``R`` and the batch of ``L``'s columns is the input's contiguous
feature axis.

The loops themselves are compiled once per process (codegen/conv_kernels.py) and read
each convolution's sizes from a descriptor: a program's code for a convolution is a
descriptor, a few calls and its epilogue.

Other element types (integers, half precision, complex), batch groups and more than
``conv_kernels.SPATIAL`` spatial axes call the NumPy reference
(llax.codegen.numpy_routines).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import llvmlite.ir as ir
import numpy as np

from llax.codegen import blas, conv_kernels, gemm, ltypes, parallel, winograd
from llax.codegen.conv_kernels import flatten, unflatten
from llax.codegen.emitter import Emitter, Index, suffix_products
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.lower import (
    EPILOGUE_RULES,
    OPAQUE_RULES,
    OUTLINED,
    KernelBuilder,
    local_values,
)
from llax.codegen.ltypes import I1, i64
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

    def descriptor(self, block: int = 0) -> dict[str, int]:
        """The fields of ``conv_kernels.FIELDS`` (spatial axes padded to SPATIAL)."""
        pad = conv_kernels.SPATIAL - len(self.in_sizes)
        per_axis = {"in_size": self.in_sizes, "kernel": self.kernel, "out_size": self.out_sizes,
                    "stride": self.strides, "lhs_dilation": self.lhs_dilation,
                    "rhs_dilation": self.rhs_dilation}
        values = {f"{name}{d}": v for name, axis in per_axis.items()
                  for d, v in enumerate((*axis, *(1,) * pad))}
        values.update({f"pad_lo{d}": v for d, v in enumerate((*self.pad_lo, *(0,) * pad))})
        for name, strides, first in (("lhs", self.lhs, ("lhs_batch", "lhs_feature")),
                                     ("rhs", self.rhs, ("rhs_out", "rhs_in")),
                                     ("out", self.out, ("out_batch", "out_feature"))):
            values.update(zip(first, strides[:2]))
            values.update({f"{name}{d}": v for d, v in enumerate((*strides[2:], *(0,) * pad))})
        direct = self.output_is_rows
        values.update(batch=self.batch, groups=self.groups, in_features=self.in_features,
                      out_features=self.out_features, block=block, direct=int(direct),
                      ldc=self.groups * self.out_features if direct else self.out_features)
        return values

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
    if (dtype not in gemm.DTYPES or out.type.dtype != dtype or p["batch_group_count"] != 1
            or len(p["window_strides"]) > conv_kernels.SPATIAL):
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


def _turned(g: _Conv) -> bool:
    """Is the product better turned around (a filter gradient's shape)? Not when Winograd's
    algorithm applies: 8x14x14x256 by 3x3x256x256 took 39 ms turned, 10.5 by Winograd."""
    return g.groups == 1 and g.rows < g.depth and _blas_gemm(g.dtype) and not _winograd(g)


def _lower_conv(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    g = _geometry(op)
    if g is None:
        lower_by_reference(kb, op, outs)
    elif _turned(g):
        _lower_turned(kb, op, outs, g)
    else:
        lhs, rhs = (kb.buffer(x) for x in op.inputs)
        _lower_rows(kb, g, lhs, rhs, outs[0])


_epilogue_ids = itertools.count()


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

    def function(self, module: ir.Module, g: _Conv, shared: list[ir.Value],
                 rows_ptr: ir.Value) -> ir.Function:
        """``void (ptr ctx, i64 first, i64 count)``: rows ``first .. first + count`` of
        every result; ``ctx`` holds ``shared``'s pointers."""
        fn = ir.Function(module, conv_kernels.EPILOGUE_TYPE,
                         name=f"llax_conv_epilogue{next(_epilogue_ids)}")
        fn.linkage = "internal"
        for attr in ("nounwind", "noinline"):
            fn.attributes.add(attr)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        ctx, first, count = fn.args
        pointers = dict(zip(map(id, shared), ltypes.pointers_in(b, ctx, len(shared))))
        sources = {k: pointers.get(id(v), v) for k, v in self.sources.items()}
        sources[self.value] = pointers[id(rows_ptr)]
        results = [(a, pointers.get(id(p), p)) for a, p in self.results if a is not self.value]
        em = Emitter(b, self.ops, sources, self.literal_ptr)
        shape = self.value.type.shape

        def row(i: ir.Value, _: list) -> list:
            positions, n = unflatten(b, b.add(first, i), g.out_sizes)

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
        b.ret_void()
        return fn


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
    lhs, rhs = (kb.source_pointer(sources[a]) for a in op.inputs)
    axes = as_conv_dnums(op.rule_params["dimension_numbers"]).out_spec
    epilogue = _Epilogue(value, ops, sources, results, kb.literal_ptr, tuple(axes))
    _lower_rows(kb, g, lhs, rhs, rows_ptr, epilogue)
    return True


def _lower_rows(kb: KernelBuilder, g: _Conv, lhs: ir.Value, rhs: ir.Value, out: ir.Value,
                epilogue: _Epilogue | None = None) -> None:
    """The output's rows by Winograd's algorithm where it applies, else patches times the
    filter; then the ``epilogue``'s ops over each finished run of rows."""
    if not _winograd(g):
        _lower_patches(kb, g, lhs, rhs, out, epilogue)
        return
    # Winograd's transforms add and subtract: an infinite or NaN operand, or magnitudes at
    # which its intermediates overflow, would give NaN where the direct sum gives inf or a
    # number. Such operands take the patches (a scan of both, ~0.4 ms of 5 at 8x56x56x64).
    with kb.b.if_else(_winograd_is_exact(kb.b, g, lhs, rhs), likely=True) as (fast, exact):
        with fast:
            _lower_winograd(kb, g, lhs, rhs, out, epilogue)
        with exact:
            _lower_patches(kb, g, lhs, rhs, out, epilogue)


def _winograd_is_exact(b: ir.IRBuilder, g: _Conv, lhs: ir.Value, rhs: ir.Value) -> ir.Value:
    """Are all of both operands finite, and small enough that no intermediate of Winograd's
    algorithm can overflow? Its input transform adds 4 elements, the filter transform
    weights 9 with at most 2.25 in all, the products sum ``c`` terms and the output
    transform adds 9: every intermediate is at most ``81 c max|x| max|w|``."""
    dt = g.dtype
    bits = ir.IntType(8 * dt.itemsize)
    magnitude = ir.Constant(bits, (1 << (8 * dt.itemsize - 1)) - 1)
    infinity = ir.Constant(bits, int(np.array(np.inf, dt).view(f"u{dt.itemsize}")))

    def largest(ptr: ir.Value, count: int) -> ir.Value:
        # The largest |element| as its bits: an integer maximum, which LLVM vectorises; NaN
        # and inf have the largest bits of all.
        def step(i: ir.Value, acc: list[ir.Value]) -> list[ir.Value]:
            x = b.load(ltypes.element_ptr(b, ptr, dt, i), typ=bits)
            return [ltypes.intrinsic(b, "umax", [acc[0], b.and_(x, magnitude)], bits)]

        return for_range(b, count, step, init=[ir.Constant(bits, 0)], name="amax")[0]

    x_bits = largest(lhs, g.batch * math.prod(g.in_sizes) * g.in_features)
    w_bits = largest(rhs, g.taps * g.in_features * g.out_features)
    finite = b.and_(b.icmp_unsigned("<", x_bits, infinity),
                    b.icmp_unsigned("<", w_bits, infinity))
    double = ir.DoubleType()
    x, w = (b.fpext(b.bitcast(v, ltypes.reg_type(dt)), double) if dt.itemsize == 4
            else b.bitcast(v, double) for v in (x_bits, w_bits))
    bound = b.fmul(b.fmul(x, w), ir.Constant(double, 81.0 * g.in_features))
    limit = ir.Constant(double, float(np.finfo(dt).max))
    return b.and_(finite, b.fcmp_ordered("<", bound, limit))


def _lower_patches(kb: KernelBuilder, g: _Conv, lhs: ir.Value, rhs: ir.Value, out: ir.Value,
                   epilogue: _Epilogue | None) -> None:
    """``C = A B`` per feature group, blocks of A's rows at a time (conv_kernels ``rows``)."""
    b, dt = kb.b, g.dtype
    width = gemm.panel_width(dt)
    # Whole register tiles of rows per block: gemm reads A's rows ROWS at a time.
    tiles = -(-g.rows // gemm.ROWS)
    block = gemm.ROWS * max(1, min(tiles, ROWS_BYTES // (g.depth * dt.itemsize * gemm.ROWS)))
    desc = conv_kernels.descriptor(kb.module, g.descriptor(block))
    panels = ltypes.heap_alloc(b, g.groups * -(-g.out_features // width) * width * g.depth
                               * dt.itemsize)
    b.call(conv_kernels.declare(kb.module, "pack", dt), [desc, rhs, panels])
    rows = conv_kernels.declare(kb.module, "rows", dt)
    fill = _fill_function(kb.module, g)
    _run_units(kb, g, -(-g.rows // block), [lhs, panels, out], epilogue,
               lambda bld, x, w, y, lo, hi, ep, ctx: bld.call(rows, [desc, x, w, y, lo, hi,
                                                                     fill, ep, ctx]))
    ltypes.heap_free(b, panels)


_fill_ids = itertools.count()


def _fill_function(module: ir.Module, g: _Conv) -> ir.Function:
    """``conv_kernels.FILL_TYPE``: rows ``first .. first + count`` of group ``group``'s
    patches, this convolution's sizes constants (compiled for size: its time is memcpy)."""
    fn = ir.Function(module, conv_kernels.FILL_TYPE, name=f"llax_conv_fill{next(_fill_ids)}")
    fn.linkage = "internal"
    for attr in ("nounwind", "noinline", "optsize", "minsize"):
        fn.attributes.add(attr)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    lhs, patches, first, count, group = fn.args
    dt = g.dtype
    channel0 = _mul(b, group, g.in_features * g.lhs[1])

    def row(i: ir.Value, _: list) -> list:
        positions, n = unflatten(b, b.add(first, i), g.out_sizes)
        base = _add(b, _mul(b, n, g.lhs[0]), channel0)
        dst_row = _mul(b, i, g.depth)

        def tap(ks: list[ir.Value]) -> None:
            valid, offset = _source(b, g, positions, ks, base)
            column = _mul(b, flatten(b, ks, g.kernel), g.in_features)
            _copy_or_zero(b, dt, valid, ltypes.element_ptr(b, lhs, dt, offset), g.lhs[1],
                          ltypes.element_ptr(b, patches, dt, _add(b, dst_row, column)),
                          g.in_features)

        loop_nest(b, list(g.kernel), tap, name="k")
        return []

    for_range(b, count, row, name="row")
    b.ret_void()
    return fn


def _mul(b: ir.IRBuilder, x: ir.Value, k: int) -> ir.Value:
    return b.mul(x, i64(k), flags=["nsw"])


def _add(b: ir.IRBuilder, *xs: ir.Value) -> ir.Value:
    total = xs[0]
    for x in xs[1:]:
        total = b.add(total, x, flags=["nsw"])
    return total


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
    a ``memcpy``/``memset`` of a constant size (a few moves when small)."""
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
            ltypes.zero_fill(b, dst, nbytes)


# Winograd F(2x2, 3x3) (codegen/winograd.py) needs this many input and output features to
# pay for its transforms: a first layer's single input feature is a poor product for gemm.
WINOGRAD_MIN_FEATURES = 16


def _winograd(g: _Conv) -> bool:
    """A 3x3 stride-1 convolution of NHWC rows without dilation or groups?"""
    if not (g.dtype in winograd.DTYPES and g.kernel == (3, 3) and g.strides == (1, 1)
            and g.lhs_dilation == (1, 1) and g.rhs_dilation == (1, 1) and g.groups == 1
            and all(0 <= p <= 2 for p in g.pad_lo) and g.output_is_rows
            and min(g.in_features, g.out_features) >= WINOGRAD_MIN_FEATURES):
        return False
    h, w = g.in_sizes
    c = g.in_features
    return g.lhs == (h * w * c, 1, w * c, c) or (g.batch == 1 and g.lhs[1:] == (1, w * c, c))


def _lower_winograd(kb: KernelBuilder, g: _Conv, lhs: ir.Value, rhs: ir.Value, out: ir.Value,
                    epilogue: _Epilogue | None) -> None:
    b, dt = kb.b, g.dtype
    c, k = g.in_features, g.out_features
    u = ltypes.heap_alloc(b, winograd.filter_bytes(c, k, dt))
    s_k, s_c, s_kh, s_kw = g.rhs
    b.call(winograd.declare_filter(kb.module, dt),
           [i64(c), i64(k), rhs, i64(s_kh), i64(s_kw), i64(s_c), i64(s_k), u])
    conv = winograd.declare_conv(kb.module, dt)
    sizes = [i64(v) for v in (g.batch, *g.in_sizes, c, k, *g.pad_lo, *g.out_sizes)]
    _run_units(kb, g, winograd.units(g.batch, g.out_sizes[0]), [lhs, u, out], epilogue,
               lambda bld, x, w, y, lo, hi, ep, ctx: bld.call(conv, [*sizes, x, w, y, lo, hi,
                                                                     ep, ctx]))
    ltypes.heap_free(b, u)


def _run_units(kb: KernelBuilder, g: _Conv, units: int, pointers: list[ir.Value],
               epilogue: _Epilogue | None, call: Callable[..., object]) -> None:
    """``call(builder, *pointers, lo, hi, epilogue_fn, ctx)`` over ``[0, units)``, split
    over the thread pool when there is enough work; ``pointers[-1]`` is the output."""
    b = kb.b
    null = ir.Constant(ltypes.PTR, None)
    if epilogue is None:
        ep_fn, ctx = null, null
    else:
        out = pointers[-1]
        shared = [out, *(v for v in local_values(epilogue.sources, epilogue.results)
                         if v is not out)]
        ep_fn = epilogue.function(kb.module, g, shared, out)
        ctx = ltypes.pointer_array(kb.b, shared)

    def run(bld: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        call(bld, *values[:-1], lo, hi, ep_fn, values[-1])

    flops = g.rows * g.depth * g.out_features * g.groups
    if units > 1 and parallel.threads() > 1 and flops >= PARALLEL_MIN_FLOPS:
        parallel.emit_parallel(b, units, [*pointers, ctx], run, align=1)
    else:
        run(b, [*pointers, ctx], i64(0), i64(units))


def _lower_turned(kb: KernelBuilder, op: Op, outs: list[ir.Value], g: _Conv) -> None:
    """``out = L^T R``, the contraction in blocks of L's rows, one partial sum per part."""
    b, dt = kb.b, g.dtype
    lhs, rhs = (kb.buffer(x) for x in op.inputs)
    (out,) = outs
    desc = conv_kernels.descriptor(kb.module, g.descriptor())
    # R is the filter itself when it is stored so: output features contiguous, rows (input
    # feature, tap) a uniform stride apart; else a copy.
    taps = suffix_products(g.kernel)
    ldr = g.rhs[1] // g.taps if g.taps and g.rhs[1] % g.taps == 0 else 0
    stored = (g.rhs[0] == 1 and ldr >= g.out_features
              and all(s == ldr * t for s, t, k in zip(g.rhs[2:], taps[1:], g.kernel) if k != 1))
    if stored:
        filters = rhs
    else:
        ldr = g.out_features
        filters = ltypes.heap_alloc(b, g.depth * g.out_features * dt.itemsize)
        b.call(conv_kernels.declare(kb.module, "turn", dt), [desc, rhs, filters])
    columns = g.rows
    block = max(1, min(g.depth, ROWS_BYTES // (columns * dt.itemsize)))
    blocks = -(-g.depth // block)
    flops = g.rows * g.depth * g.out_features
    parts = min(blocks, parallel.threads()) if flops >= PARALLEL_MIN_FLOPS else 1
    per_part = -(-blocks // parts)
    sums = ltypes.heap_alloc(b, parts * columns * g.out_features * dt.itemsize)
    turned = conv_kernels.declare(kb.module, "turned", dt)

    def run(bld: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        x, w, acc = values
        bld.call(turned, [desc, x, w, i64(ldr), acc, lo, hi, i64(block), i64(per_part)])

    if parts > 1:
        parallel.emit_parallel(b, parts, [lhs, filters, sums], run, align=1)
    else:
        run(b, [lhs, filters, sums], i64(0), i64(1))
    b.call(conv_kernels.declare(kb.module, "add_parts", dt), [desc, sums, i64(parts), out])
    ltypes.heap_free(b, sums)
    if not stored:
        ltypes.heap_free(b, filters)


OPAQUE_RULES[P.conv_general_dilated] = _lower_conv
EPILOGUE_RULES[P.conv_general_dilated] = _lower_with_epilogue
# Self-contained (runtime calls, no host call): lowered as groups, which the side module
# may take. The reference path (a host call) needs the kernel's state.
OUTLINED[P.conv_general_dilated] = lambda op: _geometry(op) is not None
