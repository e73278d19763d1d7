"""Array creation in ``llax.numpy``: array/asarray, zeros/ones/full/empty, arange, linspace, eye.

Dtypes follow JAX: 32-bit defaults unless x64 is on; a Python scalar given to
``array``/``asarray`` (or as ``full``'s fill value) stays weakly typed; a list
never is.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import Array, Tracer
from llax.frontend.jnp._coerce import (
    PY_SCALARS,
    as_array,
    as_operand,
    broadcast_to_shape,
    convert,
    from_numpy,
    promote_dtypes,
    scalar_constant,
)
from llax.frontend.jnp._dtypes import maybe_requested_dtype, requested_dtype, to_inexact
from llax.frontend.jnp._manipulation import as_shape, broadcast_to, reshape, stack
from llax.ir import dtypes
from llax.ir.promotion import dtype_of_value, result_type

Shape = int | Sequence[int]


# ---------------------------------------------------------------------------------------------
# array / asarray


def _numpy_leaf_type(x: np.ndarray | np.generic) -> tuple[np.dtype, bool]:
    if x.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"Value {x!r} with dtype {x.dtype} is not a valid JAX array type. Only "
                        "arrays of numeric types are supported by llax.")
    return dtypes.canonicalize(x.dtype), False


def _collect_leaves(obj: Sequence[Any], py_types: set, typed: list, traced: list) -> None:
    """Walk nested lists/tuples: Python scalar types, typed leaves, and traced leaves."""
    for item in obj:
        t = type(item)
        if t is list or t is tuple:
            _collect_leaves(item, py_types, typed, traced)
        elif t in PY_SCALARS:
            py_types.add(t)
        elif isinstance(item, Tracer):
            traced.append(item)
        elif isinstance(item, Array):
            typed.append((item.dtype, item.weak_type))
        elif isinstance(item, (np.ndarray, np.generic)):
            typed.append(_numpy_leaf_type(item))
        elif isinstance(item, (int, float, complex)):
            typed.append(dtype_of_value(item))
        else:
            raise TypeError(f"Value {item!r} of type {t.__name__} is not a valid JAX array "
                            "type. Only arrays of numeric types are supported by llax.")


_PY_TYPE_NODES = {bool: (dtypes.bool_, False), int: (dtypes.int64, True),
                  float: (dtypes.float64, True), complex: (dtypes.complex128, True)}


def _from_sequence(obj: Sequence[Any], dt: np.dtype | None) -> Any:
    py_types: set = set()
    typed: list = []
    traced: list = []
    _collect_leaves(obj, py_types, typed, traced)
    if traced:
        # Traced elements: build the array with ops, one stack per nesting level.
        items = [_to_array(x, None) for x in obj]
        if not items:
            raise ValueError("jnp.array: cannot build an array from an empty sequence")
        out = stack(promote_dtypes("array", items))
        return out if dt is None else convert(out, dt)
    if dt is None:
        nodes = typed + [_PY_TYPE_NODES[t] for t in py_types]
        # A list is never weak; an empty one is float, as in NumPy.
        dt = result_type(*nodes)[0] if nodes else dtypes.default_float()
    try:
        value = np.array(obj, dtype=dt)
    except OverflowError as e:
        raise OverflowError(f"jnp.array: {e}") from None
    return Array(value)


def _numpy_cast(value: Any, dt: np.dtype) -> Array:
    # Host data is cast on the host, by NumPy's rules (NaN to int gives INT_MIN), as in JAX.
    with np.errstate(all="ignore"):
        return Array(np.array(np.asarray(value).astype(dt), dtype=dt))


def _to_array(obj: Any, dt: np.dtype | None) -> Any:
    if isinstance(obj, (Array, Tracer)):
        return obj if dt is None else convert(obj, dt)
    if obj is None:
        raise ValueError("None is not a valid value for jnp.array")
    if isinstance(obj, (list, tuple)):
        return _from_sequence(obj, dt)
    if isinstance(obj, (np.ndarray, np.generic)):
        _numpy_leaf_type(obj)
        return from_numpy(obj, "array") if dt is None else _numpy_cast(obj, dt)
    if isinstance(obj, (bool, int, float, complex)):
        return as_array(obj, "array") if dt is None else _numpy_cast(obj, dt)
    if hasattr(obj, "__array__"):
        return _to_array(np.asarray(obj), dt)
    raise TypeError(f"Value {obj!r} of type {type(obj).__name__} is not a valid JAX array type. "
                    "Only arrays of numeric types are supported by llax.")


def array(object: Any, dtype: Any = None, copy: bool = True, order: str | None = "K",
          ndmin: int = 0) -> Any:
    """An Array from an array, a NumPy value, a (nested) list, or a Python scalar."""
    out = _to_array(object, maybe_requested_dtype(dtype, "array"))
    if ndmin > out.ndim:
        out = reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


def asarray(a: Any, dtype: Any = None, order: str | None = None, *,
            copy: bool | None = None) -> Any:
    """Like ``array``, but an Array of the right dtype is returned as is."""
    return _to_array(a, maybe_requested_dtype(dtype, "asarray"))


def copy(a: Any, order: str | None = None) -> Any:
    return asarray(a)


# ---------------------------------------------------------------------------------------------
# Filled arrays


def _check_shape(shape: Shape, where: str) -> tuple[int, ...]:
    out = as_shape(shape, where)
    if any(d < 0 for d in out):
        raise ValueError(f"{where}: negative dimensions are not allowed, got shape {out}")
    return out


def full(shape: Shape, fill_value: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with ``fill_value`` (broadcast if it is an array)."""
    shape = _check_shape(shape, "full")
    dt = maybe_requested_dtype(dtype, "full")
    value = as_operand(fill_value, "full", 1)
    if type(value) in PY_SCALARS or value.ndim == 0:
        return lax.full(shape, value, dt)
    return broadcast_to(value if dt is None else convert(value, dt), shape)


