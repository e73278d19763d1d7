"""Taking elements along one axis: ``take`` and ``take_along_axis`` (JAX's semantics).

Both are gathers. ``take_along_axis`` pairs every other axis of the array with the
same axis of the indices (the gather's batching dimensions), so each output
element reads one element of its own row.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.indexing import _static_fill_value, getitem
from llax.frontend.jnp._coerce import as_array, broadcast_shapes, broadcast_to_shape, convert
from llax.frontend.jnp._manipulation import ravel
from llax.frontend.jnp._reductions import canonical_axes
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.prims.indexing import GatherDimensionNumbers, GatherScatterMode


def gather_along_axis(x: Any, indices: Any, axis: int,
                      mode: GatherScatterMode = GatherScatterMode.PROMISE_IN_BOUNDS,
                      fill_value: Any = None) -> Any:
    """``out[..., i, ...] = x[..., indices[..., i, ...], ...]`` along ``axis``, for ``x`` and
    integer ``indices`` of equal shapes except along ``axis`` (indices taken as they are)."""
    others = tuple(d for d in range(x.ndim) if d != axis)
    dnums = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(axis,),
                                   start_index_map=(axis,), operand_batching_dims=others,
                                   start_indices_batching_dims=others)
    column = lax.expand_dims(indices, (indices.ndim,))
    return bind(P.gather, (x, column), {
        "dimension_numbers": dnums, "slice_sizes": (1,) * x.ndim, "mode": mode,
        "fill_value": fill_value, "indices_are_sorted": False, "unique_indices": False})


def _index_operand(indices: Any, name: str) -> Any:
    """Integer indices, widened so that adding an axis size cannot overflow them."""
    idx = as_array(indices, name, 1)
    if not dtypes.is_int(idx.dtype):
        raise TypeError(f"{name} indices must be of integer type, got {idx.dtype}")
    if idx.dtype.itemsize < 4 or idx.weak_type:
        idx = convert(idx, dtypes.int32)
    return idx


def _wrap_negative(idx: Any, size: int) -> Any:
    if dtypes.kind(idx.dtype) != "i":
        return idx
    n = np.array(size, idx.dtype)
    return lax.select(lax.lt(idx, np.zeros((), idx.dtype)), lax.add(idx, n), idx)


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1, mode: Any = None,
                    fill_value: Any = None) -> Any:
    """``arr``'s elements at ``indices`` along ``axis``, other axes paired (broadcasting
    against each other). Negative indices count from the end; out-of-bound ones give
    ``fill_value`` (NaN, or the integer minimum) unless ``mode`` is 'clip' or
    'promise_in_bounds'."""
    a = as_array(arr, "take_along_axis")
    idx = _index_operand(indices, "take_along_axis")
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"take_along_axis indices must be 1D if axis=None, got shape "
                             f"{idx.shape}")
        a, axis = ravel(a), 0
    if a.ndim != idx.ndim:
        raise ValueError("indices and arr must have the same number of dimensions; "
                         f"{idx.ndim} vs. {a.ndim}")
    axis = canonical_axes(operator.index(axis), a.ndim)[0]
    size = a.shape[axis]
    gmode = GatherScatterMode.FILL_OR_DROP if mode is None else GatherScatterMode.from_any(mode)
    rows = broadcast_shapes("take_along_axis", (
        a.shape[:axis] + (1,) + a.shape[axis + 1:], idx.shape[:axis] + (1,) + idx.shape[axis + 1:]))
    out_shape = rows[:axis] + (idx.shape[axis],) + rows[axis + 1:]
    if size == 0 or 0 in out_shape:  # nothing to gather from, or nothing to gather (zeros)
        return lax.full(out_shape, 0, a.dtype)
    if gmode is not GatherScatterMode.PROMISE_IN_BOUNDS:
        idx = _wrap_negative(idx, size)
    a = broadcast_to_shape(a, rows[:axis] + (size,) + rows[axis + 1:])
    idx = broadcast_to_shape(idx, out_shape)
    return gather_along_axis(a, idx, axis, gmode, _static_fill_value(fill_value))


def take(a: Any, indices: Any, axis: int | None = None, out: None = None, mode: Any = None,
         unique_indices: bool = False, indices_are_sorted: bool = False,
         fill_value: Any = None) -> Any:
    """``a``'s slices at ``indices`` along ``axis`` (of the flattened ``a`` if None). Modes:
    'fill' (the default: out-of-bound indices give ``fill_value``, negative ones count from
    the end), 'clip' and 'wrap' (indices modulo the size)."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.take is not supported.")
    x = as_array(a, "take")
    idx = _index_operand(indices, "take")
    if axis is None:
        x, axis = ravel(x), 0
    axis = canonical_axes(operator.index(axis), x.ndim)[0]
    if mode == "wrap":
        size = x.shape[axis]
        if size == 0:
            raise IndexError("Cannot do a non-empty jnp.take() from an empty axis.")
        n = np.array(size, idx.dtype)
        idx = lax.rem(lax.add(lax.rem(idx, n), n), n) if dtypes.kind(idx.dtype) == "i" \
            else lax.rem(idx, n)
        mode = "promise_in_bounds"
    elif mode is None:
        mode = "fill"
    elif mode not in ("fill", "clip"):
        raise ValueError(f"Invalid mode '{mode}' for np.take")
    index = (slice(None),) * axis + (idx,)
    return getitem(x, index, mode=mode, fill_value=fill_value,
                   unique_indices=unique_indices, indices_are_sorted=indices_are_sorted,
                   wrap_negative_indices=mode == "fill")
