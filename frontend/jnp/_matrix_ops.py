"""Small steps the matrix decompositions share: checking a stack of matrices, triangle
masks, batched products, and the per-column reads and writes their loops make.

Every helper works on stacks ``(..., m, n)``: the leading axes are independent
matrices, so one loop over columns or rotations serves the whole batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array, convert
from llax.frontend.jnp._dtypes import to_inexact
from llax.frontend.jnp._take import gather_along_axis

# Dtypes the decompositions compute in. JAX's CPU LAPACK kernels have no float16 either.
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def matrix_stack(a: Any, name: str) -> Any:
    """``a`` as a floating Array of rank >= 2 (integers and bools promote as in JAX)."""
    x = as_array(a, f"jnp.linalg.{name}")
    x = convert(x, *to_inexact(x.dtype, x.weak_type))
    if x.ndim < 2:
        raise TypeError(f"Input 0 to {name} must have rank at least 2, but got "
                        f"shape={tuple(x.shape)}")
    if np.dtype(x.dtype) not in _FLOATS:
        raise NotImplementedError(f"jnp.linalg.{name}: unsupported dtype {x.dtype} (float32 "
                                  "and float64 only)")
    return x


def square_stack(a: Any, name: str, symmetrize: bool) -> Any:
    """A stack of square matrices (see ``check_square``)."""
    return check_square(matrix_stack(a, name), name, symmetrize)


def check_square(x: Any, name: str, symmetrize: bool) -> Any:
    """``x``, checked to be a stack of square matrices. JAX symmetrizes before it checks the
    shape, so a non-square input fails in the addition (TypeError) unless ``symmetrize`` is
    off."""
    m, n = x.shape[-2:]
    if m != n:
        if symmetrize:
            raise TypeError(f"jnp.linalg.{name}: the input must be a stack of square matrices "
                            f"to be symmetrized, got shape {tuple(x.shape)}")
        raise ValueError(f"The input to {name} must be a square matrix. Got shape "
                         f"{tuple(x.shape)}.")
    return x


def transpose_last(x: Any) -> Any:
    """The matrix transpose of every matrix of a stack."""
    perm = (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)
    return lax.transpose(x, perm)


def symmetrized(x: Any) -> Any:
    """``(x + x^T) / 2``, the symmetric part JAX factors by default."""
    half = np.asarray(0.5, x.dtype)
    return lax.mul(lax.add(x, transpose_last(x)), lax.full(x.shape, half, x.dtype))


def index_grid(shape: tuple[int, ...], dim: int) -> Any:
    return lax.broadcasted_iota(np.int32, shape, dim)


def triangle_mask(shape: tuple[int, ...], lower: bool, strict: bool = False) -> Any:
    """True on the lower (or upper) triangle of each matrix of ``shape``."""
    rows = index_grid(shape, len(shape) - 2)
    cols = index_grid(shape, len(shape) - 1)
    if lower:
        return lax.gt(rows, cols) if strict else lax.ge(rows, cols)
    return lax.lt(rows, cols) if strict else lax.le(rows, cols)


def keep_triangle(x: Any, lower: bool) -> Any:
    """``tril(x)`` or ``triu(x)`` of every matrix of the stack."""
    return lax.select(triangle_mask(x.shape, lower), x, lax.full(x.shape, 0, x.dtype))


def batch_dims(x: Any, core: int) -> tuple[int, ...]:
    return tuple(range(x.ndim - core))


def matvec(m: Any, v: Any) -> Any:
    """``m @ v`` per batch element: ``(..., r, c)`` times ``(..., c)``."""
    b = batch_dims(v, 1)
    return lax.dot_general(m, v, (((m.ndim - 1,), (v.ndim - 1,)), (b, b)))


def vecmat(v: Any, m: Any) -> Any:
    """``v @ m`` per batch element: ``(..., r)`` times ``(..., r, c)``."""
    b = batch_dims(v, 1)
    return lax.dot_general(v, m, (((v.ndim - 1,), (m.ndim - 2,)), (b, b)))


def matmul(a: Any, b: Any) -> Any:
    """``a @ b`` per batch element."""
    batch = batch_dims(a, 2)
    return lax.dot_general(a, b, (((a.ndim - 1,), (b.ndim - 2,)), (batch, batch)))


def outer(u: Any, v: Any) -> Any:
    """``u v^T`` per batch element: ``(..., r)`` and ``(..., c)`` to ``(..., r, c)``."""
    shape = (*u.shape, v.shape[-1])
    left = lax.broadcast_in_dim(u, shape, tuple(range(u.ndim)))
    right = lax.broadcast_in_dim(v, shape, (*range(v.ndim - 1), v.ndim))
    return lax.mul(left, right)


def scale(x: Any, s: Any, axis: int) -> Any:
    """``x`` times ``s`` broadcast along ``axis`` (``s`` has ``x``'s shape without it)."""
    dims = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
    return lax.mul(x, lax.broadcast_in_dim(s, x.shape, dims))


def column(x: Any, j: Any) -> Any:
    """Column ``j`` (a traced index) of every matrix: ``(..., m)``."""
    zeros = (0,) * (x.ndim - 2)
    block = lax.dynamic_slice(x, (*zeros, 0, j), (*x.shape[:-1], 1))
    return lax.squeeze(block, (x.ndim - 1,))


def row(x: Any, i: Any) -> Any:
    """Row ``i`` (a traced index) of every matrix: ``(..., n)``."""
    zeros = (0,) * (x.ndim - 2)
    block = lax.dynamic_slice(x, (*zeros, i, 0), (*x.shape[:-2], 1, x.shape[-1]))
    return lax.squeeze(block, (x.ndim - 2,))


def entry(v: Any, i: Any) -> Any:
    """Element ``i`` of every vector of a stack ``(..., m)``: shape ``(...)``."""
    zeros = (0,) * (v.ndim - 1)
    return lax.squeeze(lax.dynamic_slice(v, (*zeros, i), (*v.shape[:-1], 1)), (v.ndim - 1,))


def set_column(x: Any, j: Any, values: Any) -> Any:
    zeros = (0,) * (x.ndim - 2)
    return lax.dynamic_update_slice(x, lax.expand_dims(values, (x.ndim - 1,)), (*zeros, 0, j))


def diagonal(x: Any) -> Any:
    """The main diagonal of every matrix of a stack ``(..., n, n)``: ``(..., n)``."""
    eye = lax.eq(index_grid(x.shape, x.ndim - 2), index_grid(x.shape, x.ndim - 1))
    return lax.reduce_sum(lax.select(eye, x, lax.full(x.shape, 0, x.dtype)), (x.ndim - 1,))


def identity(shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A stack of identity matrices (ones on the main diagonal of non-square ones too)."""
    eye = lax.eq(index_grid(shape, len(shape) - 2), index_grid(shape, len(shape) - 1))
    return lax.convert_element_type(eye, dtype)


def const(value: float, dtype: np.dtype, shape: tuple[int, ...] = ()) -> Any:
    return lax.full(shape, value, dtype)


def permute_rows(x: Any, rows: Any) -> Any:
    """``x[..., rows, :]`` per matrix: ``rows`` is ``(..., m)`` with x's batch dimensions."""
    if x.size == 0:  # nothing to move (and a gather cannot slice an empty batch)
        return x
    index = lax.broadcast_in_dim(rows, x.shape, tuple(range(rows.ndim)))
    return gather_along_axis(x, index, x.ndim - 2)


def lapack_has(routine: str) -> bool:
    """Whether compiled code can call LAPACK's ``routine`` for float32 and float64 (the
    ``s``/``d`` variants) in this process; the decompositions fall back to loops of llax
    operations otherwise."""
    from llax.codegen import lapack

    return lapack.available("s" + routine) and lapack.available("d" + routine)
