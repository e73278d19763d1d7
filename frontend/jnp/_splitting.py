"""Splitting and joining: split, array_split, h/v/dsplit, block, append, insert, delete,
concat, unstack, tile, repeat, resize, roll, rollaxis, rot90, flips.

Everything here is a rearrangement of elements: slices, concatenations, reshapes of
broadcasts and, where the arrangement is irregular but known at trace time, one gather
whose indices NumPy computes from the static arguments. So each function traces, batches
and differentiates through the primitives it uses.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Array, ConcretizationTypeError, Tracer
from llax.frontend.jnp._coerce import as_array, broadcast_to_shape, convert
from llax.frontend.jnp._manipulation import (
    _axis,
    as_shape,
    concatenate,
    flip,
    moveaxis,
    ravel,
    reshape,
    transpose,
)
from llax.frontend.jnp._reductions import canonical_axes
from llax.frontend.jnp._take import take
from llax.ir import dtypes

__all__ = [
    "append", "array_split", "block", "concat", "delete", "dsplit", "fliplr", "flipud",
    "hsplit", "insert", "repeat", "resize", "roll", "rollaxis", "rot90", "split", "tile",
    "trim_zeros", "unstack", "vsplit",
]


def _concrete(x: Any, what: str) -> np.ndarray:
    """The value of ``x`` at trace time, or JAX's error naming ``what``."""
    if isinstance(x, Tracer):
        try:
            return np.asarray(x)
        except ConcretizationTypeError as err:
            raise ConcretizationTypeError(f"{what} must be static (known at trace time): "
                                          f"{err}") from None
    return np.asarray(x)


def _slice_axis(x: Any, start: int, stop: int, axis: int) -> Any:
    return lax.slice_in_dim(x, start, stop, 1, axis)


# ---------------------------------------------------------------------------------------------
# Splitting


def _split(name: str, ary: Any, sections: Any, axis: int, even: bool) -> list[Any]:
    x = as_array(ary, name)
    if x.ndim == 0:
        raise ValueError(f"{name}: cannot split a 0-d array")
    axis = _axis(axis, x.ndim)
    n = x.shape[axis]
    spec = _concrete(sections, f"{name}: indices_or_sections")
    if spec.ndim == 0:
        parts = operator.index(spec.item())
        if parts <= 0:
            raise ValueError(f"{name}: number sections must be larger than 0.")
        if even and n % parts:
            raise ValueError(f"array split does not result in an equal division: {n} "
                             f"elements into {parts} sections")
        size, extra = divmod(n, parts)
        cuts = np.cumsum([0] + [size + 1] * extra + [size] * (parts - extra))
    else:
        if spec.ndim != 1 or (spec.size and dtypes.kind(spec.dtype) not in "iu"):
            raise TypeError(f"{name}: indices_or_sections must be an integer or a 1-D "
                            f"sequence of integers, got {sections!r}")
        cuts = np.concatenate([[0], spec.astype(np.int64), [n]])
        if (np.diff(cuts) < 0).any():
            raise ValueError(f"Sizes passed to split must be nonnegative, got "
                             f"{np.diff(cuts).tolist()}")
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        # Python slice bounds: negative counts from the end, out of range clamps.
        start, stop, _ = slice(int(lo), int(hi)).indices(n)
        out.append(_slice_axis(x, start, max(start, stop), axis))
    return out


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Equal sections (an int that must divide the axis) or cuts at the given indices."""
    return _split("split", ary, indices_or_sections, axis, even=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Like ``split``, but the first ``n % sections`` parts get one extra element."""
    return _split("array_split", ary, indices_or_sections, axis, even=False)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    x = as_array(ary, "hsplit")
    if x.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return _split("hsplit", x, indices_or_sections, 1 if x.ndim > 1 else 0, even=True)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    x = as_array(ary, "vsplit")
    if x.ndim < 1:
        raise ValueError("vsplit only works on arrays of 1 or more dimensions")
    return _split("vsplit", x, indices_or_sections, 0, even=True)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    x = as_array(ary, "dsplit")
    if x.ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return _split("dsplit", x, indices_or_sections, 2, even=True)


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """The slices of ``x`` along ``axis``, that axis removed."""
    a = as_array(x, "unstack")
    if a.ndim == 0:
        raise ValueError("Unstack requires arrays with rank > 0, however a scalar array was "
                         "passed.")
    axis = _axis(axis, a.ndim)
    return tuple(lax.index_in_dim(a, i, axis, keepdims=False) for i in range(a.shape[axis]))


