"""``llax.lax.linalg``: the linear-algebra primitives as functions (JAX's
``jax.lax.linalg``): ``lu``, ``triangular_solve``, ``lu_pivots_to_permutation``, ``eig``,
``eigh``, ``cholesky``, ``svd``, ``geqrf``, ``householder_product``, ``qr``,
``symmetric_product``, and the algorithm enums (which choose GPU/TPU kernels in JAX; the
CPU has one of each, so llax accepts and ignores them)."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.jnp._eig import lax_eig as eig
from llax.frontend.jnp._linalg_coerce import hermitian_part, inexact_stack, mirrored, square_stack
from llax.frontend.jnp._lu import lu, triangular_solve
from llax.frontend.jnp._triangular import geqrf, householder_product
from llax.frontend.jnp._triangular import lax_qr as qr
from llax.ir import prims as P

__all__ = ["EigImplementation", "EighImplementation", "SvdAlgorithm", "cholesky", "eig",
           "eigh", "geqrf", "householder_product", "lu", "lu_pivots_to_permutation", "ormqr",
           "qr", "svd", "cholesky_update", "tridiagonal_solve", "symmetric_product",
           "triangular_solve"]


class EigImplementation(enum.Enum):
    CUSOLVER = "cusolver"
    MAGMA = "magma"
    LAPACK = "lapack"


class EighImplementation(enum.Enum):
    QR = "qr"
    JACOBI = "jacobi"
    QDWH = "qdwh"


class SvdAlgorithm(enum.Enum):
    DEFAULT = "default"
    QR = "QR"
    JACOBI = "Jacobi"
    POLAR = "polar"
    DIVIDE_AND_CONQUER = "divide_and_conquer"


def cholesky(x: Any, *, symmetrize_input: bool = True) -> Any:
    """The lower Cholesky factor of each Hermitian positive definite matrix (NaN where one
    is not positive definite)."""
    from llax.frontend.jnp._triangular import _cholesky_lower

    x = square_stack(x, "cholesky", symmetrize_input)
    return _cholesky_lower(hermitian_part(x) if symmetrize_input else x)


def eigh(x: Any, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index: tuple[int, int] | None = None,
         implementation: Any = None) -> tuple[Any, Any]:
    """``(v, w)``: eigenvectors (columns) and ascending eigenvalues of each Hermitian
    matrix, reading its ``lower`` (or upper) triangle unless ``symmetrize_input``."""
    from llax.frontend.jnp import _matrix_ops as M
    from llax.frontend.jnp._jacobi import symmetric_eigen

    x = square_stack(x, "eigh", symmetrize_input)
    if symmetrize_input:
        x = hermitian_part(x)
    n = x.shape[-1]
    if subset_by_index not in (None, (0, n)):
        raise NotImplementedError("eigh: subset_by_index is not supported")
    if x.dtype.kind == "c" or M.lapack_has("syevd"):
        import llax.transforms.linalg_rules  # noqa: F401  (the primitive's rules)

        return tuple(bind(P.eigh, (x,), {"lower": bool(lower), "sort_eigenvalues": True,
                                        "subset_by_index": None}))
    w, v = symmetric_eigen(mirrored(x, bool(lower)))
    return v, w


def svd(x: Any, *, full_matrices: bool = True, compute_uv: bool = True,
        subset_by_index: tuple[int, int] | None = None, algorithm: Any = None) -> Any:
    """``(u, s, vh)`` (or ``s`` alone) of each matrix, singular values descending."""
    from llax.frontend.jnp import _matrix_ops as M
    from llax.frontend.jnp._jacobi import svd as jnp_svd

    x = inexact_stack(x, "svd")
    k = min(x.shape[-2:])
    if subset_by_index not in (None, (0, k)):
        raise NotImplementedError("svd: subset_by_index is not supported")
    if x.dtype.kind == "c" or M.lapack_has("gesdd"):
        import llax.transforms.linalg_rules  # noqa: F401  (the primitive's rules)

        outs = bind(P.svd, (x,), {"full_matrices": bool(full_matrices),
                                  "compute_uv": bool(compute_uv), "subset_by_index": None,
                                  "algorithm": None})
        if not compute_uv:
            return outs[0]
        s, u, vt = outs
        return u, s, vt
    return jnp_svd(x, full_matrices=full_matrices, compute_uv=compute_uv)


def ormqr(a: Any, taus: Any, c: Any, *, left: bool = True, transpose: bool = False) -> Any:
    """``Q c``, ``Q^H c`` (``transpose``), ``c Q`` or ``c Q^H`` (``left=False``) with ``Q``
    the ``m x m`` product of the reflectors below ``a``'s diagonal (as geqrf leaves them).
    Q is formed (orgqr) and multiplied, which LAPACK's ormqr avoids; the results agree."""
    from llax.frontend import jnp

    a = inexact_stack(a, "ormqr")
    m, n = a.shape[-2:]
    square = a[..., :, :m] if n >= m else jnp.concatenate(
        [a, jnp.zeros((*a.shape[:-1], m - n), a.dtype)], axis=-1)
    q = householder_product(square, jnp.asarray(taus, a.dtype))
    if transpose:
        q = jnp.conj(jnp.matrix_transpose(q)) if q.dtype.kind == "c" else q.mT
    return jnp.matmul(q, c) if left else jnp.matmul(c, q)


