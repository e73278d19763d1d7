"""Statistics: median, percentile, quantile, average, cov, corrcoef, ptp and the nan*
reductions.

All are compositions of existing ``llax.numpy`` operations (sort, take_along_axis,
the reductions), so jit, grad and vmap come for free. The NaN-ignoring reductions
replace NaNs by the reduction's identity first, as JAX does; on integer and bool
operands (which hold no NaN) they are the plain reductions.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import llax.frontend.jnp as jnp
from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._dtypes import to_inexact
from llax.frontend.jnp._reductions import canonical_axes
from llax.ir import dtypes

__all__ = [
    "average", "corrcoef", "cov", "median", "nanargmax", "nanargmin", "nanmax", "nanmean",
    "nanmedian", "nanmin", "nanpercentile", "nanprod", "nanquantile", "nanstd", "nansum",
    "nanvar", "percentile", "ptp", "quantile",
]

Axis = int | Sequence[int] | None
QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _inexact(*args: Any, name: str) -> list[Any]:
    return promote_dtypes(name, [as_array(a, name, i) for i, a in enumerate(args)], "inexact")


def _has_nans(a: Any) -> bool:
    """Only floating dtypes can hold a NaN."""
    return dtypes.kind(a.dtype) == "f"


# ---------------------------------------------------------------------------------------------
# NaN-ignoring reductions


def _nan_replaced(a: Any, fill: float) -> Any:
    return jnp.where(jnp.isnan(a), jnp.asarray(fill, a.dtype), a)


def nansum(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
           keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    """``sum`` counting NaNs as zero."""
    a = as_array(a, "nansum")
    x = _nan_replaced(a, 0) if _has_nans(a) else a
    return jnp.sum(x, axis, dtype, out, keepdims, initial, where)


def nanprod(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    """``prod`` counting NaNs as one."""
    a = as_array(a, "nanprod")
    x = _nan_replaced(a, 1) if _has_nans(a) else a
    return jnp.prod(x, axis, dtype, out, keepdims, initial, where)


def _nan_extremum(name: str, reduce: Any, fill: float, a: Any, axis: Axis, out: None,
                  keepdims: bool, initial: Any, where: Any) -> Any:
    a = as_array(a, name)
    if not _has_nans(a):
        return reduce(a, axis, out, keepdims, initial, where)
    result = reduce(_nan_replaced(a, fill), axis, out, keepdims, initial, where)
    # A slice of nothing but NaNs stays NaN.
    all_nan = jnp.all(jnp.isnan(a), axis=axis, keepdims=keepdims)
    return jnp.where(all_nan, jnp.asarray(math.nan, result.dtype), result)


def nanmax(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Any:
    """``max`` ignoring NaNs; NaN where a slice is all NaN."""
    return _nan_extremum("nanmax", jnp.max, -math.inf, a, axis, out, keepdims, initial, where)


def nanmin(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Any:
    """``min`` ignoring NaNs; NaN where a slice is all NaN."""
    return _nan_extremum("nanmin", jnp.min, math.inf, a, axis, out, keepdims, initial, where)


def _nan_arg(name: str, reduce: Any, fill: float, a: Any, axis: int | None, out: None,
             keepdims: bool) -> Any:
    a = as_array(a, name)
    if not _has_nans(a):
        return reduce(a, axis, out, keepdims)
    nans = jnp.isnan(a)
    result = reduce(jnp.where(nans, jnp.asarray(fill, a.dtype), a), axis, out, keepdims)
    return jnp.where(jnp.all(nans, axis=axis, keepdims=keepdims),
                     jnp.asarray(-1, result.dtype), result)


def nanargmax(a: Any, axis: int | None = None, out: None = None, keepdims: bool = False
              ) -> Any:
    """``argmax`` ignoring NaNs; -1 where a slice is all NaN."""
    return _nan_arg("nanargmax", jnp.argmax, -math.inf, a, axis, out, keepdims)


def nanargmin(a: Any, axis: int | None = None, out: None = None, keepdims: bool = False
              ) -> Any:
    """``argmin`` ignoring NaNs; -1 where a slice is all NaN."""
    return _nan_arg("nanargmin", jnp.argmin, math.inf, a, axis, out, keepdims)


def _nan_count(a: Any, axis: Axis, keepdims: bool, where: Any, dtype: Any) -> Any:
    return jnp.sum(jnp.logical_not(jnp.isnan(a)), axis=axis, keepdims=keepdims,
                   where=where, dtype=dtype)


def nanmean(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, where: Any = None) -> Any:
    """``mean`` of the non-NaN entries (NaN where there are none)."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.nanmean is not supported.")
    a = as_array(a, "nanmean")
    if not _has_nans(a):
        return jnp.mean(a, axis, dtype, None, keepdims, where=where)
    dt = a.dtype if dtype is None else jnp.dtype(dtype)
    total = nansum(a, axis, dt, None, keepdims, where=where)
    return jnp.divide(total, _nan_count(a, axis, keepdims, where, total.dtype))


