"""NumPy references of the window primitives (ir.prims.windows): every window of the
dilated, padded operand as a strided view, reduced (or searched) along its last axes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.prims.convolution import dilate_dim
from llax.ir.reference import reference


def dilated_padded(x: np.ndarray, padding: Sequence[tuple[int, int]],
                   dilation: Sequence[int], fill: object) -> np.ndarray:
    """``x`` with ``dilation - 1`` holes between elements along each axis, then padded by
    ``padding`` (negative pads crop); holes and padding hold ``fill``."""
    if any(d > 1 for d in dilation):
        holes = np.full(tuple(dilate_dim(n, d) for n, d in zip(x.shape, dilation)), fill,
                        x.dtype)
        holes[tuple(slice(None, None, d) for d in dilation)] = x
        x = holes
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in padding]
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths, constant_values=fill)
    return x[tuple(slice(max(-lo, 0), x.shape[a] - max(-hi, 0))
                   for a, (lo, hi) in enumerate(padding))]


def window_view(x: np.ndarray, window_dimensions: Sequence[int], window_strides: Sequence[int],
                padding: Sequence[tuple[int, int]], base_dilation: Sequence[int],
                window_dilation: Sequence[int], fill: object) -> np.ndarray:
    """(window positions..., window taps...): ``x`` under every window (a view of the
    dilated, padded copy)."""
    x = dilated_padded(x, padding, base_dilation, fill)
    spans = [dilate_dim(k, d) for k, d in zip(window_dimensions, window_dilation)]
    if any(n < s for n, s in zip(x.shape, spans)) or x.size == 0:
        positions = tuple(max(0, (n - s) // st + 1) for n, s, st in zip(x.shape, spans,
                                                                          window_strides))
        return np.zeros(positions + tuple(window_dimensions), x.dtype)
    view = sliding_window_view(x, spans)
    return view[(*(slice(None, None, s) for s in window_strides),
                 *(slice(None, None, d) for d in window_dilation))]


def identity(prim_name: str, dtype: np.dtype) -> object:
    """The identity of a window reduction in ``dtype`` (what padding holds)."""
    dtype = np.dtype(dtype)
    if prim_name.endswith("sum"):
        return dtype.type(0)
    high = prim_name.endswith("min")
    if dtypes.kind(dtype) == "b":
        return np.bool_(high)
    if dtypes.kind(dtype) in "iu":
        info = np.iinfo(dtype)
        return info.max if high else info.min
    return dtype.type(np.inf if high else -np.inf)


def _flat_windows(view: np.ndarray, rank: int) -> np.ndarray:
    return view.reshape(*view.shape[:rank], math.prod(view.shape[rank:]))


def _reduce_window(fn, name: str):
    def run(x: np.ndarray, *, window_dimensions, window_strides, padding, base_dilation,
            window_dilation) -> np.ndarray:
        view = window_view(x, window_dimensions, window_strides, [tuple(p) for p in padding],
                           base_dilation, window_dilation, identity(name, x.dtype))
        out = fn(_flat_windows(view, x.ndim), axis=-1) if view.size or x.ndim == 0 else None
        if out is None:
            shape = view.shape[:x.ndim]
            out = np.full(shape, identity(name, x.dtype), x.dtype)
        return np.asarray(out, dtype=x.dtype)

    return run


reference[P.reduce_window_sum] = _reduce_window(np.sum, "sum")
reference[P.reduce_window_max] = _reduce_window(np.max, "max")
reference[P.reduce_window_min] = _reduce_window(np.min, "min")


def _selected(x: np.ndarray, select_prim: str, window_dimensions, window_strides, padding,
              base_dilation, window_dilation) -> tuple[np.ndarray, tuple[int, ...]]:
    """Per window, the flat tap where ``x`` is selected (its first max for 'ge', first min
    for 'le'); and the window positions' shape."""
    name = "max" if select_prim == "ge" else "min"
    view = window_view(x, window_dimensions, window_strides, [tuple(p) for p in padding],
                       base_dilation, window_dilation, identity(name, x.dtype))
    positions = view.shape[:x.ndim]
    if view.size == 0:
        return np.zeros(positions, np.intp), positions
    taps = _flat_windows(view, x.ndim)
    pick = np.argmax if select_prim == "ge" else np.argmin
    return pick(taps, axis=-1), positions


def _select_and_gather_add(t: np.ndarray, x: np.ndarray, *, select_prim: str,
                           window_dimensions, window_strides, padding, base_dilation,
                           window_dilation) -> np.ndarray:
    chosen, positions = _selected(x, select_prim, window_dimensions, window_strides, padding,
                                  base_dilation, window_dilation)
    if math.prod(positions) == 0:
        return np.zeros(positions, t.dtype)
    view = window_view(t, window_dimensions, window_strides, [tuple(p) for p in padding],
                       base_dilation, window_dilation, t.dtype.type(0))
    taps = _flat_windows(view, t.ndim)
    return np.take_along_axis(taps, chosen[..., None], axis=-1)[..., 0]


def _select_and_scatter_add(s: np.ndarray, x: np.ndarray, *, select_prim: str,
                            window_dimensions, window_strides, padding) -> np.ndarray:
    ones = (1,) * x.ndim
    chosen, positions = _selected(x, select_prim, window_dimensions, window_strides, padding,
                                  ones, ones)
    out = np.zeros(x.shape, s.dtype)
    if math.prod(positions):
        taps = np.unravel_index(chosen, tuple(window_dimensions))
        grid = np.indices(positions, sparse=True)
        # The selected element's index in x (a selected padding element is dropped).
        index = np.broadcast_arrays(*(g * st + k - lo for g, st, k, (lo, _) in
                                      zip(grid, window_strides, taps, padding)))
        inside = np.logical_and.reduce([(i >= 0) & (i < n) for i, n in zip(index, x.shape)])
        np.add.at(out, tuple(i[inside] for i in index), s[inside])
    return out


reference[P.select_and_gather_add] = _select_and_gather_add
reference[P.select_and_scatter_add] = _select_and_scatter_add
