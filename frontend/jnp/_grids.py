"""Grids and index tricks: meshgrid, mgrid, ogrid, indices, ix_, r_, c_, s_, index_exp,
ravel_multi_index, unravel_index.

Grids are iotas and broadcasts of 1-D coordinate arrays; ``r_``/``c_`` translate NumPy's
bracket syntax (slices as ranges, a leading string as concatenation directives) into
``concatenate``. ``s_`` and ``index_exp`` only build index tuples, so NumPy's own
objects serve (as in JAX).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Tracer
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._creation import arange, linspace
from llax.frontend.jnp._dtypes import maybe_requested_dtype
from llax.frontend.jnp._manipulation import (
    broadcast_to,
    concatenate,
    reshape,
    stack,
    swapaxes,
    transpose,
)
from llax.frontend.jnp._select import clip, where
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes

__all__ = [
    "c_", "index_exp", "indices", "ix_", "meshgrid", "mgrid", "ogrid", "r_",
    "ravel_multi_index", "s_", "unravel_index",
]

s_ = np.s_
index_exp = np.index_exp


def _axis_vector(v: Any, axis: int, rank: int) -> Any:
    """A 1-D array reshaped to lie along ``axis`` of a rank-``rank`` array."""
    return reshape(v, tuple(v.shape[0] if d == axis else 1 for d in range(rank)))


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> list[Any]:
    """Coordinate arrays from 1-D coordinate vectors; ``indexing='xy'`` (Cartesian) swaps
    the first two output axes, ``'ij'`` (matrix) does not. ``sparse`` leaves them
    unbroadcast."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for indexing are 'xy' and 'ij', got {indexing}")
    args = [as_array(x, "meshgrid", i) for i, x in enumerate(xi)]
    if any(a.ndim != 1 for a in args):
        raise ValueError("Arguments to jax.numpy.meshgrid must be 1D, got shapes "
                         f"{[a.shape for a in args]}")
    rank = len(args)
    axes = list(range(rank))
    if indexing == "xy" and rank >= 2:
        axes[0], axes[1] = 1, 0
    grids = [_axis_vector(a, ax, rank) for a, ax in zip(args, axes)]
    if sparse:
        return grids
    shape = tuple(args[axes.index(d)].shape[0] for d in range(rank))
    return [broadcast_to(g, shape) for g in grids]


def indices(dimensions: Sequence[int], dtype: Any = None, sparse: bool = False) -> Any:
    """The index grid of an array of shape ``dimensions``: ``out[k][i0, i1, ...] = ik``."""
    dims = tuple(operator.index(d) for d in dimensions)
    dt = maybe_requested_dtype(dtype, "indices") or dtypes.default_int()
    rank = len(dims)
    if sparse:
        return tuple(_axis_vector(lax.iota(dt, n), k, rank) for k, n in enumerate(dims))
    grids = [lax.broadcasted_iota(dt, dims, k) for k in range(rank)]
    return stack(grids) if grids else lax.full((0,), 0, dt)


def ix_(*args: Any) -> tuple[Any, ...]:
    """Open-mesh index arrays: argument ``k`` reshaped to lie along axis ``k``."""
    out = []
    for k, a in enumerate(args):
        x = as_array(a, "ix_", k)
        if x.ndim != 1:
            raise ValueError(f"Arguments to jax.numpy.ix_ must be 1-dimensional, got shape "
                             f"{x.shape}")
        if x.dtype == dtypes.bool_:
            raise NotImplementedError("Boolean arguments to jax.numpy.ix_ are not implemented")
        out.append(_axis_vector(x, k, len(args)))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# mgrid / ogrid


def _slice_range(s: slice, kind: str) -> Any:
    """The values of one grid slice: ``arange``, or ``linspace`` for an imaginary step
    (its magnitude the number of points, the stop included)."""
    start = 0 if s.start is None else s.start
    stop, step = s.stop, 1 if s.step is None else s.step
    if isinstance(step, complex):
        num = int(abs(step))
        return linspace(start, stop, num, endpoint=True)
    for v in (start, stop, step):
        if isinstance(v, Tracer):
            raise TypeError(f"{kind} requires static slice bounds, got {s}")
    return arange(start, stop, step)


class _Grid:
    """``mgrid[...]`` (dense, one stacked array) and ``ogrid[...]`` (sparse, a list)."""

    def __init__(self, sparse: bool, name: str) -> None:
        self.sparse, self.name = sparse, name

    def __getitem__(self, key: slice | tuple[slice, ...]) -> Any:
        if isinstance(key, slice):
            return _slice_range(key, self.name)
        if not isinstance(key, tuple) or not all(isinstance(k, slice) for k in key):
            raise TypeError(f"{self.name}[...] takes slices, got {key!r}")
        ranges = promote_dtypes(self.name, [_slice_range(k, self.name) for k in key])
        if not ranges:
            return [] if self.sparse else lax.full((0,), 0, dtypes.default_int())
        grids = meshgrid(*ranges, indexing="ij", sparse=self.sparse)
        return list(grids) if self.sparse else stack(grids)


mgrid = _Grid(sparse=False, name="mgrid")
ogrid = _Grid(sparse=True, name="ogrid")


# ---------------------------------------------------------------------------------------------
# r_ / c_


