"""Triangular factorizations: ``cholesky`` and ``qr``.

Where compiled code can call LAPACK both are its primitives (``cholesky``; ``geqrf`` and
``householder_product``, JAX's pair, with JAX's QR derivative as a custom JVP). Otherwise
they are loops over columns built from llax's own operations (``fori_loop`` over
``dynamic_slice`` reads and ``dynamic_update_slice`` writes, products as
``dot_general``), which also serve ``_jacobi``'s SVD fallback. Leading axes are a stack
of independent matrices that every step updates at once.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from llax.frontend import lax
from llax.frontend.api import jit
from llax.frontend.core import bind
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp import _matrix_ops as M
from llax.frontend.jnp._linalg_coerce import adjoint, hermitian_part, inexact_stack, square_stack
from llax.frontend.jnp._lu import lu_solve
from llax.ir import prims as P


class QRResult(NamedTuple):
    Q: Any
    R: Any


# ---------------------------------------------------------------------------------------------
# Cholesky


def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True) -> Any:
    """The Cholesky factor ``L`` (``a = L L^H``), or ``U = L^H`` with ``upper=True``, of
    each (Hermitian) matrix of a stack. A matrix that is not positive definite gives NaN
    in its lower triangle (zeros above), as JAX's LAPACK path does."""
    x = square_stack(a, "cholesky", symmetrize_input)
    return _cholesky(x, bool(upper), bool(symmetrize_input))


@jit(static_argnums=(1, 2))
def _cholesky(x: Any, upper: bool, symmetrize: bool) -> Any:
    if symmetrize:
        x = hermitian_part(x)
    factor = _cholesky_lower(x)
    return adjoint(factor) if upper else factor


