"""Shape manipulation in ``llax.numpy``: reshape, transpose, joining, squeezing, broadcasting."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Array, ConcretizationTypeError, Tracer
from llax.frontend.jnp._coerce import (
    as_array,
    broadcast_to_shape,
    convert,
    is_arraylike,
    promote_dtypes,
)
from llax.frontend.jnp._coerce import broadcast_shapes as _broadcast_shapes
from llax.frontend.jnp._dtypes import maybe_requested_dtype
from llax.frontend.jnp._reductions import canonical_axes
from llax.ir import dtypes

Shape = int | Sequence[int]


def _axis(axis: int, ndim: int, what: str = "axis") -> int:
    return canonical_axes(operator.index(axis), ndim, what)[0]


def as_shape(shape: Shape, where: str) -> tuple[int, ...]:
    """A shape as a tuple of Python ints (concrete values only, as in JAX)."""
    dims = (shape,) if not isinstance(shape, (tuple, list)) and np.ndim(shape) == 0 else shape
    out = []
    for d in dims:
        try:
            out.append(operator.index(d))
        except ConcretizationTypeError:
            raise
        except TypeError:
            raise TypeError(f"{where}: shapes must be 1D sequences of concrete values of "
                            f"integer type, got {shape!r}.") from None
    return tuple(out)


def shape(a: Any) -> tuple[int, ...]:
    return a.shape if isinstance(a, (Array, Tracer)) else np.shape(a)


def ndim(a: Any) -> int:
    return len(shape(a))


def size(a: Any, axis: int | None = None) -> int:
    s = shape(a)
    return math.prod(s) if axis is None else s[axis]


def _resolve_shape(new_shape: tuple[int, ...], total: int, old: tuple[int, ...]) -> tuple[int, ...]:
    unknown = [i for i, d in enumerate(new_shape) if d == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension")
    if any(d < -1 for d in new_shape):
        raise ValueError(f"cannot reshape array of shape {old} into shape {new_shape}: "
                         "negative dimension")
    if unknown:
        known = math.prod(d for d in new_shape if d != -1)
        if known == 0 or total % known:
            raise TypeError(f"cannot reshape array of shape {old} (size {total}) into shape "
                            f"{new_shape}")
        new_shape = tuple(total // known if d == -1 else d for d in new_shape)
    if math.prod(new_shape) != total:
        raise TypeError(f"cannot reshape array of shape {old} (size {total}) into shape "
                        f"{new_shape}")
    return new_shape


def reshape(a: Any, shape: Shape | None = None, order: str = "C", *, newshape: Any = None,
            copy: bool | None = None) -> Any:
    """Reshape in row-major (``order='C'``) or column-major (``'F'``) order; one -1 allowed."""
    if newshape is not None:
        if shape is not None:
            raise TypeError("reshape: pass only one of shape and newshape")
        shape = newshape
    if shape is None:
        raise TypeError("reshape() missing required argument 'shape'")
    x = as_array(a, "reshape")
    new = _resolve_shape(as_shape(shape, "reshape"), x.size, x.shape)
    if order == "C":
        return lax.reshape(x, new)
    if order == "F":
        flipped = lax.reshape(transpose(x), new[::-1])
        return transpose(flipped)
    raise NotImplementedError(f"reshape: order={order!r} is not supported; use 'C' or 'F'")


def ravel(a: Any, order: str = "C") -> Any:
    x = as_array(a, "ravel")
    return reshape(x, (x.size,), order)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    x = as_array(a, "transpose")
    if axes is None:
        perm = tuple(range(x.ndim))[::-1]
    else:
        perm = tuple(_axis(ax, x.ndim) for ax in axes)
        if sorted(perm) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                             f"{x.ndim} axes of an array of shape {x.shape}")
    return lax.transpose(x, perm)


def permute_dims(a: Any, axes: Sequence[int]) -> Any:
    return transpose(a, axes)


def matrix_transpose(x: Any) -> Any:
    x = as_array(x, "matrix_transpose")
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose requires at least 2 dimensions; got ndim={x.ndim}")
    return lax.transpose(x, (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    x = as_array(a, "swapaxes")
    perm = list(range(x.ndim))
    i, j = _axis(axis1, x.ndim), _axis(axis2, x.ndim)
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(x, perm)


def _axis_tuple(axes: int | Sequence[int], ndim: int, what: str) -> tuple[int, ...]:
    """Axes in the caller's order (unlike ``canonical_axes``, which sorts them)."""
    items = axes if isinstance(axes, (tuple, list)) else (axes,)
    out = tuple(_axis(a, ndim, what) for a in items)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in `{what}` argument")
    return out


