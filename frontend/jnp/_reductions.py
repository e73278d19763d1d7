"""Reductions of ``llax.numpy``: sum, prod, max, min, any, all, mean, var, std, argmax, argmin.

Each reduces over normalised axes with one ``reduce_*`` primitive, after
converting its operand to the dtype JAX computes in: sums and products of bools
and narrow integers widen to the default integer, float16 is summed in float32,
and the result is never weak.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend.core import Array, bind
from llax.frontend.jnp._coerce import (
    as_array,
    broadcast_shapes,
    broadcast_to_shape,
    convert,
    scalar_constant,
)
from llax.frontend.jnp._dtypes import maybe_requested_dtype, to_inexact
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes
from llax.ir import prims as P

# This module defines sum, max, any...: Python's own are reached through ``builtins``.
Axis = int | Sequence[int] | None
_NO_PARAMS: dict = {}


def canonical_axes(axis: Axis, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """Axes as sorted, non-negative ints; ``None`` means every axis."""
    if axis is None:
        return tuple(range(ndim))
    given = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in given:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name} {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


def _keep_dims(result: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Put the reduced axes back as size-1 dimensions (a broadcast_in_dim, as JAX does)."""
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    out_shape = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return bind(P.broadcast_in_dim, (result,),
                {"shape": out_shape, "broadcast_dimensions": kept})


def _check_unsupported(name: str, out: Any) -> None:
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to jnp.{name} is not supported.")


def _masked(x: Any, where: Any, fill: Any, name: str) -> Any:
    """``x`` with ``fill`` wherever the mask ``where`` is False."""
    mask = convert(as_array(where, name, 1), dtypes.bool_)
    shape = broadcast_shapes(name, (x.shape, mask.shape))
    if shape != x.shape:
        raise ValueError(f"{name}: where mask of shape {mask.shape} does not broadcast to the "
                         f"operand shape {x.shape}")
    mask = broadcast_to_shape(mask, shape)
    filler = broadcast_to_shape(Array(np.array(fill, dtype=x.dtype)), shape)
    return bind(P.select_n, (mask, filler, x), _NO_PARAMS)


def _sum_dtype(dt: np.dtype, promote_integers: bool) -> np.dtype:
    if dt == dtypes.bool_:
        return dtypes.default_int()
    if promote_integers and dtypes.kind(dt) == "i" and dt.itemsize < dtypes.default_int().itemsize:
        return dtypes.default_int()
    if promote_integers and dtypes.kind(dt) == "u" and dt.itemsize < dtypes.default_uint().itemsize:
        return dtypes.default_uint()
    return dt


def _compute_dtype(dt: np.dtype) -> np.dtype:
    # float16 and bfloat16 accumulate in float32 (as JAX): summing many halves loses everything
    # otherwise.
    return dtypes.float32 if dt in (dtypes.float16, dtypes.bfloat16) else dt


def _identity_of(prim: P.Primitive, dt: np.dtype) -> Any:
    """The value that does not change a ``prim`` reduction over dtype ``dt``."""
    if prim is P.reduce_sum or prim is P.reduce_or:
        return 0
    if prim is P.reduce_prod or prim is P.reduce_and:
        return 1
    is_max = prim is P.reduce_max
    if dtypes.kind(dt) == "f":
        return -math.inf if is_max else math.inf
    if dt == dtypes.bool_:
        return not is_max
    info = np.iinfo(dt)
    return info.min if is_max else info.max


def _reduce(name: str, prim: P.Primitive, a: Any, axis: Axis, dtype: np.dtype,
            keepdims: bool, initial: Any, where: Any) -> Any:
    """Convert ``a`` to ``dtype`` (strong), reduce with ``prim``, fold in ``initial``."""
    compute = _compute_dtype(dtype)
    x = convert(a, compute, False)
    axes = canonical_axes(axis, x.ndim)
    if where is not None:
        if initial is None and prim in (P.reduce_max, P.reduce_min):
            raise ValueError(f"reduction operation {name} does not have an identity, so "
                             "to use a where mask one has to specify 'initial'")
        x = _masked(x, where, _identity_of(prim, compute), name)
    if initial is None and prim in (P.reduce_max, P.reduce_min) and \
            builtins.any(x.shape[i] == 0 for i in axes):
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
    out = bind(prim, (x,), {"axes": axes})
    if initial is not None:
        init = convert(as_array(initial, name, 1), compute, False)
        combine = {P.reduce_sum: P.add, P.reduce_prod: P.mul, P.reduce_max: P.max,
                   P.reduce_min: P.min, P.reduce_and: P.and_, P.reduce_or: P.or_}[prim]
        out = bind(combine, (out, init), _NO_PARAMS)
    if keepdims:
        out = _keep_dims(out, x.shape, axes)
    return convert(out, dtype, False)


