"""Gather and scatter (XLA semantics): integer-array indexing and ``.at[]`` updates.

The index vector dimension is always the last dimension of ``indices`` (as in
every gather/scatter JAX emits), so ``indices`` has shape ``batch + (k,)`` with
``k == len(start_index_map)`` (``len(scatter_dims_to_operand_dims)``).

gather[dimension_numbers, slice_sizes, mode, fill_value, indices_are_sorted,
unique_indices](operand, indices):
    for every batch index ``b``, a window of shape ``slice_sizes`` starts at
    ``operand[start(b)]``, where ``start(b)[start_index_map[j]] = indices[b, j]``
    (0 elsewhere; operand batching dims take the matching batch coordinate).
    ``collapsed_slice_dims`` and ``operand_batching_dims`` (size-1 window dims)
    are dropped; the remaining window dims land at ``offset_dims`` of the output
    and the batch dims fill the other output positions in order.

scatter*[dimension_numbers, mode, indices_are_sorted, unique_indices](operand, indices,
updates): the transpose: ``updates`` has the scatter (batch) dims at the positions
not in ``update_window_dims``; each window is combined into the operand at its
start with the primitive's combiner (replace, add, sub, mul, min, max).

Out-of-bound windows (a start with ``start < 0`` or ``start + window > size``):

- ``CLIP`` and ``PROMISE_IN_BOUNDS`` gathers clamp the start so the window fits
  (what XLA does, hence what JAX's ``x[idx]`` returns for bad indices);
- ``FILL_OR_DROP`` gathers return ``fill_value`` for the whole window;
- ``CLIP`` scatters clamp; ``FILL_OR_DROP`` and ``PROMISE_IN_BOUNDS`` scatters
  skip the window (XLA's scatter semantics).
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

from llax.ir import dtypes
from llax.ir.parser import PARAM_ENUMS
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = [
    "GatherDimensionNumbers", "GatherScatterMode", "ScatterDimensionNumbers", "SCATTERS",
    "gather", "scatter", "scatter_add", "scatter_sub", "scatter_mul", "scatter_min",
    "scatter_max",
]


class GatherScatterMode(enum.Enum):
    """How gathers and scatters treat out-of-bound indices (JAX's enum and member names)."""

    CLIP = 0
    FILL_OR_DROP = 1
    PROMISE_IN_BOUNDS = 2

    def __repr__(self) -> str:
        # JAX's jaxprs print the mode as ``GatherScatterMode.CLIP``; so do ours.
        return f"GatherScatterMode.{self.name}"

    __str__ = __repr__

    @staticmethod
    def from_any(s: GatherScatterMode | str | None) -> GatherScatterMode:
        """Accept a mode, its JAX spelling ('clip', 'fill', 'drop', 'promise_in_bounds') or None.

        None means FILL_OR_DROP, the default of ``lax.gather``/``lax.scatter``;
        ``x[idx]`` and ``.at[]`` pick their own defaults before calling this.
        """
        if isinstance(s, GatherScatterMode):
            return s
        if s is None or s in ("fill", "drop"):
            return GatherScatterMode.FILL_OR_DROP
        if s == "clip":
            return GatherScatterMode.CLIP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        if s == "one_hot":
            raise NotImplementedError('gather/scatter mode "one_hot" is not supported by llax')
        raise ValueError(f'Unknown gather mode "{s}"')


PARAM_ENUMS["GatherScatterMode"] = GatherScatterMode

# NamedTuples, as in JAX: they unpack, compare and hash like the tuple of their fields,
# so the IR printer writes them as plain tuples and the parser's tuple reads back equal.
class GatherDimensionNumbers(NamedTuple):
    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


def as_gather_dnums(dn: Any) -> GatherDimensionNumbers:
    """Normalise a GatherDimensionNumbers (or a parsed plain tuple) to tuples of ints."""
    return GatherDimensionNumbers(*(tuple(int(d) for d in f) for f in dn))


def as_scatter_dnums(dn: Any) -> ScatterDimensionNumbers:
    return ScatterDimensionNumbers(*(tuple(int(d) for d in f) for f in dn))


def _mode(name: str, mode: Any) -> GatherScatterMode:
    if isinstance(mode, GatherScatterMode):
        return mode
    if isinstance(mode, int) and not isinstance(mode, bool):  # a parsed enum value
        return GatherScatterMode(mode)
    try:
        return GatherScatterMode.from_any(mode)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _sorted_unique(name: str, what: str, dims: tuple[int, ...], bound: int,
                   must_sort: bool = True) -> None:
    for d in dims:
        if not 0 <= d < bound:
            raise TypeError(f"{name}: {what} {dims} has dimension {d} out of range "
                            f"[0, {bound})")
    if len(set(dims)) != len(dims):
        raise TypeError(f"{name}: {what} {dims} has repeated dimensions")
    if must_sort and list(dims) != sorted(dims):
        raise TypeError(f"{name}: {what} {dims} must be sorted")


def _check_indices(name: str, indices: TensorType) -> None:
    if not dtypes.is_int(indices.dtype):
        raise TypeError(f"{name}: indices must have an integer dtype, got {indices.dtype}")
    if indices.ndim < 1:
        raise TypeError(f"{name}: indices must have rank >= 1 (the last dimension is the "
                        f"index vector), got shape {indices.shape}")


def _check_batching(name: str, operand: TensorType, indices: TensorType,
                    operand_batching: tuple[int, ...], indices_batching: tuple[int, ...],
                    indexed: tuple[int, ...], collapsed: tuple[int, ...]) -> None:
    """Checks shared by gather and scatter for the (operand, indices) batching dims."""
    _sorted_unique(name, "operand_batching_dims", operand_batching, operand.ndim)
    _sorted_unique(name, "indices batching dims", indices_batching, indices.ndim - 1,
                   must_sort=False)
    if len(operand_batching) != len(indices_batching):
        raise TypeError(f"{name}: operand_batching_dims {operand_batching} and the indices "
                        f"batching dims {indices_batching} must have the same length")
    for od, idd in zip(operand_batching, indices_batching):
        if operand.shape[od] != indices.shape[idd]:
            raise TypeError(f"{name}: operand batching dim {od} (size {operand.shape[od]}) "
                            f"and indices batching dim {idd} (size {indices.shape[idd]}) "
                            "must have the same size")
    for d in operand_batching:
        if d in collapsed or d in indexed:
            raise TypeError(f"{name}: operand batching dim {d} must not also be collapsed "
                            "or indexed")


# gather[dimension_numbers, slice_sizes, mode, fill_value, indices_are_sorted,
#        unique_indices](operand, indices)
gather = primitive("gather", fusion=FusionClass.INDEX_MAP)


def _gather_rule(operand: TensorType, indices: TensorType, *, dimension_numbers: Any,
                 slice_sizes: tuple[int, ...], mode: Any = None, fill_value: Any = None,
                 indices_are_sorted: bool = False, unique_indices: bool = False) -> TensorType:
    name = "gather"
    dn = as_gather_dnums(dimension_numbers)
    _mode(name, mode)
    _check_indices(name, indices)
    r = operand.ndim
    if len(slice_sizes) != r:
        raise TypeError(f"{name}: slice_sizes {tuple(slice_sizes)} must have one entry per "
                        f"operand dimension (operand shape {operand.shape})")
    for d, (s, n) in enumerate(zip(slice_sizes, operand.shape)):
        if not 0 <= s <= n:
            raise TypeError(f"{name}: slice size {s} at index {d} is out of range, must be "
                            f"within [0, {n}] for operand shape {operand.shape}")
    _sorted_unique(name, "collapsed_slice_dims", dn.collapsed_slice_dims, r)
    for d in dn.collapsed_slice_dims:
        if slice_sizes[d] > 1:
            raise TypeError(f"{name}: can only collapse slice dims of size <= 1, but dim {d} "
                            f"has slice size {slice_sizes[d]}")
    _sorted_unique(name, "start_index_map", dn.start_index_map, r, must_sort=False)
    if indices.shape[-1] != len(dn.start_index_map):
        raise TypeError(f"{name}: the index vector (last dim of indices, shape "
                        f"{indices.shape}) must have len(start_index_map) = "
                        f"{len(dn.start_index_map)} entries")
    _check_batching(name, operand, indices, dn.operand_batching_dims,
                    dn.start_indices_batching_dims, dn.start_index_map, dn.collapsed_slice_dims)
    for d in dn.operand_batching_dims:
        if slice_sizes[d] != 1:
            raise TypeError(f"{name}: operand batching dim {d} needs slice size 1, got "
                            f"{slice_sizes[d]}")
    window = [d for d in range(r)
              if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims]
    batch_shape = indices.shape[:-1]
    out_rank = len(batch_shape) + len(window)
    if len(dn.offset_dims) != len(window):
        raise TypeError(f"{name}: offset_dims {dn.offset_dims} must have one entry per "
                        f"operand dim that is not collapsed or batching ({len(window)})")
    _sorted_unique(name, "offset_dims", dn.offset_dims, out_rank)
    shape = [0] * out_rank
    for pos, d in zip(dn.offset_dims, window):
        shape[pos] = slice_sizes[d]
    batch = iter(batch_shape)
    for pos in range(out_rank):
        if pos not in dn.offset_dims:
            shape[pos] = next(batch)
    return TensorType(tuple(shape), operand.dtype, operand.weak)


abstract_eval[gather] = _gather_rule


def _scatter_rule(name: str, arithmetic: bool):
    def rule(operand: TensorType, indices: TensorType, updates: TensorType, *,
             dimension_numbers: Any, mode: Any = None, indices_are_sorted: bool = False,
             unique_indices: bool = False) -> TensorType:
        dn = as_scatter_dnums(dimension_numbers)
        _mode(name, mode)
        _check_indices(name, indices)
        if updates.dtype != operand.dtype:
            raise TypeError(f"{name}: updates dtype {updates.dtype} must equal the operand "
                            f"dtype {operand.dtype}")
        if arithmetic and dtypes.is_bool(operand.dtype):
            # As lax.add/sub/mul: no arithmetic on bool.
            raise TypeError(f"{name} does not accept dtype bool; it takes integer or "
                            "floating operands")
        r = operand.ndim
        _sorted_unique(name, "update_window_dims", dn.update_window_dims, updates.ndim)
        _sorted_unique(name, "inserted_window_dims", dn.inserted_window_dims, r)
        _sorted_unique(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims,
                       r, must_sort=False)
        if indices.shape[-1] != len(dn.scatter_dims_to_operand_dims):
            raise TypeError(f"{name}: the index vector (last dim of indices, shape "
                            f"{indices.shape}) must have len(scatter_dims_to_operand_dims) "
                            f"= {len(dn.scatter_dims_to_operand_dims)} entries")
        _check_batching(name, operand, indices, dn.operand_batching_dims,
                        dn.scatter_indices_batching_dims, dn.scatter_dims_to_operand_dims,
                        dn.inserted_window_dims)
        window = [d for d in range(r)
                  if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
        if len(dn.update_window_dims) != len(window):
            raise TypeError(f"{name}: update_window_dims {dn.update_window_dims} must have "
                            f"one entry per operand dim that is not inserted or batching "
                            f"({len(window)})")
        for pos, d in zip(dn.update_window_dims, window):
            if updates.shape[pos] > operand.shape[d]:
                raise TypeError(f"{name}: update window dim {pos} (size {updates.shape[pos]})"
                                f" is larger than operand dim {d} (size {operand.shape[d]})")
        scatter_shape = tuple(n for i, n in enumerate(updates.shape)
                              if i not in dn.update_window_dims)
        if scatter_shape != indices.shape[:-1]:
            raise TypeError(f"{name}: the scatter dims of updates {updates.shape} (the dims "
                            f"not in update_window_dims, {scatter_shape}) must equal the "
                            f"batch dims of indices {indices.shape[:-1]}")
        return operand

    return rule


# scatter*[dimension_numbers, mode, indices_are_sorted, unique_indices](operand, indices,
# updates): the name says how a window combines with the operand (JAX's primitive names).
scatter = primitive("scatter")
scatter_add = primitive("scatter-add")
scatter_sub = primitive("scatter-sub")
scatter_mul = primitive("scatter-mul")
scatter_min = primitive("scatter-min")
scatter_max = primitive("scatter-max")
SCATTERS = (scatter, scatter_add, scatter_sub, scatter_mul, scatter_min, scatter_max)
for _p in SCATTERS:
    abstract_eval[_p] = _scatter_rule(_p.name, _p in (scatter_add, scatter_sub, scatter_mul))
