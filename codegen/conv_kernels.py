"""The loops of a convolution, compiled once per process (codegen/conv.py calls them).

A convolution's loops (packing the filter, filling blocks of patches, moving rows into
the output's layout, the turned-around filter gradient) used to be generated for each
convolution of each program, where they were a good part of LLVM's time on a CNN's first
call. Here they are one runtime per element type (codegen/runtime.py) that reads the
convolution's sizes and strides at run time from a *descriptor*: an array of i64 laid out
as ``FIELDS``, a constant in the calling program's module (``Descriptor.values``). Up to
``SPATIAL`` spatial axes; fewer are padded with axes of size 1.

Entry points, ``<op>_<f32|f64>`` (``symbol``), every pointer to the element type:

- ``llax_conv_pack(desc, rhs, panels)``: the filter as codegen/gemm.py's column panels,
  per group, rows ``(tap, input feature)``;
- ``llax_conv_rows(desc, lhs, panels, out, block_lo, block_hi, fill, epilogue, ctx)``:
  blocks ``[block_lo, block_hi)`` of ``block`` output rows each: ``fill`` the block's
  patches (the caller's code, ``FILL_TYPE``), multiply (gemm.py), move the rows into
  ``out`` (in place when ``direct``), then call ``epilogue(ctx, first_row, count)`` if it
  is not null;
- ``llax_conv_turn(desc, rhs, r)``: the filter as the turned product's R, (input feature,
  tap) by output feature;
- ``llax_conv_turned(desc, lhs, r, ldr, sums, part_lo, part_hi, block, per_part)``: parts
  ``[part_lo, part_hi)`` of the turned product ``L^T R``, each into its own sum;
- ``llax_conv_add_parts(desc, sums, parts, out)``: the parts' sums into ``out``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import llvmlite.ir as ir
import numpy as np

from llax.codegen import blas, gemm, ltypes
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.ltypes import I1, I32, I64, PTR, VOID, i64
from llax.codegen.runtime import load_runtime

SPATIAL = 3
_PER_AXIS = ("in_size", "kernel", "out_size", "stride", "lhs_dilation", "rhs_dilation",
             "pad_lo")
FIELDS = ("batch", "groups", "in_features", "out_features",
          *(f"{name}{d}" for name in _PER_AXIS for d in range(SPATIAL)),
          "lhs_batch", "lhs_feature", *(f"lhs{d}" for d in range(SPATIAL)),
          "rhs_out", "rhs_in", *(f"rhs{d}" for d in range(SPATIAL)),
          "out_batch", "out_feature", *(f"out{d}" for d in range(SPATIAL)),
          "block", "direct", "ldc")
_INDEX = {name: k for k, name in enumerate(FIELDS)}
# Copies of at most this many elements are a loop rather than a call to memcpy: a first
# layer's single input feature would otherwise be one call per element.
_SMALL_COPY = 8

_SIGNATURES = {
    "pack": [PTR, PTR, PTR],
    "rows": [PTR, PTR, PTR, PTR, I64, I64, PTR, PTR, PTR],
    "turn": [PTR, PTR, PTR],
    "turned": [PTR, PTR, PTR, I64, PTR, I64, I64, I64, I64],
    "add_parts": [PTR, PTR, I64, PTR],
}
EPILOGUE_TYPE = ir.FunctionType(VOID, [PTR, I64, I64])
# fill(lhs, patches, first_row, count, group): the caller's own code for its patches, where
# its sizes are constants (a tap's copy is then a few moves, not a loop around memcpy:
# a first layer's convolution ran 4x slower with the generic loop).
FILL_TYPE = ir.FunctionType(VOID, [PTR, PTR, I64, I64, I64])


def symbol(op: str, dtype: np.dtype) -> str:
    return f"llax_conv_{op}_{np.dtype(dtype).name.replace('float', 'f')}"


def declare(module: ir.Module, op: str, dtype: np.dtype) -> ir.Function:
    """Runtime function ``op`` for ``dtype``, declared in ``module`` (loaded if need be)."""
    dtype = np.dtype(dtype)
    load_runtime(f"llax_conv_{dtype.name}", functools.partial(_module, dtype),
                 [symbol(name, dtype) for name in _SIGNATURES])
    name = symbol(op, dtype)
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(VOID, _SIGNATURES[op]), name=name)
    return fn


def descriptor(module: ir.Module, values: dict[str, int]) -> ir.GlobalVariable:
    """A constant descriptor in ``module`` (one per distinct descriptor)."""
    data = [int(values[name]) for name in FIELDS]
    name = "llax_conv_desc_" + "_".join(str(v).replace("-", "m") for v in data)
    found = module.globals.get(name)
    if found is not None:
        return found
    ty = ir.ArrayType(I64, len(FIELDS))
    g = ir.GlobalVariable(module, ty, name=name)
    g.global_constant, g.linkage, g.align = True, "private", 8
    g.initializer = ir.Constant(ty, data)
    return g


class _Desc:
    """The descriptor's fields, all loaded at the top of a runtime function (so each
    dominates every use; LLVM drops the unused)."""

    def __init__(self, b: ir.IRBuilder, ptr: ir.Value) -> None:
        self.b = b
        self._loaded = {name: b.load(b.gep(ptr, [i64(k)], inbounds=True, source_etype=I64),
                                     typ=I64) for k, name in enumerate(FIELDS)}

    def __getitem__(self, name: str) -> ir.Value:
        return self._loaded[name]

    def axes(self, name: str) -> list[ir.Value]:
        return [self[f"{name}{d}"] for d in range(SPATIAL)]

    def product(self, *names: str) -> ir.Value:
        total = self[names[0]]
        for name in names[1:]:
            total = self.b.mul(total, self[name])
        return total

    @property
    def taps(self) -> ir.Value:
        return self.product("kernel0", "kernel1", "kernel2")

    @property
    def depth(self) -> ir.Value:
        return self.b.mul(self.taps, self["in_features"])

    @property
    def rows(self) -> ir.Value:
        return self.product("batch", "out_size0", "out_size1", "out_size2")


def _add(b: ir.IRBuilder, *xs: ir.Value) -> ir.Value:
    total = xs[0]
    for x in xs[1:]:
        total = b.add(total, x)
    return total


def _dot(b: ir.IRBuilder, xs: Sequence[ir.Value], ys: Sequence[ir.Value]) -> ir.Value:
    return _add(b, *(b.mul(x, y) for x, y in zip(xs, ys)))


def flatten(b: ir.IRBuilder, indices: Sequence[ir.Value], sizes: Sequence[int | ir.Value]
            ) -> ir.Value:
    """The row-major linear index of ``indices`` over ``sizes`` (static or runtime)."""
    flat = i64(0)
    for i, n in zip(indices, sizes):
        flat = b.add(b.mul(flat, _value(n), flags=["nsw"]), i, flags=["nsw"])
    return flat


def unflatten(b: ir.IRBuilder, flat: ir.Value, sizes: Sequence[int | ir.Value]
              ) -> tuple[list[ir.Value], ir.Value]:
    """Row-major indices over ``sizes`` (static or runtime) of ``flat``'s trailing part,
    and what is left of it (the index along the axes before them)."""
    indices = []
    for n in reversed(sizes):
        indices.append(b.urem(flat, _value(n)))
        flat = b.udiv(flat, _value(n))
    return indices[::-1], flat


def _value(n: int | ir.Value) -> ir.Value:
    return i64(n) if isinstance(n, int) else n


def _next(b: ir.IRBuilder, indices: Sequence[ir.Value], sizes: Sequence[ir.Value]
          ) -> list[ir.Value]:
    """The row-major successor of ``indices`` (the first one unbounded): one row further
    without a division per row."""
    out = list(indices)
    carry: ir.Value = ir.Constant(I1, 1)
    for d in range(len(out) - 1, 0, -1):
        bumped = b.add(out[d], b.zext(carry, I64))
        wraps = b.and_(carry, b.icmp_signed("==", bumped, sizes[d - 1]))
        out[d] = b.select(wraps, i64(0), bumped)
        carry = wraps
    out[0] = b.add(out[0], b.zext(carry, I64))
    return out


def _input_index(b: ir.IRBuilder, g: _Desc, d: int, position: ir.Value, tap: ir.Value
                 ) -> tuple[ir.Value, ir.Value]:
    """(inside?, index along spatial axis ``d`` of the input) of ``tap`` at output
    ``position``: a tap on padding or on a hole of the input's dilation is outside."""
    at = b.sub(_add(b, b.mul(position, g[f"stride{d}"]), b.mul(tap, g[f"rhs_dilation{d}"])),
               g[f"pad_lo{d}"])
    inside = b.icmp_signed(">=", at, i64(0))
    dilation = g[f"lhs_dilation{d}"]
    dilated = b.icmp_signed(">", dilation, i64(1))
    # (A division only for a dilated input; the branch is the same on every element.)
    pre = b.block
    with b.if_then(dilated, likely=False):
        on_hole = b.icmp_signed("!=", b.srem(at, dilation), i64(0))
        divided = b.sdiv(at, dilation)
        in_dilated = b.block
    hole = b.phi(I1)
    hole.add_incoming(ir.Constant(I1, 0), pre)
    hole.add_incoming(on_hole, in_dilated)
    index = b.phi(I64)
    index.add_incoming(at, pre)
    index.add_incoming(divided, in_dilated)
    inside = b.and_(b.and_(inside, b.not_(hole)), b.icmp_signed("<", index, g[f"in_size{d}"]))
    return inside, index


