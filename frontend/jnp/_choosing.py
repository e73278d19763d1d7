"""Choosing and placing elements: choose, compress, select, piecewise, and the out-of-place
forms of put, put_along_axis and place.

Choices between whole arrays are ``select_n``/``where`` over broadcast operands (so
gradients flow to the chosen elements only); placements are scatters through
``.at[...].set``. JAX arrays are immutable: the NumPy functions that write in place
exist here only with ``inplace=False``, returning the updated copy.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Tracer
from llax.frontend.jnp._coerce import (
    as_array,
    broadcast_shapes,
    broadcast_to_shape,
    convert,
    promote_dtypes,
)
from llax.frontend.jnp._manipulation import _axis, _elements, moveaxis, ravel, reshape
from llax.frontend.jnp._select import clip, where
from llax.frontend.jnp._take import take
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes

__all__ = ["choose", "compress", "piecewise", "place", "put", "put_along_axis", "select"]


def _immutable(name: str) -> ValueError:
    return ValueError(f"jax.numpy.{name} cannot modify arrays in-place, because JAX arrays "
                      "are immutable. Pass inplace=False to instead return an updated array.")


def _cycled(values: Any, length: int) -> Any:
    """``values`` (1-D, non-empty) repeated cyclically to ``length`` elements."""
    n = values.shape[0]
    if n == length:
        return values
    copies = -(-length // n)
    tiled = reshape(lax.broadcast_in_dim(values, (copies, n), (1,)), (copies * n,))
    return lax.slice_in_dim(tiled, 0, length, 1, 0)


# ---------------------------------------------------------------------------------------------
# Choosing between arrays


def choose(a: Any, choices: Any, out: None = None, mode: str = "raise") -> Any:
    """``choices[a[i]][i]`` elementwise (``a`` and every choice broadcast together).
    ``mode`` 'raise' (``a`` must be concrete and in range), 'wrap' or 'clip'."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.choose is not supported.")
    which = as_array(a, "choose")
    options = _elements(choices, "choose")
    if not options:
        raise ValueError("choices must be a non-empty sequence of arrays")
    # JAX's result is strongly typed even when every choice is a Python scalar.
    options = [convert(o, o.dtype) for o in promote_dtypes("choose", options)]
    if not dtypes.is_int(which.dtype) and which.dtype != dtypes.bool_:
        raise TypeError(f"choose: index array must be integer typed, got {which.dtype}")
    n = len(options)
    if mode == "raise":
        value = _concrete_value(which, "The error occurred because jnp.choose was "
                                "jit-compiled with mode='raise'. Use mode='wrap' or "
                                "mode='clip' instead.")
        if ((value < 0) | (value >= n)).any():
            raise ValueError("invalid entry in choice array")
    which = convert(which, dtypes.int32) if which.dtype != dtypes.int32 else which
    if mode == "raise":
        pass
    elif mode == "wrap":
        which = UFUNCS["remainder"](which, np.int32(n))
    elif mode == "clip":
        which = clip(which, np.int32(0), np.int32(n - 1))
    else:
        raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
    shape = broadcast_shapes("choose", tuple(np.shape(o) for o in [which, *options]))
    which = broadcast_to_shape(which, shape)
    options = [broadcast_to_shape(as_array(o, "choose"), shape) for o in options]
    if n == 1:
        return options[0]
    return lax.select_n(which, *options)


def _concrete_value(x: Any, message: str) -> np.ndarray:
    try:
        return np.asarray(x)
    except Exception as err:  # a tracer without a value
        raise TypeError(message) from err


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """Elementwise, the choice of the first true condition, else ``default``."""
    if len(condlist) != len(choicelist):
        raise ValueError("condlist must have length equal to choicelist "
                         f"({len(condlist)} vs {len(choicelist)})")
    if len(condlist) == 0:
        raise ValueError("condlist must be non-empty")
    *choices, fallback = promote_dtypes("select", [*choicelist, default])
    conds = [as_array(c, "select", i) for i, c in enumerate(condlist)]
    conds = [c if c.dtype == dtypes.bool_ else convert(c, dtypes.bool_) for c in conds]
    out = fallback
    # The first true condition wins: apply them from the last to the first.
    for cond, choice in zip(conds[::-1], choices[::-1]):
        out = where(cond, choice, out)
    shape = broadcast_shapes("select", tuple(np.shape(v) for v in [*conds, *choices, fallback]))
    return broadcast_to_shape(out, shape) if np.shape(out) != shape else out


