"""Triangular factorizations: ``cholesky`` (column by column) and ``qr`` (Householder).

Both are loops over columns built from llax's own operations (``fori_loop`` over
``dynamic_slice`` reads and ``dynamic_update_slice`` writes, products as
``dot_general``), so they trace, compile, batch and differentiate like any other
program; no new primitive. Leading axes are a stack of independent matrices that
every step updates at once.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from llax.frontend import lax
from llax.frontend.api import jit
from llax.frontend.core import bind
from llax.frontend.jnp import _matrix_ops as M
from llax.ir import prims as P


class QRResult(NamedTuple):
    Q: Any
    R: Any


# ---------------------------------------------------------------------------------------------
# Cholesky


def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True) -> Any:
    """The Cholesky factor ``L`` (``a = L L^T``), or ``U = L^T`` with ``upper=True``, of
    each matrix of a stack. A matrix that is not positive definite gives NaN in its
    lower triangle (zeros above), as JAX's LAPACK path does."""
    x = M.square_stack(a, "cholesky", symmetrize_input)
    return _cholesky(x, bool(upper), bool(symmetrize_input))


@jit(static_argnums=(1, 2))
def _cholesky(x: Any, upper: bool, symmetrize: bool) -> Any:
    if symmetrize:
        x = M.symmetrized(x)
    factor = _cholesky_lower(x)
    return M.transpose_last(factor) if upper else factor


def _cholesky_lower(a: Any) -> Any:
    """Left-looking Cholesky: column ``j`` of ``L`` is ``a[:, j] - L l_j`` (``l_j`` the
    finished part of row ``j``) over its pivot's square root. Reads only the lower
    triangle of ``a``. Where compiled code can call LAPACK, its potrf does it instead (the
    ``cholesky`` primitive)."""
    n = a.shape[-1]
    if n == 0:
        return a
    if M.lapack_has("potrf"):
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

_QR_MODES = ("reduced", "complete", "r", "raw")


def qr(a: Any, mode: str = "reduced") -> Any:
    """``a = Q R`` with orthonormal ``Q`` and upper-triangular ``R`` by Householder
    reflections, LAPACK's sign convention (``R``'s diagonal may be negative).

    ``mode``: ``'reduced'`` (``Q`` is ``m x k``, ``R`` is ``k x n``, ``k = min(m, n)``),
    ``'complete'`` (``Q`` is ``m x m``), ``'r'`` (``R`` only) or ``'raw'`` (LAPACK's
    packed reflectors, transposed, and their scale factors)."""
    x = M.matrix_stack(a, "qr")
    if mode not in _QR_MODES:
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    return _qr(x, mode)


@jit(static_argnums=(1,))
def _qr(x: Any, mode: str) -> Any:
    m, n = x.shape[-2:]
    k = min(m, n)
    r, reflectors, taus = householder(x)
    if mode == "raw":
        below = M.triangle_mask(x.shape, lower=True, strict=True)
        packed = lax.select(below, _pad_columns(reflectors, n), r)
        return M.transpose_last(packed), taus
    if mode == "r":
        return _leading_rows(r, k)
    q = form_q(reflectors, taus, m if mode == "complete" else k)
    return QRResult(q, r if mode == "complete" else _leading_rows(r, k))


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
