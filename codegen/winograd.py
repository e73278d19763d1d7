"""Winograd F(2x2, 3x3) convolution: 3x3 stride-1 filters with 16 multiplies per 2x2
block of outputs and pair of features instead of 36 (Lavin & Gray 2015).

With ``d`` a 4x4 tile of input (one feature), ``g`` a 3x3 filter (one input and one output
feature), the 2x2 outputs of ``g`` over ``d`` are ``A^T [(G g G^T) * (B^T d B)] A`` with

    B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
          [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
          [0 -1  1  0]         [1/2 -1/2  1/2]
          [0  1  0 -1]         [ 0    0    1 ]

``*`` elementwise. Summed over input features, each of the 16 positions ``xi`` of the
transformed tile is a matrix product: ``M_xi (tiles x k) = V_xi (tiles x c) U_xi (c x k)``,
done by llax's own kernel (codegen/gemm.py). The transforms of the input (``V = B^T d B``)
and of the products (``Y = A^T M A``) are additions only, vectorised along the feature axis,
which NHWC stores contiguously; the 16 products are most of the time (8x56x56x64 by
3x3x64x64 single-threaded on Zen 3: 8.7 of 10.5 ms; most of the rest is reading ``x`` and
writing ``y``, which the transforms alone do in about 0.35 and 0.1 ms from cache).

Two runtime functions per float type (``f32``, ``f64``), compiled once per process
(codegen.runtime); every size is an argument:

``void llax_winograd_filter_<t>(i64 c, i64 k, ptr w, i64 s_kh, i64 s_kw, i64 s_c, i64 s_k,
ptr u)``
    ``w``: the filter, tap ``(kh, kw)`` (each 0..2) of input feature ``ci`` and output
    feature ``ko`` at element ``kh s_kh + kw s_kw + ci s_c + ko s_k`` (any layout, HWIO
    included). ``u`` (``filter_bytes(c, k, dtype)`` bytes, every one written) receives
    ``U = G g G^T``: 16 matrices ``U_xi``, ``xi = 4 row + column`` of the 4x4 transform,
    one after another, each ``c`` x ``k`` in gemm's column panels (``ceil(k / pw)`` panels
    of ``c`` rows by ``pw = gemm.panel_width(dtype)`` elements, zero past column ``k``).

``void llax_winograd_<t>(i64 n, i64 h, i64 w, i64 c, i64 k, i64 pad_top, i64 pad_left,
i64 oh, i64 ow, ptr x, ptr u, ptr y, i64 row_lo, i64 row_hi, ptr epilogue, ptr ctx)``
    ``x``: the input, NHWC contiguous (``n, h, w, c``); ``u``: the transformed filter;
    ``y``: the output, NHWC contiguous (``n, oh, ow, k``), overlapping neither. Output
    pixel ``(i, j)`` is the sum over taps ``(kh, kw)`` and features of input pixel
    ``(i - pad_top + kh, j - pad_left + kw)``, zero outside the input, so SAME, VALID and
    any other padding (asymmetric or wider than the filter) are all this. The work is cut
    into units, one per image ``b`` and tile row ``t`` (output rows ``2t`` and ``2t + 1``,
    only ``2t`` when that is the last of an odd ``oh``), numbered ``b * ceil(oh / 2) + t``;
    the call does units ``[row_lo, row_hi)`` and writes nothing else of ``y`` (threads take
    disjoint ranges).
    Once a unit's rows of ``y`` are final (units in order, as soon as the block of tiles
    holding its last tile is done), if ``epilogue`` is not null, the call runs
    ``epilogue(ctx, first, count)`` (``void (ptr, i64, i64)``) with the unit's output rows as
    flattened ``(b, i, j)`` rows of ``y`` (``k`` elements each): ``first = (b * oh + 2t) *
    ow``, ``count = rows * ow``: what a fused bias or activation needs while the rows are
    in cache (it may read and write those rows of ``y``).

The call's tiles (tile row after tile row of its units) go in blocks of whole gemm
register tiles (``_BLOCK_BYTES``), a block free to end inside a unit: only the call's last
block computes spare gemm rows (blocks of one tile row each would waste 2 of every 30 rows
at ``ow = 56``). The transformed inputs and products of a block stay in cache beside ``U``.
Scratch is allocated once per call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import llvmlite.ir as ir
import numpy as np

from llax.codegen import gemm, ltypes, target
from llax.codegen.loops import for_range
from llax.codegen.ltypes import I1, I32, I64, PTR, VOID, i64
from llax.codegen.runtime import load_runtime
from llax.ir import dtypes

DTYPES = (dtypes.float32, dtypes.float64)
POSITIONS = 16  # of the 4x4 transformed tile: one matrix product each
# Scratch of one block of tiles (transformed inputs and products, all 16 positions). On the
# 2-core dev machine (Zen 3: 32 KiB L1d, 512 KiB L2), 8x56x56x64 by 3x3x64x64 single-threaded
# took 10.5 ms with 128 KiB (blocks of 12 tiles), 11.0 with 64 KiB (6 tiles), 10.7 with
# 256 KiB (30 tiles); the direct im2col path 21.4 ms.
_BLOCK_BYTES = 1 << 17
# A transformed filter larger than this (about L2) is read from L3 or memory once per block:
# then blocks of at least _LARGE_FILTER_TILES tiles, whatever their scratch, so that each
# element of U read serves enough products. 8x7x7x512 by 3x3x512x512 (16 MiB of U) took
# 20-25 ms single-threaded with blocks of 6 tiles, 18-19 with 30 to 60 (machine under load).
_FILTER_CACHE_BYTES = 1 << 19
_LARGE_FILTER_TILES = 5 * gemm.ROWS


def _suffix(dtype: np.dtype) -> str:
    return np.dtype(dtype).name.replace("float", "f")


def filter_symbol(dtype: np.dtype) -> str:
    return f"llax_winograd_filter_{_suffix(dtype)}"


def conv_symbol(dtype: np.dtype) -> str:
    return f"llax_winograd_{_suffix(dtype)}"


def filter_bytes(c: int, k: int, dtype: np.dtype) -> int:
    """Bytes of the transformed filter ``u`` for ``c`` input and ``k`` output features."""
    width = gemm.panel_width(dtype)
    return POSITIONS * c * (-(-k // width) * width) * np.dtype(dtype).itemsize


def units(n: int, oh: int) -> int:
    """Work units of a convolution: tile rows (two output rows each) of every image."""
    return n * -(-oh // 2)


def load(dtype: np.dtype) -> target.CompiledModule:
    """The runtime for ``dtype`` (both functions), compiled on the first call."""
    dtype = np.dtype(dtype)
    name = conv_symbol(dtype)
    return load_runtime(name, functools.partial(_module, dtype),
                        [filter_symbol(dtype), conv_symbol(dtype)])


def declare_filter(module: ir.Module, dtype: np.dtype) -> ir.Function:
    """``llax_winograd_filter_<t>``, declared in ``module`` and loaded into the process."""
    load(dtype)
    return _declare(module, filter_symbol(dtype), _filter_signature())


def declare_conv(module: ir.Module, dtype: np.dtype) -> ir.Function:
    """``llax_winograd_<t>``, declared in ``module`` and loaded into the process."""
    load(dtype)
    return _declare(module, conv_symbol(dtype), _conv_signature())


def _declare(module: ir.Module, name: str, signature: ir.FunctionType) -> ir.Function:
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, signature, name=name)
    return fn


def _filter_signature() -> ir.FunctionType:
    # c, k, w, s_kh, s_kw, s_c, s_k, u
    return ir.FunctionType(VOID, [I64, I64, PTR, I64, I64, I64, I64, PTR])


def _conv_signature() -> ir.FunctionType:
    # n, h, w, c, k, pad_top, pad_left, oh, ow, x, u, y, row_lo, row_hi, epilogue, ctx
    return ir.FunctionType(VOID, [I64] * 9 + [PTR] * 3 + [I64, I64, PTR, PTR])


_EPILOGUE = ir.FunctionType(VOID, [PTR, I64, I64])


def _module(dtype: np.dtype) -> ir.Module:
    host = target.host()
    module = ir.Module(name=conv_symbol(dtype))
    module.triple, module.data_layout = host.triple, host.data_layout
    _emit_filter(module, dtype)
    _emit_conv(module, dtype)
    return module


# -- the three transforms, on lists of values (scalars or vectors) -----------------------

Values = list[ir.Value]
Transform1d = Callable[[ir.IRBuilder, Values], Values]


def _input_1d(b: ir.IRBuilder, d: Values) -> Values:
    """``B^T d`` of one column of four."""
    return [b.fsub(d[0], d[2]), b.fadd(d[1], d[2]), b.fsub(d[2], d[1]), b.fsub(d[1], d[3])]


def _output_1d(b: ir.IRBuilder, m: Values) -> Values:
    """``A^T m`` of one column of four."""
    return [b.fadd(b.fadd(m[0], m[1]), m[2]), b.fsub(b.fsub(m[1], m[2]), m[3])]


def _filter_1d(half: ir.Constant) -> Transform1d:
    """``G g`` of one column of three."""

    def apply(b: ir.IRBuilder, g: Values) -> Values:
        outer = b.fadd(g[0], g[2])
        return [g[0], b.fmul(b.fadd(outer, g[1]), half), b.fmul(b.fsub(outer, g[1]), half),
                g[2]]

    return apply


def _both_axes(b: ir.IRBuilder, tile: list[Values], f: Transform1d) -> list[Values]:
    """``F tile F^T`` for the 1-D transform ``F`` (``tile`` a list of rows)."""
    columns = [f(b, [row[s] for row in tile]) for s in range(len(tile[0]))]  # (F tile)^T
    return [f(b, [column[p] for column in columns]) for p in range(len(columns[0]))]


# -- the filter ---------------------------------------------------------------------------

def _emit_filter(module: ir.Module, dt: np.dtype) -> None:
    fn = ir.Function(module, _filter_signature(), name=filter_symbol(dt))
    fn.attributes.add("nounwind")
    c, k, w, s_kh, s_kw, s_c, s_k, u = fn.args
    w.attributes.add("noalias")
    u.attributes.add("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    width = gemm.panel_width(dt)
    padded_k = _round_up(b, k, width)
    matrix = b.mul(c, padded_k)  # elements of one U_xi
    # The panels' columns past k must be zero; the rest is overwritten below.
    ltypes.zero_fill(b, u, b.mul(i64(POSITIONS * dt.itemsize), matrix))
    half = ltypes.const(dt, 0.5)

    # Panel by panel, so the innermost loop (a panel's columns) stores contiguously and,
    # when the filter's output features are contiguous (HWIO), loads so too: LLVM
    # vectorises it (checking s_k == 1 at run time).
    def each_panel(p: ir.Value, _: list) -> list:
        first = b.mul(p, i64(width))
        columns = _umin(b, i64(width), b.sub(k, first))

        def each_input(ci: ir.Value, _: list) -> list:
            row = b.mul(b.add(b.mul(p, c), ci), i64(width))  # of this panel, in every U_xi

            def each_column(j: ir.Value, _: list) -> list:
                base = b.add(b.mul(ci, s_c), b.mul(b.add(first, j), s_k))
                taps = [[ltypes.load(b, ltypes.element_ptr(
                    b, w, dt, b.add(base, b.add(b.mul(i64(r), s_kh), b.mul(i64(s), s_kw)))),
                    dt) for s in range(3)] for r in range(3)]
                transformed = _both_axes(b, taps, _filter_1d(half))
                at = b.add(row, j)
                for xi in range(POSITIONS):
                    ltypes.store(b, transformed[xi // 4][xi % 4], ltypes.element_ptr(
                        b, u, dt, b.add(b.mul(i64(xi), matrix), at)), dt)
                return []

            for_range(b, columns, each_column, name="col")
            return []

        for_range(b, c, each_input, name="ci")
        return []

    for_range(b, b.udiv(padded_k, i64(width)), each_panel, name="panel")
    b.ret_void()


# -- the convolution ----------------------------------------------------------------------

class _Vectors:
    """Loops along a contiguous feature axis in vectors of the host's width, the last
    partial vector through masked loads and stores."""

    def __init__(self, b: ir.IRBuilder, dt: np.dtype) -> None:
        self.b, self.dt = b, dt
        self.width = gemm.lanes(dt)
        self.vec = ir.VectorType(ltypes.reg_type(dt), self.width)
        self.mask_type = ir.VectorType(I1, self.width)

    def each(self, count: ir.Value,
             body: Callable[[ir.Value, ir.Value | None], None]) -> None:
        """``body(offset, mask)`` for each vector of ``count`` elements (``mask``: None for
        a whole vector, else which lanes of the last one are there)."""
        b, w = self.b, self.width
        whole = b.udiv(count, i64(w))
        for_range(b, whole, lambda v, _: (body(b.mul(v, i64(w), flags=["nuw", "nsw"]), None),
                                          [])[1], name="vec")
        left = b.urem(count, i64(w))
        with b.if_then(b.icmp_unsigned("!=", left, i64(0))):
            body(b.mul(whole, i64(w)), ltypes.lanes_below(b, left, w))

    def load(self, ptr: ir.Value, mask: ir.Value | None) -> ir.Value:
        b, align = self.b, self.dt.itemsize
        if mask is None:
            return b.load(ptr, typ=self.vec, align=align)
        zero = ir.Constant(self.vec, [0.0] * self.width)
        return ltypes.intrinsic(b, "masked.load", [ptr, ir.Constant(I32, align), mask, zero],
                                self.vec, [self.vec, PTR])

    def store(self, value: ir.Value, ptr: ir.Value, mask: ir.Value | None) -> None:
        b, align = self.b, self.dt.itemsize
        if mask is None:
            b.store(value, ptr, align=align)
        else:
            ltypes.intrinsic(b, "masked.store", [value, ptr, ir.Constant(I32, align), mask],
                             VOID, [self.vec, PTR])


def _emit_conv(module: ir.Module, dt: np.dtype) -> None:
    fn = ir.Function(module, _conv_signature(), name=conv_symbol(dt))
    fn.attributes.add("nounwind")
    args = fn.args
    for arg in args[9:12]:
        arg.attributes.add("captures(none)")
    # (y is not noalias: the epilogue reads and writes it through pointers of its own, and
    # LLVM could otherwise move stores to y past the call.)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    _Conv(b, dt, gemm.declare(module, dt), args).run()
    b.ret_void()


class _Conv:
    """Emits ``llax_winograd_<t>``'s body.

    The call's tiles are one stream: tile row after tile row of its units, cut into blocks
    of ``self.block`` tiles whatever the tile rows (a block may end inside a unit), so only
    the call's last block has gemm rows to spare. Each tile carries its position
    ``(image, tile row, tile)``, advanced by one per tile rather than divided out."""

    def __init__(self, b: ir.IRBuilder, dt: np.dtype, kernel: ir.Function,
                 args: Sequence[ir.Value]) -> None:
        self.b, self.dt, self.kernel = b, dt, kernel
        (self.n, self.h, self.w, self.c, self.k, self.pad_top, self.pad_left, self.oh, self.ow,
         self.x, self.u, self.y, self.row_lo, self.row_hi, self.epilogue, self.ctx) = args
        self.vectors = _Vectors(b, dt)

    def run(self) -> None:
        b, dt = self.b, self.dt
        item = dt.itemsize
        self.tiles = b.udiv(b.add(self.ow, i64(1)), i64(2))  # per tile row
        self.tile_rows = b.udiv(b.add(self.oh, i64(1)), i64(2))  # per image
        total = b.mul(b.sub(self.row_hi, self.row_lo), self.tiles)
        # Tiles per block: whole register tiles of gemm's rows, as many as _BLOCK_BYTES of
        # scratch holds (at least one register tile, or _LARGE_FILTER_TILES for a filter
        # beyond _FILTER_CACHE_BYTES), no more than the call has.
        per_tile = b.mul(b.add(self.c, self.k), i64(POSITIONS * item))
        fit = b.mul(b.udiv(b.udiv(i64(_BLOCK_BYTES), per_tile), i64(gemm.ROWS)), i64(gemm.ROWS))
        u_bytes = b.mul(b.mul(self.c, _round_up(b, self.k, gemm.panel_width(dt))),
                        i64(POSITIONS * item))
        least = b.select(b.icmp_unsigned(">", u_bytes, i64(_FILTER_CACHE_BYTES)),
                         i64(_LARGE_FILTER_TILES), i64(gemm.ROWS))
        self.block = _umax(b, i64(gemm.ROWS), _umin(b, _umax(b, least, fit),
                                                    _round_up(b, total, gemm.ROWS)))
        # Scratch: V (16 x block x c), M (16 x block x k), a pixel of zeros (the input's
        # padding) and a pixel to drop outputs into (past an odd oh or ow), each 64-byte
        # aligned.
        self.v_stride = b.mul(self.block, self.c)
        self.m_stride = b.mul(self.block, self.k)
        sizes = [b.mul(i64(POSITIONS * item), self.v_stride),
                 b.mul(i64(POSITIONS * item), self.m_stride),
                 b.mul(self.c, i64(item)), b.mul(self.k, i64(item))]
        offsets, nbytes = [], i64(0)
        for size in sizes:
            offsets.append(nbytes)
            nbytes = b.add(nbytes, _round_up(b, size, 64))
        scratch = ltypes.heap_alloc(b, nbytes)
        self.v, self.m, self.zeros, self.trash = (b.gep(scratch, [o], source_etype=ltypes.I8)
                                                  for o in offsets)
        # V's rows past the last block's last tile are read by gemm (products dropped):
        # zeros, not whatever the allocator left (denormals would slow the products down).
        ltypes.zero_fill(b, self.v, sizes[0])
        ltypes.zero_fill(b, self.zeros, sizes[2])
        blocks = b.udiv(b.add(total, b.sub(self.block, i64(1))), self.block)

        def each_block(j: ir.Value, carried: list) -> list:
            (reported,) = carried
            first = b.mul(j, self.block)
            count = _umin(b, self.block, b.sub(total, first))
            unit, tile = b.udiv(first, self.tiles), b.urem(first, self.tiles)
            unit = b.add(self.row_lo, unit)
            position = [b.udiv(unit, self.tile_rows), b.urem(unit, self.tile_rows), tile]
            self.transform_input(position, count)
            self.products(count)
            self.transform_output(position, count)
            # The epilogue of every unit whose last tile was in this block.
            done = b.add(self.row_lo, b.udiv(b.add(first, count), self.tiles))
            for_range(b, b.sub(done, reported),
                      lambda i, _: (self.call_epilogue(b.add(reported, i)), [])[1], name="ep")
            return [done]

        for_range(b, blocks, each_block, init=[self.row_lo], name="blk")
        b.call(ltypes.external(b, "free", VOID, [PTR]), [scratch])

    def advance(self, position: list[ir.Value]) -> list[ir.Value]:
        """The position of the tile after ``position`` in the stream."""
        b = self.b
        image, t, tile = position
        tile = b.add(tile, i64(1))
        new_row = b.icmp_unsigned("==", tile, self.tiles)
        t = b.select(new_row, b.add(t, i64(1)), t)
        new_image = b.icmp_unsigned("==", t, self.tile_rows)
        return [b.select(new_image, b.add(image, i64(1)), image),
                b.select(new_image, i64(0), t), b.select(new_row, i64(0), tile)]

    def call_epilogue(self, unit: ir.Value) -> None:
        b = self.b
        with b.if_then(b.icmp_unsigned("!=", self.epilogue, ir.Constant(PTR, None))):
            image, t = b.udiv(unit, self.tile_rows), b.urem(unit, self.tile_rows)
            top = b.mul(t, i64(2))
            rows = _umin(b, i64(2), b.sub(self.oh, top))
            first_row = b.mul(b.add(b.mul(image, self.oh), top), self.ow)
            # (a typed function pointer, which llvmlite needs to call it; LLVM reads it as ptr)
            callee = b.inttoptr(b.ptrtoint(self.epilogue, I64), _EPILOGUE.as_pointer())
            b.call(callee, [self.ctx, first_row, b.mul(rows, self.ow)])

    def transform_input(self, position: list[ir.Value], count: ir.Value) -> None:
        """V_xi's rows for the block's ``count`` tiles, the first at ``position``."""
        b, dt, vec = self.b, self.dt, self.vectors

        def each_tile(i: ir.Value, at: list) -> list:
            image, t, tile = at
            top = b.sub(b.mul(t, i64(2)), self.pad_top)  # first input row and column
            left = b.sub(b.mul(tile, i64(2)), self.pad_left)
            # Pixels outside the input (padding) read zeros.
            sources = _pixels(b, dt, self.x, image, top, left, 4, self.h, self.w, self.c,
                              self.zeros)
            tile_at = b.mul(i, self.c)
            targets = [ltypes.element_ptr(b, self.v, dt, b.add(b.mul(i64(xi), self.v_stride),
                                                               tile_at))
                       for xi in range(POSITIONS)]

            def each_vector(off: ir.Value, mask: ir.Value | None) -> None:
                d = [[vec.load(ltypes.element_ptr(b, p, dt, off), mask) for p in row]
                     for row in sources]
                v = _both_axes(b, d, _input_1d)
                for xi in range(POSITIONS):
                    vec.store(v[xi // 4][xi % 4], ltypes.element_ptr(b, targets[xi], dt, off),
                              mask)

            vec.each(self.c, each_vector)
            return self.advance(at)

        for_range(b, count, each_tile, init=position, name="tin")

    def products(self, count: ir.Value) -> None:
        """``M_xi = V_xi U_xi`` for the block's ``count`` tiles, every xi."""
        b, dt = self.b, self.dt
        u_stride = b.mul(self.c, _round_up(b, self.k, gemm.panel_width(dt)))

        def each_position(xi: ir.Value, _: list) -> list:
            b.call(self.kernel, [count, self.k, self.c,
                                 ltypes.element_ptr(b, self.v, dt, b.mul(xi, self.v_stride)),
                                 self.c,
                                 ltypes.element_ptr(b, self.u, dt, b.mul(xi, u_stride)),
                                 ltypes.element_ptr(b, self.m, dt, b.mul(xi, self.m_stride)),
                                 self.k])
            return []

        for_range(b, i64(POSITIONS), each_position, name="xi")

    def transform_output(self, position: list[ir.Value], count: ir.Value) -> None:
        """``Y = A^T M A`` into y for the block's ``count`` tiles, the first at
        ``position``."""
        b, dt, vec = self.b, self.dt, self.vectors

        def each_tile(i: ir.Value, at: list) -> list:
            image, t, tile = at
            top, left = b.mul(t, i64(2)), b.mul(tile, i64(2))  # first output row and column
            # An output past an odd oh or ow is computed all the same, and dropped.
            targets = _pixels(b, dt, self.y, image, top, left, 2, self.oh, self.ow, self.k,
                              self.trash)
            tile_at = b.mul(i, self.k)
            sources = [ltypes.element_ptr(b, self.m, dt, b.add(b.mul(i64(xi), self.m_stride),
                                                               tile_at))
                       for xi in range(POSITIONS)]

            def each_vector(off: ir.Value, mask: ir.Value | None) -> None:
                m = [[vec.load(ltypes.element_ptr(b, sources[4 * p + q], dt, off), mask)
                      for q in range(4)] for p in range(4)]
                out = _both_axes(b, m, _output_1d)
                for p in range(2):
                    for q in range(2):
                        vec.store(out[p][q], ltypes.element_ptr(b, targets[p][q], dt, off), mask)

            vec.each(self.k, each_vector)
            return self.advance(at)

        for_range(b, count, each_tile, init=position, name="tout")