def piecewise(x: Any, condlist: Any, funclist: list[Any], *args: Any, **kw: Any) -> Any:
    """Each element of ``x`` mapped by the function (or constant) of the last condition true
    there; where none is, by the extra 'otherwise' function if given, else 0. Functions
    see one element at a time (vmapped), with ``args``/``kw`` passed through; results are
    cast to ``x``'s dtype."""
    from llax.frontend.jnp._creation import asarray
    from llax.frontend.vmap import vmap

    v = as_array(x, "piecewise")
    conds = asarray(condlist, dtype=bool)
    if conds.ndim == 0:
        conds = reshape(conds, (1,))
    nc, nf = conds.shape[0], len(funclist)
    if nf == nc + 1:
        otherwise, funcs = funclist[-1], list(funclist[:-1])
    elif nf == nc:
        otherwise, funcs = 0, list(funclist)
    else:
        raise ValueError(f"with {nc} condition(s), either {nc} or {nc + 1} functions are "
                         f"expected; got {nf}")
    flat = ravel(v)

    def evaluate(f: Any) -> Any:
        if not callable(f):
            return broadcast_to_shape(convert(as_array(f, "piecewise"), v.dtype), flat.shape)
        if flat.shape[0] == 0:
            return flat
        mapped = vmap(lambda e: as_array(f(e, *args, **kw), "piecewise"))(flat)
        return convert(mapped, v.dtype)

    out = evaluate(otherwise)
    for i, f in enumerate(funcs):
        cond = ravel(broadcast_to_shape(lax.index_in_dim(conds, i, 0, keepdims=False),
                                        v.shape))
        out = where(cond, evaluate(f), out)
    return reshape(out, v.shape)