def sum(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False,
        initial: Any = None, where: Any = None, promote_integers: bool = True) -> Any:
    _check_unsupported("sum", out)
    a = as_array(a, "sum")
    dt = maybe_requested_dtype(dtype, "sum") or _sum_dtype(a.dtype, promote_integers)
    return _reduce("sum", P.reduce_sum, a, axis, dt, keepdims, initial, where)


def prod(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False,
         initial: Any = None, where: Any = None, promote_integers: bool = True) -> Any:
    _check_unsupported("prod", out)
    a = as_array(a, "prod")
    dt = maybe_requested_dtype(dtype, "prod") or _sum_dtype(a.dtype, promote_integers)
    return _reduce("prod", P.reduce_prod, a, axis, dt, keepdims, initial, where)


def max(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,
        initial: Any = None, where: Any = None) -> Any:
    _check_unsupported("max", out)
    a = as_array(a, "max")
    if a.dtype.kind == "c":
        return _complex_extremum("max", P.reduce_max, a, axis, keepdims, initial, where)
    return _reduce("max", P.reduce_max, a, axis, a.dtype, keepdims, initial, where)


def min(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,
        initial: Any = None, where: Any = None) -> Any:
    _check_unsupported("min", out)
    a = as_array(a, "min")
    if a.dtype.kind == "c":
        return _complex_extremum("min", P.reduce_min, a, axis, keepdims, initial, where)
    return _reduce("min", P.reduce_min, a, axis, a.dtype, keepdims, initial, where)


def _complex_extremum(name: str, prim: P.Primitive, a: Any, axis: Axis, keepdims: bool,
                      initial: Any, where: Any) -> Any:
    """Complex numbers ordered lexicographically (real part, then imaginary), as JAX
    orders them: the extreme real part, then the extreme imaginary part among the
    elements that have it."""
    from llax.frontend import lax

    if initial is not None or where is not None:
        raise NotImplementedError(f"{name} of complex numbers with initial= or where=")
    re, im = lax.real(a), lax.imag(a)
    best_re = _reduce(name, prim, re, axis, re.dtype, True, None, None)
    worst = np.asarray(-np.inf if prim is P.reduce_max else np.inf, re.dtype)
    import llax.frontend.jnp as jnp
    candidates = jnp.where(re == best_re, im, worst)
    best_im = _reduce(name, prim, candidates, axis, im.dtype, keepdims, None, None)
    best_re = _reduce(name, prim, re, axis, re.dtype, keepdims, None, None)
    return convert(lax.complex(best_re, best_im), a.dtype, False)


amax, amin = max, min


def all(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, *,
        where: Any = None) -> Any:
    _check_unsupported("all", out)
    a = as_array(a, "all")
    return _reduce("all", P.reduce_and, a, axis, dtypes.bool_, keepdims, None, where)


def any(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, *,
        where: Any = None) -> Any:
    _check_unsupported("any", out)
    a = as_array(a, "any")
    return _reduce("any", P.reduce_or, a, axis, dtypes.bool_, keepdims, None, where)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod(shape[i] for i in axes)


def _mean_dtypes(a: Any, dtype: Any, name: str) -> tuple[np.dtype, np.dtype]:
    """(result dtype, dtype the sum is computed in)."""
    requested = maybe_requested_dtype(dtype, name)
    result = requested if requested is not None else to_inexact(a.dtype, False)[0]
    compute = result if dtypes.kind(result) == "f" else to_inexact(result, False)[0]
    return result, _compute_dtype(compute)