# -- small helpers ------------------------------------------------------------------------

def _pixels(b: ir.IRBuilder, dt: np.dtype, base: ir.Value, image: ir.Value, top: ir.Value,
            left: ir.Value, side: int, height: ir.Value, width: ir.Value,
            features: ir.Value, outside: ir.Value) -> list[list[ir.Value]]:
    """Pointers to the ``side`` x ``side`` pixels from (``top``, ``left``) of ``image`` in
    an NHWC array ``base`` (``features`` elements a pixel); ``outside`` for a pixel off the
    image."""
    grid = []
    for q in range(side):
        r = b.add(top, i64(q))
        row_ok = b.and_(b.icmp_signed(">=", r, i64(0)), b.icmp_signed("<", r, height))
        start = b.mul(b.add(b.mul(image, height), r), width)
        row = []
        for s in range(side):
            col = b.add(left, i64(s))
            ok = b.and_(row_ok, b.and_(b.icmp_signed(">=", col, i64(0)),
                                       b.icmp_signed("<", col, width)))
            # (not inbounds: off the image the address is computed, not used)
            ptr = b.gep(base, [b.mul(b.add(start, col), features)],
                        source_etype=ltypes.mem_type(dt))
            row.append(b.select(ok, ptr, outside))
        grid.append(row)
    return grid


def _round_up(b: ir.IRBuilder, x: ir.Value, multiple: int) -> ir.Value:
    return b.mul(b.udiv(b.add(x, i64(multiple - 1)), i64(multiple)), i64(multiple))


def _umin(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return ltypes.intrinsic(b, "umin", [x, y], I64)


def _umax(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return ltypes.intrinsic(b, "umax", [x, y], I64)