def compress(condition: Any, a: Any, axis: int | None = None, *, size: int | None = None,
             fill_value: Any = 0, out: None = None) -> Any:
    """The slices of ``a`` along ``axis`` where ``condition`` is true. ``condition`` must
    be concrete unless ``size`` fixes the result length (padding with ``fill_value``)."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.compress is not supported.")
    as_array(condition, "compress")  # type check: lists are rejected, as in JAX
    concrete = not isinstance(condition, Tracer)
    if concrete:  # kept in NumPy, so that it stays concrete under jit and grad
        cond = np.asarray(condition).astype(bool)
    else:
        cond = condition if condition.dtype == dtypes.bool_ else \
            convert(condition, dtypes.bool_)
    if cond.ndim != 1:
        raise ValueError("condition must be a 1D array")
    x = as_array(a, "compress", 1)
    if axis is None:
        x, axis = ravel(x), 0
    else:
        axis = _axis(axis, x.ndim)
        x = moveaxis(x, axis, 0)
    n = x.shape[0]
    extra = None
    if cond.shape[0] > n:
        extra = cond[n:] if concrete else lax.slice_in_dim(cond, n, cond.shape[0], 1, 0)
        cond = cond[:n] if concrete else lax.slice_in_dim(cond, 0, n, 1, 0)
    x = lax.slice_in_dim(x, 0, cond.shape[0], 1, 0) if cond.shape[0] < n else x
    if size is None:
        if not concrete:
            raise TypeError("compress: the condition must be concrete unless size is given")
        if extra is not None and extra.any():
            raise ValueError("condition contains entries that are out of bounds")
        result = take(x, np.flatnonzero(cond).astype(np.int32), axis=0, mode="clip")
    else:
        size = operator.index(size)
        if not 0 <= size <= x.shape[0]:
            raise ValueError("size must be positive and not greater than the size of the "
                             f"array axis; got size={size} for a.shape[axis]={x.shape[0]}")
        from llax.frontend.jnp._sorting import argsort

        fill = convert(as_array(fill_value, "compress", 2), x.dtype)
        mask = reshape(as_array(cond, "compress"), cond.shape + (1,) * (x.ndim - 1))
        x = where(mask, x, fill)
        order = argsort(cond, stable=True, descending=True)
        result = take(x, lax.slice_in_dim(order, 0, size, 1, 0), axis=0, mode="clip")
    return moveaxis(result, 0, axis)


# ---------------------------------------------------------------------------------------------
# Placing values (out of place)


def put(a: Any, ind: Any, v: Any, mode: str | None = None, *, inplace: bool = True) -> Any:
    """A copy of ``a`` with ``v`` (flattened, repeated cyclically) written at the flat
    indices ``ind``. Out-of-bound indices are dropped (``mode=None``), clipped or
    wrapped."""
    if inplace:
        raise _immutable("put")
    from llax.frontend.jnp._grids import unravel_index

    x = as_array(a, "put")
    idx = ravel(as_array(ind, "put", 1))
    vals = ravel(as_array(v, "put", 2))
    if not dtypes.is_int(idx.dtype):
        raise TypeError(f"put: indices must be integers, got {idx.dtype}")
    if x.size == 0 or idx.shape[0] == 0 or vals.shape[0] == 0:
        return x
    vals = _cycled(vals, idx.shape[0])
    if mode is None:
        scatter_mode = "drop"
    elif mode == "clip":
        idx, scatter_mode = clip(idx, 0, x.size - 1), "promise_in_bounds"
    elif mode == "wrap":
        idx, scatter_mode = UFUNCS["remainder"](idx, x.size), "promise_in_bounds"
    elif mode == "raise":
        raise NotImplementedError("The 'raise' mode to jnp.put is not supported.")
    else:
        raise ValueError(f"mode should be one of 'wrap' or 'clip'; got mode={mode!r}")
    return x.at[unravel_index(idx, x.shape)].set(vals, mode=scatter_mode)


def put_along_axis(arr: Any, indices: Any, values: Any, axis: int | None,
                   inplace: bool = True, *, mode: str | None = None) -> Any:
    """A copy of ``arr`` with ``values`` written at ``indices`` along ``axis`` (the
    other axes paired with the indices', as ``take_along_axis`` reads)."""
    if inplace:
        raise _immutable("put_along_axis")
    from llax.frontend.jnp._grids import indices as index_grid

    x = as_array(arr, "put_along_axis")
    idx = as_array(indices, "put_along_axis", 1)
    vals = as_array(values, "put_along_axis", 2)
    shape = x.shape
    if axis is None:
        x, axis = ravel(x), 0
    if x.ndim != idx.ndim:
        raise ValueError("put_along_axis arguments 'arr' and 'indices' must have same ndim. "
                         f"Got arr.ndim={x.ndim} and indices.ndim={idx.ndim}.")
    axis = _axis(axis, x.ndim)
    try:
        broadcast_shapes("put_along_axis", (np.shape(vals), idx.shape))
        if len(np.shape(vals)) > idx.ndim or np.broadcast_shapes(np.shape(vals),
                                                                 idx.shape) != idx.shape:
            raise ValueError
    except ValueError:
        raise ValueError("put_along_axis argument 'values' must be broadcastable to "
                         f"'indices'. Got values.shape={np.shape(vals)} and "
                         f"indices.shape={idx.shape}.") from None
    vals = broadcast_to_shape(vals, idx.shape)
    grid = list(index_grid(x.shape, sparse=True))
    grid[axis] = idx
    out = x.at[tuple(grid)].set(vals, mode=mode)
    return reshape(out, shape) if out.shape != shape else out


def place(arr: Any, mask: Any, vals: Any, *, inplace: bool = True) -> Any:
    """A copy of ``arr`` whose elements where ``mask`` is true take ``vals`` in order
    (repeated cyclically). ``mask`` may be traced."""
    from llax.frontend.jnp._cumulative import cumsum

    x = as_array(arr, "place")
    m = as_array(mask, "place", 1)
    values = ravel(as_array(vals, "place", 2))
    if inplace:
        raise _immutable("place")
    if x.size != m.size:
        raise ValueError("place: arr and mask must be the same size")
    if values.shape[0] == 0:
        raise ValueError("Cannot place values from an empty array")
    if x.size == 0:
        return x
    flat_mask = ravel(m if m.dtype == dtypes.bool_ else convert(m, dtypes.bool_))
    # The k-th true element (counting from 0) takes values[k % len(values)].
    rank = UFUNCS["subtract"](cumsum(flat_mask, dtype=np.int32), np.int32(1))
    slot = UFUNCS["remainder"](UFUNCS["maximum"](rank, np.int32(0)), np.int32(values.shape[0]))
    chosen = take(convert(values, x.dtype), slot, mode="clip")
    return reshape(where(flat_mask, chosen, ravel(x)), x.shape)