def zeros(shape: Shape, dtype: Any = None) -> Any:
    return full(shape, 0, dtype or dtypes.default_float())


def ones(shape: Shape, dtype: Any = None) -> Any:
    return full(shape, 1, dtype or dtypes.default_float())


def empty(shape: Shape, dtype: Any = None) -> Any:
    return zeros(shape, dtype)


def _filled_like(name: str, a: Any, fill_value: Any, dtype: Any, shape: Shape | None) -> Any:
    x = as_array(a, name)
    out_shape = x.shape if shape is None else _check_shape(shape, name)
    value = as_operand(fill_value, name, 1)
    if type(value) in PY_SCALARS or value.ndim == 0:
        return lax.full_like(x, value, dtype, out_shape)
    dt = x.dtype if dtype is None else requested_dtype(dtype, name)
    return broadcast_to(convert(value, dt), out_shape)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Shape | None = None) -> Any:
    """``full`` with ``a``'s shape and dtype (and weak type, unless ``dtype`` is given)."""
    return _filled_like("full_like", a, fill_value, dtype, shape)


def zeros_like(a: Any, dtype: Any = None, shape: Shape | None = None) -> Any:
    return _filled_like("zeros_like", a, 0, dtype, shape)


def ones_like(a: Any, dtype: Any = None, shape: Shape | None = None) -> Any:
    return _filled_like("ones_like", a, 1, dtype, shape)


def empty_like(prototype: Any, dtype: Any = None, shape: Shape | None = None) -> Any:
    return _filled_like("empty_like", prototype, 0, dtype, shape)


# ---------------------------------------------------------------------------------------------
# Ranges


def _concrete_scalar(x: Any, name: str) -> Any:
    """A Python number from a concrete scalar argument (tracers without a value raise)."""
    if isinstance(x, (Array, Tracer)):
        if x.ndim:
            raise TypeError(f"{name} must be a scalar, got an array of shape {x.shape}")
        return x.item()
    return x


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Any:
    """Evenly spaced values in ``[start, stop)``; the bounds must be concrete."""
    args = [a for a in (start, stop, step) if a is not None]
    for i, a in enumerate(args):
        as_operand(a, "arange", i)
    if dtype is not None:
        dt = requested_dtype(dtype, "arange")
    else:
        dt = result_type(*(_arange_type(a) for a in args))[0]
    start, stop, step = (_concrete_scalar(a, "arange") if a is not None else None
                         for a in (start, stop, step))
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if step == 0:
        raise ZeroDivisionError("arange: step must not be zero")
    if dtypes.kind(dt) in "iu" and start == 0 and step == 1 and isinstance(stop, (int, np.integer)):
        return lax.iota(dt, max(int(stop), 0))
    return Array(np.arange(start, stop, step, dtype=dt))