def mean(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, *, where: Any = None) -> Any:
    _check_unsupported("mean", out)
    a = as_array(a, "mean")
    result, compute = _mean_dtypes(a, dtype, "mean")
    axes = canonical_axes(axis, a.ndim)
    total = _reduce("mean", P.reduce_sum, a, axes, compute, keepdims, None, where)
    if where is None:
        count: Any = scalar_constant(float(_count(a.shape, axes)), compute, False)
    else:
        count = sum(broadcast_to_shape(convert(as_array(where, "mean", 1), dtypes.bool_),
                                       a.shape), axis=axes, dtype=compute, keepdims=keepdims)
    return convert(bind(P.div, (total, count), _NO_PARAMS), result, False)


def var(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, correction: int | float | None = None
        ) -> Any:
    _check_unsupported("var", out)
    if where is not None:
        raise NotImplementedError("jnp.var: the 'where' argument is not supported by llax")
    if correction is not None:
        if ddof:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    a = as_array(a, "var")
    result, compute = _mean_dtypes(a, dtype, "var")
    axes = canonical_axes(axis, a.ndim)
    x = convert(a, compute, False)
    n = _count(a.shape, axes)
    mean_kept = bind(P.div, (_reduce("var", P.reduce_sum, x, axes, compute, True, None, None),
                             scalar_constant(float(n), compute, False)), _NO_PARAMS)
    centered = UFUNCS["subtract"](x, mean_kept)
    if dtypes.is_complex(compute):  # |x - mean|^2: the variance of complex values is real
        compute, result = dtypes.real_part(compute), dtypes.real_part(result)
        re, im = UFUNCS["real"](centered), UFUNCS["imag"](centered)
        squared = bind(P.add, (bind(P.square, (re,), _NO_PARAMS),
                               bind(P.square, (im,), _NO_PARAMS)), _NO_PARAMS)
    else:
        squared = bind(P.square, (centered,), _NO_PARAMS)
    total = _reduce("var", P.reduce_sum, squared, axes, compute, keepdims, None, None)
    normalizer = n - ddof
    if normalizer > 0:
        out = bind(P.div, (total, scalar_constant(float(normalizer), compute, False)),
                   _NO_PARAMS)
    else:  # as in NumPy and JAX: no degrees of freedom left gives NaN
        out = bind(P.mul, (total, scalar_constant(math.nan, compute, False)), _NO_PARAMS)
    return convert(out, result, False)


def std(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, correction: int | float | None = None
        ) -> Any:
    _check_unsupported("std", out)
    v = var(a, axis, dtype, None, ddof, keepdims, where=where, correction=correction)
    return bind(P.sqrt, (v,), _NO_PARAMS)


def _arg_reduce(name: str, prim: P.Primitive, a: Any, axis: int | None, keepdims: bool) -> Any:
    a = as_array(a, name)
    if a.weak_type:
        a = convert(a, a.dtype, False)
    if axis is None:
        flat = bind(P.reshape, (a,), {"new_sizes": (a.size,), "dimensions": None}) \
            if a.ndim != 1 else a
        out = _arg_reduce_1(name, prim, flat, 0)
        if keepdims:
            out = bind(P.broadcast_in_dim, (out,), {"shape": (1,) * a.ndim,
                                                   "broadcast_dimensions": ()})
        return out
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"{name}: axis must be an integer, got {axis!r}")
    (ax,) = canonical_axes(axis, a.ndim)
    out = _arg_reduce_1(name, prim, a, ax)
    return _keep_dims(out, a.shape, (ax,)) if keepdims else out


def _arg_reduce_1(name: str, prim: P.Primitive, a: Any, axis: int) -> Any:
    if a.shape[axis] == 0:
        raise ValueError(f"attempt to get {name} of an empty sequence")
    return bind(prim, (a,), {"axes": (axis,), "index_dtype": dtypes.default_int()})


def argmax(a: Any, axis: int | None = None, out: None = None, keepdims: bool = False) -> Any:
    """Index of the first maximum (a NaN counts as the maximum)."""
    _check_unsupported("argmax", out)
    return _arg_reduce("argmax", P.argmax, a, axis, keepdims)


def argmin(a: Any, axis: int | None = None, out: None = None, keepdims: bool = False) -> Any:
    """Index of the first minimum (a NaN counts as the minimum)."""
    _check_unsupported("argmin", out)
    return _arg_reduce("argmin", P.argmin, a, axis, keepdims)
