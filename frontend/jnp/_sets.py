"""Set operations: unique and the unique_* family (size=, fill_value=), isin, intersect1d,
union1d, setdiff1d, setxor1d.

Everything starts from a sort: equal elements become neighbours, and a mask of "differs from
the previous one" marks the first of each run. Without ``size`` the number of results depends
on the data, so the input must be concrete (JAX's ConcretizationTypeError under jit); with a
static ``size`` the first ``size`` results are gathered by ``nonzero(mask, size=size)`` and
the rest padded, which traces and batches.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Array, Tracer
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._creation import arange, full, ones, zeros
from llax.frontend.jnp._cumulative import cumsum, diff
from llax.frontend.jnp._manipulation import concatenate, moveaxis, ravel, reshape
from llax.frontend.jnp._reductions import any as _any
from llax.frontend.jnp._reductions import canonical_axes
from llax.frontend.jnp._reductions import max as _amax
from llax.frontend.jnp._reductions import min as _amin
from llax.frontend.jnp._reductions import sum as _sum
from llax.frontend.jnp._searching import concrete_value, lexsort, nonzero, searchsorted
from llax.frontend.jnp._select import where
from llax.frontend.jnp._sorting import sort
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes

__all__ = ["unique", "unique_all", "unique_counts", "unique_inverse", "unique_values", "isin",
           "intersect1d", "union1d", "setdiff1d", "setxor1d"]

_f = UFUNCS
_SIZE_HINT = ("To make jnp.unique() compatible with JIT and other transforms, you can specify "
              "a concrete value for the size argument, which will determine the output size.")


def _concrete_array(x: Any, what: str) -> Any:
    """``x`` as a concrete Array (a tracer must have a known value)."""
    if isinstance(x, Tracer):
        return Array(concrete_value(x, what))
    return x


def _static_int(size: Any, what: str) -> int:
    if isinstance(size, Tracer):
        concrete_value(size, what)
    return operator.index(size)


def _below(n: int, count: Any) -> Any:
    """``arange(n) < count``: which of ``n`` result slots hold real results."""
    return _f["less"](arange(n), count)


# ---------------------------------------------------------------------------------------------
# unique


def _sorted_runs(ar: Any, axis: int, equal_nan: bool) -> tuple[Any, Any, Any]:
    """``(aux, first, perm)``: the slices of ``ar`` along ``axis`` sorted lexicographically
    (moved to the front), a mask of each run's first slice, and the sorting permutation."""
    aux = moveaxis(ar, axis, 0)
    n, *rest = aux.shape
    width = math.prod(rest)
    if width == 0:
        n, perm = 1, zeros(1, dtypes.default_int())
    else:
        rows = reshape(aux, (n, width))
        perm = lexsort([rows[:, j] for j in reversed(range(width))])
    aux = aux[perm]
    if not aux.size:
        return aux, zeros(n, dtypes.bool_), perm
    later, earlier = aux[1:], aux[:-1]
    differs = _f["not_equal"](later, earlier)
    if equal_nan and dtypes.kind(aux.dtype) == "f":
        both_nan = _f["logical_and"](_f["isnan"](later), _f["isnan"](earlier))
        differs = _f["logical_and"](differs, _f["logical_not"](both_nan))
    if aux.ndim > 1:
        differs = _any(differs, axis=tuple(range(1, aux.ndim)))
    first = concatenate([ones(1, dtypes.bool_), differs])
    return aux, first, perm