def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    x = as_array(a, "moveaxis")
    src = _axis_tuple(source, x.ndim, "source")
    dst = _axis_tuple(destination, x.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of "
                         "elements")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return lax.transpose(x, tuple(order))


def squeeze(a: Any, axis: int | Sequence[int] | None = None) -> Any:
    x = as_array(a, "squeeze")
    if axis is None:
        dims = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        dims = canonical_axes(axis, x.ndim)
        for d in dims:
            if x.shape[d] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not "
                                 f"equal to one, got shape={x.shape} and dimensions={dims}")
    return lax.squeeze(x, dims) if dims else x


def expand_dims(a: Any, axis: int | Sequence[int]) -> Any:
    x = as_array(a, "expand_dims")
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out_rank = x.ndim + len(axes)
    return lax.expand_dims(x, canonical_axes(axes, out_rank))


def _elements(arrays: Any, name: str) -> list[Any]:
    """The arrays of a sequence argument (an array counts as the sequence of its rows)."""
    if isinstance(arrays, (Array, Tracer)):
        return [lax.index_in_dim(arrays, i, 0, keepdims=False) for i in range(arrays.shape[0])]
    if isinstance(arrays, np.ndarray):
        return list(arrays)
    if not isinstance(arrays, (tuple, list)):
        raise TypeError(f"{name}: expected a sequence of arrays, got {type(arrays).__name__}")
    for i, a in enumerate(arrays):
        if not is_arraylike(a):
            raise TypeError(f"{name} requires ndarray or scalar arguments, got {type(a)} at "
                            f"position {i}.")
    return list(arrays)


def _promoted(arrays: list[Any], dtype: Any, name: str) -> list[Any]:
    ops = promote_dtypes(name, arrays)
    dt = maybe_requested_dtype(dtype, name)
    return ops if dt is None else [convert(x, dt) for x in ops]


def concatenate(arrays: Any, axis: int | None = 0, dtype: Any = None) -> Any:
    items = _elements(arrays, "concatenate")
    if not items:
        raise ValueError("Need at least one array to concatenate.")
    ops = _promoted(items, dtype, "concatenate")
    if axis is None:
        ops = [ravel(x) for x in ops]
        axis = 0
    if any(x.ndim == 0 for x in ops):
        raise ValueError("Zero-dimensional arrays cannot be concatenated.")
    ax = _axis(axis, ops[0].ndim)
    for x in ops[1:]:
        if x.ndim != ops[0].ndim:
            raise ValueError("All the input arrays must have same number of dimensions, but "
                             f"got shapes {[o.shape for o in ops]}")
    return lax.concatenate(ops, ax)


def stack(arrays: Any, axis: int = 0, out: None = None, dtype: Any = None) -> Any:
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.stack is not supported.")
    items = _elements(arrays, "stack")
    if not items:
        raise ValueError("Need at least one array to stack.")
    ops = _promoted(items, dtype, "stack")
    if len({x.shape for x in ops}) > 1:
        raise ValueError(f"All input arrays must have the same shape, got "
                         f"{[x.shape for x in ops]}.")
    ax = _axis(axis, ops[0].ndim + 1)
    return lax.concatenate([lax.expand_dims(x, (ax,)) for x in ops], ax)


def hstack(tup: Any, dtype: Any = None) -> Any:
    ops = [atleast_1d(x) for x in _elements(tup, "hstack")]
    return concatenate(ops, 0 if ops and ops[0].ndim == 1 else 1, dtype)


def vstack(tup: Any, dtype: Any = None) -> Any:
    return concatenate([atleast_2d(x) for x in _elements(tup, "vstack")], 0, dtype)


def dstack(tup: Any, dtype: Any = None) -> Any:
    return concatenate([atleast_3d(x) for x in _elements(tup, "dstack")], 2, dtype)


def column_stack(tup: Any) -> Any:
    cols = []
    for x in _elements(tup, "column_stack"):
        x = as_array(x, "column_stack")
        cols.append(reshape(x, (x.size, 1)) if x.ndim < 2 else x)
    return concatenate(cols, 1)


