"""Cumulative ops: cumsum, cumprod, cumulative_sum/prod, nancumsum, diff, ediff1d, gradient,
trapezoid.

cumsum and cumprod (and their array-API and NaN-skipping forms) bind the ``cumsum`` and
``cumprod`` primitives through ``lax``, as JAX's do, after converting to JAX's accumulation
dtype. Importing this module registers the cumulative primitives' transformation rules
(they build on the autodiff machinery, which imports ``lax`` itself, so ``lax`` cannot).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import llax.transforms.cumulative_rules  # noqa: F401  (JVP, transpose and vmap rules)
from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array, convert, promote_dtypes
from llax.frontend.jnp._dtypes import requested_dtype
from llax.frontend.jnp._manipulation import broadcast_to, concatenate, moveaxis, ravel
from llax.frontend.jnp._reductions import _sum_dtype, canonical_axes
from llax.frontend.jnp._select import where
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes

__all__ = ["cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "nancumsum", "nancumprod",
           "diff", "ediff1d", "gradient", "trapezoid"]

_isnan, _not_equal = UFUNCS["isnan"], UFUNCS["not_equal"]


def _check_out(name: str, out: Any) -> None:
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to jnp.{name} is not supported")


def _cumulative(name: str, combine: Callable[..., Any], a: Any, axis: int | None,
                dtype: Any, out: Any, nan_fill: Any = None,
                promote_integers: bool = False) -> Any:
    """The cumulative reduction ``combine`` (``lax.cumsum`` or ``lax.cumprod``) of ``a``
    (flattened if ``axis`` is None), in JAX's
    dtypes: bools (and narrow ints if ``promote_integers``) accumulate in the default int, a
    requested bool dtype counts non-zeros, and the result is never weak."""
    _check_out(name, out)
    x = as_array(a, name)
    # JAX ravels a rank-0 operand too, except a NumPy one: its axis check refuses that.
    if axis is None or (x.ndim == 0 and not isinstance(a, (np.ndarray, np.generic))):
        x = ravel(x)
    axis = canonical_axes(0 if axis is None else operator.index(axis), x.ndim)[0]
    if nan_fill is not None and dtypes.kind(x.dtype) == "f":
        x = where(_isnan(x), nan_fill, x)
    if dtype is None:
        result = _sum_dtype(x.dtype, promote_integers)
        compute = result
    else:
        result = requested_dtype(dtype, name)
        compute = result
        if result == dtypes.bool_:
            if x.dtype != dtypes.bool_:
                x = _not_equal(x, 0)
            compute = dtypes.default_int()
    x = convert(x, compute, False)
    return convert(combine(x, axis), result, False)


def cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative sum of ``a`` along ``axis`` (of the flattened ``a`` if None)."""
    return _cumulative("cumsum", lax.cumsum, a, axis, dtype, out)


def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative product of ``a`` along ``axis`` (of the flattened ``a`` if None)."""
    return _cumulative("cumprod", lax.cumprod, a, axis, dtype, out)


def nancumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """``cumsum`` with NaNs counted as zero."""
    return _cumulative("nancumsum", lax.cumsum, a, axis, dtype, out, nan_fill=0)


def nancumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """``cumprod`` with NaNs counted as one."""
    return _cumulative("nancumprod", lax.cumprod, a, axis, dtype, out, nan_fill=1)


def _array_api_cumulative(name: str, what: str, combine: Callable, initial: int, x: Any,
                          axis: int | None, dtype: Any, include_initial: bool,
                          promote_integers: bool) -> Any:
    x = as_array(x, name)
    if x.ndim == 0:
        raise ValueError(f"The input must be non-scalar to take a cumulative {what}, however a "
                         "scalar value or scalar array was given.")
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"The input array has rank {x.ndim}, however axis was not set to "
                             "an explicit value. The axis argument is only optional for "
                             "one-dimensional arrays.")
        axis = 0
    axis = canonical_axes(operator.index(axis), x.ndim)[0]
    out = _cumulative(name, combine, x, axis, dtype, None, promote_integers=promote_integers)
    if include_initial:
        shape = list(x.shape)
        shape[axis] = 1
        out = lax.concatenate([lax.full(tuple(shape), initial, out.dtype), out], axis)
    return out


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    """The array API's cumulative sum: ``axis`` is required above one dimension, narrow
    integers accumulate in the default int, and ``include_initial`` prepends the zero."""
    return _array_api_cumulative("cumulative_sum", "sum", lax.cumsum, 0, x, axis, dtype,
                                 include_initial, promote_integers=True)


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    """The array API's cumulative product (``include_initial`` prepends the one)."""
    return _array_api_cumulative("cumulative_prod", "product", lax.cumprod, 1, x, axis, dtype,
                                 include_initial, promote_integers=False)