def nanvar(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None, mean: Any = None) -> Any:
    """``var`` of the non-NaN entries; NaN where fewer than ``ddof + 1`` remain."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.nanvar is not supported.")
    a = as_array(a, "nanvar")
    if dtype is not None:
        result_dtype = compute = jnp.dtype(dtype)
    elif _has_nans(a):
        result_dtype = compute = a.dtype
    else:
        result_dtype = compute = to_inexact(a.dtype, False)[0]
    if compute in (dtypes.float16, dtypes.bfloat16):
        compute = dtypes.float32
    x = convert(a, compute, False)
    if mean is None and dtypes.kind(compute) == "c":
        # nanmean leaves complex NaNs in (as its other callers need); here they are skipped.
        kept = jnp.where(jnp.isnan(x), jnp.asarray(0, compute), x)
        mean = jnp.divide(jnp.sum(kept, axis, keepdims=True, where=where),
                          _nan_count(x, axis, True, where, compute))
    elif mean is None:
        mean = nanmean(x, axis, keepdims=True, where=where)
    else:  # given with the reduced axes kept
        mean = as_array(mean, "nanvar").astype(compute)
    centered = jnp.where(jnp.isnan(x), jnp.asarray(0, compute), x - mean)
    count = _nan_count(x, axis, keepdims, where, None) - ddof
    no_freedom = count <= 0
    if dtypes.kind(compute) == "c":
        # A complex spread is the mean squared modulus: real, as in JAX.
        squares = jnp.real(centered * jnp.conj(centered))
        result_dtype = dtypes.real_part(result_dtype)
    else:
        squares = jnp.square(centered)
    total = jnp.sum(squares, axis=axis, keepdims=keepdims, where=where)
    total = jnp.where(no_freedom, jnp.asarray(math.nan, total.dtype), total)
    divisor = jnp.where(no_freedom, 1, count).astype(total.dtype)
    return jnp.asarray(jnp.divide(total, divisor), result_dtype)


def nanstd(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None, mean: Any = None) -> Any:
    """Square root of ``nanvar``."""
    return jnp.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where, mean))


def ptp(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """Range ``max - min`` along ``axis``."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.ptp is not supported.")
    a = as_array(a, "ptp")
    return jnp.subtract(jnp.max(a, axis, keepdims=keepdims), jnp.min(a, axis, keepdims=keepdims))


# ---------------------------------------------------------------------------------------------
# Quantiles


def _reduced_axis_last(a: Any, axis: Axis, keepdims: bool) -> tuple[Any, list[int] | None]:
    """``a`` with the reduced axes merged into one last axis, and the shape ``keepdims``
    restores (None when one axis is reduced in place)."""
    if axis is None:
        return jnp.ravel(a), [1] * a.ndim if keepdims else None
    if isinstance(axis, (tuple, list)):
        axes = canonical_axes(tuple(axis), a.ndim)
        kept = [i for i in range(a.ndim) if i not in axes]
        moved = jnp.transpose(a, kept + list(axes))
        merged = jnp.reshape(moved, tuple(a.shape[i] for i in kept) + (-1,))
        restored = [1 if i in axes else n for i, n in enumerate(a.shape)] if keepdims else None
        return merged, restored
    (ax,) = canonical_axes(axis, a.ndim)
    return jnp.moveaxis(a, ax, -1), None