# ---------------------------------------------------------------------------------------------
# Joining


def concat(arrays: Sequence[Any], /, *, axis: int | None = 0) -> Any:
    """The array API's name for ``concatenate``."""
    return concatenate(arrays, axis=axis)


def _block_depth(item: Any, path: tuple[int, ...]) -> int:
    """Nesting depth of a ``block`` argument, checking that lists nest evenly."""
    if isinstance(item, tuple):
        raise TypeError(f"block: arrays is a tuple at index {list(path)}. Only lists can be "
                        "used to arrange blocks, and np.block does not allow implicit "
                        "conversion from tuple to ndarray.")
    if not isinstance(item, list):
        return 0
    if not item:
        raise ValueError(f"block: list at index {list(path)} cannot be empty")
    depths = {_block_depth(sub, (*path, i)) for i, sub in enumerate(item)}
    if len(depths) != 1:
        raise ValueError(f"block: list depths are mismatched at index {list(path)}")
    return depths.pop() + 1


def block(arrays: Any) -> Any:
    """Assemble an array from nested lists of blocks: the innermost lists join along the
    last axis, the next level along the one before, and so on."""
    depth = _block_depth(arrays, ())
    leaves: list[Any] = []

    def collect(item: Any) -> None:
        if isinstance(item, list):
            for sub in item:
                collect(sub)
        else:
            leaves.append(as_array(item, "block", len(leaves)))

    collect(arrays)
    rank = max([depth] + [x.ndim for x in leaves])

    def assemble(item: Any, level: int) -> Any:
        if not isinstance(item, list):
            x = as_array(item, "block")
            return reshape(x, (1,) * (rank - x.ndim) + x.shape) if x.ndim < rank else x
        parts = [assemble(sub, level + 1) for sub in item]
        return concatenate(parts, axis=rank - depth + level)

    return assemble(arrays, 0)


def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """``values`` after ``arr`` along ``axis`` (both flattened if None)."""
    if axis is None:
        return concatenate([ravel(as_array(arr, "append")),
                            ravel(as_array(values, "append", 1))], 0)
    return concatenate([arr, values], axis=axis)


def _static_indices(obj: Any, n: int, name: str) -> np.ndarray:
    """The integer (or boolean) positions ``obj`` names along an axis of size ``n``."""
    if isinstance(obj, slice):
        return np.arange(*obj.indices(n))
    if isinstance(obj, (list, tuple)):
        raise TypeError(f"{name} requires ndarray or scalar arguments, got {type(obj)} at "
                        "position 1.")
    value = _concrete(obj, f"'obj' argument of jnp.{name}()")
    if dtypes.kind(value.dtype) not in "iub":
        if value.size == 0 and not isinstance(obj, (Array, Tracer, np.ndarray)):
            return value.astype(np.int64)
        raise ValueError(f"jnp.{name}(): index array must be integer typed; got {obj}")
    return value


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """``values`` inserted before the positions ``obj`` along ``axis`` (clipped to the
    axis, negative counting from the end). ``obj`` may be traced."""
    a = as_array(arr, "insert")
    vals = as_array(values, "insert", 2)
    if axis is None:
        a, axis = ravel(a), 0
    axis = _axis(axis, a.ndim)
    n = a.shape[axis]
    if isinstance(obj, Tracer):
        return _insert_traced(a, obj, vals, axis)
    where = _static_indices(obj, n, "insert")
    if where.ndim > 1 or where.dtype == bool:
        raise ValueError("jnp.insert(): obj must be a slice, a one-dimensional array, or a "
                         f"scalar; got {obj}")
    vals = convert(vals, a.dtype, a.weak_type)
    if vals.ndim < a.ndim:
        vals = reshape(vals, (1,) * (a.ndim - vals.ndim) + vals.shape)
    if where.size == 1:
        if where.ndim == 0:
            vals = moveaxis(vals, 0, axis)
        where = np.full(vals.shape[axis], where.reshape(()))
    n_insert = np.broadcast_shapes(where.shape, (vals.shape[axis],))[0]
    where = np.clip(np.where(where < 0, where + n, where), 0, n)
    where = np.broadcast_to(where, (n_insert,))
    # Each inserted slice lands after the ones inserted before it at smaller positions.
    order = np.argsort(where, kind="stable")
    new_pos = np.empty(n_insert, np.int64)
    new_pos[order] = where[order] + np.arange(n_insert)
    source = np.full(n + n_insert, -1, np.int64)
    source[new_pos] = n + np.arange(n_insert)
    source[source < 0] = np.arange(n)
    target = a.shape[:axis] + (n_insert,) + a.shape[axis + 1:]
    try:
        vals = broadcast_to_shape(vals, target) if vals.shape != target else vals
        np.broadcast_shapes(vals.shape, target)
    except (ValueError, TypeError):
        raise ValueError(f"jnp.insert(): values of shape {vals.shape} do not fit the "
                         f"inserted block of shape {target}") from None
    return take(concatenate([a, vals], axis=axis), source, axis=axis, mode="clip")