def atleast_1d(*arys: Any) -> Any:
    out = [(reshape(x, (1,)) if x.ndim == 0 else x)
           for x in (as_array(a, "atleast_1d", i) for i, a in enumerate(arys))]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    out = []
    for i, a in enumerate(arys):
        x = as_array(a, "atleast_2d", i)
        out.append(lax.broadcast_to_rank(x, 2) if x.ndim < 2 else x)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    out = []
    for i, a in enumerate(arys):
        x = as_array(a, "atleast_3d", i)
        if x.ndim == 0:
            x = reshape(x, (1, 1, 1))
        elif x.ndim == 1:
            x = reshape(x, (1, x.shape[0], 1))
        elif x.ndim == 2:
            x = expand_dims(x, 2)
        out.append(x)
    return out[0] if len(out) == 1 else out


def broadcast_shapes(*shapes: Shape) -> tuple[int, ...]:
    return _broadcast_shapes("broadcast_shapes", tuple(as_shape(s, "broadcast_shapes")
                                                       for s in shapes))


def broadcast_to(array: Any, shape: Shape) -> Any:
    x = as_array(array, "broadcast_to")
    target = as_shape(shape, "broadcast_to")
    ok = len(target) >= x.ndim and all(
        n in (1, t) for n, t in zip(x.shape[::-1], target[::-1]))
    if not ok:
        raise ValueError(f"Incompatible shapes for broadcasting: {x.shape} and requested shape "
                         f"{target}")
    return broadcast_to_shape(x, target)


def broadcast_arrays(*args: Any) -> list[Any]:
    arrays = [as_array(a, "broadcast_arrays", i) for i, a in enumerate(args)]
    target = _broadcast_shapes("broadcast_arrays", tuple(x.shape for x in arrays))
    return [broadcast_to_shape(x, target) for x in arrays]


def flip(m: Any, axis: int | Sequence[int] | None = None) -> Any:
    x = as_array(m, "flip")
    return lax.rev(x, canonical_axes(axis, x.ndim))


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """``pad_width`` (an int, a (before, after) pair, or one pair per axis) as ndim pairs."""
    widths = np.asarray(pad_width)
    if dtypes.kind(widths.dtype) not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    try:
        widths = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of rank "
                         f"{ndim}") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width cannot be negative, got {pad_width!r}")
    return [(int(lo), int(hi)) for lo, hi in widths]


_INDEX_PAD_MODES = ("edge", "wrap", "reflect", "symmetric")
_STAT_PAD_MODES = ("maximum", "minimum", "mean", "median")
_PAD_MODES = ("constant", "empty", "linear_ramp") + _INDEX_PAD_MODES + _STAT_PAD_MODES


def pad(array: Any, pad_width: Any, mode: str = "constant", *, constant_values: Any = 0,
        end_values: Any = 0, stat_length: Any = None, reflect_type: str = "even") -> Any:
    """Pad every axis by ``pad_width``, in NumPy's modes. Axes are padded one after the
    other, so corners come from the already padded axes, as in NumPy."""
    if callable(mode) or mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode={mode!r} is not supported; the modes are "
                                  f"{', '.join(_PAD_MODES)}")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    x = as_array(array, "pad")
    widths = _pad_widths(pad_width, x.ndim)
    if mode in ("constant", "empty"):
        fill = constant_values if mode == "constant" else 0
        if np.ndim(fill) != 0:
            per_axis = np.broadcast_to(np.asarray(fill), (x.ndim, 2))
            for axis, (lo, hi) in enumerate(widths):
                x = _pad_axis_constant(x, axis, lo, hi, per_axis[axis])
            return x
        value = convert(as_array(fill, "pad", 1), x.dtype)
        return lax.pad(x, value, [(lo, hi, 0) for lo, hi in widths])
    ends = np.broadcast_to(np.asarray(end_values), (x.ndim, 2))
    lengths = None if stat_length is None else np.broadcast_to(np.asarray(stat_length),
                                                               (x.ndim, 2))
    for axis, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        if mode in _INDEX_PAD_MODES:
            x = _pad_axis_by_index(x, axis, lo, hi, mode, reflect_type)
        elif mode in _STAT_PAD_MODES:
            x = _pad_axis_stat(x, axis, lo, hi, mode, None if lengths is None else lengths[axis])
        else:
            x = _pad_axis_ramp(x, axis, lo, hi, ends[axis])
    return x


def _edge(x: Any, axis: int, start: int, stop: int) -> Any:
    return lax.slice_in_dim(x, start, stop, axis=axis)


def _repeat_along(x: Any, axis: int, count: int) -> Any:
    shape = list(x.shape)
    shape[axis] = count
    return broadcast_to_shape(x, tuple(shape))