def _quantile(name: str, a: Any, q: Any, axis: Axis, method: str, keepdims: bool,
              ignore_nans: bool, out: None, overwrite_input: bool, weights: Any) -> Any:
    if overwrite_input or out is not None:
        raise ValueError(f"jax.numpy.{name} does not support overwrite_input=True or "
                         "out != None")
    if method not in QUANTILE_METHODS + ("inverted_cdf",):
        raise ValueError("method can only be 'linear', 'lower', 'higher', 'midpoint', "
                         "'nearest' or 'inverted_cdf'")
    a = as_array(a, name)
    q = as_array(q, name, 1)
    if weights is not None:
        if method != "inverted_cdf":
            raise NotImplementedError(f"{method} doesn't support weights. Only method "
                                      "'inverted_cdf' supports weights.")
        a, weights = _inexact(a, weights, name=name)
        weights = _weights_like(weights, a, axis)
    else:
        (a,) = promote_dtypes(name, [a], "inexact")
    if dtypes.kind(a.dtype) == "c":
        raise ValueError("quantile does not support complex input, as the operation is poorly "
                         "defined.")
    if q.ndim > 1:
        raise ValueError(f"q must be have rank <= 1, got shape {q.shape}")
    single_axis = axis is not None and not isinstance(axis, (tuple, list))
    x, restored = _reduced_axis_last(a, axis, keepdims)
    w = None if weights is None else _reduced_axis_last(weights, axis, keepdims)[0]
    n = x.shape[-1]
    if not ignore_nans:  # one NaN makes the whole slice NaN
        x = jnp.where(jnp.any(jnp.isnan(x), axis=-1, keepdims=True),
                      jnp.asarray(math.nan, x.dtype), x)
    # Sorted (NaNs last), the weights permuted alike.
    x, w = (jnp.sort(x, axis=-1), None) if w is None else lax.sort_key_val(x, w, -1)
    if ignore_nans:
        counts = jnp.sum(jnp.logical_not(jnp.isnan(x)), axis=-1, keepdims=True,
                         dtype=q.dtype)
    else:
        counts = jnp.full(x.shape[:-1] + (1,), n, q.dtype)
    q_last = jnp.reshape(q, (1,) * (x.ndim - 1) + (q.size,))
    if method == "inverted_cdf":
        result = _inverted_cdf(x, w, q_last, counts, ignore_nans)
    else:
        result = _interpolated(x, q_last, counts, method)
    result = jnp.moveaxis(result, -1, 0)  # q first, as JAX orders the result
    if q.ndim == 0:
        result = jnp.reshape(result, result.shape[1:])
    if keepdims and single_axis:
        (ax,) = canonical_axes(axis, a.ndim)
        result = jnp.expand_dims(result, q.ndim + ax)
    elif keepdims and restored is not None:
        result = jnp.reshape(result, tuple(q.shape) + tuple(restored))
    return jnp.asarray(result, a.dtype).astype(a.dtype)


def _weights_like(weights: Any, a: Any, axis: Axis) -> Any:
    """Quantile weights broadcast to ``a``: equal shapes, or one weight per position along
    the reduced axes."""
    if weights.shape == a.shape:
        return weights
    if axis is None:
        raise ValueError("Weights shape must match 'a' shape when axis is None.")
    canonical_axes(axis, a.ndim)  # checks the axes
    given = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(operator.index(ax) % a.ndim for ax in given)  # in the order given
    if weights.shape != tuple(a.shape[ax] for ax in axes):
        raise ValueError(f"Weights shape {weights.shape} must match reduction axes "
                         f"{tuple(a.shape[ax] for ax in axes)}")
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    w = jnp.transpose(weights, order) if order != list(range(len(axes))) else weights
    return lax.broadcast_in_dim(w, a.shape, tuple(sorted(axes)))


def _inverted_cdf(x: Any, w: Any, q: Any, counts: Any, ignore_nans: bool) -> Any:
    """The first sorted value whose cumulative weight reaches ``q`` of the total; NaN
    where a weight is negative or NaN (or the data is NaN, as for the other methods)."""
    if w is None:
        w = jnp.ones_like(x)
    bad = (w < 0) | jnp.isnan(w)
    nan_data = jnp.isnan(x)
    clean = jnp.where(bad | nan_data, jnp.zeros_like(w), w)
    cumulative = lax.associative_scan(jnp.add, clean, axis=clean.ndim - 1) \
        if clean.shape[-1] > 1 else clean
    total = cumulative[..., -1:] if cumulative.shape[-1] else jnp.zeros_like(counts)
    target = q * total.astype(q.dtype)
    below = cumulative[..., None, :] < target[..., :, None].astype(cumulative.dtype)
    idx = jnp.sum(below, axis=-1, dtype=dtypes.default_int())
    last = (counts - 1).astype(dtypes.default_int())
    idx = jnp.maximum(0, jnp.minimum(idx, last))
    if x.shape[-1] == 0:  # no values to pick from: NaN (JAX refuses empty samples)
        result = jnp.full(idx.shape, math.nan, x.dtype)
    else:
        result = jnp.take_along_axis(x, idx, axis=-1)
    any_bad = jnp.any(bad, axis=-1, keepdims=True)
    missing = jnp.all(nan_data, axis=-1, keepdims=True) if ignore_nans else \
        jnp.any(nan_data, axis=-1, keepdims=True)
    return jnp.where(any_bad | missing, jnp.asarray(math.nan, x.dtype), result)