def _unique(ar: Any, axis: int, return_index: bool = False, return_inverse: bool = False,
            return_counts: bool = False, equal_nan: bool = True, size: int | None = None,
            fill_value: Any = None, return_true_size: bool = False) -> Any:
    axis = canonical_axes(axis, ar.ndim)[0]
    if ar.shape[axis] == 0 and size and fill_value is None:
        raise ValueError("jnp.unique: for zero-sized input with nonzero size argument, "
                         "fill_value must be specified")
    aux, first, perm = _sorted_runs(ar, axis, equal_nan)
    if size is None:
        (ind,) = nonzero(_concrete_array(first, "The error arose in jnp.unique(). "
                                         + _SIZE_HINT))
    else:
        (ind,) = nonzero(first, size=size)
    result = aux[ind] if aux.size else aux
    if size is not None and fill_value is not None:
        fill = convert(as_array(fill_value, "unique"), result.dtype)
        if result.shape[0]:
            valid = lax.expand_dims(_below(size, _sum(first)), tuple(range(1, result.ndim)))
            result = where(valid, result, fill)
        else:
            result = lax.broadcast_in_dim(fill, (size, *result.shape[1:]), ())
    out: tuple[Any, ...] = (moveaxis(result, 0, axis),)
    if return_index:
        out += (perm[ind] if aux.size else perm,)
    if return_inverse:
        if aux.size:
            run_number = _f["subtract"](cumsum(first), 1)
            inverse = zeros(first.shape, dtypes.default_int()).at[perm].set(run_number)
        else:
            inverse = zeros(ar.shape[axis], dtypes.default_int())
        out += (inverse,)
    if return_counts:
        if aux.size:
            if size is None:
                (starts,) = nonzero(_concrete_array(first, "jnp.unique"))
                starts = concatenate([starts, full(1, first.shape[0], starts.dtype)])
            else:
                (starts,) = nonzero(first, size=size + 1)
                tail = starts[1:]
                # Padding slots (index 0 past the first) end at the array's end.
                starts = concatenate([starts[:1], where(tail, tail, first.shape[0])])
            out += (diff(starts),)
        elif ar.shape[axis]:
            out += (full((1,), ar.shape[axis], dtypes.default_int()),)
        else:
            out += (zeros(0, dtypes.default_int()),)
    if return_true_size:
        out += (_sum(first),)
    return out[0] if len(out) == 1 else out


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: Any = None, sorted: bool = True) -> Any:  # noqa: A002
    """The sorted unique elements of ``ar`` (or unique slices along ``axis``), with optionally
    the first index of each, the inverse mapping and the counts. Under jit ``size`` must be
    given: the first ``size`` unique values, padded with ``fill_value`` (default: the
    smallest)."""
    del sorted  # the result is always sorted, as in JAX
    arr = as_array(ar, "unique")
    if size is None:
        arr = _concrete_array(arr, "The error arose for the first argument of jnp.unique(). "
                              + _SIZE_HINT)
    else:
        size = _static_int(size, "The error arose for the size argument of jnp.unique(). "
                           + _SIZE_HINT)
    shape = arr.shape
    if axis is None:
        arr, axis_int = ravel(arr), 0
    else:
        axis_int = canonical_axes(operator.index(axis), arr.ndim)[0]
    result = _unique(arr, axis_int, return_index, return_inverse, return_counts,
                     equal_nan=equal_nan, size=size, fill_value=fill_value)
    if return_inverse and axis is None:
        at = 2 if return_index else 1
        result = (*result[:at], reshape(result[at], shape), *result[at + 1:])
    return result


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def unique_all(x: Any, /, *, size: int | None = None,
               fill_value: Any = None) -> UniqueAllResult:
    """The array API's ``unique_all``: values, first indices, inverse and counts."""
    x = as_array(x, "unique_all")
    return UniqueAllResult(*unique(x, return_index=True, return_inverse=True,
                                   return_counts=True, equal_nan=False, size=size,
                                   fill_value=fill_value))


def unique_counts(x: Any, /, *, size: int | None = None,
                  fill_value: Any = None) -> UniqueCountsResult:
    x = as_array(x, "unique_counts")
    return UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False, size=size,
                                      fill_value=fill_value))


def unique_inverse(x: Any, /, *, size: int | None = None,
                   fill_value: Any = None) -> UniqueInverseResult:
    x = as_array(x, "unique_inverse")
    return UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False, size=size,
                                       fill_value=fill_value))


