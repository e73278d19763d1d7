"""Sorting and searching: lexsort, partition, argpartition, searchsorted, digitize,
nonzero/argwhere/flatnonzero with size=, histograms, bincount.

Functions whose result size depends on the data (nonzero, extract, bincount without
``length``) need concrete values unless given a static size, as in JAX; with a size they are
built from cumulative sums and scatter-adds, so they trace, batch and differentiate.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Array, ConcretizationTypeError, Tracer
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._creation import arange, asarray, linspace, zeros
from llax.frontend.jnp._cumulative import cumsum, diff
from llax.frontend.jnp._manipulation import (
    atleast_1d,
    ravel,
    reshape,
    stack,
    transpose,
)
from llax.frontend.jnp._reductions import any as _any
from llax.frontend.jnp._reductions import canonical_axes
from llax.frontend.jnp._reductions import max as _amax
from llax.frontend.jnp._reductions import min as _amin
from llax.frontend.jnp._reductions import sum as _sum
from llax.frontend.jnp._select import clip, where
from llax.frontend.jnp._sorting import argsort
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes

__all__ = ["lexsort", "partition", "argpartition", "searchsorted", "digitize", "nonzero",
           "argwhere", "flatnonzero", "count_nonzero", "extract", "histogram", "histogram2d",
           "histogramdd", "histogram_bin_edges", "bincount"]

_f = UFUNCS


def concrete_value(x: Any, what: str) -> np.ndarray:
    """The value of ``x`` at trace time, or a ConcretizationTypeError saying what needed it."""
    try:
        return np.asarray(x)
    except ConcretizationTypeError as err:
        raise ConcretizationTypeError(f"{what}\n{err}") from None


def static_size(size: Any, what: str) -> int:
    if isinstance(size, Tracer):
        concrete_value(size, what)
    return operator.index(size)


def _index_dtype(n: int) -> np.dtype:
    """int32 for positions along an axis that fits it (JAX's int_dtype_for_dim)."""
    return dtypes.int32 if n < 2 ** 31 else dtypes.canonicalize(np.dtype("int64"))


# ---------------------------------------------------------------------------------------------
# Sorting by several keys, partial sorts


def lexsort(keys: Any, axis: int = -1) -> Any:
    """Indices sorting by the last key, ties broken by the one before, and so on."""
    arrays = tuple(as_array(k, "lexsort", i) for i, k in enumerate(tuple(keys)))
    if not arrays:
        raise TypeError("need sequence of keys with len > 0 in lexsort")
    if len({k.shape for k in arrays}) > 1:
        raise ValueError("all keys need to be the same shape")
    if arrays[0].ndim == 0:
        return lax.full((), 0, dtypes.default_int())
    axis = canonical_axes(axis, arrays[0].ndim)[0]
    idx_dtype = _index_dtype(arrays[0].shape[axis])
    if idx_dtype == dtypes.int32:
        idx_dtype = dtypes.default_int()
    iota = lax.broadcasted_iota(idx_dtype, arrays[0].shape, axis)
    return lax.sort((*arrays[::-1], iota), dimension=axis, num_keys=len(arrays))[-1]


def _partition_operand(a: Any, kth: int, axis: int, name: str) -> tuple[Any, int, int]:
    arr = as_array(a, name)
    axis = canonical_axes(axis, arr.ndim)[0]
    kth = canonical_axes(operator.index(kth), arr.shape[axis], "kth")[0]
    return lax.transpose(arr, _swap(arr.ndim, axis)), kth, axis


def _swap(ndim: int, axis: int) -> tuple[int, ...]:
    perm = list(range(ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return tuple(perm)


def _smallest_key(arr: Any) -> Any:
    """A key whose top_k is ``arr``'s bottom k (unsigned ints shifted so negation is exact)."""
    if dtypes.kind(arr.dtype) == "u":
        return _f["negative"](_f["add"](arr, 1))
    return _f["negative"](arr)


def partition(a: Any, kth: int, axis: int = -1) -> Any:
    """``a`` with its ``kth`` smallest element (along ``axis``) in place, the smaller ones
    (ascending) before it and the larger ones after it."""
    arr, kth, axis = _partition_operand(a, kth, axis, "partition")
    bottom = lax.top_k(_smallest_key(arr), kth + 1)[0]
    bottom = _f["subtract"](_f["negative"](bottom), 1) if dtypes.kind(arr.dtype) == "u" else \
        _f["negative"](bottom)
    top = lax.top_k(arr, arr.shape[-1] - kth - 1)[0]
    out = lax.concatenate([bottom, top], arr.ndim - 1)
    return lax.transpose(out, _swap(arr.ndim, axis))


def argpartition(a: Any, kth: int, axis: int = -1) -> Any:
    """The indices that ``partition`` ``a``: the ``kth + 1`` smallest first (ascending),
    then the rest."""
    arr, kth, axis = _partition_operand(a, kth, axis, "partition")
    bottom = lax.top_k(_smallest_key(arr), kth + 1)[1]
    # The remaining positions, in index order: top_k of a 0/1 mask picks them stably.
    positions = lax.broadcasted_iota(bottom.dtype, arr.shape, arr.ndim - 1)
    taken = _any(_f["equal"](lax.expand_dims(positions, (arr.ndim,)),
                                  lax.expand_dims(bottom, (arr.ndim - 1,))), axis=-1)
    rest = convert(_f["logical_not"](taken), dtypes.float32)
    top = lax.top_k(rest, arr.shape[-1] - kth - 1)[1]
    out = lax.concatenate([bottom, top], arr.ndim - 1)
    return lax.transpose(out, _swap(arr.ndim, axis))


# ---------------------------------------------------------------------------------------------
# Binary search


_METHODS = ("compare_all", "scan", "scan_unrolled", "sort")


def _less(x: Any, y: Any) -> Any:
    """``x < y`` in sort order: NaNs after everything (and -0.0 equal to 0.0)."""
    lt = _f["less"](x, y)
    if dtypes.kind(x.dtype) != "f":
        return lt
    return _f["logical_or"](lt, _f["logical_and"](_f["isnan"](y),
                                                  _f["logical_not"](_f["isnan"](x))))


def _less_equal(x: Any, y: Any) -> Any:
    return _f["logical_not"](_less(y, x))


def _binary_search(sorted_arr: Any, query: Any, side: str, dtype: np.dtype) -> Any:
    """Insertion points by ceil(log2(n + 1)) halving steps, all queries at once."""
    n = sorted_arr.shape[0]
    go_left_if = _less_equal if side == "left" else _less
    work = dtypes.canonicalize(np.dtype("int64")) if dtype.itemsize == 8 else dtypes.int32
    low = lax.full(query.shape, 0, work)
    high = lax.full(query.shape, n, work)
    for _ in range(int(np.ceil(np.log2(n + 1)))):
        mid = _f["add"](low, _f["floor_divide"](_f["subtract"](high, low), 2))
        go_left = go_left_if(query, sorted_arr[mid])
        low, high = where(go_left, low, mid), where(go_left, mid, high)
    return convert(high, dtype)


def _compare_all(sorted_arr: Any, query: Any, side: str, dtype: np.dtype) -> Any:
    """Insertion points as the count of smaller (or not larger) elements: O(n) per query."""
    counts = _less if side == "left" else _less_equal
    below = counts(lax.expand_dims(sorted_arr, tuple(range(1, query.ndim + 1))),
                   lax.expand_dims(query, (0,)))
    return _sum(below, axis=0, dtype=dtype)


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *,
                 method: str = "scan") -> Any:
    """Where ``v``'s elements would go in the sorted 1-D ``a`` to keep it sorted (``side``
    'left': before equal elements, 'right': after them). ``method`` picks the algorithm
    ('scan'/'scan_unrolled'/'sort': binary search; 'compare_all': counting); all agree."""
    if side not in ("left", "right"):
        raise ValueError(f"{side!r} is an invalid value for keyword 'side'. "
                         "Expected one of ['left', 'right'].")
    if method not in _METHODS:
        raise ValueError(f"invalid argument method={method!r}, expected one of "
                         f"{list(_METHODS)}")
    a = as_array(a, "searchsorted")
    v = as_array(v, "searchsorted", 1)
    if a.ndim != 1:
        raise ValueError("a should be 1-dimensional")
    if sorter is not None:
        a = a[as_array(sorter, "searchsorted", 2)]
    a, v = promote_dtypes("searchsorted", [a, v])
    dtype = _index_dtype(a.shape[0])
    if a.shape[0] == 0:
        return lax.full(v.shape, 0, dtype)
    if method == "compare_all":
        return _compare_all(a, v, side, dtype)
    return _binary_search(a, v, side, dtype)


def digitize(x: Any, bins: Any, right: bool = False, *, method: str | None = None) -> Any:
    """The index of the bin of ``bins`` (increasing or decreasing) each ``x`` falls in."""
    x = as_array(x, "digitize")
    edges = as_array(bins, "digitize", 1)
    right = bool(right)
    if edges.ndim != 1:
        raise ValueError(f"digitize: bins must be a 1-dimensional array; got bins={bins}")
    if edges.shape[0] == 0:
        return lax.full(x.shape, 0, dtypes.int32)
    side = "left" if right else "right"
    kwargs = {} if method is None else {"method": method}
    increasing = searchsorted(edges, x, side=side, **kwargs)
    decreasing = _f["subtract"](edges.shape[0],
                                searchsorted(lax.rev(edges, (0,)), x, side=side, **kwargs))
    return where(_f["greater_equal"](edges[-1], edges[0]), increasing, decreasing)


# ---------------------------------------------------------------------------------------------
# Non-zero elements


def _mask(x: Any) -> Any:
    return x if x.dtype == dtypes.bool_ else _f["not_equal"](x, 0)


def _fill_values(fill_value: Any, ndim: int) -> tuple[Any, ...]:
    fills = fill_value if isinstance(fill_value, tuple) else (fill_value,) * ndim
    if len(fills) != ndim or any(np.shape(f) != () for f in fills):
        raise ValueError(f"fill_value must be a scalar or a tuple of length {ndim}; "
                         f"got {fill_value}")
    return fills


def nonzero(a: Any, *, size: int | None = None,
            fill_value: Any = None) -> tuple[Any, ...]:
    """Indices of the non-zero elements, one array per axis. Under jit ``size`` must be
    given: the first ``size`` indices, padded with ``fill_value`` (default 0)."""
    arr = as_array(a, "nonzero")
    if arr.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "jnp.atleast_1d(scalar).nonzero() instead.")
    mask = _mask(arr)
    if size is None:
        count = int(concrete_value(
            _sum(mask), "The size argument of jnp.nonzero must be statically specified to "
            "use jnp.nonzero within JAX transformations."))
    else:
        count = static_size(size, "The size argument of jnp.nonzero must be statically "
                                  "specified to use jnp.nonzero within JAX transformations.")
    index = dtypes.default_int()
    if arr.size == 0 or count == 0:
        return tuple(zeros(count, index) for _ in arr.shape)
    # The k-th non-zero element is where the running count of non-zeros passes k: count
    # how many prefix totals equal each k, and cumulate those counts to get positions.
    running = cumsum(ravel(mask))
    hits = bincount(running, length=count)
    flat = cumsum(hits)
    strides = np.cumprod(arr.shape[::-1])[::-1] // arr.shape
    out = tuple(_f["remainder"](_f["floor_divide"](flat, int(s)), n)
                for s, n in zip(strides, arr.shape))
    if fill_value is not None:
        fills = _fill_values(fill_value, arr.ndim)
        padding = _f["greater_equal"](arange(count), _sum(mask))
        out = tuple(where(padding, f, entry) for f, entry in zip(fills, out))
    return out


def flatnonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """Indices of the non-zero elements of the flattened ``a``."""
    return nonzero(ravel(as_array(a, "flatnonzero")), size=size, fill_value=fill_value)[0]


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """The indices of the non-zero elements, one row per element."""
    arr = as_array(a, "argwhere")
    found = nonzero(atleast_1d(arr), size=size, fill_value=fill_value)
    result = transpose(stack(found))
    if arr.ndim == 0:
        return reshape(result[:0], (result.shape[0], 0))
    return reshape(result, (result.shape[0], arr.ndim))


def count_nonzero(a: Any, axis: int | Sequence[int] | None = None,
                  keepdims: bool = False) -> Any:
    """How many elements are non-zero (along ``axis``), in the default int."""
    arr = as_array(a, "count_nonzero")
    return _sum(_f["not_equal"](arr, 0), axis=axis, dtype=dtypes.default_int(),
                keepdims=keepdims)


def extract(condition: Any, arr: Any, *, size: int | None = None, fill_value: Any = 0) -> Any:
    """The elements of the flattened ``arr`` where the flattened ``condition`` is true (the
    first ``size`` of them, padded with ``fill_value``, if ``size`` is given)."""
    cond = ravel(as_array(condition, "extreact"))
    values = ravel(as_array(arr, "extreact", 1))
    as_array(fill_value, "extreact", 2)
    if cond.dtype != dtypes.bool_:
        cond = _f["not_equal"](cond, 0)
    n = values.shape[0]
    cond, extra = cond[:n], cond[n:]
    values = values[:cond.shape[0]]
    if size is None:
        if bool(concrete_value(_any(extra), "extract needs a concrete condition")):
            raise ValueError("condition contains entries that are out of bounds")
        (positions,) = nonzero(cond)
        return values[positions]
    size = static_size(size, "The size argument of jnp.extract must be static.")
    if not 0 <= size <= values.shape[0]:
        raise ValueError("size must be positive and not greater than the size of the array "
                         f"axis; got size={size} for a.shape[axis]={values.shape[0]}")
    fill = convert(as_array(fill_value, "extract", 2), values.dtype, False)
    values = where(cond, values, fill)
    return values[argsort(cond, stable=True, descending=True)][:size]


# ---------------------------------------------------------------------------------------------
# Counting


def bincount(x: Any, weights: Any = None, minlength: int = 0, *,
             length: int | None = None) -> Any:
    """How often each non-negative integer occurs in ``x`` (the sum of its ``weights``);
    under jit ``length`` fixes the result size (larger values are dropped)."""
    x = as_array(x, "bincount")
    if x.dtype == dtypes.bool_:
        x = convert(x, dtypes.int32)
    if dtypes.kind(x.dtype) not in "iu":
        raise TypeError(f"x argument to bincount must have an integer type; got {x.dtype}")
    if x.ndim != 1:
        raise ValueError("only 1-dimensional input supported.")
    minlength = operator.index(minlength)
    if length is None:
        value = concrete_value(x, "The error occurred because of argument 'x' of "
                                  "jnp.bincount. To avoid this error, pass a static `length` "
                                  "argument.")
        length = max(minlength, value.size and int(max(0, value.max())) + 1)
    else:
        length = static_size(length, "The error occurred because of argument 'length' of "
                                     "jnp.bincount.")
    if weights is None:
        w: Any = Array(np.array(1, dtypes.default_int()))
    else:
        w = as_array(weights, "bincount", 1)
        if w.shape != x.shape:
            raise ValueError(f"type of weights must match type of x. Got x shape {x.shape} "
                             f"and weights shape {w.shape}")
    return zeros(length, w.dtype).at[_f["maximum"](x, 0)].add(w, mode="drop")


def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None,  # noqa: A002 - NumPy's
                        weights: Any = None) -> Any:
    """The edges of ``bins`` equal bins over ``range`` (default: ``a``'s min to max), or
    ``bins`` itself if it is an array of edges."""
    del weights  # only string bins would use them, and those are not supported (as JAX)
    if isinstance(bins, str):
        raise NotImplementedError("string values for `bins` not implemented.")
    arr = as_array(a, "histogram_bin_edges")
    dtype = dtypes.default_float() if dtypes.kind(arr.dtype) != "f" else arr.dtype
    if dtypes.kind(arr.dtype) != "f":
        (arr,) = promote_dtypes("histogram_bin_edges", [arr], "inexact")
        dtype = arr.dtype
    if np.ndim(bins) == 1:
        return convert(as_array(asarray(bins), "histogram_bin_edges", 1), dtype)
    count = static_size(bins, "bins argument of histogram_bin_edges")
    bounds = (_amin(arr), _amax(arr)) if range is None else tuple(range)
    if len(bounds) != 2 or any(np.ndim(r) != 0 for r in bounds):
        raise ValueError(f"`range` must be either None or a sequence of scalars, got {range}")
    lo, hi = bounds
    lo, hi = (convert(as_array(r, "histogram_bin_edges"), dtype) for r in (lo, hi))
    empty = _f["equal"](lo, hi)
    lo = where(empty, _f["subtract"](lo, 0.5), lo)
    hi = where(empty, _f["add"](hi, 0.5), hi)
    return linspace(lo, hi, count + 1, dtype=dtype)


