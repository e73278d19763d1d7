"""Lowering of the linear-algebra primitives to LAPACK calls (NumPy's bundled OpenBLAS).

The OpenBLAS that NumPy ships (llax.codegen.blas finds it) also exports LAPACK, with
64-bit integers, and its LAPACKE and CBLAS interfaces take row-major matrices, which is
llax's layout: ``scipy_LAPACKE_sgetrf64_`` (getrf, the LU factorization) and
``scipy_cblas_strsm64_`` (trsm, the triangular solve), under the spellings blas.py
knows. ``register()`` publishes each as ``llax_lapack_<routine>`` (``llax_lapack_sgetrf``,
``llax_lapack_strsm`` ...) with ``llvm.add_symbol``, so generated IR declares and calls
it with i64 sizes whatever the library calls it.

The routines are those of blas.py's ordinary instance (``blas.find()``): its private copy
of the library set to one thread where it could make one, so a factorization neither
wakes NumPy's OpenBLAS threads (which then spin and take cores from llax) nor runs
multi-threaded under llax's own parallel loops. The copy's LAPACK symbols sit at the same
offsets from its ``sgemm`` as in NumPy's instance, which is how they are found (blas.py
keeps no handle to the copy). Symbols are resolved once per process and shared by every
lowering.

Each op copies its operand into its output and factors (or solves) there in place, one
call per matrix of the stack: ``_each_matrix`` is that loop, handing the body each stack's
pointer to the current matrix.
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from llax.codegen import blas, ltypes
from llax.codegen.emitter import LoweringError
from llax.codegen.loops import for_range, tiled_pair
from llax.codegen.lower import OPAQUE_RULES, TRANSPOSE_TILE, KernelBuilder
from llax.codegen.ltypes import I64, PTR, i64
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.types import TensorType

# LAPACKE and CBLAS enum values (lapacke.h, cblas.h); passed as C ints.
ROW_MAJOR, COL_MAJOR = 101, 102
CBLAS_NO_TRANS, CBLAS_TRANS = 111, 112
CBLAS_UPPER, CBLAS_LOWER = 121, 122
CBLAS_NON_UNIT, CBLAS_UNIT = 131, 132
CBLAS_LEFT, CBLAS_RIGHT = 141, 142

_I32 = ir.IntType(32)
_I8 = ir.IntType(8)

# routine -> (symbol patterns, most specific first, as blas.py's; signature maker)
_LAPACKE = ("scipy_LAPACKE_{}64_", "LAPACKE_{}64_", "LAPACKE_{}_64")
_CBLAS = ("scipy_cblas_{}64_", "cblas_{}64_", "cblas_{}_64")


def _scalar(routine: str) -> ir.Type:
    return ir.FloatType() if routine[0] == "s" else ir.DoubleType()


def _signature(routine: str) -> ir.FunctionType:
    kind = routine[1:]
    if kind == "getrf":  # layout, m, n, a, lda, ipiv -> info
        return ir.FunctionType(I64, [_I32, I64, I64, PTR, I64, PTR])
    if kind == "trsm":  # layout, side, uplo, trans, diag, m, n, alpha, a, lda, b, ldb
        return ir.FunctionType(ir.VoidType(), [_I32] * 5 + [I64, I64, _scalar(routine), PTR,
                                                            I64, PTR, I64])
    if kind == "potrf":  # layout, uplo, n, a, lda -> info
        return ir.FunctionType(I64, [_I32, _I8, I64, PTR, I64])
    if kind == "syevd":  # layout, jobz, uplo, n, a, lda, w -> info
        return ir.FunctionType(I64, [_I32, _I8, _I8, I64, PTR, I64, PTR])
    if kind == "gesdd":  # layout, jobz, m, n, a, lda, s, u, ldu, vt, ldvt -> info
        return ir.FunctionType(I64, [_I32, _I8, I64, I64, PTR, I64, PTR, PTR, I64, PTR, I64])
    if kind == "geqrf":  # layout, m, n, a, lda, tau -> info
        return ir.FunctionType(I64, [_I32, I64, I64, PTR, I64, PTR])
    if kind == "orgqr":  # layout, m, n, k, a, lda, tau -> info
        return ir.FunctionType(I64, [_I32, I64, I64, I64, PTR, I64, PTR])
    raise ValueError(f"unknown LAPACK routine {routine!r}")


_KINDS = ("getrf", "trsm", "potrf", "syevd", "gesdd", "geqrf", "orgqr")
_ROUTINES = {f"{p}{k}": (_CBLAS if k == "trsm" else _LAPACKE) for p in "sd" for k in _KINDS}


def llax_name(routine: str) -> str:
    return f"llax_lapack_{routine}"


def _symbol_addresses(path: str) -> dict[str, int]:
    """routine -> address of its first spelling found in the library at ``path`` (NumPy's
    instance: dlopen of a loaded path returns it)."""
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return {}
    addresses = {}
    for routine, patterns in _ROUTINES.items():
        for pattern in patterns:
            try:
                addr = ctypes.cast(getattr(lib, pattern.format(routine)), ctypes.c_void_p).value
            except AttributeError:
                continue
            if addr:
                addresses[routine] = addr
                break
    return addresses


@functools.cache
def register() -> dict[str, int]:
    """Find each routine in blas.py's ordinary instance of NumPy's OpenBLAS and publish it
    to LLVM, once per process; routine -> address (empty when there is no ILP64 BLAS)."""
    ordinary, shared = blas.find(), blas.find_shared()
    if ordinary is None or shared is None:
        return {}
    addresses = _symbol_addresses(shared.path)
    if ordinary.single_threaded:
        # The private copy is the same file mapped elsewhere: every symbol keeps its offset
        # from sgemm.
        shift = ordinary.addresses["sgemm"] - shared.addresses["sgemm"]
        addresses = {r: a + shift for r, a in addresses.items()}
    for routine, addr in addresses.items():
        llvm.add_symbol(llax_name(routine), addr)
    return addresses


def available(routine: str) -> bool:
    return routine in register()


def declare(module: ir.Module, routine: str) -> ir.Function:
    if not available(routine):
        raise LoweringError(f"LAPACK routine {routine!r} is not available in this process "
                            "(llax calls the ILP64 OpenBLAS that NumPy ships)")
    name = llax_name(routine)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    fn = ir.Function(module, _signature(routine), name=name)
    fn.attributes.add("nounwind")
    return fn


def _prefix(dtype: np.dtype) -> str:
    return {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}[np.dtype(dtype)]


def _int(value: int) -> ir.Constant:
    return ir.Constant(_I32, value)


def _char(c: str) -> ir.Constant:
    return ir.Constant(_I8, ord(c))


def _offset(b: ir.IRBuilder, i: ir.Value, stride: int) -> ir.Value:
    return b.mul(i, i64(stride), flags=["nuw", "nsw"])


def transposed_copy(b: ir.IRBuilder, dst: ir.Value, src: ir.Value, rows: int, cols: int,
                    dtype: np.dtype) -> None:
    """``dst`` (``cols`` x ``rows``, row-major) = the transpose of ``src`` (``rows`` x
    ``cols``): a row-major matrix to the column-major one LAPACK takes, or back."""

    def element(c: ir.Value, r: ir.Value) -> None:
        value = ltypes.load(b, ltypes.element_ptr(b, src, dtype, b.add(_offset(b, r, cols), c)),
                            dtype)
        ltypes.store(b, value, ltypes.element_ptr(b, dst, dtype, b.add(_offset(b, c, rows), r)),
                     dtype)

    tiled_pair(b, cols, rows, element, TRANSPOSE_TILE)


def _each_matrix(kb: KernelBuilder, count: int, stacks: list[tuple[ir.Value, np.dtype, int]],
                 body: Callable[[list[ir.Value]], None], *,
                 copies: tuple[tuple[ir.Value, ir.Value, int], ...] = ()) -> None:
    """The prologue and loop every lowering shares: copy each ``(dst, src, nbytes)`` (an
    operand into the output LAPACK overwrites), then for each of the ``count`` matrices
    call ``body`` with, per ``(pointer, dtype, elements per matrix)`` of ``stacks``, the
    pointer to that matrix."""
    for dst, src, nbytes in copies:
        kb.copy_bytes(dst, src, nbytes)
    b = kb.b

    def matrix(i: ir.Value, _: list) -> list:
        body([ltypes.element_ptr(b, ptr, dtype, _offset(b, i, size))
              for ptr, dtype, size in stacks])
        return []

    for_range(b, count, matrix, name="m")


# --- lu: getrf on a column-major copy, then LAPACK's 1-based i64 pivots as JAX's int32
# pivots and permutation --------------------------------------------------------------------
# LAPACKE's row-major getrf transposes into a malloc'ed column-major copy and back with
# plain loops (1 ms of its 3 at 512 x 512 f32); llax transposes in cache-sized blocks.

def _lower_lu(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    (a,) = op.inputs
    lu_out, piv_out, perm_out = outs
    t = a.type
    *batch, m, n = t.shape
    k, count = min(m, n), math.prod(batch)
    if count == 0 or m == 0:
        return
    b = kb.b
    getrf = declare(kb.module, _prefix(t.dtype) + "getrf") if k else None
    ipiv = kb.alloc(TensorType((max(k, 1),), np.int64))
    column_major = kb.alloc(TensorType((m, n), t.dtype)) if getrf is not None else None
    index = np.dtype(np.int32)

    def matrix(ptrs: list[ir.Value]) -> None:
        src, mat, pivots, perm = ptrs
        if getrf is not None:
            def no_swap(j: ir.Value, _: list) -> list:  # what a refused call leaves
                ltypes.store(b, b.add(j, i64(1)), ltypes.element_ptr(b, ipiv, np.int64, j),
                             np.int64)
                return []

            for_range(b, k, no_swap, name="p")
            transposed_copy(b, column_major, src, m, n, t.dtype)
            info = b.call(getrf, [_int(COL_MAJOR), i64(m), i64(n), column_major, i64(m), ipiv])
            transposed_copy(b, mat, column_major, n, m, t.dtype)
            # info > 0 is a singular U (still a factorization); < 0 a refused input (NaN).
            _nan_if(b, b.icmp_signed("<", info, i64(0)), [(mat, m * n)], t.dtype)

        def identity(r: ir.Value, _: list) -> list:
            ltypes.store(b, b.trunc(r, _I32), ltypes.element_ptr(b, perm, index, r), index)
            return []

        def swap(j: ir.Value, _: list) -> list:
            p = b.sub(ltypes.load(b, ltypes.element_ptr(b, ipiv, np.int64, j), np.int64),
                      i64(1))
            # A pivot LAPACK did not set (NaN input) stays in range: clamp to [j, m).
            p = ltypes.intrinsic(b, "smin", [ltypes.intrinsic(b, "smax", [p, j], I64),
                                             i64(m - 1)], I64)
            ltypes.store(b, b.trunc(p, _I32), ltypes.element_ptr(b, pivots, index, j), index)
            at_j = ltypes.element_ptr(b, perm, index, j)
            at_p = ltypes.element_ptr(b, perm, index, p)
            vj, vp = ltypes.load(b, at_j, index), ltypes.load(b, at_p, index)
            ltypes.store(b, vp, at_j, index)
            ltypes.store(b, vj, at_p, index)
            return []

        for_range(b, m, identity, name="r")
        for_range(b, k, swap, name="j")

    _each_matrix(kb, count, [(kb.buffer(a), t.dtype, m * n), (lu_out, t.dtype, m * n),
                             (piv_out, index, k), (perm_out, index, m)], matrix)
    kb.free(ipiv)
    if column_major is not None:
        kb.free(column_major)


# --- triangular_solve: trsm on a copy of b --------------------------------------------------

def _lower_triangular_solve(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    a, rhs = op.inputs
    (out,) = outs
    params = op.rule_params
    t = rhs.type
    *batch, rows, cols = t.shape
    size = a.type.shape[-1]
    if t.size == 0:
        return
    copy = ((out, kb.buffer(rhs), t.nbytes),)
    if size == 0:
        kb.copy_bytes(*copy[0])
        return
    routine = _prefix(t.dtype) + "trsm"
    trsm = declare(kb.module, routine)
    flags = [_int(ROW_MAJOR),
             _int(CBLAS_LEFT if params["left_side"] else CBLAS_RIGHT),
             _int(CBLAS_LOWER if params["lower"] else CBLAS_UPPER),
             _int(CBLAS_TRANS if params["transpose_a"] else CBLAS_NO_TRANS),
             _int(CBLAS_UNIT if params["unit_diagonal"] else CBLAS_NON_UNIT)]
    one = ir.Constant(_scalar(routine), 1.0)

    def matrix(ptrs: list[ir.Value]) -> None:
        mat, sol = ptrs
        kb.b.call(trsm, [*flags, i64(rows), i64(cols), one, mat, i64(size), sol, i64(cols)])

    _each_matrix(kb, math.prod(batch), [(kb.buffer(a), t.dtype, size * size),
                                        (out, t.dtype, rows * cols)], matrix, copies=copy)


# --- cholesky: potrf on a copy; the upper triangle zeroed, a failed factor made NaN ------
# A row-major matrix is its transpose column-major: for a symmetric one the same matrix,
# with the triangles' names swapped. So the column-major call on llax's buffer factors
# A = U^T U in the upper triangle it sees, which is L = U^T in row-major's lower triangle,
# with no transposition (LAPACKE's row-major call makes two).

def _lower_cholesky(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    (a,) = op.inputs
    (out,) = outs
    t = a.type
    *batch, n, _ = t.shape
    if t.size == 0:
        return
    b = kb.b
    potrf = declare(kb.module, _prefix(t.dtype) + "potrf")
    zero, nan = ltypes.const(t.dtype, 0), ltypes.const(t.dtype, np.nan)

    def matrix(ptrs: list[ir.Value]) -> None:
        (mat,) = ptrs
        info = b.call(potrf, [_int(COL_MAJOR), _char("U"), i64(n), mat, i64(n)])
        failed = b.icmp_signed("!=", info, i64(0))

        def row(r: ir.Value, _: list) -> list:
            def col(c: ir.Value, _: list) -> list:
                at = ltypes.element_ptr(b, mat, t.dtype, b.add(_offset(b, r, n), c))
                kept = b.select(failed, nan, ltypes.load(b, at, t.dtype))
                ltypes.store(b, b.select(b.icmp_signed(">", c, r), zero, kept), at, t.dtype)
                return []

            for_range(b, n, col, name="c")
            return []

        for_range(b, n, row, name="r")

    _each_matrix(kb, math.prod(batch), [(out, t.dtype, n * n)], matrix,
                 copies=((out, kb.buffer(a), t.nbytes),))


# --- eigh: syevd on a copy (eigenvectors overwrite it; eigenvalues come out ascending) ------
# Column-major on the row-major copy, the triangles' names swapped (as cholesky); the
# eigenvectors come back as columns, transposed once into the output.

def _lower_eigh(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    (a,) = op.inputs
    v_out, w_out = outs
    t = a.type
    *batch, n, _ = t.shape
    if t.size == 0:
        return
    syevd = declare(kb.module, _prefix(t.dtype) + "syevd")
    uplo = _char("U" if op.rule_params["lower"] else "L")
    columns = kb.alloc(TensorType((n, n), t.dtype))

    def matrix(ptrs: list[ir.Value]) -> None:
        src, mat, w = ptrs
        kb.copy_bytes(columns, src, n * n * t.dtype.itemsize)
        info = kb.b.call(syevd, [_int(COL_MAJOR), _char("V"), uplo, i64(n), columns, i64(n), w])
        transposed_copy(kb.b, mat, columns, n, n, t.dtype)
        _nan_if(kb.b, kb.b.icmp_signed("!=", info, i64(0)), [(mat, n * n), (w, n)], t.dtype)

    _each_matrix(kb, math.prod(batch), [(kb.buffer(a), t.dtype, n * n), (v_out, t.dtype, n * n),
                                        (w_out, t.dtype, n)], matrix)
    kb.free(columns)


# --- svd: gesdd on a scratch copy (it destroys its input) ------------------------------------

def _lower_svd(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    (a,) = op.inputs
    params = op.rule_params
    t = a.type
    *batch, m, n = t.shape
    k, count = min(m, n), math.prod(batch)
    if count == 0:
        return
    if k == 0:  # no singular values; U and Vt (if any) are identities, as NumPy's
        for out, v in zip(outs[1:], op.outputs[1:]):
            _fill_identity(kb, out, v.type)
        return
    full, uv = params["full_matrices"], params["compute_uv"]
    rows, cols = (m, n) if full else (k, k)
    scratch = kb.alloc(t)
    gesdd = declare(kb.module, _prefix(t.dtype) + "gesdd")
    jobz = _char("N" if not uv else ("A" if full else "S"))
    null = ir.Constant(PTR, None)
    stacks = [(scratch, t.dtype, m * n), (outs[0], t.dtype, k)]
    if uv:
        stacks += [(outs[1], t.dtype, m * rows), (outs[2], t.dtype, cols * n)]

    def matrix(ptrs: list[ir.Value]) -> None:
        mat, s, *vectors = ptrs
        u, vt = vectors if uv else (null, null)
        info = kb.b.call(gesdd, [_int(ROW_MAJOR), jobz, i64(m), i64(n), mat, i64(n), s, u,
                                 i64(rows if uv else 1), vt, i64(n if uv else 1)])
        parts = [(s, k)] + ([(u, m * rows), (vt, cols * n)] if uv else [])
        _nan_if(kb.b, kb.b.icmp_signed("!=", info, i64(0)), parts, t.dtype)

    _each_matrix(kb, count, stacks, matrix, copies=((scratch, kb.buffer(a), t.nbytes),))
    kb.free(scratch)


# --- geqrf: on a copy (R above the diagonal, reflectors below, as LAPACK leaves them) -------

def _lower_geqrf(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    (a,) = op.inputs
    packed, taus = outs
    t = a.type
    *batch, m, n = t.shape
    k = min(m, n)
    if t.size == 0:
        return
    geqrf = declare(kb.module, _prefix(t.dtype) + "geqrf")

    def matrix(ptrs: list[ir.Value]) -> None:
        mat, tau = ptrs
        info = kb.b.call(geqrf, [_int(ROW_MAJOR), i64(m), i64(n), mat, i64(n), tau])
        _nan_if(kb.b, kb.b.icmp_signed("!=", info, i64(0)), [(mat, m * n), (tau, k)], t.dtype)

    _each_matrix(kb, math.prod(batch), [(packed, t.dtype, m * n), (taus, t.dtype, k)], matrix,
                 copies=((packed, kb.buffer(a), t.nbytes),))


# --- householder_product: orgqr on a copy of the reflectors -------------------------------------

def _lower_householder_product(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    a, taus = op.inputs
    (q,) = outs
    t = a.type
    *batch, m, n = t.shape
    k = taus.type.shape[-1]
    if t.size == 0:
        return
    orgqr = declare(kb.module, _prefix(t.dtype) + "orgqr")

    def matrix(ptrs: list[ir.Value]) -> None:
        mat, tau = ptrs
        info = kb.b.call(orgqr, [_int(ROW_MAJOR), i64(m), i64(n), i64(k), mat, i64(n), tau])
        _nan_if(kb.b, kb.b.icmp_signed("!=", info, i64(0)), [(mat, m * n)], t.dtype)

    _each_matrix(kb, math.prod(batch), [(q, t.dtype, m * n), (kb.buffer(taus), t.dtype, k)],
                 matrix, copies=((q, kb.buffer(a), t.nbytes),))


def _nan_if(b: ir.IRBuilder, failed: ir.Value, parts: list[tuple[ir.Value, int]],
            dtype: np.dtype) -> None:
    """Fill each ``(pointer, count)`` with NaN when ``failed`` (LAPACK's info was not 0:
    no convergence, or NaN input, which LAPACKE refuses), as JAX's results are then."""
    nan = ltypes.const(dtype, np.nan)
    with b.if_then(failed, likely=False):
        for ptr, count in parts:
            def fill(e: ir.Value, _: list, ptr: ir.Value = ptr) -> list:
                ltypes.store(b, nan, ltypes.element_ptr(b, ptr, dtype, e), dtype)
                return []

            for_range(b, count, fill, name="nan")


def _fill_identity(kb: KernelBuilder, out: ir.Value, t: TensorType) -> None:
    b = kb.b
    *_, r, c = t.shape
    one, zero = ltypes.const(t.dtype, 1), ltypes.const(t.dtype, 0)

    def element(e: ir.Value, _: list) -> list:
        within = b.urem(e, i64(r * c)) if r * c else e
        diag = b.icmp_signed("==", b.udiv(within, i64(c)), b.urem(within, i64(c)))
        ltypes.store(b, b.select(diag, one, zero), ltypes.element_ptr(b, out, t.dtype, e),
                     t.dtype)
        return []

    for_range(b, t.size, element, name="e")


OPAQUE_RULES[P.svd] = _lower_svd
OPAQUE_RULES[P.cholesky] = _lower_cholesky
OPAQUE_RULES[P.eigh] = _lower_eigh
OPAQUE_RULES[P.lu] = _lower_lu
OPAQUE_RULES[P.triangular_solve] = _lower_triangular_solve
OPAQUE_RULES[P.geqrf] = _lower_geqrf
OPAQUE_RULES[P.householder_product] = _lower_householder_product
