"""NumPy/JAX indexing for llax arrays: ``x[idx]`` and the ``x.at[idx]`` update helpers.

An index (ints, slices, None, Ellipsis, integer arrays, concrete boolean masks)
is parsed once into a list of entries, one per index item, each bound to the
operand dimension it indexes. Then:

- only basic entries (static ints, slices, None, traced scalar ints) lower to
  ``slice`` / ``dynamic_slice`` / ``squeeze`` / ``rev`` / ``broadcast_in_dim``,
  which are what JAX emits and are cheap index maps;
- anything with an array lowers to one ``gather`` (and ``.at[]`` updates to one
  scatter) described by ``_Indexer``: every result dimension is either a window
  (a step-1 slice) or a batch dimension of the index array (the broadcast
  advanced indices, or a strided slice as an index column of its own).

Index values known at trace time (Python ints, NumPy arrays, concrete Arrays)
are normalised in NumPy and enter the IR as constants; traced indices get
JAX's ``lt`` / ``add`` / ``select_n`` wrap of negative values.

Out-of-bound behaviour follows JAX: ``x[i]`` and ``.at[i].get()`` clamp,
``.get(mode='fill')`` fills, and ``.at[i].<update>`` drops out-of-bound updates.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import llax.ir.reference_indexing  # noqa: F401  (registers the gather/scatter references)
from llax.frontend.core import Array, Tracer, concrete_value
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.prims.indexing import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
)
from llax.ir.promotion import dtype_of_value, result_type

__all__ = ["GatherDimensionNumbers", "GatherScatterMode", "NonConcreteBooleanIndexError",
           "ScatterDimensionNumbers", "at", "getitem"]

# Gather/scatter indices are int32, as in JAX (no llax array has 2**31 elements per axis).
INDEX_DTYPE = dtypes.int32
_I32 = np.iinfo(np.int32)


class NonConcreteBooleanIndexError(IndexError):
    """A boolean mask index whose value is unknown while tracing (its result shape would be)."""

    def __init__(self, aval: Any) -> None:
        super().__init__(
            f"Array boolean indices must be concrete; got {aval}\n\nSee "
            "https://docs.jax.dev/en/latest/errors.html#jax.errors.NonConcreteBooleanIndexError")


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Entry:
    """One index item bound to an operand dimension.

    kind: "none" (newaxis), "slice", "int" (static), "dyn" (traced scalar int),
    "array" (integer array: np.ndarray if static, Tracer if traced), "mask"
    (concrete boolean array, before expansion), "bool" (True/False scalar).
    """

    kind: str
    value: Any = None
    dim: int = -1          # operand dimension (after boolean-scalar axes are inserted)
    start: int = 0         # slices, once resolved: start, number of elements, step
    size: int = 0
    step: int = 1


def _non_tuple_sequence_error() -> TypeError:
    return TypeError("Using a non-tuple sequence for multidimensional indexing is not allowed; "
                     "use `arr[array(seq)]` instead of `arr[seq]`. See "
                     "https://github.com/jax-ml/jax/issues/4564 for more information.")


def _indexer_type_error(dtype: Any) -> TypeError:
    return TypeError(f"Indexer must have integer or boolean type, got indexer with type {dtype}")


def _slice_entry(s: slice, position: int) -> _Entry:
    bounds = []
    for v in (s.start, s.stop, s.step):
        if v is None:
            bounds.append(None)
        elif isinstance(v, Tracer):
            raise IndexError(f"Slice entries must be static integers. Got {s} at position "
                             f"{position}")
        else:
            bounds.append(operator.index(v))  # TypeError for floats, as Python's slices
    if bounds[2] == 0:
        raise ValueError("slice step cannot be zero")
    return _Entry("slice", slice(*bounds))


def _array_entry(item: Any) -> _Entry:
    """An entry for an array-like index item (Array, Tracer, NumPy value or nested list)."""
    if isinstance(item, Tracer):
        if dtypes.is_bool(item.dtype):
            if item.val is None:
                raise NonConcreteBooleanIndexError(item.aval)
            value = np.asarray(item.val)
        elif dtypes.is_int(item.dtype):
            return _Entry("dyn" if item.ndim == 0 else "array", item)
        else:
            raise _indexer_type_error(item.dtype)
    elif isinstance(item, Array):
        value = item._value
    elif isinstance(item, (list, tuple)) and _holds_tracer(item):
        # Traced elements: stack them with llax.numpy (as JAX's jnp.asarray does).
        from llax.frontend import jnp

        return _array_entry(jnp.asarray(item))
    elif isinstance(item, (np.ndarray, np.generic, list, tuple)):
        try:
            value = np.asarray(item)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Invalid index {item!r}: {e}") from None
        if isinstance(item, (list, tuple)) and value.size == 0:
            value = value.astype(np.int32)  # NumPy reads an empty list as an integer index
    elif hasattr(item, "__index__"):
        return _Entry("int", operator.index(item))
    else:
        raise _indexer_type_error(np.asarray(item).dtype if _is_number(item) else type(item))
    if value.dtype == np.bool_:
        return _Entry("bool", bool(value)) if value.ndim == 0 else _Entry("mask", value)
    if dtypes.kind(value.dtype) in "iu":
        return _Entry("int", int(value)) if value.ndim == 0 else _Entry("array", value)
    raise _indexer_type_error(value.dtype)


def _holds_tracer(seq: Any) -> bool:
    return any(isinstance(v, Tracer) or (isinstance(v, (list, tuple)) and _holds_tracer(v))
               for v in seq)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, complex, np.number))


def _parse(shape: tuple[int, ...], idx: Any) -> tuple[list[_Entry], list[int]]:
    """Entries with operand dims, and the positions of the axes boolean scalars insert.

    Ellipsis is expanded, missing trailing dims become full slices, masks become
    one integer array per masked dimension and slices are resolved.
    """
    if isinstance(idx, list):
        raise _non_tuple_sequence_error()
    if not isinstance(idx, tuple):
        idx = (idx,)
    raw: list[_Entry] = []
    ellipsis_at = None
    for position, item in enumerate(idx):
        if item is None:
            raw.append(_Entry("none"))
        elif item is Ellipsis:
            if ellipsis_at is not None:
                raise IndexError("an index can only have a single ellipsis ('...')")
            ellipsis_at = len(raw)
        elif isinstance(item, slice):
            raw.append(_slice_entry(item, position))
        elif isinstance(item, (bool, np.bool_)):
            raw.append(_Entry("bool", bool(item)))
        elif isinstance(item, (int, np.integer)):
            raw.append(_Entry("int", int(item)))
        elif isinstance(item, str):
            raise TypeError(f"JAX does not support string indexing; got idx={item!r}")
        else:
            raw.append(_array_entry(item))

    def consumed(e: _Entry) -> int:
        if e.kind in ("none", "bool"):
            return 0
        return e.value.ndim if e.kind == "mask" else 1

    used = sum(consumed(e) for e in raw)
    if used > len(shape):
        raise IndexError(f"Too many indices: array is {len(shape)}-dimensional, but {used} "
                         "were indexed")
    fill = [_Entry("slice", slice(None)) for _ in range(len(shape) - used)]
    at = len(raw) if ellipsis_at is None else ellipsis_at
    raw[at:at] = fill

    entries: list[_Entry] = []
    bool_axes: list[int] = []
    d = 0      # dimension of the original operand
    e_dim = 0  # dimension of the operand with boolean-scalar axes inserted
    for position, e in enumerate(raw):
        if e.kind == "none":
            entries.append(e)
        elif e.kind == "bool":
            # NumPy treats True/False as a 0-d boolean mask: a new axis indexed by [0] or [].
            bool_axes.append(e_dim)
            entries.append(_Entry("array", np.zeros((1 if e.value else 0,), np.int32), e_dim))
            e_dim += 1
        elif e.kind == "mask":
            k = e.value.ndim
            if e.value.shape != tuple(shape[d:d + k]):
                expected = list(shape[d:d + k])
                raise IndexError(f"boolean index did not match shape of indexed array in index "
                                 f"{position}: got {e.value.shape}, expected {expected}")
            for j, nz in enumerate(np.nonzero(e.value)):
                entries.append(_Entry("array", nz, e_dim + j))
            d, e_dim = d + k, e_dim + k
        else:
            e.dim = e_dim
            if e.kind == "slice":
                start, stop, step = e.value.indices(shape[d])
                e.start, e.step, e.size = start, step, len(range(start, stop, step))
                if e.size <= 1:
                    e.step = 1  # zero or one element: the step is irrelevant
            entries.append(e)
            d, e_dim = d + 1, e_dim + 1
    return entries, bool_axes


# ---------------------------------------------------------------------------------------------
# Index values


def _static_index(v: Any, n: int, wrap: bool) -> np.ndarray:
    """Static index values as int32, negatives counted from the end when ``wrap``.

    Values beyond int32 are clipped to it: they stay out of bounds either way.
    """
    v = np.asarray(v).astype(np.int64)
    if wrap:
        v = np.where(v < 0, v + n, v)
    return np.clip(v, _I32.min, _I32.max).astype(np.int32)


def _traced_index(t: Tracer, n: int, wrap: bool) -> Tracer:
    """A traced index as (strong) int32, negatives wrapped as JAX does (lt/add/select_n).

    Unsigned indices beyond int32 are clamped in their own dtype first: converting them would
    wrap 4e9 to a negative index (an element from the start) instead of past the end.
    """
    signed = dtypes.kind(t.dtype) == "i"
    if dtypes.kind(t.dtype) == "u" and np.iinfo(t.dtype).max > _I32.max:
        t = P.min.bind(t, np.array(_I32.max, t.dtype))
    if t.dtype != INDEX_DTYPE or t.weak_type:
        t = P.convert_element_type.bind(t, new_dtype=INDEX_DTYPE, weak_type=False)
    if wrap and signed:
        negative = P.lt.bind(t, np.int32(0))
        t = P.select_n.bind(negative, t, P.add.bind(t, np.int32(n)))
    return t


def _as_array(x: Any) -> Array | Tracer:
    if isinstance(x, (Array, Tracer)):
        return x
    value, weak = concrete_value(x)
    return Array(np.array(value), weak)


def _full(shape: tuple[int, ...], value: Any, dtype: np.dtype, weak: bool) -> Any:
    """An array of one value: a broadcast literal, so no buffer is captured when tracing."""
    return P.broadcast_in_dim.bind(Array(np.asarray(value, dtype), weak), shape=tuple(shape),
                                   broadcast_dimensions=())


def _insert_axes(x: Any, axes: list[int]) -> Any:
    """x with size-1 axes at ``axes`` (positions in the result)."""
    if not axes:
        return x
    rank = x.ndim + len(axes)
    keep = tuple(i for i in range(rank) if i not in axes)
    shape = [1] * rank
    for i, n in zip(keep, x.shape):
        shape[i] = n
    return P.broadcast_in_dim.bind(x, shape=tuple(shape), broadcast_dimensions=keep)


# ---------------------------------------------------------------------------------------------
# Basic indexing: slice / dynamic_slice / squeeze / rev / broadcast_in_dim


def _clamped_int(e: _Entry, n: int, wrap: bool) -> int:
    v = int(_static_index(e.value, n, wrap))
    if n == 0:
        raise IndexError(f"index is out of bounds for axis {e.dim} with size 0")
    return min(max(v, 0), n - 1)


def _needs_gather(shape: tuple[int, ...], entries: list[_Entry], mode: GatherScatterMode,
                  wrap: bool) -> bool:
    if any(e.kind == "array" for e in entries):
        return True
    if mode is not GatherScatterMode.FILL_OR_DROP:
        return False
    # Filling needs the gather's bounds check unless every integer is static and in bounds.
    for e in entries:
        if e.kind == "dyn":
            return True
        if e.kind == "int":
            n = shape[e.dim]
            if not 0 <= int(_static_index(e.value, n, wrap)) < n:
                return True
    return False


def _basic(x: Any, entries: list[_Entry], wrap: bool) -> Any:
    shape = x.shape
    starts, limits, strides = [0] * x.ndim, list(shape), [1] * x.ndim
    squeezed, reversed_, dynamic = [], [], {}
    for e in entries:
        if e.kind == "slice":
            if e.size == 0:
                limits[e.dim] = 0
            elif e.step > 0:
                starts[e.dim], limits[e.dim] = e.start, e.start + (e.size - 1) * e.step + 1
                strides[e.dim] = e.step
            else:
                # A negative step is the positive-step slice of the same elements, reversed.
                starts[e.dim] = e.start + (e.size - 1) * e.step
                limits[e.dim], strides[e.dim] = e.start + 1, -e.step
                reversed_.append(e.dim)
        elif e.kind == "int":
            v = _clamped_int(e, shape[e.dim], wrap)
            starts[e.dim], limits[e.dim] = v, v + 1
            squeezed.append(e.dim)
        elif e.kind == "dyn":
            dynamic[e.dim] = _traced_index(e.value, shape[e.dim], wrap)
            squeezed.append(e.dim)
    y = x
    if starts != [0] * x.ndim or limits != list(shape) or strides != [1] * x.ndim:
        y = P.slice.bind(y, start_indices=tuple(starts), limit_indices=tuple(limits),
                         strides=None if strides == [1] * x.ndim else tuple(strides))
    if dynamic:
        # dynamic_slice clamps the start so the window fits: JAX's out-of-bounds behaviour.
        index = [dynamic.get(d, np.int32(0)) for d in range(x.ndim)]
        sizes = tuple(1 if d in dynamic else n for d, n in enumerate(y.shape))
        y = P.dynamic_slice.bind(y, *index, slice_sizes=sizes)
    if squeezed:
        y = P.squeeze.bind(y, dimensions=tuple(sorted(squeezed)))
    if reversed_:
        y = P.rev.bind(y, dimensions=tuple(d - sum(s < d for s in squeezed) for d in reversed_))
    if any(e.kind == "none" for e in entries):
        out_shape, kept = [], []
        for e in entries:
            if e.kind == "none":
                out_shape.append(1)
            elif e.kind == "slice":
                kept.append(len(out_shape))
                out_shape.append(e.size)
        y = P.broadcast_in_dim.bind(y, shape=tuple(out_shape), broadcast_dimensions=tuple(kept))
    return y


# ---------------------------------------------------------------------------------------------
# Advanced indexing: one gather or scatter


class _Indexer:
    """The gather/scatter form of an index on an operand of shape ``shape``.

    ``result_shape`` is NumPy's ``x[idx].shape``; ``shape_no_none`` drops the
    newaxis dims (which the gather does not produce and the scatter's updates
    do not have). ``offset_dims`` are the window dims of that shape,
    ``collapsed`` the operand dims indexed by single elements and
    ``start_index_map`` the operand dim of each index column.
    """

    def __init__(self, shape: tuple[int, ...], entries: list[_Entry], wrap: bool) -> None:
        self.shape = shape
        self.wrap = wrap
        arrays = [e for e in entries if e.kind == "array"]
        try:
            block = np.broadcast_shapes(*(e.value.shape for e in arrays))
        except ValueError:
            shapes = ", ".join(str(tuple(e.value.shape)) for e in arrays)
            raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together "
                             f"with shapes {shapes}") from None
        # NumPy's rule: advanced indices (arrays, and ints when there are arrays) that are
        # all adjacent put their broadcast dims where they stand, otherwise in front.
        advanced = [i for i, e in enumerate(entries) if e.kind in ("int", "dyn", "array")]
        adjacent = advanced == list(range(advanced[0], advanced[-1] + 1)) if advanced else True
        block_items = [("block", k) for k in range(len(block))]
        items: list[tuple[str, Any]] = [] if adjacent else list(block_items)
        for i, e in enumerate(entries):
            if e.kind == "none":
                items.append(("none", None))
            elif e.kind == "slice":
                items.append(("window" if e.step == 1 else "strided", e))
            elif adjacent and i == advanced[0]:
                items.extend(block_items)

        def size(item: tuple[str, Any]) -> int:
            kind, v = item
            return 1 if kind == "none" else block[v] if kind == "block" else v.size

        self.result_shape = tuple(size(it) for it in items)
        self.none_dims = tuple(i for i, it in enumerate(items) if it[0] == "none")
        real = [it for it in items if it[0] != "none"]
        self.shape_no_none = tuple(size(it) for it in real)
        self.offset_dims = tuple(i for i, it in enumerate(real) if it[0] == "window")
        batch = [it for it in real if it[0] != "window"]
        self.batch_shape = tuple(size(it) for it in batch)
        block_axes = tuple(i for i, it in enumerate(batch) if it[0] == "block")

        # Index columns, in entry order: (operand dim, static value or Tracer, batch axes).
        self.columns: list[tuple[int, Any, tuple[int, ...]]] = []
        slice_sizes = [1] * len(shape)
        for e in entries:
            if e.kind == "slice" and e.step == 1:
                slice_sizes[e.dim] = e.size
                if e.start != 0:
                    self.columns.append((e.dim, np.int32(e.start), ()))
            elif e.kind == "slice":
                axis = next(i for i, it in enumerate(batch) if it[1] is e)
                values = e.start + e.step * np.arange(e.size, dtype=np.int64)
                self.columns.append((e.dim, values.astype(np.int32), (axis,)))
            elif e.kind in ("int", "dyn"):
                self.columns.append((e.dim, e.value, ()))
            elif e.kind == "array":
                self.columns.append((e.dim, e.value, block_axes[len(block) - e.value.ndim:]))
        self.slice_sizes = tuple(slice_sizes)
        self.collapsed = tuple(sorted(e.dim for e in entries if e.kind in
                                      ("int", "dyn", "array")
                                      or (e.kind == "slice" and e.step != 1)))
        self.start_index_map = tuple(d for d, _, _ in self.columns)
        # Without arrays the windows are distinct and (for positive steps) in order: JAX's flags.
        self.unique = not arrays
        self.sorted = not arrays and all(e.step > 0 for e in entries if e.kind == "slice")

    def indices(self) -> Any:
        """The index operand, shape ``batch_shape + (len(columns),)``, int32."""
        shape = self.batch_shape + (1,)
        rank = len(self.batch_shape)
        parts, static = [], True
        for dim, value, axes in self.columns:
            n = self.shape[dim]
            if isinstance(value, Tracer):
                static = False
                t = _traced_index(value, n, self.wrap)
                parts.append(P.broadcast_in_dim.bind(t, shape=shape, broadcast_dimensions=axes))
                continue
            v = _static_index(value, n, self.wrap)
            if v.ndim == 0:
                parts.append(int(v))  # a scalar column: broadcast below
                continue
            expanded = [1] * (rank + 1)
            for a, m in zip(axes, v.shape):
                expanded[a] = m
            # Materialised and contiguous: it becomes a kernel argument when traced.
            parts.append(np.ascontiguousarray(np.broadcast_to(v.reshape(expanded), shape)))
        if not parts:
            return np.zeros(shape[:-1] + (0,), np.int32)
        if static and not (len(parts) == 1 and isinstance(parts[0], int)):
            # All known: one NumPy constant (scalars broadcast in NumPy, not as ops).
            return np.concatenate([np.broadcast_to(np.int32(p), shape) if isinstance(p, int)
                                   else p for p in parts], axis=-1)
        parts = [_full(shape, p, INDEX_DTYPE, False) if isinstance(p, int) else p
                 for p in parts]
        return parts[0] if len(parts) == 1 else P.concatenate.bind(*parts, dimension=rank)

    def gather_dnums(self) -> GatherDimensionNumbers:
        return GatherDimensionNumbers(offset_dims=self.offset_dims,
                                      collapsed_slice_dims=self.collapsed,
                                      start_index_map=self.start_index_map)

    def scatter_dnums(self) -> ScatterDimensionNumbers:
        return ScatterDimensionNumbers(update_window_dims=self.offset_dims,
                                       inserted_window_dims=self.collapsed,
                                       scatter_dims_to_operand_dims=self.start_index_map)


def _static_fill_value(fill_value: Any) -> Any:
    # A primitive param: must be a hashable Python scalar known at trace time.
    if fill_value is None:
        return None
    if isinstance(fill_value, Tracer):
        raise TypeError("fill_value must be a static scalar, got a traced value")
    value = np.asarray(concrete_value(fill_value)[0])
    if value.ndim:
        raise TypeError(f"fill_value must be a scalar, got shape {value.shape}")
    return value.item()


def _unit_steps(x: Any, entries: list[_Entry]) -> Any:
    """Apply strided and reversed slices to the operand so the gather sees plain windows.

    (Rewrites those entries to step-1 slices of the result.) A window is cheaper than
    an index column per strided dim, and it is what JAX emits.
    """
    strided = [e for e in entries if e.kind == "slice" and e.step != 1]
    if not strided:
        return x
    starts, limits, strides = [0] * x.ndim, list(x.shape), [1] * x.ndim
    for e in strided:
        first = e.start if e.step > 0 else e.start + (e.size - 1) * e.step
        starts[e.dim], limits[e.dim] = first, first + (e.size - 1) * abs(e.step) + 1
        strides[e.dim] = abs(e.step)
    y = x
    if starts != [0] * x.ndim or limits != list(x.shape) or strides != [1] * x.ndim:
        y = P.slice.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                         strides=None if strides == [1] * x.ndim else tuple(strides))
    reversed_ = tuple(e.dim for e in strided if e.step < 0)
    if reversed_:
        y = P.rev.bind(y, dimensions=reversed_)
    for e in strided:
        e.start, e.step = 0, 1
    return y


def getitem(x: Any, idx: Any, *, mode: GatherScatterMode | str | None = None,
            fill_value: Any = None, indices_are_sorted: bool = False,
            unique_indices: bool = False, wrap_negative_indices: bool = True) -> Any:
    """``x[idx]`` with NumPy/JAX semantics (what ``Array.__getitem__`` calls).

    ``mode`` None clamps out-of-bound indices (JAX's default for indexing);
    'fill' returns ``fill_value`` (NaN / the integer extreme by default) there.
    """
    x = _as_array(x)
    gmode = (GatherScatterMode.PROMISE_IN_BOUNDS if mode is None
             else GatherScatterMode.from_any(mode))
    entries, bool_axes = _parse(x.shape, idx)
    if not bool_axes and not _needs_gather(x.shape, entries, gmode, wrap_negative_indices):
        return _basic(x, entries, wrap_negative_indices)
    operand = _unit_steps(_insert_axes(x, bool_axes), entries)
    ix = _Indexer(operand.shape, entries, wrap_negative_indices)
    if math.prod(ix.result_shape) == 0:
        # Nothing to read (and an empty axis could not hold a size-1 window): as JAX, zeros.
        return _full(ix.result_shape, 0, x.dtype, x.weak_type)
    y = P.gather.bind(operand, ix.indices(), dimension_numbers=ix.gather_dnums(),
                      slice_sizes=ix.slice_sizes, mode=gmode,
                      fill_value=_static_fill_value(fill_value),
                      indices_are_sorted=bool(ix.sorted or indices_are_sorted),
                      unique_indices=bool(ix.unique or unique_indices))
    if ix.none_dims:
        kept = tuple(i for i in range(len(ix.result_shape)) if i not in ix.none_dims)
        y = P.broadcast_in_dim.bind(y, shape=ix.result_shape, broadcast_dimensions=kept)
    return y


# ---------------------------------------------------------------------------------------------
# .at[idx] updates


def _update_operand(x: Any, values: Any) -> tuple[Any, np.dtype, bool]:
    """(values, dtype, weak) as JAX types them for a scatter into ``x``."""
    if isinstance(values, (Array, Tracer)):
        return values, values.dtype, values.weak_type
    if (type(values) is int and dtypes.is_int(x.dtype)
            and np.iinfo(x.dtype).min <= values <= np.iinfo(x.dtype).max):
        # An in-range Python int takes x's integer dtype (JAX: so int8 arrays stay int8).
        return np.asarray(values, x.dtype), x.dtype, False
    if isinstance(values, (list, tuple)):
        values = np.asarray(values)
    dtype, weak = dtype_of_value(values)
    return np.asarray(values, dtype), dtype, weak


def _convert(v: Any, dtype: np.dtype, weak: bool) -> Any:
    if isinstance(v, (Array, Tracer)):
        if v.dtype == dtype and v.weak_type == weak:
            return v
        return P.convert_element_type.bind(v, new_dtype=dtype, weak_type=weak)
    return np.asarray(v).astype(dtype)  # a constant: convert now


def _broadcast_update(v: Any, shape: tuple[int, ...]) -> Any:
    vshape = tuple(np.shape(v))
    if vshape == shape:
        return v
    if len(vshape) > len(shape):
        raise ValueError(f"Cannot broadcast to shape with fewer dimensions: arr_shape={vshape} "
                         f"shape={shape}")
    dims = tuple(range(len(shape) - len(vshape), len(shape)))
    for n, d in zip(vshape, dims):
        if n not in (1, shape[d]):
            raise ValueError(f"Incompatible shapes for broadcasting: update shape {vshape} "
                             f"and indexed shape {shape}")
    if not isinstance(v, (Array, Tracer)) and np.ndim(v) == 0:
        return _full(shape, v, np.asarray(v).dtype, False)
    return P.broadcast_in_dim.bind(v, shape=shape, broadcast_dimensions=dims)


def _scatter_update(x: Any, idx: Any, values: Any, prim: Any, *, mode: Any,
                    indices_are_sorted: bool, unique_indices: bool, wrap: bool) -> Any:
    x = _as_array(x)
    smode = GatherScatterMode.from_any(mode)  # None -> FILL_OR_DROP: updates out of bounds drop
    entries, bool_axes = _parse(x.shape, idx)
    operand = _insert_axes(x, bool_axes)
    ix = _Indexer(operand.shape, entries, wrap)
    v, vdtype, vweak = _update_operand(x, values)
    if math.prod(ix.result_shape) == 0:
        return x
    # As JAX: promote operand and updates together, scatter, convert back to x's type.
    dtype, weak = result_type((x.dtype, x.weak_type), (vdtype, vweak))
    operand = _convert(operand, dtype, weak)
    indices = ix.indices()
    v = _broadcast_update(_convert(v, dtype, weak), ix.result_shape)
    if ix.none_dims:
        v = P.squeeze.bind(v, dimensions=ix.none_dims)
    out = prim.bind(operand, indices, v, dimension_numbers=ix.scatter_dnums(),
                    indices_are_sorted=bool(ix.sorted or indices_are_sorted),
                    unique_indices=bool(ix.unique or unique_indices), mode=smode)
    if bool_axes:
        out = P.squeeze.bind(out, dimensions=tuple(bool_axes))
    return _convert(out, x.dtype, x.weak_type)


class _IndexUpdateRef:
    """``x.at[idx]``: functional versions of ``x[idx] = v``, ``x[idx] += v``, ..."""

    __slots__ = ("array", "index")

    def __init__(self, array: Any, index: Any) -> None:
        self.array = array
        self.index = index

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def _scatter(self, prim: Any, values: Any, indices_are_sorted: bool, unique_indices: bool,
                 mode: Any, wrap_negative_indices: bool) -> Any:
        return _scatter_update(self.array, self.index, values, prim, mode=mode,
                               indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices, wrap=wrap_negative_indices)

    def get(self, *, indices_are_sorted: bool = False, unique_indices: bool = False,
            mode: GatherScatterMode | str | None = None, fill_value: Any = None,
            wrap_negative_indices: bool = True) -> Any:
        """``x[idx]``; out-of-bound indices clamp, or give ``fill_value`` with mode='fill'."""
        return getitem(self.array, self.index, mode=mode, fill_value=fill_value,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                       wrap_negative_indices=wrap_negative_indices)

    def set(self, values: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
            wrap_negative_indices: bool = True) -> Any:
        """``x[idx] = values`` (repeated indices: one of the values wins, the last here)."""
        return self._scatter(P.scatter, values, indices_are_sorted, unique_indices, mode,
                             wrap_negative_indices)

    def add(self, values: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
            wrap_negative_indices: bool = True) -> Any:
        """``x[idx] += values``; repeated indices accumulate."""
        return self._scatter(P.scatter_add, values, indices_are_sorted, unique_indices, mode,
                             wrap_negative_indices)

    def subtract(self, values: Any, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
                 wrap_negative_indices: bool = True) -> Any:
        """``x[idx] -= values``."""
        return self._scatter(P.scatter_sub, values, indices_are_sorted, unique_indices, mode,
                             wrap_negative_indices)

    def multiply(self, values: Any, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
                 wrap_negative_indices: bool = True) -> Any:
        """``x[idx] *= values``."""
        return self._scatter(P.scatter_mul, values, indices_are_sorted, unique_indices, mode,
                             wrap_negative_indices)

    mul = multiply

    def min(self, values: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
            wrap_negative_indices: bool = True) -> Any:
        """``x[idx] = minimum(x[idx], values)``."""
        return self._scatter(P.scatter_min, values, indices_are_sorted, unique_indices, mode,
                             wrap_negative_indices)

    def max(self, values: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
            wrap_negative_indices: bool = True) -> Any:
        """``x[idx] = maximum(x[idx], values)``."""
        return self._scatter(P.scatter_max, values, indices_are_sorted, unique_indices, mode,
                             wrap_negative_indices)

    def _ufunc_of_product(self, name: str, values: Any, indices_are_sorted: bool,
                          unique_indices: bool, mode: Any, wrap: bool) -> Any:
        # JAX's composition: x <op> (ones_like(x) with the values multiplied in at idx), so
        # dtype promotion (int / int -> float) is that of jnp.divide / jnp.power.
        from llax.frontend import jnp

        x = _as_array(self.array)
        ones = _full(x.shape, 1, x.dtype, x.weak_type)
        factor = _IndexUpdateRef(ones, self.index).multiply(
            values, indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
            mode=mode, wrap_negative_indices=wrap)
        return getattr(jnp, name)(x, factor)

    def divide(self, values: Any, *, indices_are_sorted: bool = False,
               unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
               wrap_negative_indices: bool = True) -> Any:
        """``x[idx] /= values`` (true division: integer arrays give floats, as in JAX)."""
        return self._ufunc_of_product("divide", values, indices_are_sorted, unique_indices,
                                      mode, wrap_negative_indices)

    def power(self, values: Any, *, indices_are_sorted: bool = False,
              unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
              wrap_negative_indices: bool = True) -> Any:
        """``x[idx] **= values``."""
        return self._ufunc_of_product("power", values, indices_are_sorted, unique_indices,
                                      mode, wrap_negative_indices)

    def apply(self, func: Callable[[Any], Any], *, indices_are_sorted: bool = False,
              unique_indices: bool = False, mode: GatherScatterMode | str | None = None,
              wrap_negative_indices: bool = True) -> Any:
        """``func`` applied to the elements at ``idx`` (``func`` must be elementwise).

        Unlike JAX, an element indexed several times gets ``func`` once, not once per
        repetition: llax has no scatter-apply primitive, so this is a masked select.
        """
        x = _as_array(self.array)
        hit = _IndexUpdateRef(_full(x.shape, False, dtypes.bool_, False), self.index).set(
            True, indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
            mode=mode, wrap_negative_indices=wrap_negative_indices)
        fx = _convert(_as_array(func(x)), x.dtype, x.weak_type)
        return P.select_n.bind(hit, x, fx)


class _IndexUpdateHelper:
    """``x.at``: index it (``x.at[idx]``) to get the update methods."""

    __slots__ = ("array",)

    def __init__(self, array: Any) -> None:
        self.array = array

    def __getitem__(self, index: Any) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"_IndexUpdateHelper({self.array!r})"


def at(x: Any) -> _IndexUpdateHelper:
    """What the ``.at`` property of Array and Tracer returns."""
    return _IndexUpdateHelper(x)
