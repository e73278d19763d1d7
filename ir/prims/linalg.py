"""Linear-algebra primitives (factorizations and solves that compiled code runs in LAPACK).

``lu(a) -> (lu, pivots, permutation)``: JAX's primitive of that name. ``a`` is a stack
``(..., m, n)`` of float matrices; ``lu`` holds L (strictly below the diagonal, unit
diagonal implied) and U (on and above it) of ``P a = L U`` for each matrix; ``pivots``
(int32, ``(..., min(m, n))``) are LAPACK's row swaps, 0-based; ``permutation`` (int32,
``(..., m)``) is the permutation they make: ``a[..., permutation, :] = L U``.

``triangular_solve[left_side, lower, transpose_a, conjugate_a, unit_diagonal](a, b)``:
JAX's primitive of that name. ``a`` is ``(..., m, m)``, only its ``lower`` (or upper)
triangle read (its diagonal taken as ones when ``unit_diagonal``); the result ``x`` has
``b``'s shape and solves ``op(a) x = b`` (``left_side``) or ``x op(a) = b``, where
``op(a)`` is ``a`` or, with ``transpose_a``, its transpose. Batch dimensions must agree.

``cholesky(a) -> l``: the lower Cholesky factor of each symmetric positive definite matrix
of a stack (only a's lower triangle read), zeros above the diagonal; a matrix that is not
positive definite gives NaN on and below the diagonal (as JAX's LAPACK path).

``eigh[lower, sort_eigenvalues, subset_by_index](a) -> (v, w)``: JAX's primitive of that
name: eigenvectors (columns of ``v``) and ascending eigenvalues ``w`` of each symmetric
matrix, reading only its ``lower`` (or upper) triangle.

``svd[full_matrices, compute_uv, subset_by_index, algorithm](a) -> (s, u, vt)`` (or
``(s,)`` without ``compute_uv``): JAX's primitive of that name; singular values descending.

All are their own kernels (FusionClass.OPAQUE): each matrix is one LAPACK call.
"""

from __future__ import annotations

import numpy as np

from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = ["cholesky", "eigh", "lu", "svd", "triangular_solve"]

lu = primitive("lu", multiple_results=True, fusion=FusionClass.OPAQUE)
triangular_solve = primitive("triangular_solve", fusion=FusionClass.OPAQUE)
cholesky = primitive("cholesky", fusion=FusionClass.OPAQUE)
eigh = primitive("eigh", multiple_results=True, fusion=FusionClass.OPAQUE)
svd = primitive("svd", multiple_results=True, fusion=FusionClass.OPAQUE)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_float(name: str, t: TensorType) -> None:
    if t.dtype not in _FLOATS:
        raise TypeError(f"{name}: operands must be float32 or float64, got {t.dtype}")


def _lu_rule(a: TensorType) -> tuple[TensorType, ...]:
    _check_float("lu", a)
    if a.ndim < 2:
        raise ValueError(f"Argument to LU decomposition must have ndims >= 2, got shape "
                         f"{a.shape}")
    *batch, m, n = a.shape
    index = np.dtype(np.int32)
    return (a.with_shape(a.shape), TensorType((*batch, min(m, n)), index),
            TensorType((*batch, m), index))


def _triangular_solve_rule(a: TensorType, b: TensorType, *, left_side: bool, lower: bool,
                           transpose_a: bool, conjugate_a: bool,
                           unit_diagonal: bool) -> TensorType:
    _check_float("triangular_solve", a)
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve: a and b must have one dtype, got {a.dtype} and "
                        f"{b.dtype}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"triangular_solve: a must be a stack of square matrices, got shape "
                         f"{a.shape}")
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2]:
        raise ValueError(f"triangular_solve: a and b must have equal rank and batch "
                         f"dimensions, got shapes {a.shape} and {b.shape}")
    common = b.shape[-2] if left_side else b.shape[-1]
    if common != a.shape[-1]:
        side = "left" if left_side else "right"
        raise ValueError(f"triangular_solve: a of shape {a.shape} does not fit b of shape "
                         f"{b.shape} on the {side} side")
    return TensorType(b.shape, b.dtype, a.weak and b.weak)


abstract_eval[lu] = _lu_rule
abstract_eval[triangular_solve] = _triangular_solve_rule


def _square(name: str, a: TensorType) -> None:
    _check_float(name, a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: the operand must be a stack of square matrices, got shape "
                         f"{a.shape}")


def _cholesky_rule(a: TensorType) -> TensorType:
    _square("cholesky", a)
    return a


def _eigh_rule(a: TensorType, *, lower: bool, sort_eigenvalues: bool,
               subset_by_index: tuple[int, int] | None) -> tuple[TensorType, ...]:
    _square("eigh", a)
    n = a.shape[-1]
    if subset_by_index not in (None, (0, n)):
        raise NotImplementedError("eigh: subset_by_index is not supported")
    return a, a.with_shape(a.shape[:-1])


abstract_eval[cholesky] = _cholesky_rule
abstract_eval[eigh] = _eigh_rule


def _svd_rule(a: TensorType, *, full_matrices: bool, compute_uv: bool,
              subset_by_index: tuple[int, int] | None = None,
              algorithm: object = None) -> tuple[TensorType, ...]:
    _check_float("svd", a)
    if a.ndim < 2:
        raise ValueError(f"svd: the operand must have rank at least 2, got shape {a.shape}")
    *batch, m, n = a.shape
    k = min(m, n)
    if subset_by_index not in (None, (0, k)):
        raise NotImplementedError("svd: subset_by_index is not supported")
    s = a.with_shape((*batch, k))
    if not compute_uv:
        return (s,)
    rows, cols = (m, n) if full_matrices else (k, k)
    return s, a.with_shape((*batch, m, rows)), a.with_shape((*batch, cols, n))


abstract_eval[svd] = _svd_rule