def _interpolated(x: Any, q: Any, counts: Any, method: str) -> Any:
    """Quantiles between the two sorted values around position ``q * (count - 1)``."""
    pos = jnp.multiply(q, jnp.subtract(counts, 1))
    low, high = jnp.floor(pos), jnp.ceil(pos)
    high_weight = pos - low
    low_weight = 1 - high_weight
    last = jnp.maximum(counts - 1, 0)
    low_i = jnp.clip(low, 0, last).astype(dtypes.default_int())
    high_i = jnp.clip(high, 0, last).astype(dtypes.default_int())
    if x.shape[-1] == 0:  # no values to pick from: NaN (JAX refuses empty samples)
        low_value = high_value = jnp.full(pos.shape, math.nan, x.dtype)
    else:
        low_value = jnp.take_along_axis(x, low_i, axis=-1)
        high_value = jnp.take_along_axis(x, high_i, axis=-1)
    if method == "linear":
        result = low_value * low_weight + high_value * high_weight
    elif method == "lower":
        result = low_value
    elif method == "higher":
        result = high_value
    elif method == "nearest":
        result = jnp.where(high_weight <= 0.5, low_value, high_value)
    else:
        result = (low_value + high_value) * 0.5
    return result



def quantile(a: Any, q: Any, axis: Axis = None, out: None = None,
             overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
             *, weights: Any = None) -> Any:
    """The ``q``-th quantiles (0 <= q <= 1) along ``axis``; NaN if a slice holds a NaN."""
    return _quantile("quantile", a, q, axis, method, keepdims, False, out, overwrite_input,
                     weights)


def nanquantile(a: Any, q: Any, axis: Axis = None, out: None = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
                *, weights: Any = None) -> Any:
    """``quantile`` of the non-NaN entries."""
    return _quantile("nanquantile", a, q, axis, method, keepdims, True, out, overwrite_input,
                     weights)


def _percent(q: Any, name: str) -> Any:
    (q,) = _inexact(q, name=name)
    return jnp.divide(q, 100)


def percentile(a: Any, q: Any, axis: Axis = None, out: None = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
               *, weights: Any = None) -> Any:
    """The ``q``-th percentiles (0 <= q <= 100) along ``axis``."""
    a = as_array(a, "percentile")
    return quantile(a, _percent(q, "percentile"), axis, out, overwrite_input, method, keepdims,
                    weights=weights)


def nanpercentile(a: Any, q: Any, axis: Axis = None, out: None = None,
                  overwrite_input: bool = False, method: str = "linear",
                  keepdims: bool = False, *, weights: Any = None) -> Any:
    """``percentile`` of the non-NaN entries."""
    a = as_array(a, "nanpercentile")
    return nanquantile(a, _percent(q, "nanpercentile"), axis, out, overwrite_input, method,
                       keepdims, weights=weights)


