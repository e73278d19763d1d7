"""llax's own matrix-product kernel: ``C = A B`` with B packed in column panels.

A convolution multiplies each block of patches (tall, a few hundred columns) by the same
filter (a few dozen columns). OpenBLAS packs both operands on every call and is tuned
for square products, which left such products at about half the machine's peak; this
kernel packs the filter once per convolution (``pack_panels`` layout) and reads the
patches where they are.

The register tile is ``ROWS`` rows of C by two vectors of columns (``panel_width``):
per step of the contraction, two vector loads of B, one broadcast of A per row and
``2 ROWS`` fused multiply-adds, all accumulators in registers (12 of the 16 vector
registers of AVX2; AVX-512 doubles the vector, not the tile). The vector width is the
host's (codegen.target), so the same code is vectorised at the host's width everywhere.

Contract of ``llax_gemm_<f32|f64>(m, n, k, a, lda, panels, c, ldc)``:

- ``a``: row-major, ``lda`` apart, with ``ceil(m / ROWS) * ROWS`` readable rows (rows
  past ``m`` are read and their products thrown away);
- ``panels``: B (k by n) as ``ceil(n / panel_width)`` panels, each ``k`` rows of
  ``panel_width`` elements, zero past column ``n``;
- ``c``: row-major, ``ldc`` apart; only its ``m`` by ``n`` elements are written.

The kernel is a runtime (codegen.runtime): compiled once per process, not once per
convolution.
"""

from __future__ import annotations

import functools

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes, target
from llax.codegen.loops import for_range
from llax.codegen.ltypes import I64, PTR, VOID, i64
from llax.codegen.runtime import load_runtime
from llax.ir import dtypes

ROWS = 6
VECTORS = 2  # per row of the tile
DTYPES = (dtypes.float32, dtypes.float64)


def vector_bytes() -> int:
    """The host's widest vector register for floating-point arithmetic."""
    host = target.host()
    if host.has_feature("avx512f"):
        return 64
    if host.has_feature("avx"):
        return 32
    return 16  # SSE2, NEON


def lanes(dtype: np.dtype) -> int:
    return vector_bytes() // np.dtype(dtype).itemsize


def panel_width(dtype: np.dtype) -> int:
    """Columns of B per packed panel (and of C per register tile)."""
    return VECTORS * lanes(dtype)


def symbol(dtype: np.dtype) -> str:
    return f"llax_gemm_{np.dtype(dtype).name.replace('float', 'f')}"


def declare(module: ir.Module, dtype: np.dtype) -> ir.Function:
    """The kernel for ``dtype``, declared in ``module`` and loaded into the process."""
    load(dtype)
    name = symbol(dtype)
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, _signature(), name=name)
    return fn


def load(dtype: np.dtype) -> None:
    dtype = np.dtype(dtype)
    load_runtime(symbol(dtype), functools.partial(_module, dtype), [symbol(dtype)])


def _signature() -> ir.FunctionType:
    # m, n, k, a, lda, panels, c, ldc
    return ir.FunctionType(VOID, [I64, I64, I64, PTR, I64, PTR, PTR, I64])


