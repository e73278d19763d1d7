"""Symmetric eigendecomposition (``eigh``) and singular value decomposition (``svd``) by
Jacobi rotations, from llax's own operations (no new primitive).

Both rotate pairs of columns ``(p, q)`` in parallel: in each *round* the pairs
``(0, 1), (2, 3), ...`` are rotated at once, then a fixed permutation of positions
(a round-robin tournament, Brent and Luk's ordering) brings new partners together;
after ``N - 1`` rounds (a *sweep*) every pair has met once and the positions are
back where they started. Sweeps repeat in a ``while_loop`` until the matrix is
diagonal (``eigh``) or its columns orthogonal (``svd``) to working precision, at
most ``MAX_SWEEPS`` times. An odd size is padded with a zero row and column that
no rotation touches (its partner's rotation angle is exactly zero).

- ``eigh``: two-sided Jacobi, ``A <- J^T A J``, ``V <- V J``; the rotated pair's
  off-diagonal entry is set to exactly zero and its diagonal updated by the
  rotation's closed form, which keeps eigenvalues accurate.
- ``svd``: one-sided Jacobi (Hestenes), ``W <- W J`` until ``W = A V`` has
  orthogonal columns; ``S`` are their norms, and ``U`` comes from a Householder QR
  of the sorted ``W`` (so it is orthonormal even for zero singular values, and
  ``full_matrices`` completes it).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from llax.frontend import lax
from llax.frontend.api import jit
from llax.frontend.core import bind
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp import _matrix_ops as M
from llax.frontend.jnp._linalg_coerce import (
    adjoint,
    hermitian_part,
    inexact_stack,
    mirrored,
    square_stack,
)
from llax.frontend.jnp._take import gather_along_axis
from llax.frontend.jnp._triangular import form_q, householder
from llax.ir import prims as P

MAX_SWEEPS = 30


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


# ---------------------------------------------------------------------------------------------
# Rotations in parallel


def _round_robin(size: int) -> np.ndarray:
    """The gather indices that move positions to the next round (positions ``2i`` and
    ``2i + 1`` are pair ``i``; position 0 stays, the others cycle): as a table, for
    reading and testing; ``_next_round`` computes the same from an iota."""
    if size <= 2:
        return np.arange(size, dtype=np.int32)
    p = np.arange(size)
    src = np.where(p % 2 == 0, p - 2, p + 2)
    src[0], src[2], src[size - 1] = 0, 1, size - 2
    return src.astype(np.int32)


def _next_round(x: Any, axis: int) -> Any:
    """``x`` with its positions along ``axis`` permuted for the next round. The indices
    come from an iota, not an array constant, so loop bodies stay free of those (which
    batching rules cannot re-stage)."""
    axis %= x.ndim
    size = x.shape[axis]
    if size <= 2:
        return x
    p = M.index_grid(tuple(x.shape), axis)
    two = np.int32(2)
    even = lax.eq(lax.rem(p, two), np.int32(0))
    src = lax.select(even, lax.sub(p, two), lax.add(p, two))
    src = lax.select(lax.eq(p, np.int32(0)), p, src)
    src = lax.select(lax.eq(p, two), lax.full(p.shape, 1, np.int32), src)
    src = lax.select(lax.eq(p, np.int32(size - 1)), lax.full(p.shape, size - 2, np.int32), src)
    return gather_along_axis(x, src, axis)


def _pairs(x: Any) -> tuple[Any, Any]:
    """The first and second member of each pair along the last axis: ``(..., N)`` to two
    ``(..., N/2)``."""
    split = lax.reshape(x, (*x.shape[:-1], x.shape[-1] // 2, 2))
    first = lax.index_in_dim(split, 0, split.ndim - 1, keepdims=False)
    second = lax.index_in_dim(split, 1, split.ndim - 1, keepdims=False)
    return first, second


def _interleave(first: Any, second: Any) -> Any:
    stacked = lax.concatenate([lax.expand_dims(first, (first.ndim,)),
                               lax.expand_dims(second, (second.ndim,))], first.ndim)
    return lax.reshape(stacked, (*first.shape[:-1], 2 * first.shape[-1]))


def _negligible(gamma: Any, scale_p: Any, scale_q: Any, tol: float) -> Any:
    """Where ``|gamma| <= tol * scale_p * scale_q``: a rotation would change nothing above
    rounding, and skipping it keeps rounding out of the converged vectors. Exact zeros
    (the padding's pairs among them) are always skipped."""
    dtype = np.dtype(gamma.dtype)
    bound = lax.mul(lax.mul(M.const(tol, dtype), scale_p), scale_q)
    return lax.bitwise_or(lax.le(lax.abs(gamma), bound), lax.eq(gamma, M.const(0, dtype)))


def _rotation(alpha: Any, beta: Any, gamma: Any, skip: Any) -> tuple[Any, Any, Any]:
    """``(c, s, t = s / c)`` of the rotation that zeroes ``gamma`` in the symmetric 2x2
    ``[[alpha, gamma], [gamma, beta]]`` (its smaller angle, |t| <= 1); exactly the
    identity where ``skip``."""
    dtype = np.dtype(alpha.dtype)
    zero, one = M.const(0, dtype), M.const(1, dtype)
    safe_gamma = lax.select(skip, M.const(1, dtype, gamma.shape), gamma)
    theta = lax.div(lax.sub(beta, alpha), lax.mul(M.const(2, dtype), safe_gamma))
    sign = lax.select(lax.ge(theta, zero), M.const(1, dtype, theta.shape),
                      M.const(-1, dtype, theta.shape))
    # Past 1/sqrt(eps) the square root is |theta| to working precision; beyond the
    # square's overflow t is 1 / (2 theta), which the same expression gives as long as
    # theta^2 + 1 stays finite, so clamp it there.
    big = M.const(math.sqrt(np.finfo(dtype).max) / 2, dtype)
    magnitude = lax.min(lax.abs(theta), big)
    t = lax.div(sign, lax.add(magnitude, lax.sqrt(lax.add(lax.mul(magnitude, magnitude), one))))
    t = lax.select(skip, M.const(0, dtype, t.shape), t)
    c = lax.rsqrt(lax.add(lax.mul(t, t), one))
    return c, lax.mul(t, c), t


def _rotate_columns(x: Any, c: Any, s: Any) -> Any:
    """``x J``: for each pair, columns ``(p, q) <- (c p - s q, s p + c q)``. ``x`` is
    ``(..., r, N)``, ``c`` and ``s`` are ``(..., N/2)``."""
    first, second = _pairs(x)
    dims = (*range(c.ndim - 1), first.ndim - 1)
    c = lax.broadcast_in_dim(c, first.shape, dims)
    s = lax.broadcast_in_dim(s, first.shape, dims)
    return _interleave(lax.sub(lax.mul(c, first), lax.mul(s, second)),
                       lax.add(lax.mul(s, first), lax.mul(c, second)))


def _scaled(x: Any) -> tuple[Any, Any]:
    """``x`` over its largest magnitude per matrix (1 for a zero matrix), so that sums of
    squares neither overflow nor underflow; and that scale, shaped ``(...)``."""
    dtype = np.dtype(x.dtype)
    big = lax.reduce_max(lax.abs(x), (x.ndim - 2, x.ndim - 1))
    ok = lax.bitwise_and(lax.gt(big, M.const(0, dtype)), lax.is_finite(big))
    big = lax.select(ok, big, M.const(1, dtype, big.shape))
    inv = lax.div(M.const(1, dtype), big)
    spread = lax.broadcast_in_dim(inv, x.shape, tuple(range(x.ndim - 2)))
    return lax.mul(x, spread), big


def _pad_even(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` with one zero row/column appended along ``axes`` when their size is odd."""
    if x.shape[axes[0]] % 2 == 0:
        return x
    config = [(0, 1 if d in axes else 0, 0) for d in range(x.ndim)]
    return lax.pad(x, M.const(0, np.dtype(x.dtype)), config)


def _sweeps(round_fn: Any, size: int, carry: tuple) -> tuple:
    """Sweeps of ``size - 1`` rounds until one rotates nothing (at most ``MAX_SWEEPS``).
    ``round_fn(i, (*carry, rotated))`` returns the new carry and whether it rotated any
    pair; the whole stack stops together."""
    def more(state: tuple) -> Any:
        count, rotated, _ = state
        return lax.bitwise_and(lax.lt(count, np.int32(MAX_SWEEPS)), rotated)

    def sweep(state: tuple) -> tuple:
        count, _, inner = state
        *inner, rotated = lax.fori_loop(np.int32(0), np.int32(size - 1), round_fn,
                                        (*inner, np.bool_(False)))
        return lax.add(count, np.int32(1)), rotated, tuple(inner)

    return lax.while_loop(more, sweep, (np.int32(0), np.bool_(True), carry))[2]


def _any(flags: Any) -> Any:
    return lax.reduce_or(flags, tuple(range(flags.ndim)))


def _sort_columns(values: Any, vectors: Any, descending: bool) -> tuple[Any, Any]:
    """``values`` (``..., n``) sorted, and ``vectors``' columns in the same order."""
    index = M.index_grid(values.shape, values.ndim - 1)
    key = lax.neg(values) if descending else values
    key, order = lax.sort((key, index), dimension=values.ndim - 1, num_keys=1)
    values = lax.neg(key) if descending else key
    if vectors is None:
        return values, None
    spread = lax.broadcast_in_dim(order, vectors.shape, (*range(order.ndim - 1), vectors.ndim - 1))
    return values, gather_along_axis(vectors, spread, vectors.ndim - 1)


# ---------------------------------------------------------------------------------------------
# eigh


def eigh(a: Any, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:  # noqa: N803 - NumPy's name
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of each symmetric
    matrix of a stack. ``symmetrize_input`` uses ``(a + a^T) / 2``; otherwise only the
    triangle ``UPLO`` (``'L'``, the default, or ``'U'``) is read."""
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"UPLO must be one of None, 'L', or 'U', got {UPLO}")
    x = square_stack(a, "eigh", symmetrize_input)
    return _eigh(x, UPLO != "U", bool(symmetrize_input))


@jit(static_argnums=(1, 2))
def _eigh(x: Any, lower: bool, symmetrize: bool) -> EighResult:
    # Either the Hermitian part, or the chosen triangle mirrored onto the other.
    x = hermitian_part(x) if symmetrize else mirrored(x, lower)
    return EighResult(*_differentiable_eigen(x))


@custom_jvp
def _differentiable_eigen(a: Any) -> tuple[Any, Any]:
    """``symmetric_eigen`` with the eigendecomposition's own derivative rule, so reverse
    mode need not differentiate the while loop of sweeps."""
    return symmetric_eigen(a)


@_differentiable_eigen.defjvp
def _eigen_jvp(primals: tuple, tangents: tuple) -> tuple:
    """With ``A = V diag(w) V^H`` and ``B = V^H dA V``: ``dw = Re diag(B)`` and
    ``dV = V (F * B)``, ``F_ij = 1 / (w_j - w_i)`` off the diagonal and 0 on it
    (unbounded for repeated eigenvalues, as in JAX)."""
    (a,), (da,) = primals, tangents
    w, v = symmetric_eigen(a)
    dtype = np.dtype(a.dtype)
    b = M.matmul(adjoint(v), M.matmul(da, v))
    eye = M.identity(a.shape, dtype)
    w_in = lax.convert_element_type(w, dtype)
    spread = lambda dims: lax.broadcast_in_dim(w_in, a.shape, dims)  # noqa: E731
    batch = tuple(range(a.ndim - 2))
    gaps = lax.sub(spread((*batch, a.ndim - 1)), spread((*batch, a.ndim - 2)))
    f = lax.sub(lax.div(M.const(1, dtype), lax.add(eye, gaps)), eye)
    dw = M.diagonal(b)
    if dtype.kind == "c":
        dw = lax.real(dw)
    return (w, v), (dw, M.matmul(v, lax.mul(f, b)))


def _fixed_signs(v: Any) -> Any:
    """Eigenvectors with signs that do not depend on which LAPACK call found them (eager
    calls run NumPy's, compiled code OpenBLAS's LAPACKE): each column's entry of largest
    magnitude (the first of equals) made positive."""
    if v.size == 0:
        return v
    return M.scale(v, _column_signs(v), v.ndim - 2)


def _column_signs(v: Any) -> Any:
    """Per column of each matrix: -1 where its entry of largest magnitude is negative."""
    rows = v.ndim - 2
    largest = lax.argmax(lax.abs(v), rows, np.int32)
    picked = gather_along_axis(v, lax.expand_dims(largest, (rows,)), rows)
    lead = lax.squeeze(picked, (rows,))
    negative = lax.lt(lead, lax.full(lead.shape, 0, v.dtype))
    return lax.select(negative, lax.full(lead.shape, -1, v.dtype),
                      lax.full(lead.shape, 1, v.dtype))


def symmetric_eigen(a: Any) -> tuple[Any, Any]:
    """Ascending eigenvalues and eigenvectors of symmetric ``a`` (``..., n, n``) by cyclic
    two-sided Jacobi sweeps, or LAPACK's syevd (the ``eigh`` primitive) where compiled code
    can call it."""
    n = a.shape[-1]
    if a.dtype.kind == "c":  # Hermitian: interpreted (NumPy's heevd); phases as it gives
        v, w = bind(P.eigh, (a,), {"lower": True, "sort_eigenvalues": True,
                                   "subset_by_index": None})
        return w, v
    if M.lapack_has("syevd"):
        v, w = bind(P.eigh, (a,), {"lower": True, "sort_eigenvalues": True,
                                   "subset_by_index": None})
        return w, _fixed_signs(v)
    dtype = np.dtype(a.dtype)
    if n == 0:
        return M.const(0, dtype, a.shape[:-1]), a
    scaled, scale = _scaled(a)
    a = _pad_even(scaled, (a.ndim - 2, a.ndim - 1))
    size = a.shape[-1]
    shape = a.shape
    batch = tuple(range(a.ndim - 2))

    def masks() -> tuple[Any, Any, Any]:
        """The pairs' 2x2 diagonal blocks, the diagonal, and the pairs' off-diagonal
        entries (row 2i, column 2i + 1). Built inside the loop body from iotas: closed-over
        array constants there would trip batching of a custom_jvp's staged region."""
        rows, cols = M.index_grid(shape, a.ndim - 2), M.index_grid(shape, a.ndim - 1)
        blocks = lax.eq(lax.div(rows, np.int32(2)), lax.div(cols, np.int32(2)))
        return blocks, lax.eq(rows, cols), lax.bitwise_and(blocks, lax.lt(rows, cols))

    eps = float(np.finfo(dtype).eps)

    def one_round(_: Any, carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        a, v, rotated = carry
        blocks, eye, upper_pair = masks()
        zeros = M.const(0, dtype, shape)
        app, aqq = _pairs(M.diagonal(a))
        apq, _ = _pairs(lax.reduce_sum(lax.select(upper_pair, a, zeros), (a.ndim - 1,)))
        # Demmel and Veselic's test, relative to the pair's diagonal; entries below
        # eps^2 (the matrix is scaled to a largest entry of 1) count as zero.
        skip = lax.bitwise_or(
            _negligible(apq, lax.sqrt(lax.abs(app)), lax.sqrt(lax.abs(aqq)), eps),
            lax.le(lax.abs(apq), M.const(eps * eps, dtype)))
        c, s, t = _rotation(app, aqq, apq, skip)
        a = _rotate_columns(M.transpose_last(_rotate_columns(a, c, s)), c, s)
        # The rotation's closed form: apq -> 0, app -> app - t apq, aqq -> aqq + t apq.
        shift = lax.mul(t, apq)
        diag = _interleave(lax.sub(app, shift), lax.add(aqq, shift))
        diag = lax.broadcast_in_dim(diag, shape, (*batch, a.ndim - 1))
        a = lax.select(blocks, lax.select(eye, diag, zeros), a)
        v = _rotate_columns(v, c, s)
        a = _next_round(_next_round(a, -1), -2)
        rotated = lax.bitwise_or(rotated, _any(lax.bitwise_not(skip)))
        return a, _next_round(v, -1), rotated

    _, v = _sweeps(one_round, size, (a, M.identity(shape, dtype)))
    vectors = _reorthogonalized(_leading_block(v, n))
    # Rayleigh quotients v^T A v: the eigenvalues to second order in the vectors' error,
    # with one product's rounding instead of every rotation's.
    values = lax.reduce_sum(lax.mul(vectors, M.matmul(scaled, vectors)), (a.ndim - 2,))
    values = lax.mul(values, lax.broadcast_in_dim(scale, values.shape, batch))
    return _sort_columns(values, vectors, descending=False)


def _leading_block(x: Any, n: int) -> Any:
    """The leading ``n x n`` block of every matrix (the padding dropped)."""
    return lax.slice_in_dim(lax.slice_in_dim(x, 0, n, 1, x.ndim - 2), 0, n, 1, x.ndim - 1)


def _reorthogonalized(v: Any) -> Any:
    """One Newton-Schulz step to the nearest orthogonal matrix, ``V + V (I - V^T V) / 2``.
    Thousands of rotations leave ``V`` orthogonal only to about ``sqrt(rotations) eps``;
    the step squares that error, leaving one product's rounding."""
    defect = lax.sub(M.identity(v.shape, np.dtype(v.dtype)), M.matmul(M.transpose_last(v), v))
    half = M.const(0.5, np.dtype(v.dtype))
    return lax.add(v, lax.mul(M.matmul(v, defect), half))


# ---------------------------------------------------------------------------------------------
# svd


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """``a = U diag(S) Vh`` for each matrix of a stack, singular values descending.
    ``full_matrices=False`` trims ``U`` or ``Vh`` to ``min(m, n)`` vectors;
    ``compute_uv=False`` returns ``S`` alone; ``hermitian=True`` derives it from ``eigh``
    of the symmetrized input."""
    x = inexact_stack(a, "svd")
    if hermitian:
        x = square_stack(x, "svd", True)
    return _svd(x, bool(full_matrices), bool(compute_uv), bool(hermitian))


@jit(static_argnums=(1, 2, 3))
def _svd(x: Any, full: bool, compute_uv: bool, hermitian: bool) -> Any:
    if hermitian:
        return _svd_from_eigh(hermitian_part(x), compute_uv)
    if x.dtype.kind == "c" or M.lapack_has("gesdd"):  # complex: interpreted, NumPy's gesdd
        return _lapack_svd(x, full, compute_uv)
    m, n = x.shape[-2:]
    if m < n:
        result = _svd_tall(M.transpose_last(x), full, compute_uv)
        if not compute_uv:
            return result
        u, s, vh = result
        return SVDResult(M.transpose_last(vh), s, M.transpose_last(u))
    return _svd_tall(x, full, compute_uv)


def _lapack_svd(x: Any, full: bool, compute_uv: bool) -> Any:
    """LAPACK's gesdd (the ``svd`` primitive), its singular vectors signed as
    ``_column_signs`` says so that eager and compiled calls agree."""
    import llax.transforms.linalg_rules  # noqa: F401  (the primitive's derivative rule)

    params = {"full_matrices": full, "compute_uv": compute_uv, "subset_by_index": None,
              "algorithm": None}
    if not compute_uv:
        (s,) = bind(P.svd, (x,), params)
        return s
    s, u, vt = bind(P.svd, (x,), params)
    k = s.shape[-1]
    if u.size == 0 or vt.size == 0 or k == 0 or x.dtype.kind == "c":
        return SVDResult(u, s, vt)  # complex vectors keep LAPACK's phases (JAX's do too)
    flips = _column_signs(u)
    u = M.scale(u, flips, u.ndim - 2)
    v_flips = lax.slice_in_dim(flips, 0, k, 1, flips.ndim - 1)
    if vt.shape[-2] > k:  # Vt's rows past min(m, n) have no partner in U: signed alone
        own = _column_signs(lax.slice_in_dim(M.transpose_last(vt), k, vt.shape[-2], 1,
                                             vt.ndim - 1))
        v_flips = lax.concatenate([v_flips, own], flips.ndim - 1)
    return SVDResult(u, s, M.scale(vt, v_flips, vt.ndim - 1))


def _svd_from_eigh(x: Any, compute_uv: bool) -> Any:
    """JAX's Hermitian path: ``S = |w|`` descending, ``U`` the eigenvectors in that
    order, ``Vh`` their transpose signed by ``w``."""
    w, v = symmetric_eigen(x)
    s = lax.abs(w)
    last = s.ndim - 1
    index = M.index_grid(s.shape, last)
    s, index, sign = lax.sort((s, index, lax.sign(w)), dimension=last, num_keys=1)
    s, index, sign = (lax.rev(y, (last,)) for y in (s, index, sign))
    if not compute_uv:
        return s
    spread = lax.broadcast_in_dim(index, v.shape, (*range(last), v.ndim - 1))
    u = gather_along_axis(v, spread, v.ndim - 1)
    return SVDResult(u, s, adjoint(M.scale(u, lax.convert_element_type(sign, u.dtype),
                                           u.ndim - 2)))


def _svd_tall(a: Any, full: bool, compute_uv: bool) -> Any:
    """One-sided Jacobi SVD of ``a`` (``..., m, n``) with ``m >= n``."""
    m, n = a.shape[-2:]
    dtype = np.dtype(a.dtype)
    batch_shape = a.shape[:-2]
    batch = tuple(range(len(batch_shape)))
    if n == 0:
        s = M.const(0, dtype, (*batch_shape, 0))
        if not compute_uv:
            return s
        return SVDResult(M.identity((*batch_shape, m, m if full else 0), dtype), s,
                         M.const(0, dtype, (*batch_shape, 0, 0)))
    a, scale = _scaled(a)
    w = _pad_even(a, (a.ndim - 1,))
    size = w.shape[-1]
    v = M.identity((*batch_shape, size, size), dtype)
    # Columns count as orthogonal when |cos| of their angle is below sqrt(m) eps, the
    # rounding error of their dot product (LAPACK's gesvj uses the same).
    tol = float(np.finfo(dtype).eps) * math.sqrt(m)

    def one_round(_: Any, carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        w, v, rotated = carry
        first, second = _pairs(w)
        alpha = lax.reduce_sum(lax.mul(first, first), (w.ndim - 2,))
        beta = lax.reduce_sum(lax.mul(second, second), (w.ndim - 2,))
        gamma = lax.reduce_sum(lax.mul(first, second), (w.ndim - 2,))
        skip = _negligible(gamma, lax.sqrt(alpha), lax.sqrt(beta), tol)
        c, s, _ = _rotation(alpha, beta, gamma, skip)
        w = _next_round(_rotate_columns(w, c, s), -1)
        v = _next_round(_rotate_columns(v, c, s), -1)
        return w, v, lax.bitwise_or(rotated, _any(lax.bitwise_not(skip)))

    _, v = _sweeps(one_round, size, (w, v))
    # W = A V again, from the re-orthogonalized V in one product: the norms of its
    # columns are the singular values to second order in V's error.
    v = _reorthogonalized(_leading_block(v, n))
    w = M.matmul(a, v)
    s = lax.sqrt(lax.reduce_sum(lax.mul(w, w), (w.ndim - 2,)))
    if not compute_uv:
        s, _ = _sort_columns(s, None, descending=True)
        return lax.mul(s, lax.broadcast_in_dim(scale, s.shape, batch))
    index = M.index_grid(s.shape, s.ndim - 1)
    key, order = lax.sort((lax.neg(s), index), dimension=s.ndim - 1, num_keys=1)
    s = lax.neg(key)
    w = gather_along_axis(w, lax.broadcast_in_dim(order, w.shape, (*batch, w.ndim - 1)),
                          w.ndim - 1)
    v = gather_along_axis(v, lax.broadcast_in_dim(order, v.shape, (*batch, v.ndim - 1)),
                          v.ndim - 1)
    u = _orthonormal_columns(w, m if full else n)
    s = lax.mul(s, lax.broadcast_in_dim(scale, s.shape, batch))
    return SVDResult(u, s, M.transpose_last(v))


def _orthonormal_columns(w: Any, columns: int) -> Any:
    """The orthonormal ``Q`` (``m x columns``) whose leading columns point along ``w``'s
    orthogonal columns: Householder QR, columns signed so that ``R``'s diagonal is >= 0.
    Zero columns of ``w`` get vectors completing the basis."""
    dtype = np.dtype(w.dtype)
    r, reflectors, taus = householder(w)
    q = form_q(reflectors, taus, columns)
    signs = lax.select(lax.lt(M.diagonal(_square_top(r)), M.const(0, dtype)),
                       M.const(-1, dtype, r.shape[:-2] + (r.shape[-1],)),
                       M.const(1, dtype, r.shape[:-2] + (r.shape[-1],)))
    extra = columns - signs.shape[-1]
    if extra:
        signs = lax.pad(signs, M.const(1, dtype), [(0, 0, 0)] * (signs.ndim - 1) + [(0, extra, 0)])
    return M.scale(q, signs, q.ndim - 2)


def _square_top(r: Any) -> Any:
    n = r.shape[-1]
    return lax.slice_in_dim(r, 0, n, 1, r.ndim - 2)