def _insert_traced(a: Any, obj: Any, vals: Any, axis: int) -> Any:
    """``insert`` at traced positions: the inserted slices land at their positions plus
    the number inserted before them; every other output slot ``p`` reads input slot ``p``
    minus the number of inserted slots before it."""
    from llax.frontend.jnp._reductions import sum as _sum
    from llax.frontend.jnp._sorting import argsort

    f = _ufuncs()
    if obj.ndim > 1:
        raise ValueError("jnp.insert(): obj must be a slice, a one-dimensional array, or a "
                         f"scalar; got {obj}")
    if not dtypes.is_int(obj.dtype):
        raise ValueError(f"jnp.insert(): index array must be integer typed; got {obj}")
    n = a.shape[axis]
    vals = convert(vals, a.dtype, a.weak_type)
    if vals.ndim < a.ndim:
        vals = reshape(vals, (1,) * (a.ndim - vals.ndim) + vals.shape)
    idx = convert(obj, dtypes.int32) if obj.dtype != dtypes.int32 else obj
    if idx.ndim == 0 or idx.shape[0] == 1:
        if idx.ndim == 0:
            vals = moveaxis(vals, 0, axis)
        idx = lax.broadcast_in_dim(reshape(idx, ()), (vals.shape[axis],), ())
    k = np.broadcast_shapes(idx.shape, (vals.shape[axis],))[0]
    idx = broadcast_to_shape(idx, (k,))
    idx = f["clip"](f["where"](f["less"](idx, 0), f["add"](idx, np.int32(n)), idx), 0, n)
    order = argsort(idx, stable=True)
    positions = idx.at[order].add(np.arange(k, dtype=np.int32))
    slots = np.arange(n + k, dtype=np.int32)
    shift = _sum(f["less"](lax.expand_dims(positions, (0,)), slots[:, None]), axis=1,
                 dtype=dtypes.int32)
    source = f["clip"](f["subtract"](slots, shift), 0, max(n - 1, 0))
    target = a.shape[:axis] + (k,) + a.shape[axis + 1:]
    try:
        np.broadcast_shapes(vals.shape, target)
    except ValueError:
        raise ValueError(f"jnp.insert(): values of shape {vals.shape} do not fit the "
                         f"inserted block of shape {target}") from None
    vals = broadcast_to_shape(vals, target) if vals.shape != target else vals
    if n == 0:
        out = lax.full(a.shape[:axis] + (k,) + a.shape[axis + 1:], 0, a.dtype)
    else:
        out = take(a, source, axis=axis, mode="clip")
    return out.at[(slice(None),) * axis + (positions,)].set(vals, unique_indices=True)