class _Concatenator:
    """NumPy's ``r_``/``c_`` bracket syntax: items (arrays, scalars, slices as ranges) are
    joined along ``axis`` after raising each to ``ndmin`` dimensions (a 1-D item placed at
    ``trans1d``). A leading string sets 'axis[,ndmin[,trans1d]]', or 'r'/'c' for a row or
    column matrix result."""

    def __init__(self, axis: int, ndmin: int, trans1d: int, name: str) -> None:
        self.axis, self.ndmin, self.trans1d, self.name = axis, ndmin, trans1d, name

    def _directive(self, text: str) -> tuple[int, int, int, str | None]:
        if text in ("r", "c"):
            return self.axis, self.ndmin, self.trans1d, text
        try:
            parts = [int(p) for p in text.split(",")]
        except ValueError:
            raise ValueError(f"could not understand directive {text!r}") from None
        # As NumPy: 'axis', 'axis,ndmin' or 'axis,ndmin,trans1d'; trans1d is read only
        # from exactly three fields.
        axis = parts[0]
        ndmin = parts[1] if len(parts) >= 2 else self.ndmin
        trans1d = parts[2] if len(parts) == 3 else self.trans1d
        return axis, ndmin, trans1d, None

    def _raised(self, x: Any, ndmin: int, trans1d: int) -> Any:
        """``x`` with leading unit axes up to ``ndmin``, its own axes moved to start at
        ``trans1d`` (NumPy's rule)."""
        rank = x.ndim
        if rank >= ndmin:
            return x
        x = reshape(x, (1,) * (ndmin - rank) + x.shape)
        if trans1d == -1:
            return x
        extra = ndmin - rank
        k1 = trans1d + extra + 1 if trans1d < 0 else trans1d
        order = list(range(ndmin))
        return transpose(x, order[:k1] + order[extra:] + order[k1:extra])

    def __getitem__(self, key: Any) -> Any:
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d, matrix = self.axis, self.ndmin, self.trans1d, None
        if items and isinstance(items[0], str):
            axis, ndmin, trans1d, matrix = self._directive(items[0])
            items = items[1:]
        parts = []
        for item in items:
            if isinstance(item, str):
                raise ValueError("string directives are only allowed as the first item")
            if isinstance(item, slice):
                x = _slice_range(item, self.name)
                if ndmin > 1:
                    x = reshape(x, (1,) * (ndmin - 1) + x.shape)
                    if trans1d != -1:
                        x = swapaxes(x, -1, trans1d)
            else:
                x = self._raised(as_array(item, self.name), ndmin, trans1d)
            parts.append(x)
        if not parts:
            return lax.full((0,), 0, dtypes.default_float())
        if any(p.ndim == 0 for p in parts):
            parts = [reshape(p, (1,)) if p.ndim == 0 else p for p in parts]
        out = concatenate(parts, axis=axis)
        if matrix is not None:
            out = reshape(out, (1, -1)) if out.ndim == 1 else out
            if matrix == "c":
                out = transpose(out)
        return out

    def __len__(self) -> int:
        return 0


r_ = _Concatenator(axis=0, ndmin=1, trans1d=-1, name="r_")
c_ = _Concatenator(axis=-1, ndmin=2, trans1d=0, name="c_")


# ---------------------------------------------------------------------------------------------
# Flat indices


def _concrete_or_none(x: Any) -> np.ndarray | None:
    try:
        return np.asarray(x)
    except Exception:  # a tracer without a value
        return None


def ravel_multi_index(multi_index: Sequence[Any], dims: Sequence[int], mode: str = "raise",
                      order: str = "C", *, dtype: Any = None) -> Any:
    """The flat index of each coordinate tuple in an array of shape ``dims``. ``mode``
    'raise' (coordinates must be concrete and in bounds), 'wrap' or 'clip'."""
    dims = tuple(operator.index(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"parameter multi_index must be a sequence of length {len(dims)}")
    if order not in ("C", "F"):
        raise ValueError("only 'C' or 'F' order is permitted")
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"invalid mode={mode!r}. Expected 'raise', 'wrap', or 'clip'")
    out_dt = maybe_requested_dtype(dtype, "ravel_multi_index") or dtypes.default_int()
    coords = [as_array(c, "ravel_multi_index", i) for i, c in enumerate(multi_index)]
    for c in coords:
        if not dtypes.is_int(c.dtype):
            raise TypeError("only int indices permitted")
    f = UFUNCS
    fixed = []
    for c, n in zip(coords, dims):
        c = convert(c, out_dt)
        if mode == "raise":
            value = _concrete_or_none(c)
            if value is None:
                raise TypeError("The error occurred because ravel_multi_index was jit-compiled "
                                "with mode='raise'. Use mode='wrap' or mode='clip' instead.")
            if ((value < 0) | (value >= n)).any():
                raise ValueError("invalid entry in coordinates array")
        elif mode == "clip":
            c = clip(c, 0, n - 1)
        else:
            c = f["remainder"](c, n)
        fixed.append(c)
    strides = np.cumprod((1,) + (dims[::-1] if order == "C" else dims)[:-1])
    strides = strides[::-1] if order == "C" else strides
    out = convert(np.zeros((), out_dt), out_dt)
    for c, s in zip(fixed, strides):
        out = f["add"](out, f["multiply"](c, np.asarray(s, out_dt)))
    return out


def unravel_index(indices: Any, shape: Sequence[int]) -> tuple[Any, ...]:
    """The coordinates of flat ``indices`` in an array of ``shape``; negative indices count
    from the end and out-of-bound ones are clipped (JAX's choice)."""
    idx = as_array(indices, "unravel_index")
    dims = tuple(operator.index(d) for d in np.atleast_1d(np.asarray(shape)))
    size = int(np.prod(dims, dtype=np.int64))
    f = UFUNCS
    wrapped = (idx if dtypes.kind(idx.dtype) == "u"
               else where(f["less"](idx, 0), f["add"](idx, size), idx))
    clipped = clip(wrapped, 0, max(size - 1, 0))
    out = []
    rest = clipped
    for n in dims[::-1]:
        out.append(f["remainder"](rest, n))
        rest = f["floor_divide"](rest, n)
    return tuple(out[::-1])

