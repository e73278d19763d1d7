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

``eig[compute_left_eigenvectors, compute_right_eigenvectors, enable_eigvec_derivs,
implementation](a) -> (w, [vl], [vr])``: JAX's primitive of that name: eigenvalues of each
general square matrix (complex, in LAPACK geev's order), then its left and right
eigenvectors (columns, unit 2-norm, largest component real) when asked for.

``geqrf(a) -> (packed, taus)``: JAX's primitive of that name: Householder QR, R on and above
the diagonal of ``packed`` and the reflectors below it (LAPACK's layout), with their scale
factors ``taus`` (``..., min(m, n)``). ``householder_product(a, taus) -> q``: the ``m x n``
(``m >= n``) leading columns of the product of the reflectors stored below ``a``'s diagonal
(LAPACK's orgqr/ungqr).

All are their own kernels (FusionClass.OPAQUE): each matrix is one LAPACK call. Complex
operands are accepted (jit runs them in the NumPy interpreter until codegen lowers complex
values); eigenvalues and singular values of complex matrices are real where JAX's are.
"""

from __future__ import annotations

import numpy as np

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = ["cholesky", "eig", "eigh", "geqrf", "householder_product", "lu", "svd",
           "triangular_solve"]

lu = primitive("lu", multiple_results=True, fusion=FusionClass.OPAQUE)
triangular_solve = primitive("triangular_solve", fusion=FusionClass.OPAQUE)
cholesky = primitive("cholesky", fusion=FusionClass.OPAQUE)
eigh = primitive("eigh", multiple_results=True, fusion=FusionClass.OPAQUE)
svd = primitive("svd", multiple_results=True, fusion=FusionClass.OPAQUE)
eig = primitive("eig", multiple_results=True, fusion=FusionClass.OPAQUE)
geqrf = primitive("geqrf", multiple_results=True, fusion=FusionClass.OPAQUE)
householder_product = primitive("householder_product", fusion=FusionClass.OPAQUE)

# LAPACK's four types: s, d, c, z.
_INEXACT = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128))


def _check_float(name: str, t: TensorType) -> None:
    if t.dtype not in _INEXACT:
        raise TypeError(f"{name}: operands must be float32, float64, complex64 or complex128, "
                        f"got {t.dtype}")


def _real(t: TensorType, shape: tuple[int, ...]) -> TensorType:
    """A result of ``t``'s real precision (eigenvalues of Hermitian, singular values)."""
    return TensorType(shape, dtypes.real_part(t.dtype), t.weak)


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
    return a, _real(a, a.shape[:-1])


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
    s = _real(a, (*batch, k))
    if not compute_uv:
        return (s,)
    rows, cols = (m, n) if full_matrices else (k, k)
    return s, a.with_shape((*batch, m, rows)), a.with_shape((*batch, cols, n))


abstract_eval[svd] = _svd_rule


def _eig_rule(a: TensorType, *, compute_left_eigenvectors: bool,
              compute_right_eigenvectors: bool, enable_eigvec_derivs: bool = False,
              implementation: object = None) -> tuple[TensorType, ...]:
    _square("eig", a)
    out = TensorType(a.shape, dtypes.complex_of(a.dtype), a.weak)
    vectors = [out] * (int(compute_left_eigenvectors) + int(compute_right_eigenvectors))
    return (out.with_shape(a.shape[:-1]), *vectors)


def _geqrf_rule(a: TensorType) -> tuple[TensorType, TensorType]:
    _check_float("geqrf", a)
    if a.ndim < 2:
        raise ValueError(f"geqrf: the operand must have rank at least 2, got shape {a.shape}")
    *batch, m, n = a.shape
    return a, a.with_shape((*batch, min(m, n)))


def _householder_product_rule(a: TensorType, taus: TensorType) -> TensorType:
    _check_float("householder_product", a)
    if a.ndim < 2 or taus.ndim != a.ndim - 1 or taus.shape[:-1] != a.shape[:-2]:
        raise ValueError(f"householder_product: shapes {a.shape} and {taus.shape} do not fit")
    if taus.dtype != a.dtype:
        raise TypeError(f"householder_product: a and taus must have one dtype, got {a.dtype} "
                        f"and {taus.dtype}")
    m, n = a.shape[-2:]
    if m < n:
        raise ValueError("The first argument to householder_product must have at least as "
                         f"many rows as columns, got shape {a.shape}")
    if taus.shape[-1] > min(m, n):
        raise ValueError("The second argument to householder_product must not have more rows "
                         "than the minimum of the first argument's rows and columns.")
    return a


abstract_eval[eig] = _eig_rule
abstract_eval[geqrf] = _geqrf_rule
abstract_eval[householder_product] = _householder_product_rule