# ---------------------------------------------------------------------------------------------
# Differences


def _concrete_index(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be a concrete integer, got {value!r}") from None


def _edge(value: Any, like: Any, axis: int) -> Any:
    """A prepend/append operand: a scalar becomes one slice of ``like`` along ``axis``."""
    v = as_array(value, "diff")
    if v.ndim == 0:
        shape = list(like.shape)
        shape[axis] = 1
        v = broadcast_to(v, tuple(shape))
    return v


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The ``n``-th discrete difference along ``axis`` (bools: ``!=`` of neighbours)."""
    arr = as_array(a, "diff")
    n = _concrete_index(n, "'n' argument of jnp.diff")
    axis = _concrete_index(axis, "'axis' argument of jnp.diff")
    if n == 0:
        return arr
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if arr.ndim == 0:
        raise ValueError(f"diff requires input that is at least one dimensional; got {a}")
    axis = canonical_axes(axis, arr.ndim)[0]
    parts = [arr]
    if prepend is not None:
        parts.insert(0, _edge(prepend, arr, axis))
    if append is not None:
        parts.append(_edge(append, arr, axis))
    if len(parts) > 1:
        arr = concatenate(parts, axis)
    op = UFUNCS["not_equal"] if arr.dtype == dtypes.bool_ else UFUNCS["subtract"]
    for _ in range(n):
        length = arr.shape[axis]
        arr = op(lax.slice_in_dim(arr, min(1, length), length, axis=axis),
                 lax.slice_in_dim(arr, 0, max(length - 1, 0), axis=axis))
    return arr


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """Differences of consecutive elements of the flattened ``ary``, with ``to_begin`` and
    ``to_end`` (flattened, cast to its dtype) around them."""
    arr = ravel(as_array(ary, "ediff1d"))
    n = arr.shape[0]
    result = lax.sub(lax.slice_in_dim(arr, min(1, n), n), lax.slice_in_dim(arr, 0, max(n - 1, 0)))
    if to_begin is not None:
        begin = convert(ravel(as_array(to_begin, "ediff1d")), arr.dtype, arr.weak_type)
        result = concatenate((begin, result))
    if to_end is not None:
        end = convert(ravel(as_array(to_end, "ediff1d")), arr.dtype, arr.weak_type)
        result = concatenate((result, end))
    return result


def _gradient_along(a: Any, h: Any, axis: int) -> Any:
    """Central differences inside, one-sided ones at the two edges (NumPy's edge_order=1)."""
    f = UFUNCS

    def part(x: Any, start: int | None, stop: int | None) -> Any:
        return lax.slice_in_dim(x, start, stop, axis=axis)

    upper = f["subtract"](part(a, 1, 2), part(a, 0, 1))
    lower = f["subtract"](part(a, -1, None), part(a, -2, -1))
    if np.ndim(h) == 0:
        inner = f["divide"](f["multiply"](f["subtract"](part(a, 2, None), part(a, None, -2)),
                                          0.5), h)
        upper, lower = f["divide"](upper, h), f["divide"](lower, h)
    elif np.ndim(h) == 1:
        if h.shape[0] != a.shape[axis]:
            raise ValueError("Spacing arrays must have the same length as the dimension along "
                             "which the gradient is calculated.")
        shape = [1] * a.ndim
        shape[axis] = h.shape[0]
        h = lax.reshape(h, tuple(shape))
        upper = f["divide"](upper, f["subtract"](part(h, 1, 2), part(h, 0, 1)))
        lower = f["divide"](lower, f["subtract"](part(h, -1, None), part(h, -2, -1)))
        dx1 = f["subtract"](part(h, 1, -1), part(h, 0, -2))
        dx2 = f["subtract"](part(h, 2, None), part(h, 1, -1))
        total = f["add"](dx1, dx2)
        wa = f["divide"](f["negative"](dx2), f["multiply"](dx1, total))
        wb = f["divide"](f["subtract"](dx2, dx1), f["multiply"](dx1, dx2))
        wc = f["divide"](dx1, f["multiply"](dx2, total))
        inner = f["add"](f["add"](f["multiply"](wa, part(a, 0, -2)),
                                  f["multiply"](wb, part(a, 1, -1))),
                         f["multiply"](wc, part(a, 2, None)))
    else:
        raise ValueError("Spacing arrays must be 1D arrays or scalars.")
    return concatenate((upper, inner, lower), axis=axis)


def gradient(f: Any, *varargs: Any, axis: int | Sequence[int] | None = None,
             edge_order: int | None = None) -> Any:
    """The numerical gradient of ``f`` along each axis (one array, or a list of them)."""
    if edge_order is not None:
        raise NotImplementedError("The 'edge_order' argument to jnp.gradient is not supported.")
    a, *spacing = promote_dtypes("gradient", [f, *varargs], "inexact")
    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        given = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        axes = tuple(canonical_axes(operator.index(i), a.ndim)[0] for i in given)
    if not axes:
        return []
    if min(a.shape[i] for i in axes) < 2:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least "
                         "2 elements are required.")
    if not spacing:
        steps: list[Any] = [1.0] * len(axes)
    elif len(spacing) == 1:
        steps = spacing * len(axes)
    elif len(spacing) == len(axes):
        steps = list(spacing)
    else:
        raise TypeError(f"Invalid number of spacing arguments {len(spacing)} for axis={axis}")
    grads = [_gradient_along(a, h, ax) for ax, h in zip(axes, steps)]
    return grads[0] if len(axes) == 1 else grads


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """Integral of ``y`` along ``axis`` by the trapezoidal rule (samples at ``x``, or ``dx``
    apart)."""
    f = UFUNCS
    if x is None:
        (y_arr,) = promote_dtypes("trapezoid", [y], "inexact")
        step = as_array(dx, "trapezoid")
        if step.ndim > 0:
            step = lax.expand_dims(step, tuple(range(y_arr.ndim - step.ndim)))
            step = moveaxis(step, axis, -1)
    else:
        y_arr, x_arr = promote_dtypes("trapezoid", [as_array(y, "trapezoid"),
                                                    as_array(x, "trapezoid", 1)], "inexact")
        step = diff(x_arr) if x_arr.ndim == 1 else moveaxis(diff(x_arr, axis=axis), axis, -1)
    y_arr = moveaxis(y_arr, axis, -1)
    first = lax.index_in_dim(y_arr, 0, -1, keepdims=False)
    last = lax.index_in_dim(y_arr, -1, -1, keepdims=False)
    if step.ndim == 0 or step.shape[-1] == 1:
        # A constant step: sum once and correct the two end points.
        h = step if step.ndim == 0 else lax.index_in_dim(step, 0, -1, keepdims=False)
        total = y_arr.sum(-1)
        return f["multiply"](h, f["subtract"](total, f["multiply"](0.5, f["add"](first, last))))
    n = y_arr.shape[-1]
    pairs = f["add"](lax.slice_in_dim(y_arr, 1, n, axis=-1),
                     lax.slice_in_dim(y_arr, 0, n - 1, axis=-1))
    return f["multiply"](0.5, f["multiply"](step, pairs).sum(-1))