def histogram(a: Any, bins: Any = 10, range: Any = None,  # noqa: A002 - NumPy's name
              weights: Any = None, density: bool | None = None) -> tuple[Any, Any]:
    """Counts (or summed ``weights``, or a density) of ``a`` in each bin, and the edges."""
    arr = as_array(a, "histogram")
    if weights is None:
        (arr,) = promote_dtypes("histogram", [arr], "inexact")
        w = lax.full(arr.shape, 1, arr.dtype)
    else:
        w = as_array(weights, "histogram", 2)
        if arr.shape != w.shape:
            raise ValueError("weights should have the same shape as a.")
        arr, w = promote_dtypes("histogram", [arr, w], "inexact")
    edges = histogram_bin_edges(arr, bins, range, w)
    n_edges = edges.shape[0]
    idx = searchsorted(edges, arr, side="right")
    idx = where(_f["equal"](arr, edges[-1]), n_edges - 1, idx)
    counts = zeros(n_edges, w.dtype).at[idx].add(w)[1:]
    if density:
        counts = _f["divide"](_f["divide"](counts, diff(edges)), _sum(counts))
    return counts, edges


def histogramdd(sample: Any, bins: Any = 10, range: Any = None,  # noqa: A002 - NumPy's name
                weights: Any = None, density: bool | None = None) -> tuple[Any, list[Any]]:
    """The D-dimensional histogram of ``N`` points ``sample`` (shape ``(N, D)``), and the
    edges along each dimension."""
    pts = as_array(sample, "histogramdd")
    if weights is None:
        (pts,) = promote_dtypes("histogramdd", [pts], "inexact")
    else:
        weights = as_array(weights, "histogramdd", 1)
        if weights.shape != pts.shape[:1]:
            raise ValueError("should have one weight for each sample.")
        pts, weights = promote_dtypes("histogramdd", [pts, weights], "inexact")
    n_points, dims = pts.shape
    if range is not None and (len(range) != dims or any(
            r is not None and np.shape(r)[0] != 2 for r in range)):
        raise ValueError(f"For sample.shape={(n_points, dims)}, range must be a sequence of "
                         f"{dims} pairs or Nones; got range={range}")
    try:
        per_dim = list(bins)
    except TypeError:
        per_dim = dims * [bins]
    else:
        if len(per_dim) != dims:
            raise ValueError("should be a bin for each dimension.")
    indices, edges = [], []
    for i in builtins.range(dims):
        column = pts[:, i]
        e = histogram_bin_edges(column, per_dim[i], None if range is None else range[i],
                                weights)
        idx = searchsorted(e, column, side="right")
        indices.append(where(_f["equal"](column, e[-1]), _f["subtract"](idx, 1), idx))
        edges.append(e)
    nbins = tuple(e.shape[0] + 1 for e in edges)
    # Flat bin numbers in C order, each index clipped into its axis (ravel_multi_index 'clip').
    flat = None
    for idx, n, stride in zip(indices, nbins, _c_strides(nbins)):
        term = _f["multiply"](clip(idx, 0, n - 1), stride)
        flat = term if flat is None else _f["add"](flat, term)
    hist = reshape(bincount(flat, weights, length=math.prod(nbins)), nbins)
    hist = hist[(slice(1, -1),) * dims]
    if density:
        hist = convert(hist, pts.dtype)
        hist = _f["divide"](hist, _sum(hist))
        for i, e in enumerate(edges):
            shape = [1] * dims
            shape[i] = e.shape[0] - 1
            hist = _f["divide"](hist, reshape(diff(e), tuple(shape)))
    return hist, edges


def _c_strides(shape: tuple[int, ...]) -> list[int]:
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return strides[::-1]


def histogram2d(x: Any, y: Any, bins: Any = 10, range: Any = None,  # noqa: A002 - NumPy's
                weights: Any = None, density: bool | None = None) -> tuple[Any, Any, Any]:
    """The 2-D histogram of points ``(x, y)``, and the edges along each axis."""
    x = as_array(x, "histogram2d")
    y = as_array(y, "histogram2d", 1)
    try:
        n = len(bins)
    except TypeError:
        n = 1
    if n not in (1, 2):
        bins = [asarray(bins), asarray(bins)]
    hist, edges = histogramdd(transpose(stack([x, y])), bins, range, weights, density)
    return hist, edges[0], edges[1]

