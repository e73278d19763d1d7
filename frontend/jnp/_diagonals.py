"""Diagonals and triangles: diag, diagonal, diagflat, diag_indices, fill_diagonal, trace, tri,
triu, tril and their index helpers, vander, kron, cross.

A matrix's diagonal is a strided run of its row-major elements (stride ``columns + 1``),
so ``diagonal`` is a strided slice of the flattened matrix and ``diag`` of a vector the
inverse, an interior ``pad``; both differentiate and batch as slices do. The index
helpers (``tril_indices`` ...) depend on static sizes only and are computed by NumPy.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Array
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._dtypes import maybe_requested_dtype
from llax.frontend.jnp._manipulation import _axis, moveaxis, ravel, reshape, stack
from llax.frontend.jnp._reductions import sum as _sum
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes

__all__ = [
    "cross", "diag", "diag_indices", "diag_indices_from", "diagflat", "diagonal",
    "fill_diagonal", "kron", "mask_indices", "trace", "tri", "tril", "tril_indices",
    "tril_indices_from", "triu", "triu_indices", "triu_indices_from", "vander",
]


def _static_int(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        return operator.index(np.asarray(value).item())  # a concrete 0-d array
    except Exception as err:  # a tracer: JAX wants these static too
        raise TypeError(f"{what} must be a static integer, got {value!r}") from err


def _index_arrays(*arrays: np.ndarray) -> tuple[Any, ...]:
    """Index results in the default integer dtype, as JAX returns them."""
    return tuple(Array(np.asarray(a, dtypes.default_int())) for a in arrays)


# ---------------------------------------------------------------------------------------------
# Diagonals


def _diagonal_length(n: int, m: int, offset: int) -> int:
    return max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The ``offset`` diagonal of the matrices in ``axis1`` x ``axis2``, as a last axis."""
    x = as_array(a, "diagonal")
    if x.ndim < 2:
        raise ValueError("diagonal requires an array of at least two dimensions.")
    offset = _static_int(offset, "diagonal: offset")
    ax1, ax2 = _axis(axis1, x.ndim, "axis1"), _axis(axis2, x.ndim, "axis2")
    if ax1 == ax2:
        raise ValueError("axis1 and axis2 can not be the same")
    x = moveaxis(x, (ax1, ax2), (-2, -1))
    *batch, n, m = x.shape
    length = _diagonal_length(n, m, offset)
    flat = reshape(x, (*batch, n * m))
    if length == 0:
        return lax.slice_in_dim(flat, 0, 0, 1, len(batch))
    start = offset if offset >= 0 else -offset * m
    return lax.slice_in_dim(flat, start, start + (length - 1) * (m + 1) + 1, m + 1, len(batch))


def _diag_matrix(v: Any, k: int) -> Any:
    """The square matrix with ``v`` on its ``k`` diagonal: ``v`` spread by interior
    padding over the flattened matrix."""
    length = v.shape[0]
    n = length + abs(k)
    if length == 0:
        return lax.full((n, n), 0, v.dtype)
    start = k if k >= 0 else -k * n
    zero = lax.full((), 0, v.dtype)
    spread = lax.pad(v, zero, [(start, n * n - start - (length - 1) * (n + 1) - 1, n)])
    return reshape(spread, (n, n))


def diag(v: Any, k: int = 0) -> Any:
    """The ``k`` diagonal of a matrix, or the matrix with a vector on its ``k`` diagonal."""
    x = as_array(v, "diag")
    k = _static_int(k, "diag: k")
    if x.ndim == 1:
        return _diag_matrix(x, k)
    if x.ndim == 2:
        return diagonal(x, k)
    raise ValueError("diag input must be 1d or 2d")


def diagflat(v: Any, k: int = 0) -> Any:
    return _diag_matrix(ravel(as_array(v, "diagflat")), _static_int(k, "diagflat: k"))


def diag_indices(n: int, ndim: int = 2) -> tuple[Any, ...]:
    n, ndim = operator.index(n), operator.index(ndim)
    if n < 0:
        raise ValueError(f"n argument to diag_indices must be nonnegative, got {n}")
    if ndim < 0:
        raise ValueError(f"ndim argument to diag_indices must be nonnegative, got {ndim}")
    return _index_arrays(*[np.arange(n)] * ndim)