def tridiagonal_solve(dl: Any, d: Any, du: Any, b: Any, *,
                      perturb_singular: bool = False) -> Any:
    """``x`` with ``A x = b`` for the tridiagonal ``A`` with sub-, main and super-diagonals
    ``dl`` (``dl[..., 0]`` ignored), ``d``, ``du`` (``du[..., -1]`` ignored); ``b`` is
    ``(..., m, n)``. Solved as a dense system (pivoted LU), so its derivatives are
    ``solve``'s."""
    if perturb_singular:
        raise NotImplementedError("tridiagonal_solve(perturb_singular=True) is not supported")
    from llax.frontend import jnp

    dl, d, du, b = (jnp.asarray(x) for x in (dl, d, du, b))
    m = d.shape[-1]
    if b.ndim < 2 or b.shape[-2] != m or dl.shape != d.shape or du.shape != d.shape:
        raise ValueError("tridiagonal_solve: dl, d, du must have shape [..., m] and b "
                         f"[..., m, n], got {dl.shape}, {d.shape}, {du.shape}, {b.shape}")
    rows = np.arange(m)
    below = (rows[:, None] == rows[None, :] + 1)
    above = (rows[:, None] + 1 == rows[None, :])
    diagonal = rows[:, None] == rows[None, :]
    a = (jnp.where(below, dl[..., :, None], 0) + jnp.where(diagonal, d[..., :, None], 0)
         + jnp.where(above, du[..., :, None], 0)).astype(d.dtype)
    return jnp.linalg.solve(a, b)


def cholesky_update(r_matrix: Any, w_vector: Any) -> Any:
    """The upper Cholesky factor of ``R^T R + w w^T`` from the factor ``R`` of ``R^T R``
    (refactored, which costs O(n^3) where JAX's rotations cost O(n^2); same result)."""
    from llax.frontend import jnp

    r, w = jnp.asarray(r_matrix), jnp.asarray(w_vector)
    a = jnp.matmul(r.mT, r) + w[..., :, None] * w[..., None, :]
    return jnp.linalg.cholesky(a, upper=True)


def symmetric_product(a_matrix: Any, c_matrix: Any, *, alpha: float = 1.0, beta: float = 0.0,
                      symmetrize_output: bool = False) -> Any:
    """``alpha a a^T + beta c`` (JAX's syrk); ``symmetrize_output`` mirrors the lower
    triangle onto the upper one."""
    from llax.frontend import jnp

    a, c = jnp.asarray(a_matrix), jnp.asarray(c_matrix)
    result = alpha * jnp.matmul(a, jnp.matrix_transpose(a)) + beta * c
    if symmetrize_output:
        lower = jnp.tril(result)
        result = lower + jnp.matrix_transpose(jnp.tril(result, -1))
    return result.astype(c.dtype)


def lu_pivots_to_permutation(pivots: Any, permutation_size: int) -> Any:
    """The permutation that LAPACK-style row swaps ``pivots`` (``(..., k)``, int32) make of
    ``range(permutation_size)``."""
    pivots = lax.convert_element_type(pivots, np.int32)
    *batch, k = pivots.shape
    perm = lax.broadcasted_iota(np.int32, (*batch, permutation_size), len(batch))
    for j in range(k):  # k is static: each swap is a pair of gathers on the small vector
        p = lax.slice_in_dim(pivots, j, j + 1, axis=len(batch))
        at_j = lax.slice_in_dim(perm, j, j + 1, axis=len(batch))
        idx = lax.broadcasted_iota(np.int32, perm.shape, len(batch))
        at_p = lax.reduce_sum(lax.select(lax.eq(idx, lax.broadcast_in_dim(
            p, perm.shape, tuple(range(len(batch) + 1)))), perm, lax.full(perm.shape, 0,
                                                                         np.int32)),
            (len(batch),))
        at_p = lax.expand_dims(at_p, (len(batch),))
        perm = lax.select(lax.eq(idx, lax.full(perm.shape, j, np.int32)),
                          lax.broadcast_in_dim(at_p, perm.shape, tuple(range(len(batch) + 1))),
                          lax.select(lax.eq(idx, lax.broadcast_in_dim(
                              p, perm.shape, tuple(range(len(batch) + 1)))),
                              lax.broadcast_in_dim(at_j, perm.shape,
                                                   tuple(range(len(batch) + 1))), perm))
    return perm
