"""NumPy reference implementations of the linear-algebra primitives (llax.ir.prims.linalg).

Both are written out in NumPy (one Python step per column or row, every matrix of the
stack at once) rather than borrowed from a library, so they stay an independent oracle
for the LAPACK calls compiled code makes. Importing this module registers them in
``llax.ir.reference.reference``.
"""

from __future__ import annotations

import numpy as np

from llax.ir import prims as P
from llax.ir.reference import reference


def _lu(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial pivoting as LAPACK's getrf does it: the first entry of largest magnitude in
    the column is the pivot; a zero pivot leaves its column unscaled."""
    a = np.asarray(a)
    *batch, m, n = a.shape
    k = min(m, n)
    x = a.reshape(-1, m, n).copy()
    count = x.shape[0]
    pivots = np.zeros((count, k), np.int32)
    perm = np.tile(np.arange(m, dtype=np.int32), (count, 1))
    rows = np.arange(count)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(x[:, j:, j]), axis=1)
            pivots[:, j] = p
            x[rows, j], x[rows, p] = x[rows, p], x[rows, j].copy()
            perm[rows, j], perm[rows, p] = perm[rows, p], perm[rows, j].copy()
            pivot = x[:, j, j]
            nonzero = pivot != 0
            x[:, j + 1:, j] = np.where(nonzero[:, None],
                                       x[:, j + 1:, j] / np.where(nonzero, pivot, 1)[:, None],
                                       x[:, j + 1:, j])
            x[:, j + 1:, j + 1:] -= x[:, j + 1:, j, None] * x[:, j, None, j + 1:]
    return (x.reshape(a.shape), pivots.reshape(*batch, k), perm.reshape(*batch, m))


def _triangular_solve(a: np.ndarray, b: np.ndarray, *, left_side: bool, lower: bool,
                      transpose_a: bool, conjugate_a: bool,
                      unit_diagonal: bool) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    m = a.shape[-1]
    tri = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        eye = np.eye(m, dtype=bool)
        tri = np.where(eye, np.ones((), a.dtype), tri)
    if conjugate_a:
        tri = np.conj(tri)
    # Solve M x = rhs with M lower or upper triangular: x op(a) = b is op(a)^T x^T = b^T.
    mat = np.swapaxes(tri, -1, -2) if transpose_a else tri
    rhs = b
    if not left_side:
        mat, rhs = np.swapaxes(mat, -1, -2), np.swapaxes(b, -1, -2)
    is_lower = lower ^ transpose_a ^ (not left_side)
    x = np.zeros(rhs.shape, b.dtype)
    order = range(m) if is_lower else range(m - 1, -1, -1)
    with np.errstate(all="ignore"):
        for i in order:
            done = slice(0, i) if is_lower else slice(i + 1, m)
            partial = np.einsum("...k,...kn->...n", mat[..., i, done], x[..., done, :])
            x[..., i, :] = (rhs[..., i, :] - partial) / mat[..., i, i, None]
    return x if left_side else np.swapaxes(x, -1, -2).copy()


def _cholesky(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    lower = np.tril(a)
    full = lower + np.swapaxes(np.tril(a, -1), -1, -2)
    out = np.empty_like(a)
    flat, src = out.reshape(-1, *a.shape[-2:]), full.reshape(-1, *a.shape[-2:])
    nan_lower = np.where(np.tri(a.shape[-1], dtype=bool), np.nan, 0).astype(a.dtype)
    for i in range(flat.shape[0]):  # one at a time: a failure must not spoil the others
        try:
            flat[i] = np.linalg.cholesky(src[i])
        except np.linalg.LinAlgError:
            flat[i] = nan_lower
    return out


def _eigh(a: np.ndarray, *, lower: bool, sort_eigenvalues: bool,
          subset_by_index: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    if a.size == 0:
        return a.copy(), np.zeros(a.shape[:-1], a.dtype)
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return v.astype(a.dtype), w.astype(a.dtype)


def _svd(a: np.ndarray, *, full_matrices: bool, compute_uv: bool,
         subset_by_index: tuple[int, int] | None = None,
         algorithm: object = None) -> tuple[np.ndarray, ...]:
    a = np.asarray(a)
    *batch, m, n = a.shape
    k = min(m, n)
    if a.size == 0:
        s = np.zeros((*batch, k), a.dtype)
        if not compute_uv:
            return (s,)
        rows, cols = (m, n) if full_matrices else (k, k)
        eye = lambda r, c: np.broadcast_to(np.eye(r, c, dtype=a.dtype), (*batch, r, c)).copy()  # noqa: E731
        return s, eye(m, rows), eye(cols, n)
    if not compute_uv:
        return (np.linalg.svd(a, compute_uv=False).astype(a.dtype),)
    u, s, vt = np.linalg.svd(a, full_matrices=full_matrices)
    return s.astype(a.dtype), u.astype(a.dtype), vt.astype(a.dtype)


reference[P.svd] = _svd
reference[P.cholesky] = _cholesky
reference[P.eigh] = _eigh
reference[P.lu] = _lu
reference[P.triangular_solve] = _triangular_solve