def diag_indices_from(arr: Any) -> tuple[Any, ...]:
    shape = np.shape(arr) if not hasattr(arr, "shape") else tuple(arr.shape)
    if len(shape) < 2:
        raise ValueError("input array must be at least 2-d")
    if len(set(shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    return diag_indices(shape[0], len(shape))


def fill_diagonal(a: Any, val: Any, wrap: bool = False, *, inplace: bool = True) -> Any:
    """A copy of ``a`` with ``val`` (cast to ``a``'s dtype, repeated as needed) on its main
    diagonal. JAX arrays are immutable: ``inplace=False`` is required."""
    if inplace:
        raise NotImplementedError("JAX arrays are immutable, must use inplace=False")
    if wrap:
        raise NotImplementedError("wrap=True is not implemented, must use wrap=False")
    x = as_array(a, "fill_diagonal")
    if x.ndim < 2:
        raise ValueError("array must be at least 2-d")
    if x.ndim > 2 and len(set(x.shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    length = min(x.shape)
    values = ravel(convert(as_array(val, "fill_diagonal", 1), x.dtype, x.weak_type))
    if length == 0:
        return x
    if values.shape[0] == 0:
        raise ValueError("fill_diagonal: val must not be empty")
    if values.shape[0] != length:
        values = _cycled(values, length)
    # Flat position of diagonal element j: j * (sum of the strides).
    strides = np.cumprod((1,) + x.shape[:0:-1])[::-1]
    positions = np.arange(length) * int(strides.sum())
    return reshape(ravel(x).at[positions].set(values), x.shape)


def _cycled(values: Any, length: int) -> Any:
    copies = -(-length // values.shape[0])
    tiled = reshape(lax.broadcast_in_dim(values, (copies, values.shape[0]), (1,)),
                    (copies * values.shape[0],))
    return lax.slice_in_dim(tiled, 0, length, 1, 0)


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: None = None) -> Any:
    """Sum of the ``offset`` diagonal (integers widened as ``sum`` widens them)."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.trace is not supported.")
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Triangles


def _on_or_below(shape: tuple[int, int], k: int) -> Any:
    """True where ``column <= row + k``."""
    rows = lax.broadcasted_iota(np.int32, shape, 0)
    cols = lax.broadcasted_iota(np.int32, shape, 1)
    return lax.le(cols, lax.add(rows, lax.full(shape, np.int32(k))))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:  # noqa: N803
    """Ones on and below the ``k`` diagonal of an ``N`` x ``M`` matrix, zeros above."""
    n = operator.index(N)
    m = n if M is None else operator.index(M)
    if n < 0 or m < 0:
        raise ValueError(f"negative dimensions are not allowed, got N={n}, M={m}")
    dt = maybe_requested_dtype(dtype, "tri") or np.dtype(np.float32)  # JAX: float32 even in x64
    return convert(_on_or_below((n, m), _static_int(k, "tri: k")), dt)


def _triangle(name: str, m: Any, k: int, lower: bool) -> Any:
    x = as_array(m, name)
    if x.ndim < 2:
        raise ValueError(f"Argument to jax.numpy.{name} must be at least 2D")
    k = _static_int(k, f"{name}: k")
    mask = _on_or_below(x.shape[-2:], k if lower else k - 1)
    if not lower:
        mask = lax.bitwise_not(mask)
    mask = lax.broadcast_in_dim(mask, x.shape, (x.ndim - 2, x.ndim - 1))
    return lax.select(mask, x, lax.full(x.shape, 0, x.dtype))


def tril(m: Any, k: int = 0) -> Any:
    """``m`` with the elements above its ``k`` diagonal zeroed (every matrix of a stack)."""
    return _triangle("tril", m, k, lower=True)


def triu(m: Any, k: int = 0) -> Any:
    """``m`` with the elements below its ``k`` diagonal zeroed (every matrix of a stack)."""
    return _triangle("triu", m, k, lower=False)


def _sizes(n: Any, k: Any, m: Any, name: str) -> tuple[int, int, int]:
    n = _static_int(n, f"{name}: n")
    m = n if m is None else _static_int(m, f"{name}: m")
    return n, _static_int(k, f"{name}: k"), m


def tril_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Any, Any]:
    n, k, m = _sizes(n, k, m, "tril_indices")
    if n < 0 or m < 0:
        raise ValueError("n and m arguments to tril_indices must be non-negative")
    return _index_arrays(*np.tril_indices(n, k, m))


def triu_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Any, Any]:
    n, k, m = _sizes(n, k, m, "triu_indices")
    if n < 0 or m < 0:
        raise ValueError("n and m arguments to triu_indices must be non-negative")
    return _index_arrays(*np.triu_indices(n, k, m))


def _matrix_shape(arr: Any, name: str) -> tuple[int, int]:
    shape = tuple(arr.shape) if hasattr(arr, "shape") else np.shape(arr)
    if len(shape) != 2:
        raise ValueError(f"{name} requires a 2-dimensional input, got shape {shape}")
    return shape


def tril_indices_from(arr: Any, k: int = 0) -> tuple[Any, Any]:
    n, m = _matrix_shape(arr, "tril_indices_from")
    return tril_indices(n, k, m)


def triu_indices_from(arr: Any, k: int = 0) -> tuple[Any, Any]:
    n, m = _matrix_shape(arr, "triu_indices_from")
    return triu_indices(n, k, m)


def mask_indices(n: int, mask_func: Callable[[Any, int], Any], k: int = 0, *,
                 size: int | None = None) -> tuple[Any, Any]:
    """Indices where ``mask_func(ones((n, n)), k)`` is non-zero (``size`` pads or cuts the
    result, as ``nonzero`` does)."""
    from llax.frontend.jnp._select import nonzero

    n = _static_int(n, "mask_indices: n")
    mask = mask_func(lax.full((n, n), np.int32(1)), k)
    return nonzero(mask, size=size)


# ---------------------------------------------------------------------------------------------
# Products


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803
    """Columns ``x**(N-1), ..., x, 1`` (reversed if ``increasing``), by repeated products."""
    v = as_array(x, "vander")
    if v.ndim != 1:
        raise ValueError("x must be a one-dimensional array")
    n = v.shape[0] if N is None else _static_int(N, "vander: N")
    if n < 0:
        raise ValueError("N must be nonnegative")
    (v,) = promote_dtypes("vander", [v])
    if v.weak_type:
        v = convert(v, v.dtype)
    columns = []
    power = lax.full(v.shape, 1, v.dtype)
    for _ in range(n):
        columns.append(power)
        power = lax.mul(power, v)
    if not columns:
        return lax.full((v.shape[0], 0), 0, v.dtype)
    if not increasing:
        columns = columns[::-1]
    return lax.concatenate([lax.expand_dims(c, (1,)) for c in columns], 1)


def kron(a: Any, b: Any) -> Any:
    """The Kronecker product: every element of ``a`` times the whole of ``b``."""
    x, y = promote_dtypes("kron", [as_array(a, "kron"), as_array(b, "kron", 1)])
    if x.dtype == dtypes.bool_:
        raise TypeError("kron does not accept boolean arrays (JAX multiplies them with "
                        "lax.mul, which rejects bool)")
    rank = max(x.ndim, y.ndim)
    x = reshape(x, (1,) * (rank - x.ndim) + x.shape)
    y = reshape(y, (1,) * (rank - y.ndim) + y.shape)
    # Interleave the axes: x's axis i at 2i, y's at 2i + 1, then merge each pair.
    wide = tuple(d for pair in zip(x.shape, y.shape) for d in pair)
    xs = lax.broadcast_in_dim(x, wide, tuple(range(0, 2 * rank, 2)))
    ys = lax.broadcast_in_dim(y, wide, tuple(range(1, 2 * rank, 2)))
    return reshape(UFUNCS["multiply"](xs, ys), tuple(p * q for p, q in zip(x.shape, y.shape)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """The cross product of 2- or 3-vectors along ``axisa``/``axisb`` (broadcasting the
    rest); 2-vectors count as 3-vectors with a zero third component (two 2-vectors give
    the scalar z component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    x, y = as_array(a, "cross"), as_array(b, "cross", 1)
    if x.ndim < 1 or y.ndim < 1:
        raise ValueError("At least one array has zero dimension")
    x = moveaxis(x, _axis(axisa, x.ndim, "axisa"), -1)
    y = moveaxis(y, _axis(axisb, y.ndim, "axisb"), -1)
    if x.shape[-1] not in (2, 3) or y.shape[-1] not in (2, 3):
        raise ValueError("Dimension must be either 2 or 3 for cross product")
    x, y = promote_dtypes("cross", [x, y])
    mul, sub = UFUNCS["multiply"], UFUNCS["subtract"]
    if x.shape[-1] == 2 and y.shape[-1] == 2:
        return sub(mul(x[..., 0], y[..., 1]), mul(x[..., 1], y[..., 0]))
    x, y = _as_3_vectors(x), _as_3_vectors(y)
    a0, a1, a2 = (x[..., i] for i in range(3))
    b0, b1, b2 = (y[..., i] for i in range(3))
    parts = [sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2)),
             sub(mul(a0, b1), mul(a1, b0))]
    out = stack(parts, axis=-1)
    return moveaxis(out, -1, _axis(axisc, out.ndim, "axisc"))


def _as_3_vectors(v: Any) -> Any:
    if v.shape[-1] == 3:
        return v
    zero = lax.full((), 0, v.dtype)
    return lax.pad(v, zero, [(0, 0, 0)] * (v.ndim - 1) + [(0, 1, 0)])