def unique_values(x: Any, /, *, size: int | None = None, fill_value: Any = None) -> Any:
    x = as_array(x, "unique_values")
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


# ---------------------------------------------------------------------------------------------
# Membership


_ISIN_METHODS = ("auto", "compare_all", "binary_search", "sort")


def _in1d(ar1: Any, ar2: Any, invert: bool, method: str, assume_unique: bool) -> Any:
    a, b = promote_dtypes("in1d", [as_array(ar1, "in1d"), as_array(ar2, "in1d", 1)])
    a, b = ravel(a), ravel(b)
    if method not in _ISIN_METHODS:
        raise ValueError(f"method={method!r} is not implemented; options are 'compare_all', "
                         "'binary_search', 'sort', and 'auto'")
    if a.size == 0 or b.size == 0:
        return (ones if invert else zeros)(a.shape, dtypes.bool_)
    if method in ("auto", "compare_all"):
        pairs = (lax.expand_dims(a, (1,)), lax.expand_dims(b, (0,)))
        if invert:
            return _f["not_equal"](*pairs).all(-1)
        return _f["equal"](*pairs).any(-1)
    if method == "binary_search":
        b = lax.sort(b)
        nearest = b[searchsorted(b, a)]
        return _f["not_equal"](a, nearest) if invert else _f["equal"](a, nearest)
    # 'sort': sort both together; an element of a is in b when its sorted successor equals it.
    if assume_unique:
        back: Any = slice(None)
    else:
        a, back = unique(a, size=a.shape[0], return_inverse=True, fill_value=_amax(b))
    both = concatenate([a, b])
    aux, order = lax.sort_key_val(both, arange(both.shape[0]))
    if invert:
        found = _f["not_equal"](aux[1:], aux[:-1])
        return ones(a.shape, dtypes.bool_).at[order[:-1]].set(found, mode="drop")[back]
    found = _f["equal"](aux[1:], aux[:-1])
    return zeros(a.shape, dtypes.bool_).at[order[:-1]].set(found, mode="drop")[back]


def isin(element: Any, test_elements: Any, assume_unique: bool = False, invert: bool = False,
         *, method: str = "auto") -> Any:
    """Whether each element of ``element`` occurs in ``test_elements`` (shape of
    ``element``)."""
    element = as_array(element, "isin")
    test_elements = as_array(test_elements, "isin", 1)
    found = _in1d(element, test_elements, invert=invert, method=method,
                  assume_unique=assume_unique)
    return reshape(found, element.shape)


# ---------------------------------------------------------------------------------------------
# Two-set operations


def _pad_results(vals: Any, count: Any, fill_value: Any) -> Any:
    """Slots past ``count`` get ``fill_value`` (default: the smallest real result)."""
    real = _below(vals.shape[0], count)
    if fill_value is None:
        vals = where(real, vals, _amax(vals))
        return where(real, vals, _amin(vals))
    return where(real, vals, fill_value)


def _concat_unique(arr1: Any, arr2: Any) -> tuple[Any, Any]:
    """The unique values of each array packed one after the other (then zeros), and their
    total number."""
    u1, n1 = _unique(arr1, 0, size=arr1.size, return_true_size=True)
    u2, n2 = _unique(arr2, 0, size=arr2.size, return_true_size=True)
    arr = zeros(arr1.size + arr2.size, u1.dtype)
    arr = lax.dynamic_update_slice(arr, u1, (0,))
    arr = lax.dynamic_update_slice(arr, u2, (n1,))
    return arr, _f["add"](n1, n2)