def _pad_axis_constant(x: Any, axis: int, lo: int, hi: int, values: Any) -> Any:
    parts = []
    for count, value in ((lo, values[0]), (None, None), (hi, values[1])):
        if count is None:
            parts.append(x)
        elif count:
            part = convert(as_array(value, "pad", 1), x.dtype)
            shape = list(x.shape)
            shape[axis] = count
            parts.append(broadcast_to_shape(part, tuple(shape)))
    return lax.concatenate(parts, axis)


def _pad_axis_by_index(x: Any, axis: int, lo: int, hi: int, mode: str,
                       reflect_type: str) -> Any:
    from llax.frontend.indexing import getitem

    n = x.shape[axis]
    if n == 0:
        raise ValueError(f"Cannot apply '{mode}' padding to empty axis")
    if reflect_type == "odd" and mode in ("reflect", "symmetric"):
        # Odd reflection is relative to the current edge, so it goes one period at a time.
        while lo or hi:
            period = max(x.shape[axis] - (mode == "reflect"), 1)
            step_lo, step_hi = min(lo, period), min(hi, period)
            x = _pad_axis_odd(x, axis, step_lo, step_hi, mode)
            lo, hi = lo - step_lo, hi - step_hi
        return x
    index = np.pad(np.arange(n), (lo, hi), mode=mode)
    return getitem(x, (slice(None),) * axis + (index,))


def _pad_axis_odd(x: Any, axis: int, lo: int, hi: int, mode: str) -> Any:
    from llax.frontend.indexing import getitem

    n = x.shape[axis]
    index = np.pad(np.arange(n), (lo, hi), mode=mode)
    mirrored = getitem(x, (slice(None),) * axis + (index,))
    parts = []
    if lo:
        first = _repeat_along(_edge(x, axis, 0, 1), axis, lo)
        parts.append(first * 2 - _edge(mirrored, axis, 0, lo))
    parts.append(x)
    if hi:
        last = _repeat_along(_edge(x, axis, n - 1, n), axis, hi)
        parts.append(last * 2 - _edge(mirrored, axis, lo + n, lo + n + hi))
    return lax.concatenate(parts, axis)


def _pad_axis_stat(x: Any, axis: int, lo: int, hi: int, mode: str, lengths: Any) -> Any:
    import llax.frontend.jnp as jnp

    n = x.shape[axis]
    if n == 0 and mode != "mean":  # (the mean of nothing is NaN, as in JAX)
        raise ValueError(f"can't extend empty axis {axis} using modes other than 'constant' "
                         "or 'empty'")
    stat = {"maximum": jnp.max, "minimum": jnp.min, "mean": jnp.mean,
            "median": jnp.median}[mode]
    parts = []
    for count, side in ((lo, 0), (None, None), (hi, 1)):
        if count is None:
            parts.append(x)
            continue
        if not count:
            continue
        length = n if lengths is None or lengths[side] is None else min(int(lengths[side]), n)
        if lengths is not None and int(lengths[side]) == 0:
            raise ValueError("stat_length of 0 yields no value for padding")
        window = _edge(x, axis, 0, length) if side == 0 else _edge(x, axis, n - length, n)
        value = stat(window, axis=axis, keepdims=True)
        if value.dtype != x.dtype:
            value = jnp.round(value) if dtypes.kind(np.dtype(x.dtype)) in "iu" else value
            value = convert(value, x.dtype)
        parts.append(_repeat_along(value, axis, count))
    return lax.concatenate(parts, axis)


def _pad_axis_ramp(x: Any, axis: int, lo: int, hi: int, ends: Any) -> Any:
    """Ramps from the end values to the edge, as ``linspace`` in the array's dtype (so
    integers round down)."""
    import llax.frontend.jnp as jnp

    n = x.shape[axis]
    if n == 0:
        raise ValueError("Cannot apply 'linear_ramp' padding to empty axis")
    parts = []
    if lo:
        parts.append(jnp.linspace(ends[0], _edge(x, axis, 0, 1), lo, endpoint=False,
                                  axis=axis, dtype=x.dtype).squeeze(axis + 1 if axis >= 0
                                                                    else axis))
    parts.append(x)
    if hi:
        ramp = jnp.linspace(ends[1], _edge(x, axis, n - 1, n), hi, endpoint=False, axis=axis,
                            dtype=x.dtype).squeeze(axis + 1)
        parts.append(lax.rev(ramp, (axis,)))
    return lax.concatenate(parts, axis)