def _arange_type(x: Any) -> tuple[np.dtype, bool]:
    if isinstance(x, (Array, Tracer)):
        return x.dtype, x.weak_type
    return dtype_of_value(x)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0, *,
             device: Any = None) -> Any:
    """``num`` evenly spaced samples from ``start`` to ``stop`` (array bounds broadcast).

    Sample ``i`` is ``start * (1 - t) + stop * t`` with ``t = i / div`` (JAX's formula; XLA
    may still contract it into fused multiply-adds, so a value can differ by an ulp), and
    the last one is ``stop`` itself when ``endpoint``."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    lo, hi = (as_array(v, "linspace", i) for i, v in enumerate((start, stop)))
    requested = maybe_requested_dtype(dtype, "linspace")
    common = result_type((lo.dtype, lo.weak_type), (hi.dtype, hi.weak_type))[0]
    compute = to_inexact(requested if requested is not None else common, False)[0]
    out_dtype = requested if requested is not None else compute
    lo, hi = convert(lo, compute), convert(hi, compute)
    bshape = np.broadcast_shapes(lo.shape, hi.shape)
    lo, hi = broadcast_to_shape(lo, bshape), broadcast_to_shape(hi, bshape)
    ax = axis % (len(bshape) + 1)
    kept = tuple(i for i in range(len(bshape) + 1) if i != ax)
    div = num - 1 if endpoint else num
    nan = scalar_constant(math.nan, compute, False)
    if num > 1:
        delta = lax.div(lax.sub(hi, lo), scalar_constant(div, compute, False))
        shape = bshape[:ax] + (div,) + bshape[ax:]
        real = dtypes.real_part(compute)
        # i / div as XLA computes it (its simplifier turns the division by a constant into a
        # product with the reciprocal, in eager JAX and under jit alike).
        reciprocal = (np.ones((), real) / np.array(div, real)).item()
        t = lax.mul(lax.broadcasted_iota(real, shape, ax), scalar_constant(reciprocal, real, False))
        t = convert(t, compute)
        lo_b, hi_b = (lax.broadcast_in_dim(v, shape, kept) for v in (lo, hi))
        one = scalar_constant(1, compute, False)
        out = lax.add(lax.mul(lo_b, lax.sub(one, t)), lax.mul(hi_b, t))
        if endpoint:
            last = lax.broadcast_in_dim(hi, bshape[:ax] + (1,) + bshape[ax:], kept)
            out = lax.concatenate([out, last], ax)
    elif num == 1:
        delta = nan if endpoint else lax.sub(hi, lo)
        out = lax.broadcast_in_dim(lo, bshape[:ax] + (1,) + bshape[ax:], kept)
    else:
        delta = nan
        out = lax.full(bshape[:ax] + (0,) + bshape[ax:], 0, compute)
    if dtypes.kind(out_dtype) in "iu":
        out = lax.floor(out)
    out = convert(out, out_dtype)
    return (out, delta) if retstep else out


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """A 2-d array with ones on the ``k``-th diagonal."""
    n = operator.index(N)
    m = n if M is None else operator.index(M)
    if n < 0 or m < 0:
        raise ValueError(f"negative dimensions are not allowed, got N={n}, M={m}")
    dt = maybe_requested_dtype(dtype, "eye") or dtypes.default_float()
    rows = lax.broadcasted_iota(dtypes.default_int(), (n, m), 0)
    cols = lax.broadcasted_iota(dtypes.default_int(), (n, m), 1)
    on_diagonal = lax.eq(lax.add(rows, operator.index(k)), cols)
    return convert(on_diagonal, dt)


def identity(n: int, dtype: Any = None) -> Any:
    return eye(n, dtype=dtype)