def union1d(ar1: Any, ar2: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """The sorted unique values in either array."""
    a1, a2 = as_array(ar1, "union1d"), as_array(ar2, "union1d", 1)
    if size is None:
        a1 = _concrete_array(a1, "The error arose in union1d()")
        a2 = _concrete_array(a2, "The error arose in union1d()")
    else:
        size = _static_int(size, "The error arose in union1d()")
    return unique(concatenate((a1, a2), axis=None), size=size, fill_value=fill_value)


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
              fill_value: Any = None) -> Any:
    """The sorted unique values of ``ar1`` that are not in ``ar2``."""
    a1 = ravel(as_array(ar1, "setdiff1d"))
    a2 = ravel(as_array(ar2, "setdiff1d", 1))
    if size is None:
        a1 = _concrete_array(a1, "The error arose in setdiff1d()")
    else:
        size = _static_int(size, "The error arose in setdiff1d()")
    fill = convert(as_array(0 if fill_value is None else fill_value, "setdiff1d"), a1.dtype)
    if a1.size == 0:
        return lax.broadcast_in_dim(fill, (size or 0,), ())
    if not assume_unique:
        a1 = unique(a1, size=size and a1.size)
    keep = _in1d(a1, a2, invert=True, method="auto", assume_unique=assume_unique)
    if size is None:
        return a1[nonzero(_concrete_array(keep, "setdiff1d"))[0]]
    if not assume_unique:
        # unique pads with its smallest value: the copies of a1[0] past the first are padding.
        n_unique = _f["subtract"](a1.size + 1, _sum(_f["equal"](a1, a1[0])))
        keep = where(_below(a1.size, n_unique), keep, False)
    picked = a1[nonzero(keep, size=size)[0]]
    return where(_below(size, _sum(keep)), picked, fill)


def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
             fill_value: Any = None) -> Any:
    """The sorted values found in exactly one of the two arrays."""
    a1, a2 = promote_dtypes("setxor1d", [ravel(as_array(ar1, "setxor1d")),
                                         ravel(as_array(ar2, "setxor1d", 1))])
    if size is not None:
        return _setxor1d_size(a1, a2, fill_value, assume_unique,
                              _static_int(size, "The error arose in setxor1d()"))
    a1 = _concrete_array(a1, "The error arose in setxor1d()")
    a2 = _concrete_array(a2, "The error arose in setxor1d()")
    if not assume_unique:
        a1, a2 = unique(a1), unique(a2)
    aux = concatenate((a1, a2))
    if aux.size == 0:
        return aux
    aux = sort(aux)
    edge = ones(1, dtypes.bool_)
    flag = concatenate((edge, _f["not_equal"](aux[1:], aux[:-1]), edge))
    alone = _f["logical_and"](flag[1:], flag[:-1])
    return aux[nonzero(_concrete_array(alone, "setxor1d"))[0]]


def _setxor1d_size(a1: Any, a2: Any, fill_value: Any, assume_unique: bool, size: int) -> Any:
    if assume_unique:
        aux = sort(concatenate([a1, a2]))
        flag = concatenate((full(1, bool(aux.size), dtypes.bool_),
                            _f["not_equal"](aux[1:], aux[:-1]), ones(1, dtypes.bool_)))
    else:
        arr, n_unique = _concat_unique(a1, a2)
        real = _below(arr.size + 1, _f["add"](n_unique, 1))
        # Real values first (sorted), padding after them.
        _, aux = lax.sort([_f["logical_not"](real[1:]), arr], is_stable=True, num_keys=2)
        neighbours = concatenate((full(1, bool(aux.size), dtypes.bool_),
                                  _f["not_equal"](aux[1:], aux[:-1]), zeros(1, dtypes.bool_)))
        flag = _f["logical_and"](real, neighbours.at[n_unique].set(True))
    alone = _f["logical_and"](flag[1:], flag[:-1])
    count = _sum(alone)
    if aux.size:
        positions = nonzero(alone, size=size, fill_value=aux.shape[0])[0]
        vals = aux.at[positions].get(mode="fill", fill_value=0)
    else:
        vals = zeros(size, aux.dtype)
    return _pad_results(vals, count, fill_value)