def delete(arr: Any, obj: Any, axis: int | None = None, *,
           assume_unique_indices: bool = False) -> Any:
    """``arr`` without the slices at ``obj`` (an int, a slice, integer indices or a
    boolean mask along ``axis``; the flattened array if None). With
    ``assume_unique_indices=True`` the indices may be traced."""
    a = as_array(arr, "delete")
    if axis is None:
        a, axis = ravel(a), 0
    axis = _axis(axis, a.ndim)
    n = a.shape[axis]
    if isinstance(obj, Tracer) and assume_unique_indices and dtypes.is_int(obj.dtype):
        return _delete_traced(a, obj, axis)
    where = _static_indices(obj, n, "delete")
    if where.dtype == bool:
        if where.shape != (n,):
            raise ValueError("np.delete(arr, obj): for boolean indices, obj must be "
                             "one-dimensional with length matching specified axis.")
        keep = ~where
    else:
        keep = np.ones(n, bool)
        try:
            keep[where] = False
        except IndexError as err:
            raise IndexError(f"jnp.delete(): {err}") from None
    kept = np.flatnonzero(keep)
    if kept.size == n:
        return a
    if kept.size and np.all(np.diff(kept) == 1):
        return _slice_axis(a, int(kept[0]), int(kept[-1]) + 1, axis)
    return take(a, kept, axis=axis, mode="clip")


def _delete_traced(a: Any, obj: Any, axis: int) -> Any:
    """Delete distinct traced indices: output slot ``i`` reads input ``i`` plus the number
    of deleted positions at or before it."""
    from llax.frontend.jnp._sorting import sort

    ufuncs = _ufuncs()
    n = a.shape[axis]
    idx = ravel(convert(obj, dtypes.int32) if obj.dtype.itemsize < 4 else obj)
    idx = ufuncs["where"](ufuncs["less"](idx, 0), ufuncs["add"](idx, n), idx)
    idx = ufuncs["clip"](idx, 0, n)
    idx = ufuncs["subtract"](sort(idx), np.arange(idx.shape[0], dtype=idx.dtype))
    slots = np.arange(n - idx.shape[0], dtype=idx.dtype)
    before = ufuncs["greater_equal"](slots[None, :], lax.expand_dims(idx, (1,)))
    from llax.frontend.jnp._reductions import sum as _sum

    src = ufuncs["add"](slots, _sum(before, axis=0, dtype=idx.dtype))
    return take(a, src, axis=axis, mode="clip")


def _ufuncs() -> dict[str, Any]:
    from llax.frontend.jnp._select import clip, where
    from llax.frontend.jnp._ufuncs import UFUNCS

    return {**UFUNCS, "where": where, "clip": clip}


# ---------------------------------------------------------------------------------------------
# Repetition


def tile(A: Any, reps: Any) -> Any:  # noqa: N803 - NumPy's name
    """``A`` repeated ``reps`` times along each axis (``reps`` and ``A.shape`` padded with
    leading ones to the same length)."""
    x = as_array(A, "tile")
    reps_t = as_shape(reps, "tile")
    rank = max(x.ndim, len(reps_t))
    reps_t = (1,) * (rank - len(reps_t)) + reps_t
    shape = (1,) * (rank - x.ndim) + x.shape
    # Broadcast to (r0, s0, r1, s1, ...) and merge each pair.
    wide = tuple(d for pair in zip(reps_t, shape) for d in pair)
    tiled = lax.broadcast_in_dim(x, wide, tuple(range(2 * rank - x.ndim * 2 + 1, 2 * rank, 2)))
    return reshape(tiled, tuple(r * s for r, s in zip(reps_t, shape)))