def _source(b: ir.IRBuilder, g: _Desc, positions: Sequence[ir.Value],
            taps: Sequence[ir.Value], base: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(inside?, element offset) of the input under ``taps`` at output ``positions``."""
    valid: ir.Value = ir.Constant(I1, 1)
    offset = base
    for d, (p, k) in enumerate(zip(positions, taps)):
        inside, at = _input_index(b, g, d, p, k)
        valid = b.and_(valid, inside)
        offset = b.add(offset, b.mul(at, g[f"lhs{d}"]))
    return valid, offset


def _copy_or_zero(b: ir.IRBuilder, dt: np.dtype, valid: ir.Value, src: ir.Value,
                  stride: ir.Value, dst: ir.Value, count: ir.Value) -> None:
    """``dst[:count]`` = ``src[::stride][:count]`` if ``valid``, else zeros."""
    nbytes = b.mul(count, i64(dt.itemsize))
    with b.if_else(valid) as (then, otherwise):
        with then:
            bulk = b.and_(b.icmp_signed("==", stride, i64(1)),
                          b.icmp_signed(">", count, i64(_SMALL_COPY)))
            with b.if_else(bulk) as (call, loop):
                with call:
                    ltypes.intrinsic(b, "memcpy", [dst, src, nbytes, ir.Constant(I1, 0)],
                                     VOID, [PTR, PTR, I64])
                with loop:
                    def element(c: ir.Value, _: list) -> list:
                        value = ltypes.load(b, ltypes.element_ptr(b, src, dt, b.mul(c, stride)),
                                            dt)
                        ltypes.store(b, value, ltypes.element_ptr(b, dst, dt, c), dt)
                        return []

                    for_range(b, count, element, name="c")
        with otherwise:
            ltypes.zero_fill(b, dst, nbytes)


# --- the runtime module ---------------------------------------------------------------------

def _module(dtype: np.dtype) -> ir.Module:
    from llax.codegen import target

    host = target.host()
    module = ir.Module(name=f"llax_conv_{dtype.name}")
    module.triple, module.data_layout = host.triple, host.data_layout
    for op, build in _BUILDERS.items():
        fn = ir.Function(module, ir.FunctionType(VOID, _SIGNATURES[op]), name=symbol(op, dtype))
        # Compiled for size: the time goes to gemm and memcpy, and LLVM's loop optimisations
        # of these runtime-sized loops took ~0.5 s for nothing (once per process, but on a
        # first call).
        for attr in ("nounwind", "optsize", "minsize"):
            fn.attributes.add(attr)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        build(b, dtype, _Desc(b, fn.args[0]), *fn.args[1:])
        b.ret_void()
    return module


def _copy_filter(b: ir.IRBuilder, dt: np.dtype, g: _Desc, rhs: ir.Value, dst: ir.Value,
                 where: Callable[[ir.Value, ir.Value, ir.Value, ir.Value], ir.Value]) -> None:
    """Every filter element, (group, tap, input feature, output feature), copied to ``dst``
    at ``where(group, tap, input feature, output feature)``."""
    n_out, kernel = g["out_features"], g.axes("kernel")

    def each_group(grp: ir.Value, _: list) -> list:
        def tap(ks: list[ir.Value]) -> None:
            t = flatten(b, ks, kernel)
            spatial = _dot(b, ks, g.axes("rhs"))

            def feature(c: ir.Value, _: list) -> list:
                src0 = b.add(spatial, b.mul(c, g["rhs_in"]))

                def output(o: ir.Value, _: list) -> list:
                    src = b.add(src0, b.mul(b.add(b.mul(grp, n_out), o), g["rhs_out"]))
                    ltypes.store(b, ltypes.load(b, ltypes.element_ptr(b, rhs, dt, src), dt),
                                 ltypes.element_ptr(b, dst, dt, where(grp, t, c, o)), dt)
                    return []

                for_range(b, n_out, output, name="o")
                return []

            for_range(b, g["in_features"], feature, name="c")

        loop_nest(b, kernel, tap, name="k")
        return []

    for_range(b, g["groups"], each_group, name="grp")


def _pack(b: ir.IRBuilder, dt: np.dtype, g: _Desc, rhs: ir.Value, packed: ir.Value) -> None:
    width = gemm.panel_width(dt)
    n_in, n_out = g["in_features"], g["out_features"]
    panels = b.udiv(b.add(n_out, i64(width - 1)), i64(width))
    depth = g.depth
    with b.if_then(b.icmp_unsigned("!=", b.urem(n_out, i64(width)), i64(0))):
        ltypes.zero_fill(b, packed, _add(b, b.mul(b.mul(b.mul(g["groups"], panels), depth),
                                       i64(width * dt.itemsize))))

    def where(grp: ir.Value, tap: ir.Value, c: ir.Value, o: ir.Value) -> ir.Value:
        row = b.add(b.mul(tap, n_in), c)
        panel = b.add(b.mul(grp, panels), b.udiv(o, i64(width)))
        return b.add(b.mul(b.add(b.mul(panel, depth), row), i64(width)), b.urem(o, i64(width)))

    _copy_filter(b, dt, g, rhs, packed, where)


def _scatter_rows(b: ir.IRBuilder, dt: np.dtype, g: _Desc, rows: ir.Value, out: ir.Value,
                  first: ir.Value, count: ir.Value, group: ir.Value) -> None:
    """A block's rows (``count`` x group features) into the output's own layout."""
    n_out, out_sizes = g["out_features"], g.axes("out_size")
    positions, n = unflatten(b, first, out_sizes)
    group0 = b.mul(b.mul(group, n_out), g["out_feature"])

    def row(i: ir.Value, at: list[ir.Value]) -> list[ir.Value]:
        image, *where = at
        offset = _add(b, group0, b.mul(image, g["out_batch"]), _dot(b, where, g.axes("out")))

        def feature(o: ir.Value, _: list) -> list:
            value = ltypes.load(b, ltypes.element_ptr(b, rows, dt, b.add(b.mul(i, n_out), o)),
                                dt)
            ltypes.store(b, value, ltypes.element_ptr(
                b, out, dt, b.add(offset, b.mul(o, g["out_feature"]))), dt)
            return []

        for_range(b, n_out, feature, name="o")
        return _next(b, at, out_sizes)

    for_range(b, count, row, init=[n, *positions], name="row")


def _rows(b: ir.IRBuilder, dt: np.dtype, g: _Desc, lhs: ir.Value, panels: ir.Value,
          out: ir.Value, lo: ir.Value, hi: ir.Value, fill: ir.Value, epilogue: ir.Value,
          ctx: ir.Value) -> None:
    kernel = gemm.declare(b.module, dt)
    width = gemm.panel_width(dt)
    n_out, depth, block, total = g["out_features"], g.depth, g["block"], g.rows
    group_panels = b.mul(b.mul(b.udiv(b.add(n_out, i64(width - 1)), i64(width)),
                               i64(width)), depth)
    direct = b.icmp_signed("!=", g["direct"], i64(0))
    ldc = g["ldc"]
    patch_bytes = b.mul(b.mul(block, depth), i64(dt.itemsize))
    patches = ltypes.heap_alloc(b, patch_bytes)
    # The last block's rows past the end are read by gemm (products dropped): zeros.
    ltypes.zero_fill(b, patches, patch_bytes)
    staging = ltypes.heap_alloc(b, b.mul(b.mul(block, n_out), i64(dt.itemsize)))

    def each_block(j: ir.Value, _: list) -> list:
        first = b.mul(j, block)
        count = ltypes.intrinsic(b, "smin", [block, b.sub(total, first)], I64)

        def each_group(grp: ir.Value, _: list) -> list:
            b.call(_typed(b, fill, FILL_TYPE), [lhs, patches, first, count, grp])
            b_ptr = ltypes.element_ptr(b, panels, dt, b.mul(grp, group_panels))
            in_place = ltypes.element_ptr(b, out, dt, b.add(b.mul(first, ldc), b.mul(grp, n_out)))
            c_ptr = b.select(direct, in_place, staging)
            b.call(kernel, [count, n_out, depth, patches, depth, b_ptr, c_ptr,
                            b.select(direct, ldc, n_out)])
            with b.if_then(b.not_(direct)):
                _scatter_rows(b, dt, g, staging, out, first, count, grp)
            return []

        for_range(b, g["groups"], each_group, name="grp")
        with b.if_then(b.icmp_unsigned("!=", epilogue, ir.Constant(PTR, None))):
            b.call(_typed(b, epilogue, EPILOGUE_TYPE), [ctx, first, count])
        return []

    for_range(b, b.sub(hi, lo), lambda j, c: each_block(b.add(lo, j), c), name="blk")
    ltypes.heap_free(b, patches)
    ltypes.heap_free(b, staging)


def _typed(b: ir.IRBuilder, fn: ir.Value, ty: ir.FunctionType) -> ir.Value:
    """A function pointer typed as ``ty``, which llvmlite needs to call it."""
    return b.inttoptr(b.ptrtoint(fn, I64), ty.as_pointer())


def _turn(b: ir.IRBuilder, dt: np.dtype, g: _Desc, rhs: ir.Value, r: ir.Value) -> None:
    n_out, taps = g["out_features"], g.taps
    _copy_filter(b, dt, g, rhs, r, lambda grp, tap, c, o: b.add(
        b.mul(b.add(b.mul(c, taps), tap), n_out), o))


def _fill_turned(b: ir.IRBuilder, dt: np.dtype, g: _Desc, lhs: ir.Value, block: ir.Value,
                 first: ir.Value, count: ir.Value) -> None:
    """Rows ``first .. first + count`` of L: per (input feature, tap), the input under
    that tap at every (output position, batch)."""
    columns, batch = g.rows, g["batch"]
    kernel, out_sizes = g.axes("kernel"), g.axes("out_size")

    def row(i: ir.Value, _: list) -> list:
        taps, feature = unflatten(b, b.add(first, i), kernel)
        base = b.mul(feature, g["lhs_feature"])
        dst_row = b.mul(i, columns)

        def position(qs: list[ir.Value]) -> None:
            valid, offset = _source(b, g, qs, taps, base)
            flat = flatten(b, qs, out_sizes)
            _copy_or_zero(b, dt, valid, ltypes.element_ptr(b, lhs, dt, offset), g["lhs_batch"],
                          ltypes.element_ptr(b, block, dt, b.add(dst_row, b.mul(flat, batch))),
                          batch)

        loop_nest(b, out_sizes, position, name="q")
        return []

    for_range(b, count, row, name="row")


def _turned(b: ir.IRBuilder, dt: np.dtype, g: _Desc, lhs: ir.Value, r: ir.Value,
            ldr: ir.Value, sums: ir.Value, lo: ir.Value, hi: ir.Value, block: ir.Value,
            per_part: ir.Value) -> None:
    routine = {np.dtype(np.float32): "sgemm", np.dtype(np.float64): "dgemm"}[dt]
    gemm_fn = blas.declare(b.module, routine)
    columns, n_out, depth = g.rows, g["out_features"], g.depth
    partial_size = b.mul(columns, n_out)
    rows = ltypes.heap_alloc(b, b.mul(b.mul(block, columns), i64(dt.itemsize)))
    one = ir.Constant(ltypes.reg_type(dt), 1.0)

    def each_part(p: ir.Value, _: list) -> list:
        part = b.add(lo, p)
        partial = ltypes.element_ptr(b, sums, dt, b.mul(part, partial_size))
        ltypes.zero_fill(b, partial, b.mul(partial_size, i64(dt.itemsize)))

        def each_block(j: ir.Value, _: list) -> list:
            first = b.mul(b.add(b.mul(part, per_part), j), block)
            count = ltypes.intrinsic(b, "smin", [block, b.sub(depth, first)], I64)
            with b.if_then(b.icmp_signed(">", count, i64(0))):
                _fill_turned(b, dt, g, lhs, rows, first, count)
                b.call(gemm_fn, [ir.Constant(I32, blas.ROW_MAJOR), ir.Constant(I32, blas.TRANS),
                                 ir.Constant(I32, blas.NO_TRANS), columns, n_out, count, one,
                                 rows, columns, ltypes.element_ptr(b, r, dt, b.mul(first, ldr)),
                                 ldr, one, partial, n_out])
            return []

        for_range(b, per_part, each_block, name="blk")
        return []

    for_range(b, b.sub(hi, lo), each_part, name="part")
    ltypes.heap_free(b, rows)


def _add_parts(b: ir.IRBuilder, dt: np.dtype, g: _Desc, sums: ir.Value, parts: ir.Value,
               out: ir.Value) -> None:
    """``out[batch, feature, position...]`` = the parts' sums, each (position, batch) by
    feature."""
    batch, n_out, out_sizes = g["batch"], g["out_features"], g.axes("out_size")
    partial_size = b.mul(g.rows, n_out)

    def position(qs: list[ir.Value]) -> None:
        flat = flatten(b, qs, out_sizes)
        dst0 = _dot(b, qs, g.axes("out"))

        def image(n: ir.Value, _: list) -> list:
            at0 = b.mul(b.add(b.mul(flat, batch), n), n_out)
            dst1 = b.add(dst0, b.mul(n, g["out_batch"]))

            def feature(o: ir.Value, _: list) -> list:
                at = b.add(at0, o)

                def part(p: ir.Value, acc: list) -> list:
                    value = ltypes.load(b, ltypes.element_ptr(
                        b, sums, dt, b.add(at, b.mul(b.add(p, i64(1)), partial_size))), dt)
                    return [b.fadd(acc[0], value)]

                first = ltypes.load(b, ltypes.element_ptr(b, sums, dt, at), dt)
                (total,) = for_range(b, b.sub(parts, i64(1)), part, init=[first], name="p")
                ltypes.store(b, total, ltypes.element_ptr(
                    b, out, dt, b.add(dst1, b.mul(o, g["out_feature"]))), dt)
                return []

            for_range(b, n_out, feature, name="o")
            return []

        for_range(b, batch, image, name="n")

    loop_nest(b, out_sizes, position, name="q")


_BUILDERS = {"pack": _pack, "rows": _rows, "turn": _turn, "turned": _turned,
             "add_parts": _add_parts}
