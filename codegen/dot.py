"""dot_general as a batched (B, M, K) x (B, K, N) product.

Each operand is read in place when its memory already is a (possibly
transposed) row-major matrix per batch: batch dims first, then its free and
contracting dims as two contiguous blocks in either order; a transposed block
becomes BLAS's trans flag (or a different loop order). Otherwise, or when
``preferred_element_type`` asks for a conversion, it is copied into a temporary
(a transpose, through the ordinary elementwise code path).

float32/float64 call NumPy's own OpenBLAS (``llax.codegen.blas``) unless the
product is tiny, where the call overhead outweighs the work: a private
single-threaded instance, split over llax's pool when large, and NumPy's
threaded instance for the largest products; everything else
(integers, bool, float16, tiny products, or no BLAS) runs generated loops:
``C[m, :] += A[m, k] * B[k, :]`` (unit-stride over N) or, when B is stored
transposed (or is a vector), register dot products over K, several rows of A at
a time. Integers wrap; bool is OR of ANDs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import llvmlite.ir as ir
import numpy as np

from llax.codegen import blas, ltypes, parallel
from llax.codegen.loops import for_range, loop_nest
from llax.codegen.ltypes import FLOAT, HALF, I32, i64
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Op, Params, Var
from llax.ir.types import TensorType

# Below this many multiply-adds the generated (vectorised, unblocked) loop nest is
# as fast as the BLAS call or faster: measured on the 2-core dev machine, loops won
# up to 48^3 (3.5 us vs 4.1 us) and tied at 64^3; OpenBLAS's threading also makes
# small calls slow when the cores are busy.
BLAS_MIN_FLOPS = 64 ** 3
# Products at least this big are split over llax's thread pool when the BLAS is the private
# single-threaded instance (codegen/blas.py): about 0.1 ms on one core.
PARALLEL_MIN_FLOPS = 1 << 22
# Products at least this big (512^3, a few ms) run on NumPy's BLAS instance and OpenBLAS's
# threads, as NumPy's own do (see codegen/blas.py for why). The threads busy-wait after each
# call, so smaller products, which follow each other quickly in a training step, stay on
# llax's pool: its threads sleep when idle and never take a core from compilation.
THREADED_MIN_FLOPS = 1 << 27
# Rows of A per pass of the generated dot-product loop. 1000 64x64 matvecs in a fori_loop
# took 450 us one row at a time, 290 us with 2 or 4 rows, 160-230 us with 8, 290 us with 16.
DOT_ROWS = 8


def _nonunit(shape: Sequence[int], dims: Sequence[int]) -> list[int]:
    return [d for d in dims if shape[d] != 1]


def _layout(shape: Sequence[int], batch: Sequence[int], rows: Sequence[int],
            cols: Sequence[int]) -> bool | None:
    """False if memory is [batch, rows, cols] row-major, True if [batch, cols, rows]
    (transposed), None if neither (size-1 dims may sit anywhere)."""
    seq = _nonunit(shape, range(len(shape)))
    b, r, c = _nonunit(shape, batch), _nonunit(shape, rows), _nonunit(shape, cols)
    if seq == b + r + c:
        return False
    if seq == b + c + r:
        return True
    return None


def _materialise(kb, x, perm: Sequence[int], dtype: np.dtype) -> ir.Value:
    """Copy ``x`` transposed by ``perm`` (and converted to ``dtype``) into a temporary."""
    shape = tuple(x.type.shape[p] for p in perm)
    ops = []
    t = Var(TensorType(shape, x.type.dtype))
    ops.append(Op(P.transpose, (x,), (t,), Params(permutation=tuple(perm))))
    if dtype != x.type.dtype:
        c = Var(TensorType(shape, dtype))
        ops.append(Op(P.convert_element_type, (t,), (c,),
                      Params(new_dtype=dtype, weak_type=False)))
        t = c
    ptr = kb.alloc(t.type)
    sources = {x: kb.buffer(x)} if isinstance(x, Var) else {}
    kb.lower_group(ops, sources, [(t, ptr)])
    return ptr


def lower_dot(kb, op: Op, outs: list[ir.Value]) -> None:
    lhs, rhs = op.inputs
    (out,) = outs
    (lc, rc), (lb, rb) = op.params["dimension_numbers"]
    ls, rs = lhs.type.shape, rhs.type.shape
    dt = op.outputs[0].type.dtype
    if op.outputs[0].type.size == 0:
        return
    lfree = [d for d in range(len(ls)) if d not in lc and d not in lb]
    rfree = [d for d in range(len(rs)) if d not in rc and d not in rb]
    # K is linearised in lhs memory order; rhs must follow the same pairing.
    pairs = sorted(zip(lc, rc))
    lk, rk = [p[0] for p in pairs], [p[1] for p in pairs]
    B = math.prod(ls[d] for d in lb)
    M = math.prod(ls[d] for d in lfree)
    K = math.prod(ls[d] for d in lk)
    N = math.prod(rs[d] for d in rfree)

    temps = []
    ta = _layout(ls, lb, lfree, lk) if lhs.type.dtype == dt else None
    if ta is None:
        a = _materialise(kb, lhs, [*lb, *lfree, *lk], dt)
        temps.append(a)
        ta = False
    else:
        a = kb.buffer(lhs)
    tb = _layout(rs, rb, rk, rfree) if rhs.type.dtype == dt else None
    if tb is None:
        bm = _materialise(kb, rhs, [*rb, *rk, *rfree], dt)
        temps.append(bm)
        tb = False
    else:
        bm = kb.buffer(rhs)
    if N == 1:
        # A vector's (K, 1) and (1, K) layouts are the same memory; the transposed view
        # selects the dot-product loop, which vectorises over K (the other form's inner
        # loop would run over N = 1).
        tb = True

    use_blas = (dt in _GEMM and K > 0 and M * N * K >= BLAS_MIN_FLOPS and blas.available()
                and blas.register().has(_GEMM[dt]))
    if use_blas:
        _gemm_blas(kb, dt, B, M, N, K, a, ta, bm, tb, out)
    else:
        _gemm_loops(kb, dt, B, M, N, K, a, ta, bm, tb, out)
    for t in temps:
        kb.free(t)


_GEMM = {dtypes.float32: "sgemm", dtypes.float64: "dgemm", dtypes.complex64: "cgemm",
         dtypes.complex128: "zgemm"}


def _scalar_arg(module: ir.Module, dt: np.dtype, value: float) -> ir.Value:
    """``value`` as gemm's alpha or beta: a constant of a real dtype; for a complex one, a
    pointer to a private constant global holding it."""
    if dt.kind != "c":
        return ir.Constant(ltypes.reg_type(dt), value)
    name = f"llax_gemm_{dt.name}_{'one' if value else 'zero'}"
    g = module.globals.get(name)
    if g is None:
        g = ir.GlobalVariable(module, ltypes.mem_type(dt), name=name)
        g.global_constant = True
        g.linkage = "private"
        g.align = dt.itemsize
        g.initializer = ltypes.const(dt, value)
    return g


def _gemm_blas(kb, dt, B, M, N, K, a, ta, bm, tb, out) -> None:
    b = kb.b
    flops = B * M * N * K
    private = blas.register().single_threaded
    gemm = blas.declare(kb.module, _GEMM[dt], threaded=private and flops >= THREADED_MIN_FLOPS)
    lda = max(1, M if ta else K)
    ldb = max(1, K if tb else N)

    def call(bld: ir.IRBuilder, a, bm, out, batch: ir.Value, row: ir.Value,
             rows: ir.Value) -> None:
        """C[batch, row:row+rows] = op(A)[batch, row:row+rows] @ op(B)[batch]."""
        # Row r of op(A) starts at r*K in A (M, K), or at r in a transposed A (K, M).
        a_off = bld.add(bld.mul(batch, i64(M * K)), row if ta else bld.mul(row, i64(K)))
        pa = ltypes.element_ptr(bld, a, dt, a_off)
        pb = ltypes.element_ptr(bld, bm, dt, bld.mul(batch, i64(K * N)))
        pc = ltypes.element_ptr(bld, out, dt,
                                bld.add(bld.mul(batch, i64(M * N)), bld.mul(row, i64(N))))
        bld.call(gemm, [ir.Constant(I32, blas.ROW_MAJOR),
                        ir.Constant(I32, blas.TRANS if ta else blas.NO_TRANS),
                        ir.Constant(I32, blas.TRANS if tb else blas.NO_TRANS),
                        rows, i64(N), i64(K), _scalar_arg(bld.module, dt, 1.0), pa, i64(lda),
                        pb, i64(ldb), _scalar_arg(bld.module, dt, 0.0), pc, i64(max(1, N))])

    threads = parallel.threads()
    if private and threads > 1 and PARALLEL_MIN_FLOPS <= flops < THREADED_MIN_FLOPS:
        # The BLAS runs one thread: split the product over llax's pool, by matrices of a
        # batch, or else by blocks of rows (one block per thread).
        def build(bld: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value):
            pa, pb, pc = values
            if B > 1:
                for_range(bld, bld.sub(hi, lo), lambda i, _: call(
                    bld, pa, pb, pc, bld.add(lo, i), i64(0), i64(M)) or [], name="batch")
            else:
                call(bld, pa, pb, pc, i64(0), lo, bld.sub(hi, lo))

        split = B if B > 1 else M
        parallel.emit_parallel(b, split, [a, bm, out], build,
                               align=max(1, -(-split // threads)))
        return
    loop_nest(b, [B] if B > 1 else [], lambda ivs: call(
        b, a, bm, out, ivs[0] if ivs else i64(0), i64(0), i64(M)), name="batch")


def _gemm_loops(kb, dt, B, M, N, K, a, ta, bm, tb, out) -> None:
    b = kb.b
    acc_dt = np.dtype(np.float32) if dt == dtypes.float16 else dt
    is_bool = dtypes.is_bool(dt)
    is_float = dt.kind == "f"
    is_complex = dt.kind == "c"

    def load(ptr: ir.Value, off: ir.Value) -> ir.Value:
        v = ltypes.load(b, ltypes.element_ptr(b, ptr, dt, off), dt)
        return b.fpext(v, FLOAT) if v.type == HALF else v

    def mac(acc: ir.Value, x: ir.Value, y: ir.Value, fast: bool) -> ir.Value:
        if is_bool:
            return b.or_(acc, b.and_(x, y))
        if is_complex:
            from llax.codegen.complex_rules import cmul_simd

            (ar, ai), (pr, pi) = ltypes.parts(b, acc), ltypes.parts(b, cmul_simd(b, x, y))
            sums = [b.fadd(ar, pr), b.fadd(ai, pi)]
            if fast:
                for s in sums:
                    s.flags.extend(["reassoc", "nsz"])
            return ltypes.make_complex(b, *sums)
        if is_float:
            s = b.fadd(acc, b.fmul(x, y))
            if fast:  # a register accumulation: let LLVM reorder it to vectorise
                s.flags.extend(["reassoc", "nsz"])
            return s
        return b.add(acc, b.mul(x, y))

    def a_off(bi, m, k):
        # Row-major (M, K) or, transposed, (K, M) per batch.
        inner = b.add(b.mul(k, i64(M)), m) if ta else b.add(b.mul(m, i64(K)), k)
        return b.add(b.mul(bi, i64(M * K)), inner)

    def b_off(bi, k, n):
        inner = b.add(b.mul(n, i64(K)), k) if tb else b.add(b.mul(k, i64(N)), n)
        return b.add(b.mul(bi, i64(K * N)), inner)

    def c_ptr(bi, m, n):
        off = b.add(b.mul(bi, i64(M * N)), b.add(b.mul(m, i64(N)), n))
        return ltypes.element_ptr(b, out, dt, off)

    zero = ltypes.const(acc_dt, 0)

    if tb or dt == dtypes.float16 or K == 0:
        # Dot-product form: C[m, n] = sum_k A[m, k] B^T[n, k], accumulated in registers,
        # DOT_ROWS rows of A at a time: each B element loaded serves them all, and their
        # reductions overlap.
        def rows(bi: ir.Value, m0: ir.Value, n: ir.Value, count: int) -> None:
            def step(k: ir.Value, c: list[ir.Value]) -> list[ir.Value]:
                y = load(bm, b_off(bi, k, n))
                return [mac(c[r], load(a, a_off(bi, b.add(m0, i64(r)), k)), y, True)
                        for r in range(count)]

            accs = for_range(b, K, step, [zero] * count, name="k")
            for r, acc in enumerate(accs):
                if acc.type != ltypes.reg_type(dt):
                    acc = b.fptrunc(acc, HALF)
                ltypes.store(b, acc, c_ptr(bi, b.add(m0, i64(r)), n), dt)

        blocks, tail = divmod(M, DOT_ROWS)

        def cell(ivs: list[ir.Value]) -> None:
            bi, n = ivs
            if blocks:
                for_range(b, blocks, lambda j, _: rows(
                    bi, b.mul(j, i64(DOT_ROWS)), n, DOT_ROWS) or [], name="m")
            if tail:
                rows(bi, i64(blocks * DOT_ROWS), n, tail)

        loop_nest(b, [B, N], cell, name="bn")
        return

    # C[m, :] += A[m, k] * B[k, :]: the inner loop is unit-stride over both C and B.
    def init(ivs: list[ir.Value]) -> None:
        ltypes.store(b, zero, ltypes.element_ptr(b, out, dt, ivs[0]), dt)

    loop_nest(b, [B * M * N], init, name="zero")

    def row(ivs: list[ir.Value]) -> None:
        bi, m, k = ivs
        x = load(a, a_off(bi, m, k))

        def col(n: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
            p = c_ptr(bi, m, n)
            ltypes.store(b, mac(ltypes.load(b, p, dt), x, load(bm, b_off(bi, k, n)), False),
                         p, dt)
            return []

        for_range(b, N, col, name="n")

    loop_nest(b, [B, M, K], row, name="mk")