def repeat(a: Any, repeats: Any, axis: int | None = None, *,
           total_repeat_length: int | None = None, out_sharding: Any = None) -> Any:
    """Each element (slice along ``axis``) repeated ``repeats`` times. Traced ``repeats``
    need a static ``total_repeat_length``: the output is cut to it, or padded with the
    last slice."""
    if out_sharding is not None:
        raise NotImplementedError("repeat: out_sharding is not supported by llax")
    x = as_array(a, "repeat")
    if axis is None:
        x, axis = ravel(x), 0
    axis = operator.index(axis)
    if total_repeat_length is None:
        reps = _concrete(repeats, "When jit-compiling jnp.repeat, the total number of "
                         "repeats must be static. To fix this, either specify a static value "
                         "for `repeats`, or pass a static value to `total_repeat_length`. "
                         "repeats")
        if dtypes.kind(reps.dtype) not in "iub":
            raise TypeError(f"repeat: repeats must be integers, got {reps.dtype}")
        if reps.ndim == 0 and x.ndim:
            return _repeat_uniform(x, int(reps), _axis(axis, x.ndim))
        reps = reps.ravel()
        if x.ndim:
            reps = np.broadcast_to(reps, (x.shape[_axis(axis, x.ndim)],))
        total = int(reps.sum())
    else:
        total = operator.index(total_repeat_length)
        reps = as_array(repeats, "repeat", 1)
        reps = ravel(reps)
        if x.ndim:
            length = x.shape[_axis(axis, x.ndim)]
            if reps.shape[0] not in (1, length):
                raise ValueError(f"repeat: {reps.shape[0]} repeats for an axis of length "
                                 f"{length}")
            reps = broadcast_to_shape(reps, (length,)) if reps.shape[0] == 1 else reps
    if x.ndim == 0:
        if np.shape(reps) != (1,):
            raise ValueError("`repeat` with a scalar parameter `a` is only implemented for "
                             "scalar values of the parameter `repeats`.")
        return lax.broadcast_in_dim(x, (total,), ())
    axis = _axis(axis, x.ndim)
    if isinstance(reps, np.ndarray):
        src = np.repeat(np.arange(x.shape[axis]), reps)
        if total_repeat_length is not None:
            src = np.resize(src, total) if src.size >= total or not src.size else \
                np.concatenate([src, np.full(total - src.size, src[-1])])
        return take(x, src.astype(np.int32), axis=axis, mode="clip")
    return _repeat_traced(x, reps, axis, total)


def _repeat_uniform(x: Any, count: int, axis: int) -> Any:
    wide = x.shape[:axis + 1] + (count,) + x.shape[axis + 1:]
    dims = tuple(d for d in range(x.ndim + 1) if d != axis + 1)
    spread = lax.broadcast_in_dim(x, wide, dims)
    return reshape(spread, x.shape[:axis] + (x.shape[axis] * count,) + x.shape[axis + 1:])


def _repeat_traced(x: Any, reps: Any, axis: int, total: int) -> Any:
    """Output slot ``i`` reads the input slice whose cumulative repeat count first exceeds
    ``i`` (the last slice beyond the sum)."""
    from llax.frontend.jnp._reductions import sum as _sum

    f = _ufuncs()
    n = x.shape[axis]
    if total == 0 or n == 0:
        return lax.slice_in_dim(x, 0, 0, 1, axis) if total == 0 else \
            lax.full(x.shape[:axis] + (total,) + x.shape[axis + 1:], 0, x.dtype)
    counts = convert(reps, dtypes.int32) if reps.dtype != dtypes.int32 else reps
    upto = np.tril(np.ones((n, n), np.int32))  # ends[j] = sum of counts[:j + 1]
    ends = _sum(f["multiply"](upto, counts[None, :]), axis=1)
    slots = np.arange(total, dtype=np.int32)
    src = _sum(f["less_equal"](ends[None, :], slots[:, None]), axis=1, dtype=dtypes.int32)
    src = f["minimum"](src, np.int32(n - 1))
    return take(x, src, axis=axis, mode="clip")