def _cholesky_lower(a: Any) -> Any:
    """Left-looking Cholesky: column ``j`` of ``L`` is ``a[:, j] - L l_j`` (``l_j`` the
    finished part of row ``j``) over its pivot's square root. Reads only the lower
    triangle of ``a``. Where compiled code can call LAPACK, its potrf does it instead (the
    ``cholesky`` primitive)."""
    n = a.shape[-1]
    if n == 0:
        return a
    if a.dtype.kind == "c" or M.lapack_has("potrf"):  # complex: interpreted, NumPy's
        import llax.transforms.linalg_rules  # noqa: F401  (the primitive's derivative rule)

        return bind(P.cholesky, (a,), {})
    dtype = np.dtype(a.dtype)
    batch = a.shape[:-2]
    rows = M.index_grid((*batch, n), len(batch))
    zero = M.const(0, dtype, (*batch, n))

    def step(j: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
        factor, ok = carry
        # Columns >= j of ``factor`` are still zero, so the full row is the finished part.
        residual = lax.sub(M.column(a, j), M.matvec(factor, M.row(factor, j)))
        pivot_sq = M.entry(residual, j)
        pivot = lax.sqrt(pivot_sq)
        below = lax.div(residual, lax.broadcast_in_dim(pivot, (*batch, n),
                                                       tuple(range(len(batch)))))
        at_pivot = lax.broadcast_in_dim(pivot, (*batch, n), tuple(range(len(batch))))
        col = lax.select(lax.gt(rows, j), below, lax.select(lax.eq(rows, j), at_pivot, zero))
        # LAPACK stops at a pivot that is not positive (or is NaN): the matrix fails.
        ok = lax.bitwise_and(ok, lax.gt(pivot_sq, M.const(0, dtype)))
        return M.set_column(factor, j, col), ok

    start = (M.const(0, dtype, a.shape), lax.full(batch, True, np.bool_))
    factor, ok = lax.fori_loop(np.int32(0), np.int32(n), step, start)
    failed = lax.select(M.triangle_mask(a.shape, lower=True), M.const(np.nan, dtype, a.shape),
                        M.const(0, dtype, a.shape))
    ok = lax.broadcast_in_dim(ok, a.shape, tuple(range(len(batch))))
    return lax.select(ok, factor, failed)


# ---------------------------------------------------------------------------------------------
# QR

_QR_MODES = ("reduced", "complete", "r", "raw", "full")


def qr(a: Any, mode: str = "reduced") -> Any:
    """``a = Q R`` with orthonormal (unitary) ``Q`` and upper-triangular ``R``, LAPACK's
    convention (``R``'s diagonal may be negative): geqrf, then orgqr for ``Q``.

    ``mode``: ``'reduced'`` (or ``'full'``, as JAX: ``Q`` is ``m x k``, ``R`` is ``k x n``,
    ``k = min(m, n)``), ``'complete'`` (``Q`` is ``m x m``), ``'r'`` (the reduced ``R``
    only) or ``'raw'`` (LAPACK's packed reflectors, transposed, and their scale
    factors)."""
    if mode not in _QR_MODES:
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    x = inexact_stack(a, "qr")
    if mode == "raw":
        packed, taus = geqrf(x)
        return QRResult(M.transpose_last(packed), taus)
    q, r = lax_qr(x, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def geqrf(a: Any) -> tuple[Any, Any]:
    """``lax.linalg.geqrf``: LAPACK's packed Householder QR ``(a', taus)``: R on and above
    the diagonal of ``a'``, the reflectors ``v_j`` below it (``v_j[j] = 1`` implied)."""
    x = inexact_stack(a, "geqrf")
    if _native_qr(x):
        return tuple(bind(P.geqrf, (x,), {}))
    return _packed_householder(x)


def householder_product(a: Any, taus: Any) -> Any:
    """``lax.linalg.householder_product``: the ``m x n`` leading columns of ``H_0 ...
    H_{k-1}``, ``H_j = I - taus_j v_j v_j^H``, with ``v_j`` stored below ``a``'s
    diagonal (LAPACK's orgqr)."""
    x = inexact_stack(a, "householder_product")
    taus = lax.convert_element_type(taus, x.dtype)
    if _native_qr(x):
        return bind(P.householder_product, (x, taus), {})
    m, n = x.shape[-2:]
    reflectors = _unit_lower(lax.slice_in_dim(x, 0, min(taus.shape[-1], n), 1, x.ndim - 1))
    return form_q(reflectors, taus, n)


def lax_qr(x: Any, *, pivoting: bool = False, full_matrices: bool = True,
           use_magma: bool | None = None) -> tuple[Any, Any]:
    """``lax.linalg.qr``: ``(q, r)`` with ``q`` ``m x m`` (``full_matrices``) or
    ``m x min(m, n)``; differentiable by JAX's rule."""
    if pivoting:
        raise NotImplementedError("lax.linalg.qr(pivoting=True) is not supported by llax")
    x = inexact_stack(x, "qr")
    return tuple(_differentiable_qr(bool(full_matrices))(x))


def _native_qr(x: Any) -> bool:
    """geqrf/orgqr as primitives (LAPACK in compiled code, NumPy's QR when interpreted);
    the Householder loops below where compiled code has no LAPACK. Complex matrices
    always take the primitives: jit interprets them."""
    return x.dtype.kind == "c" or M.lapack_has("geqrf") and M.lapack_has("orgqr")


def _unit_lower(packed: Any) -> Any:
    """The reflectors of a packed QR as columns: below the diagonal, 1 on it, 0 above."""
    below = M.triangle_mask(packed.shape, lower=True, strict=True)
    eye = M.identity(packed.shape, np.dtype(packed.dtype))
    return lax.select(below, packed, eye)


def _packed_householder(x: Any) -> tuple[Any, Any]:
    m, n = x.shape[-2:]
    r, reflectors, taus = householder(x)
    below = M.triangle_mask(x.shape, lower=True, strict=True)
    return lax.select(below, _pad_columns(reflectors, n), r), taus


def _qr_factors(x: Any, full_matrices: bool) -> tuple[Any, Any]:
    """Q and R from geqrf and householder_product (as JAX lowers its qr)."""
    *batch, m, n = x.shape
    dtype = np.dtype(x.dtype)
    if m == 0 or n == 0:
        k = m if full_matrices else min(m, n)
        return M.identity((*batch, m, k), dtype), M.const(0, dtype, (*batch, k, n))
    packed, taus = geqrf(x)
    if m < n:
        q = householder_product(lax.slice_in_dim(packed, 0, m, 1, x.ndim - 1), taus)
    elif full_matrices:
        q = householder_product(_pad_columns(packed, m), taus)
    else:
        q = householder_product(packed, taus)
        packed = lax.slice_in_dim(packed, 0, n, 1, x.ndim - 2)
    return q, M.keep_triangle(packed, lower=False)


@functools.cache
def _differentiable_qr(full_matrices: bool) -> Any:
    @custom_jvp
    def factors(x: Any) -> tuple[Any, Any]:
        return _qr_factors(x, full_matrices)

    @factors.defjvp
    def factors_jvp(primals: tuple, tangents: tuple) -> tuple:
        (x,), (dx,) = primals, tangents
        q, r = _qr_factors(x, full_matrices)
        return (q, r), _qr_tangents(x, q, r, dx, full_matrices)

    return factors


def _adjoint(x: Any) -> Any:
    x = M.transpose_last(x)
    return lax.conj(x) if x.dtype.kind == "c" else x


def _thin_qr_jvp(q: Any, r: Any, dx: Any) -> tuple[Any, Any]:
    """``(dQ, dR)`` of ``x = Q R`` with ``m >= n`` (J. Towns' derivation, as JAX): with
    ``C = Q^H dX R^-1``, ``dO`` the skew-Hermitian part made of C's strict lower
    triangle (plus C's imaginary diagonal), ``dQ = Q (dO - C) + dX R^-1``,
    ``dR = (C - dO) R``."""
    dx_rinv = bind(P.triangular_solve, (r, dx), {
        "left_side": False, "lower": False, "transpose_a": False, "conjugate_a": False,
        "unit_diagonal": False})
    c = M.matmul(_adjoint(q), dx_rinv)
    lower = lax.select(M.triangle_mask(c.shape, lower=True, strict=True), c,
                       M.const(0, np.dtype(c.dtype), c.shape))
    do = lax.sub(lower, _adjoint(lower))
    if c.dtype.kind == "c":
        eye = M.identity(c.shape, np.dtype(c.dtype))
        imaginary = lax.sub(c, lax.convert_element_type(lax.real(c), c.dtype))
        do = lax.add(do, lax.mul(eye, imaginary))
    dq = lax.add(M.matmul(q, lax.sub(do, c)), dx_rinv)
    return dq, M.matmul(lax.sub(c, do), r)


def _qr_tangents(x: Any, q: Any, r: Any, dx: Any, full_matrices: bool) -> tuple[Any, Any]:
    m, n = x.shape[-2:]
    last, rows = x.ndim - 1, x.ndim - 2
    if m < n:
        # x = [x1 x2] with x1 square: x1 = Q r1 is a square QR; r2 = Q^H x2.
        x2 = lax.slice_in_dim(x, m, n, 1, last)
        dx1, dx2 = lax.slice_in_dim(dx, 0, m, 1, last), lax.slice_in_dim(dx, m, n, 1, last)
        dq, dr1 = _thin_qr_jvp(q, lax.slice_in_dim(r, 0, m, 1, last), dx1)
        dr2 = lax.add(M.matmul(_adjoint(dq), x2), M.matmul(_adjoint(q), dx2))
        return dq, lax.concatenate([dr1, dr2], last)
    if not full_matrices or m == n:
        return _thin_qr_jvp(q, r, dx)
    # Complete Q of a tall x: the thin part as above, the rest from arXiv:2409.13374
    # (eqs. 32-33): Z = Q_pn (Q_nn - I)^-1, dQ_mp = dQ_mn Z^H - (Q_mn + Q_mp Z)(dQ_pn -
    # Z dQ_nn)^H.
    q_mn, q_mp = lax.slice_in_dim(q, 0, n, 1, last), lax.slice_in_dim(q, n, m, 1, last)
    dq_mn, dr_nn = _thin_qr_jvp(q_mn, lax.slice_in_dim(r, 0, n, 1, rows), dx)
    q_nn, q_pn = lax.slice_in_dim(q_mn, 0, n, 1, rows), lax.slice_in_dim(q_mn, n, m, 1, rows)
    dq_nn = lax.slice_in_dim(dq_mn, 0, n, 1, rows)
    dq_pn = lax.slice_in_dim(dq_mn, n, m, 1, rows)
    shifted = lax.sub(q_nn, M.identity(q_nn.shape, np.dtype(q.dtype)))
    factor, _, perm = bind(P.lu, (_adjoint(shifted),), {})
    z_h = lu_solve(factor, perm, _adjoint(q_pn))
    z = _adjoint(z_h)
    dq_mp = lax.sub(M.matmul(dq_mn, z_h),
                    M.matmul(lax.add(q_mn, M.matmul(q_mp, z)),
                             _adjoint(lax.sub(dq_pn, M.matmul(z, dq_nn)))))
    zeros = M.const(0, np.dtype(r.dtype), (*r.shape[:-2], m - n, n))
    return lax.concatenate([dq_mn, dq_mp], last), lax.concatenate([dr_nn, zeros], rows)


def _leading_rows(x: Any, k: int) -> Any:
    return lax.slice_in_dim(x, 0, k, 1, x.ndim - 2)


def _pad_columns(x: Any, n: int) -> Any:
    """``x`` (``m x k``, ``k <= n``) with zero columns appended up to ``n``."""
    extra = n - x.shape[-1]
    if extra == 0:
        return x
    config = [(0, 0, 0)] * (x.ndim - 1) + [(0, extra, 0)]
    return lax.pad(x, M.const(0, np.dtype(x.dtype)), config)


def vector_norm(v: Any) -> Any:
    """The 2-norm along the last axis, scaled by the largest magnitude first so that
    squares neither overflow nor underflow."""
    big = lax.reduce_max(lax.abs(v), (v.ndim - 1,))
    dtype = np.dtype(v.dtype)
    safe = lax.select(lax.gt(big, M.const(0, dtype)), big, M.const(1, dtype, big.shape))
    scaled = M.scale(v, lax.div(M.const(1, dtype), safe), v.ndim - 1)
    return lax.mul(safe, lax.sqrt(lax.reduce_sum(lax.mul(scaled, scaled), (v.ndim - 1,))))


def householder(a: Any) -> tuple[Any, Any, Any]:
    """Householder triangularization of ``a`` (``..., m, n``): returns ``R`` (``m x n``),
    the reflectors ``v_j`` as columns (``m x k``, ``v_j[j] = 1``, zero above) and their
    factors ``tau_j``, with ``H_{k-1} ... H_0 a = R`` and ``H_j = I - tau_j v_j v_j^T``.

    As LAPACK's ``larfg``: ``beta = -sign(alpha) ||x||`` sends column ``j`` to
    ``beta e_j``; a column already zero below the diagonal gets ``tau = 0``."""
    m, n = a.shape[-2:]
    k = min(m, n)
    dtype = np.dtype(a.dtype)
    batch = a.shape[:-2]
    nb = len(batch)
    rows = M.index_grid((*batch, m), nb)
    zero_col = M.const(0, dtype, (*batch, m))
    spread = tuple(range(nb))

    def step(j: Any, carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        r, reflectors, taus = carry
        x = M.column(r, j)
        alpha = M.entry(x, j)
        below = lax.select(lax.gt(rows, j), x, zero_col)
        length = vector_norm(lax.select(lax.ge(rows, j), x, zero_col))
        trivial = lax.eq(vector_norm(below), M.const(0, dtype))
        beta = lax.select(lax.lt(alpha, M.const(0, dtype)), length, lax.neg(length))
        beta = lax.select(trivial, alpha, beta)
        one = M.const(1, dtype, batch)
        tau = lax.select(trivial, M.const(0, dtype, batch), lax.div(lax.sub(beta, alpha), beta))
        inv = lax.select(trivial, one, lax.div(one, lax.sub(alpha, beta)))
        v = lax.select(lax.eq(rows, j), M.const(1, dtype, (*batch, m)),
                       M.scale(below, inv, nb))
        # r <- r - tau v (v^T r); rows above j are untouched because v is zero there.
        w = M.scale(M.vecmat(v, r), tau, nb)
        r = lax.sub(r, M.outer(v, w))
        at_pivot = lax.broadcast_in_dim(beta, (*batch, m), spread)
        col = lax.select(lax.eq(rows, j), at_pivot, lax.select(lax.gt(rows, j), zero_col, x))
        r = M.set_column(r, j, col)
        reflectors = M.set_column(reflectors, j, v)
        taus = lax.dynamic_update_slice(taus, lax.expand_dims(tau, (nb,)), (*[0] * nb, j))
        return r, reflectors, taus

    start = (a, M.const(0, dtype, (*batch, m, k)), M.const(0, dtype, (*batch, k)))
    if k == 0:
        return start
    return lax.fori_loop(np.int32(0), np.int32(k), step, start)


def form_q(reflectors: Any, taus: Any, columns: int) -> Any:
    """The first ``columns`` columns of ``H_0 H_1 ... H_{k-1}``, applied right to left to
    the identity (as LAPACK's ``orgqr``), so each step touches only what it changes."""
    m, k = reflectors.shape[-2:]
    batch = reflectors.shape[:-2]
    nb = len(batch)

    def step(i: Any, q: Any) -> Any:
        j = lax.sub(np.int32(k - 1), i)
        v = M.column(reflectors, j)
        tau = M.entry(taus, j)
        w = M.scale(M.vecmat(v, q), tau, nb)
        return lax.sub(q, M.outer(v, w))

    q0 = M.identity((*batch, m, columns), np.dtype(reflectors.dtype))
    if k == 0:
        return q0
    return lax.fori_loop(np.int32(0), np.int32(k), step, q0)