def _module(dtype: np.dtype) -> ir.Module:
    host = target.host()
    module = ir.Module(name=symbol(dtype))
    module.triple, module.data_layout = host.triple, host.data_layout
    fn = ir.Function(module, _signature(), name=symbol(dtype))
    fn.attributes.add("nounwind")
    m, n, k, a, lda, panels, c, ldc = fn.args
    for arg in (a, panels, c):
        arg.attributes.add("captures(none)")
    c.attributes.add("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    _Tile(b, np.dtype(dtype), k, a, lda, panels, c, ldc).run(m, n)
    b.ret_void()
    return module


class _Tile:
    """Emits the loops over register tiles and the tile itself."""

    def __init__(self, b: ir.IRBuilder, dtype: np.dtype, k: ir.Value, a: ir.Value,
                 lda: ir.Value, panels: ir.Value, c: ir.Value, ldc: ir.Value) -> None:
        self.b, self.dt = b, dtype
        self.k, self.a, self.lda, self.panels, self.c, self.ldc = k, a, lda, panels, c, ldc
        self.width = lanes(dtype)
        self.vec = ir.VectorType(ltypes.reg_type(dtype), self.width)

    def run(self, m: ir.Value, n: ir.Value) -> None:
        b, nr = self.b, VECTORS * self.width
        row_tiles = b.udiv(b.add(m, i64(ROWS - 1)), i64(ROWS))
        col_tiles = b.udiv(b.add(n, i64(nr - 1)), i64(nr))

        # Panel by panel: one panel of B (k x panel_width) stays in L1 while every row tile
        # of A passes under it.
        def each_panel(j: ir.Value, _: list) -> list:
            col0 = b.mul(j, i64(nr))
            cols = ltypes.intrinsic(b, "smin", [i64(nr), b.sub(n, col0)], I64)

            def each_row_tile(i: ir.Value, _: list) -> list:
                row0 = b.mul(i, i64(ROWS))
                rows = ltypes.intrinsic(b, "smin", [i64(ROWS), b.sub(m, row0)], I64)
                acc = self.products(row0, b.mul(col0, self.k))
                self.store(acc, row0, col0, rows, cols)
                return []

            for_range(b, row_tiles, each_row_tile, name="tile")
            return []

        for_range(b, col_tiles, each_panel, name="panel")

    def products(self, row0: ir.Value, panel0: ir.Value) -> list[ir.Value]:
        """The tile's accumulators: ROWS x VECTORS vectors of sums over the contraction."""
        b, dt, w = self.b, self.dt, self.width
        a_rows = [ltypes.element_ptr(b, self.a, dt, b.mul(b.add(row0, i64(r)), self.lda))
                  for r in range(ROWS)]
        panel = ltypes.element_ptr(b, self.panels, dt, panel0)
        zero = ir.Constant(self.vec, [0.0] * w)

        def step(p: ir.Value, acc: list[ir.Value]) -> list[ir.Value]:
            at = b.mul(p, i64(VECTORS * w))
            cols = [self._load_vector(ltypes.element_ptr(b, panel, dt, b.add(at, i64(v * w))))
                    for v in range(VECTORS)]
            out = []
            for r in range(ROWS):
                x = ltypes.load(b, ltypes.element_ptr(b, a_rows[r], dt, p), dt)
                splat = ltypes.splat(b, x, w)
                for v in range(VECTORS):
                    out.append(ltypes.intrinsic(b, "fmuladd", [splat, cols[v],
                                                               acc[r * VECTORS + v]], self.vec,
                                                [self.vec]))
            return out

        return for_range(b, self.k, step, init=[zero] * (ROWS * VECTORS), name="p", unroll=4)

    def store(self, acc: list[ir.Value], row0: ir.Value, col0: ir.Value, rows: ir.Value,
              cols: ir.Value) -> None:
        """C's tile (``rows`` x ``cols`` of it) = the accumulators."""
        b, w = self.b, self.width
        full = b.and_(b.icmp_signed("==", rows, i64(ROWS)),
                      b.icmp_signed("==", cols, i64(VECTORS * w)))
        with b.if_else(full, likely=True) as (whole, part):
            with whole:
                for r in range(ROWS):
                    for v in range(VECTORS):
                        self._store(acc[r * VECTORS + v], row0, r, col0, v, None)
            with part:
                masks = [ltypes.lanes_below(b, b.sub(cols, i64(v * w)), w)
                         for v in range(VECTORS)]
                for r in range(ROWS):
                    with b.if_then(b.icmp_signed("<", i64(r), rows)):
                        for v in range(VECTORS):
                            self._store(acc[r * VECTORS + v], row0, r, col0, v, masks[v])

    def _store(self, value: ir.Value, row0: ir.Value, r: int, col0: ir.Value, v: int,
               mask: ir.Value | None) -> None:
        b, dt, w = self.b, self.dt, self.width
        at = b.add(b.mul(b.add(row0, i64(r)), self.ldc), b.add(col0, i64(v * w)))
        ptr = ltypes.element_ptr(b, self.c, dt, at)
        if mask is None:
            st = b.store(value, ptr)
            st.align = dt.itemsize
        else:
            ltypes.intrinsic(b, "masked.store", [value, ptr, ir.Constant(ltypes.I32, dt.itemsize),
                                                 mask], VOID, [self.vec, PTR])

    def _load_vector(self, ptr: ir.Value) -> ir.Value:
        # Element alignment only: with AVX an unaligned load of aligned data costs nothing,
        # and a misaligned panel must not fault.
        ld = self.b.load(ptr, typ=self.vec)
        ld.align = self.dt.itemsize
        return ld