def median(a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """The middle value (mean of the two middle values) along ``axis``."""
    return quantile(a, 0.5, axis, out, overwrite_input, "midpoint", keepdims)


def nanmedian(a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    """``median`` of the non-NaN entries."""
    return nanquantile(a, 0.5, axis, out, overwrite_input, "midpoint", keepdims)


# ---------------------------------------------------------------------------------------------
# Weighted averages, covariance and correlation


def _reduced_size(shape: tuple[int, ...], axis: Axis) -> int:
    return math.prod(shape[i] for i in canonical_axes(axis, len(shape)))


def average(a: Any, axis: Axis = None, weights: Any = None, returned: bool = False,
            keepdims: bool = False) -> Any:
    """Mean of ``a`` along ``axis`` weighted by ``weights``; with ``returned`` also the
    sum of the weights."""
    if weights is None:
        (a,) = _inexact(a, name="average")
        avg = jnp.mean(a, axis=axis, keepdims=keepdims)
        weights_sum = jnp.full(avg.shape, _reduced_size(a.shape, axis), avg.dtype)
    else:
        a, weights = _inexact(a, weights, name="average")
        if a.shape != weights.shape:
            if weights.ndim != 1:
                raise ValueError("1D weights expected when shapes of a and weights differ.")
            if axis is None:
                raise ValueError("Axis must be specified when shapes of a and weights differ.")
            if isinstance(axis, (tuple, list)):
                raise ValueError("Single axis expected when shapes of a and weights differ")
            (axis,) = canonical_axes(axis, a.ndim)
            if weights.shape[0] != a.shape[axis]:
                raise ValueError("Length of weights not compatible with specified axis.")
            weights = jnp.moveaxis(
                jnp.broadcast_to(weights, (1,) * (a.ndim - 1) + weights.shape), -1, axis)
        weights_sum = jnp.sum(weights, axis=axis, keepdims=keepdims)
        avg = jnp.divide(jnp.sum(a * weights, axis=axis, keepdims=keepdims), weights_sum)
    if returned:
        if avg.shape != weights_sum.shape:
            weights_sum = jnp.broadcast_to(weights_sum, avg.shape)
        return avg, weights_sum
    return avg


def _sample_weights(w: Any, name: str, n: int) -> Any:
    w = as_array(w, "cov")
    if w.ndim > 1:
        raise RuntimeError(f"cannot handle multidimensional {name}")
    if w.shape[0] != n:
        raise RuntimeError(f"incompatible numbers of samples and {name}")
    return w


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None, fweights: Any = None, aweights: Any = None,
        dtype: Any = None) -> Any:
    """Covariance matrix of the variables in ``m`` (rows, or columns if not ``rowvar``)
    and optionally ``y``, with frequency and reliability weights."""
    if y is not None:
        m, y = _inexact(m, y, name="cov")
        if y.ndim > 2:
            raise ValueError("y has more than 2 dimensions")
    else:
        (m,) = _inexact(m, name="cov")
    if m.ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    if dtype is not None and dtypes.kind(jnp.dtype(dtype)) != "f":
        raise ValueError(f"cov: dtype must be a subclass of float or complex; got {dtype=}")
    x = jnp.atleast_2d(m)
    if not rowvar and m.ndim != 1:
        x = x.T
    if x.shape[0] == 0:
        return jnp.zeros((0, 0), dtypes.default_float())
    if y is not None:
        y2 = jnp.atleast_2d(y)
        if not rowvar and y2.shape[0] != 1:
            y2 = y2.T
        x = jnp.concatenate((x, y2), axis=0)
    if x.shape[1] == 0:
        return jnp.full(() if x.shape[0] == 1 else (x.shape[0],) * 2, math.nan, x.dtype)
    if ddof is None:
        ddof = 1 if not bias else 0
    w = None
    samples = x.shape[1]
    if fweights is not None:
        fw = _sample_weights(fweights, "fweights", samples)
        if dtypes.kind(fw.dtype) not in "iu":
            raise TypeError("fweights must be integer.")
        w = jnp.abs(fw)  # NumPy raises for negative weights; JAX takes their size
    if aweights is not None:
        aweights = jnp.abs(_sample_weights(aweights, "aweights", samples))
        w = aweights if w is None else w * aweights
    if dtype is not None:
        x = x.astype(dtype)
        w = None if w is None else w.astype(dtype)
    avg, w_sum = average(x, axis=1, weights=w, returned=True)
    w_sum = w_sum[0]
    if w is None:
        f: Any = samples - ddof
    elif ddof == 0:
        f = w_sum
    elif aweights is None:
        f = w_sum - ddof
    else:
        f = w_sum - ddof * jnp.sum(w * aweights) / w_sum
    x = x - avg[:, None]
    x_t = (x.T if w is None else (x * w[None, :]).T).conj()  # (conj: complex variables)
    return jnp.squeeze(jnp.divide(jnp.dot(x, x_t), f))


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, dtype: Any = None) -> Any:
    """Pearson correlation coefficients: ``cov`` normalised by the standard deviations,
    clipped to [-1, 1]."""
    if dtype is not None and dtypes.kind(jnp.dtype(dtype)) != "f":
        raise ValueError(f"corrcoef: dtype must be a subclass of float or complex; got "
                         f"{dtype=}")
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return jnp.divide(c, c)  # one variable: 1, or NaN for no spread
    d = jnp.real(jnp.sum(c * jnp.eye(c.shape[0], dtype=c.dtype), axis=1))
    stddev = jnp.sqrt(d)
    c = c / stddev[:, None] / stddev[None, :]
    if jnp.iscomplexobj(c):  # each part clipped, as NumPy and JAX do
        return lax.complex(jnp.clip(jnp.real(c), -1, 1), jnp.clip(jnp.imag(c), -1, 1))
    return jnp.clip(c, -1, 1)