def resize(a: Any, new_shape: Any) -> Any:
    """``a``'s elements, flattened and repeated cyclically, in the shape ``new_shape``."""
    x = ravel(as_array(a, "resize"))
    shape = as_shape(new_shape, "resize")
    if any(d < 0 for d in shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    total = int(np.prod(shape, dtype=np.int64))
    if x.size == 0 or total == 0:
        return lax.full(shape, 0, x.dtype)
    copies = -(-total // x.size)
    cycled = tile(x, copies) if copies > 1 else x
    return reshape(lax.slice_in_dim(cycled, 0, total, 1, 0), shape)


# ---------------------------------------------------------------------------------------------
# Rolling, rotating, flipping


def _roll_one(x: Any, shift: Any, axis: int) -> Any:
    n = x.shape[axis]
    if n == 0:
        return x
    if not isinstance(shift, Tracer):
        s = operator.index(np.asarray(shift).item()) % n
        if s == 0:
            return x
        return concatenate([_slice_axis(x, n - s, n, axis), _slice_axis(x, 0, n - s, axis)],
                           axis)
    f = _ufuncs()
    s = convert(shift, dtypes.int32) if shift.dtype != dtypes.int32 else shift
    start = f["remainder"](f["negative"](s), np.int32(n))
    doubled = concatenate([x, x], axis)
    return lax.dynamic_slice_in_dim(doubled, start, n, axis)


def roll(a: Any, shift: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Elements shifted ``shift`` places along ``axis`` (the flattened array if None),
    wrapping around; ``shift`` and ``axis`` may be sequences, broadcast together."""
    x = as_array(a, "roll")
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    if isinstance(shift, Tracer):
        if not dtypes.is_int(shift.dtype):
            raise TypeError(f"roll: shift must be an integer, got {shift.dtype}")
        shifts = [shift] if shift.ndim == 0 else [shift[i] for i in range(shift.shape[0])]
    else:
        arr = np.asarray(shift)
        if dtypes.kind(arr.dtype) not in "iub":
            raise TypeError(f"roll: shift must be an integer, got {arr.dtype}")
        shifts = list(np.atleast_1d(arr))
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(axes) == 1 and len(shifts) > 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError("roll: shift and axis must have the same length, got "
                         f"{len(shifts)} and {len(axes)}")
    for s, ax in zip(shifts, axes):
        x = _roll_one(x, s, _axis(operator.index(ax), x.ndim))
    return x


def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """Move ``axis`` to lie before position ``start`` (NumPy's older ``moveaxis``)."""
    x = as_array(a, "rollaxis")
    axis = _axis(axis, x.ndim)
    start = operator.index(start)
    if not -x.ndim <= start <= x.ndim:
        raise ValueError(f"rollaxis: start={start} must satisfy {-x.ndim} <= start <= {x.ndim}")
    if start < 0:
        start += x.ndim
    if axis < start:
        start -= 1
    return moveaxis(x, axis, start) if axis != start else x


def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``, from the first toward
    the second."""
    x = as_array(m, "rot90")
    if x.ndim < 2:
        raise ValueError(f"rot90 requires its first argument to have ndim at least two, but "
                         f"got first argument of shape {x.shape}, which has ndim {x.ndim}")
    if len(axes) != 2:
        raise ValueError(f"rot90 requires that the axes argument has length 2, got {axes}")
    ax0, ax1 = (_axis(operator.index(ax), x.ndim) for ax in axes)
    if ax0 == ax1:
        raise ValueError(f"rot90 requires that the axes are different, got axes {axes}")
    k = operator.index(k) % 4
    if k == 0:
        return x
    if k == 2:
        return flip(x, (ax0, ax1))
    perm = list(range(x.ndim))
    perm[ax0], perm[ax1] = perm[ax1], perm[ax0]
    if k == 1:
        return transpose(flip(x, ax1), perm)
    return flip(transpose(x, perm), ax1)


def fliplr(m: Any) -> Any:
    x = as_array(m, "fliplr")
    if x.ndim < 2:
        raise ValueError("fliplr requires an array of at least 2 dimensions, got shape "
                         f"{x.shape}")
    return flip(x, 1)


def flipud(m: Any) -> Any:
    x = as_array(m, "flipud")
    if x.ndim < 1:
        raise ValueError("flipud requires an array of at least 1 dimension, got shape "
                         f"{x.shape}")
    return flip(x, 0)


def trim_zeros(filt: Any, trim: str = "fb", axis: int | Sequence[int] | None = None) -> Any:
    """``filt`` without its leading ('f') and/or trailing ('b') zeros (along each of
    ``axis``, all axes if None: the bounding box of the non-zero elements). ``filt``
    must be concrete, since the result's shape depends on its values."""
    x = as_array(filt, "trim_zeros")
    value = _concrete(x, "Error arose in the `filt` argument of trim_zeros()")
    if x.ndim == 0:
        raise TypeError("0-d array cannot be trimmed")
    trim = trim.lower()
    axes = canonical_axes(axis, x.ndim)
    nonzero = np.argwhere(value)
    for ax in axes:
        n = x.shape[ax]
        if nonzero.size:
            lo, hi = int(nonzero[:, ax].min()), int(nonzero[:, ax].max()) + 1
        else:
            lo, hi = (n, n) if "f" in trim else (0, 0)
        start = lo if "f" in trim else 0
        stop = hi if "b" in trim else n
        x = _slice_axis(x, start, max(start, stop), ax)
    return x

