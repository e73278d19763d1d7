"""NumPy reference implementations of gather and the scatters (see llax.ir.prims.indexing).

Both are vectorised the same way: for every operand dimension ``d`` we build an
integer array ``start_d + window_d`` that broadcasts to the output (gather) or
update (scatter) shape, and let NumPy's advanced indexing (gather) or
``ufunc.at`` (scatter, which applies repeated indices one after the other, as
the scatter combiners require) do the element work.

Importing this module registers the rules in ``llax.ir.reference.reference``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.prims.indexing import (
    GatherScatterMode,
    _gather_rule,
    as_gather_dnums,
    as_scatter_dnums,
)
from llax.ir.reference import reference
from llax.ir.types import TensorType


def default_fill_value(dtype: np.dtype) -> object:
    """What a FILL_OR_DROP gather returns out of bounds when no fill_value is given (as JAX)."""
    dtype = np.dtype(dtype)
    if dtypes.kind(dtype) == "f":
        return np.nan
    if dtypes.kind(dtype) == "i":
        return np.iinfo(dtype).min
    if dtypes.kind(dtype) == "u":
        return np.iinfo(dtype).max
    return True


def _mode(mode: object) -> GatherScatterMode:
    if isinstance(mode, int) and not isinstance(mode, (bool, GatherScatterMode)):
        return GatherScatterMode(mode)
    return GatherScatterMode.from_any(mode)  # type: ignore[arg-type]


def _starts(operand_shape: tuple[int, ...], indices: np.ndarray, index_map: tuple[int, ...],
            operand_batching: tuple[int, ...], indices_batching: tuple[int, ...],
            window: list[int], clamp: bool) -> tuple[list[np.ndarray | int], np.ndarray]:
    """Per operand dim, the window start over the batch shape; and the in-bounds mask.

    ``window[d]`` is the window extent in dim d. Starts of indexed dims are clamped
    into ``[0, size - window]`` when ``clamp``; otherwise they are clamped only
    for safe indexing and the mask says which batch positions were in bounds.
    """
    batch_shape = indices.shape[:-1]
    starts: list[np.ndarray | int] = [0] * len(operand_shape)
    ok = np.ones(batch_shape, dtype=bool)
    for j, d in enumerate(index_map):
        s = indices[..., j].astype(np.int64)
        hi = operand_shape[d] - window[d]
        if not clamp:
            ok &= (s >= 0) & (s <= hi)
        starts[d] = np.clip(s, 0, max(hi, 0))
    for od, idd in zip(operand_batching, indices_batching):
        # The batch coordinate along indices dim ``idd``, spread over the batch shape.
        shape = [1] * len(batch_shape)
        shape[idd] = batch_shape[idd]
        starts[od] = np.arange(batch_shape[idd]).reshape(shape)
    return starts, ok


def _spread(a: np.ndarray | int, positions: list[int], rank: int) -> np.ndarray | int:
    """Reshape a batch-shaped array so its dims sit at ``positions`` of a rank-``rank`` array."""
    if isinstance(a, int):
        return a
    shape = [1] * rank
    for k, pos in enumerate(positions):
        shape[pos] = a.shape[k]
    return a.reshape(shape)


def _axis_range(n: int, axis: int, rank: int) -> np.ndarray:
    shape = [1] * rank
    shape[axis] = n
    return np.arange(n).reshape(shape)


def _gather(operand: np.ndarray, indices: np.ndarray, *, dimension_numbers, slice_sizes,
            mode=None, fill_value=None, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> np.ndarray:
    dn = as_gather_dnums(dimension_numbers)
    mode = _mode(mode)
    out_shape = _gather_rule(TensorType(operand.shape, operand.dtype),
                             TensorType(indices.shape, indices.dtype),
                             dimension_numbers=dn, slice_sizes=tuple(slice_sizes)).shape
    rank = len(out_shape)
    batch_pos = [p for p in range(rank) if p not in dn.offset_dims]
    starts, ok = _starts(operand.shape, indices, dn.start_index_map, dn.operand_batching_dims,
                         dn.start_indices_batching_dims, list(slice_sizes),
                         clamp=mode is not GatherScatterMode.FILL_OR_DROP)
    window_dims = [d for d in range(operand.ndim)
                   if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    index = []
    for d in range(operand.ndim):
        i = _spread(starts[d], batch_pos, rank)
        if d in window_dims:
            i = i + _axis_range(slice_sizes[d], dn.offset_dims[window_dims.index(d)], rank)
        index.append(np.asarray(i))
    out = np.broadcast_to(operand[tuple(index)], out_shape)
    if mode is GatherScatterMode.FILL_OR_DROP and not ok.all():
        fill = default_fill_value(operand.dtype) if fill_value is None else fill_value
        with np.errstate(invalid="ignore"):
            fill = np.asarray(fill).astype(operand.dtype)
        out = np.where(_spread(ok, batch_pos, rank), out, fill)
    return np.array(out, dtype=operand.dtype)


reference[P.gather] = _gather


# How each scatter combines an update into the operand; None = plain assignment.
_COMBINE: dict = {
    P.scatter: None, P.scatter_add: np.add, P.scatter_sub: np.subtract,
    P.scatter_mul: np.multiply, P.scatter_min: np.minimum, P.scatter_max: np.maximum,
}


def _scatter_impl(combine: np.ufunc | None) -> Callable[..., np.ndarray]:
    def scatter(operand: np.ndarray, indices: np.ndarray, updates: np.ndarray, *,
                dimension_numbers, mode=None, indices_are_sorted: bool = False,
                unique_indices: bool = False) -> np.ndarray:
        dn = as_scatter_dnums(dimension_numbers)
        mode = _mode(mode)
        if operand.size == 0:
            return operand.copy()  # no window fits anywhere: every update is dropped
        window_dims = [d for d in range(operand.ndim)
                       if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
        extent = [1] * operand.ndim
        for pos, d in zip(dn.update_window_dims, window_dims):
            extent[d] = updates.shape[pos]
        rank = updates.ndim
        scatter_pos = [p for p in range(rank) if p not in dn.update_window_dims]
        # Only CLIP moves windows into bounds; the other modes skip out-of-bound windows.
        starts, ok = _starts(operand.shape, indices, dn.scatter_dims_to_operand_dims,
                             dn.operand_batching_dims, dn.scatter_indices_batching_dims,
                             extent, clamp=mode is GatherScatterMode.CLIP)
        index = []
        for d in range(operand.ndim):
            i = _spread(starts[d], scatter_pos, rank)
            if d in window_dims:
                pos = dn.update_window_dims[window_dims.index(d)]
                i = i + _axis_range(updates.shape[pos], pos, rank)
            index.append(np.broadcast_to(i, updates.shape)[...])
        keep = np.broadcast_to(_spread(ok, scatter_pos, rank), updates.shape)
        # A rank-0 operand gets a dummy axis so every update has somewhere to point.
        out = operand.reshape(-1).copy() if operand.ndim == 0 else operand.copy()
        if operand.ndim == 0:
            index = [np.zeros(updates.shape, dtype=np.int64)]
        target = tuple(i[keep] for i in index)
        values = updates[keep]
        if combine is None:
            # NumPy assigns repeated indices in order, so the last update wins (as XLA on CPU).
            out[target] = values
        else:
            with np.errstate(all="ignore"):
                combine.at(out, target, values)
        return out.reshape(operand.shape)

    return scatter


for _prim, _fn in _COMBINE.items():
    reference[_prim] = _scatter_impl(_fn)