def intersect1d(ar1: Any, ar2: Any, assume_unique: bool = False, return_indices: bool = False,
                *, size: int | None = None, fill_value: Any = None) -> Any:
    """The sorted unique values in both arrays, with optionally the indices of their first
    occurrences in each."""
    a1, a2 = promote_dtypes("intersect1d", [as_array(ar1, "intersect1d"),
                                            as_array(ar2, "intersect1d", 1)])
    a1, a2 = ravel(a1), ravel(a2)
    if size is not None:
        return _intersect1d_size(a1, a2, fill_value, assume_unique,
                                 _static_int(size, "The error arose in intersect1d()"),
                                 return_indices)
    a1 = _concrete_array(a1, "The error arose in intersect1d()")
    a2 = _concrete_array(a2, "The error arose in intersect1d()")
    ind1 = ind2 = arange(0)
    if not assume_unique:
        if return_indices:
            a1, ind1 = unique(a1, return_index=True)
            a2, ind2 = unique(a2, return_index=True)
        else:
            a1, a2 = unique(a1), unique(a2)
    both = concatenate((a1, a2))
    if return_indices:
        iota = lax.broadcasted_iota(_index_dtype(both.shape[0]), both.shape, 0)
        aux, order = lax.sort_key_val(both, iota)
    else:
        aux, order = sort(both), None
    (hits,) = nonzero(_f["equal"](aux[1:], aux[:-1]))
    common = aux[:-1][hits]
    if not return_indices:
        return common
    idx1 = order[:-1][hits]
    idx2 = _f["subtract"](order[1:][hits], a1.size)
    if not assume_unique:
        idx1, idx2 = ind1[idx1], ind2[idx2]
    return common, idx1, idx2


def _index_dtype(n: int) -> np.dtype:
    return dtypes.int32 if n < 2 ** 31 else dtypes.canonicalize(np.dtype("int64"))


def _intersect1d_size(a1: Any, a2: Any, fill_value: Any, assume_unique: bool, size: int,
                      return_indices: bool) -> Any:
    if assume_unique:
        ind1, n1 = arange(a1.size), full((), a1.size)
        ind2 = arange(a2.size)
        arr = concatenate([a1, a2])
        aux, order = lax.sort([arr, arange(arr.size)], is_stable=True, num_keys=1)
        real = ones(arr.size, dtypes.bool_)
    else:
        a1u, ind1, n1 = _unique(a1, 0, size=a1.size, return_index=True,
                                return_true_size=True, fill_value=0)
        a2u, ind2, n2 = _unique(a2, 0, size=a2.size, return_index=True,
                                return_true_size=True, fill_value=0)
        arr = zeros(a1.size + a2.size, a1u.dtype)
        arr = lax.dynamic_update_slice(arr, a1u, (0,))
        arr = lax.dynamic_update_slice(arr, a2u, (n1,))
        real = _below(arr.size, _f["add"](n1, n2))
        _, aux, order = lax.sort([_f["logical_not"](real), arr, arange(arr.size)],
                                 is_stable=True, num_keys=2)
    pair = _f["logical_and"](_f["equal"](aux[1:], aux[:-1]), real[1:])
    count = _sum(pair)
    if aux.size:
        positions = nonzero(pair, size=size, fill_value=aux.size)[0]
        vals = aux.at[positions].get(mode="fill", fill_value=0)
    else:
        positions = arange(0)
        vals = zeros(size, aux.dtype)
    vals = _pad_results(vals, count, fill_value)
    if not return_indices:
        return vals
    valid = _below(size, count)
    idx1 = order.at[positions].get(mode="fill", fill_value=a1.size)
    idx1 = where(valid, idx1, a1.size)
    idx2 = _f["subtract"](order.at[_f["add"](positions, 1)].get(mode="fill",
                                                               fill_value=a2.size), n1)
    idx2 = where(valid, idx2, a2.size)
    if not assume_unique:
        idx1 = ind1.at[idx1].get(mode="fill", fill_value=ind1.size)
        idx2 = ind2.at[idx2].get(mode="fill", fill_value=ind2.size)
    return vals, idx1, idx2
