"""NumPy reference implementations of the linear-algebra primitives (llax.ir.prims.linalg).

``lu``, ``triangular_solve`` and ``householder_product`` are written out in NumPy (one
Python step per column, row or reflector, every matrix of the stack at once) rather than
borrowed from a library, so they stay an independent oracle for the LAPACK calls compiled
code makes; the others call NumPy's own linalg (its LAPACK instance, not the one compiled
code calls). All take complex operands too. Importing this module registers them in
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
    if a.size == 0:  # no entries to factor: no swaps
        perm = np.broadcast_to(np.arange(m, dtype=np.int32), (*batch, m)).copy()
        return a.copy(), np.broadcast_to(np.arange(k, dtype=np.int32), (*batch, k)).copy(), perm
    x = a.reshape(-1, m, n).copy()
    count = x.shape[0]
    pivots = np.zeros((count, k), np.int32)
    perm = np.tile(np.arange(m, dtype=np.int32), (count, 1))
    rows = np.arange(count)
    # LAPACK picks a complex pivot by |re| + |im| (its cabs1), a real one by |x|.
    size = (lambda z: np.abs(z.real) + np.abs(z.imag)) if x.dtype.kind == "c" else np.abs
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(size(x[:, j:, j]), axis=1)
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
    full = lower + np.conj(np.swapaxes(np.tril(a, -1), -1, -2))  # Hermitian from the lower
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
    real = a.real.dtype
    if a.size == 0:
        return a.copy(), np.zeros(a.shape[:-1], real)
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return v.astype(a.dtype), w.astype(real)


def _svd(a: np.ndarray, *, full_matrices: bool, compute_uv: bool,
         subset_by_index: tuple[int, int] | None = None,
         algorithm: object = None) -> tuple[np.ndarray, ...]:
    a = np.asarray(a)
    *batch, m, n = a.shape
    k = min(m, n)
    real = a.real.dtype
    if a.size == 0:
        s = np.zeros((*batch, k), real)
        if not compute_uv:
            return (s,)
        rows, cols = (m, n) if full_matrices else (k, k)
        eye = lambda r, c: np.broadcast_to(np.eye(r, c, dtype=a.dtype), (*batch, r, c)).copy()  # noqa: E731
        return s, eye(m, rows), eye(cols, n)
    if not compute_uv:
        return (np.linalg.svd(a, compute_uv=False).astype(real),)
    u, s, vt = np.linalg.svd(a, full_matrices=full_matrices)
    return s.astype(real), u.astype(a.dtype), vt.astype(a.dtype)


def _geev_normalized(v: np.ndarray, real_input: bool) -> np.ndarray:
    """Columns scaled as LAPACK's geev leaves them: unit 2-norm, the largest-magnitude
    component real (and positive, except for the real vectors of a real matrix, whose
    sign geev leaves as it comes)."""
    norms = np.linalg.norm(v, axis=-2, keepdims=True)
    v = v / np.where(norms == 0, 1, norms)
    k = np.argmax(np.abs(v), axis=-2)[..., None, :]
    lead = np.take_along_axis(v, k, axis=-2)
    phase = np.where(lead == 0, 1, np.conj(lead) / np.where(lead == 0, 1, np.abs(lead)))
    if real_input:
        phase = np.where(np.all(v.imag == 0, axis=-2, keepdims=True), 1, phase)
    return v * phase


def _eig_one(a: np.ndarray, left: bool, right: bool) -> list[np.ndarray]:
    w, vr = np.linalg.eig(a)
    outs = [w]
    if left:
        # Rows of vr^-1 are the left eigenvectors (y^H a = w y^H) in w's order.
        left_vectors = np.conj(np.swapaxes(np.linalg.inv(vr), -1, -2))
        outs.append(_geev_normalized(left_vectors, a.dtype.kind == "f"))
    if right:
        outs.append(vr)
    return outs


def _eig(a: np.ndarray, *, compute_left_eigenvectors: bool, compute_right_eigenvectors: bool,
         enable_eigvec_derivs: bool = False, implementation: object = None
         ) -> tuple[np.ndarray, ...]:
    a = np.asarray(a)
    out = np.dtype(np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128)
    left, right = compute_left_eigenvectors, compute_right_eigenvectors
    *batch, n, _ = a.shape
    shapes = [(*batch, n)] + [a.shape] * (int(left) + int(right))
    results = [np.full(shape, np.nan + 0j, out) for shape in shapes]
    if a.size == 0:
        return tuple(results)
    flat = a.reshape(-1, n, n)
    for i in range(flat.shape[0]):  # one at a time: a failure is NaN for its own
        try:
            parts = _eig_one(flat[i], left, right)
        except np.linalg.LinAlgError:
            continue
        for result, part in zip(results, parts):
            result.reshape(-1, *result.shape[len(batch):])[i] = part
    return tuple(results)


def _geqrf(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    *batch, m, n = a.shape
    if a.size == 0:
        return a.copy(), np.zeros((*batch, min(m, n)), a.dtype)
    packed, taus = np.linalg.qr(a, mode="raw")  # Fortran's layout: the transpose
    return np.swapaxes(packed, -1, -2).astype(a.dtype), taus.astype(a.dtype)


def _householder_product(a: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """``H_0 H_1 ... H_{k-1}`` times the identity's first n columns, ``H_j = I - tau_j v_j
    v_j^H`` with ``v_j`` a's column j below the diagonal and 1 on it, applied right to
    left (each step only touches what it changes)."""
    a, taus = np.asarray(a), np.asarray(taus)
    *batch, m, n = a.shape
    q = np.broadcast_to(np.eye(m, n, dtype=a.dtype), a.shape).copy()
    rows = np.arange(m)
    for j in range(taus.shape[-1] - 1, -1, -1):
        v = np.where(rows > j, a[..., :, j], np.where(rows == j, 1, 0)).astype(a.dtype)
        w = np.einsum("...i,...in->...n", np.conj(v), q)
        q -= taus[..., j, None, None] * v[..., :, None] * w[..., None, :]
    return q


reference[P.eig] = _eig
reference[P.geqrf] = _geqrf
reference[P.householder_product] = _householder_product
reference[P.svd] = _svd
reference[P.cholesky] = _cholesky
reference[P.eigh] = _eigh
reference[P.lu] = _lu
reference[P.triangular_solve] = _triangular_solve
