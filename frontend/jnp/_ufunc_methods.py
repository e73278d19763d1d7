"""The specialised methods of ``llax.numpy``'s ufuncs, where a dedicated operation does what
the general ``fori_loop``/``scan`` of ``jnp.ufunc`` would, faster and with the same result:
``add.reduce`` is ``sum``, ``add.accumulate`` is ``cumsum``, ``add.at`` a scatter-add,
``bitwise_or.reduce`` one ``reduce_or``, ``maximum.accumulate`` an associative scan...

JAX defines the same set (its reductions take the same dtypes and raise the same errors);
the accumulations and ``at`` of the exact operations (max, min, bitwise and logical ops),
which JAX leaves to its sequential scan, are parallel here: their results cannot depend on
the order of evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.control_flow import associative_scan
from llax.frontend.core import bind
from llax.frontend.jnp import _reductions as R
from llax.frontend.jnp._coerce import as_array, convert
from llax.frontend.jnp._cumulative import cumprod, cumsum
from llax.frontend.jnp._dtypes import requested_dtype
from llax.frontend.jnp._manipulation import expand_dims
from llax.frontend.jnp._select import where as _where
from llax.frontend.jnp._ufunc_class import ufunc
from llax.frontend.jnp._ufuncs import UFUNCS
from llax.ir import dtypes
from llax.ir import prims as P

__all__ = ["attach_builtin_methods", "logaddexp2_ufunc"]

_NO_PARAMS: dict = {}
Reduction = Callable[..., Any]


# ---------------------------------------------------------------------------------------------
# reduce


def _require_integer(x: Any, name: str) -> Any:
    if x.dtype != dtypes.bool_ and x.dtype.kind not in "iu":
        raise ValueError(f"integer argument required; got dtype={x.dtype}")
    return x


def _to_bool(x: Any, name: str) -> Any:
    if x.dtype.kind == "c":
        x = UFUNCS["real"](x)
    return convert(x, dtypes.bool_, False)


def _bitwise_reduction(name: str, prim: P.Primitive, combine: str, fill: int,
                       prepare: Callable[[Any, str], Any]) -> Reduction:
    """A reduction by ``prim`` (reduce_and/or/xor) in JAX's form: ``fill`` (read in the
    reduced dtype) where ``where`` is False, ``initial`` folded in by ``combine``."""

    def reduce(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
               keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
        R._check_unsupported(name, out)
        x = prepare(as_array(a, name), name)
        axes = R.canonical_axes(axis, x.ndim)
        result = x.dtype if dtype is None else requested_dtype(dtype, name)
        x = convert(x, result, False)
        if where is not None:
            filler = np.array(fill).astype(result)  # -1 is all bits set, True for bools
            x = R._masked(x, where, filler, name)
        out_ = bind(prim, (x,), {"axes": axes})
        if initial is not None:
            init = convert(as_array(initial, name, 1), result, False)
            if init.shape != ():
                raise ValueError(f"initial value must be a scalar. Got array of shape "
                                 f"{init.shape}")
            out_ = UFUNCS[combine](init, out_)
        if keepdims:
            out_ = expand_dims(out_, axes)
        return convert(out_, result, False)

    return reduce


def _extremum(reduction: Reduction) -> Reduction:
    """max/min with the ``dtype`` argument of ``maximum.reduce``/``minimum.reduce``: the
    operand is converted first."""

    def reduce(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
               keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
        if dtype is not None:
            a = convert(as_array(a, reduction.__name__), requested_dtype(dtype, "reduce"))
        return reduction(a, axis=axis, out=out, keepdims=keepdims, initial=initial,
                         where=where)

    return reduce


def _logsumexp(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
               keepdims: bool = False, initial: Any = None, where: Any = None,
               scale: float = 1.0) -> Any:
    """``logaddexp.reduce``: log(sum(exp(a))) shifted by the (finite) maximum so that
    nothing overflows; ``scale`` is ln 2 for ``logaddexp2``. (As in JAX, a requested
    ``dtype`` is checked but does not change the result.)"""
    R._check_unsupported("logaddexp.reduce", out)
    if dtype is not None:
        requested_dtype(dtype, "jnp.logaddexp.reduce")
    x = as_array(a, "logsumexp")
    (x,) = _inexact(x)
    if scale != 1.0:
        x = x * scale
    axes = R.canonical_axes(axis, x.ndim)
    top = R.max(UFUNCS["real"](x), axis=axes, keepdims=keepdims, where=where,
                initial=-math.inf)
    top = lax.stop_gradient(_where(UFUNCS["isfinite"](top), top, 0))
    shift = top if keepdims else expand_dims(top, axes)
    total = R.sum(UFUNCS["exp"](x - convert(shift, x.dtype)), axis=axes, keepdims=keepdims,
                  where=where)
    result = UFUNCS["log"](total) + convert(top, total.dtype)
    if initial is not None:
        result = UFUNCS["logaddexp"](initial * scale if scale != 1.0 else initial, result)
    return result / scale if scale != 1.0 else result


def _inexact(x: Any) -> tuple[Any]:
    from llax.frontend.jnp._coerce import promote_dtypes

    return tuple(promote_dtypes("logsumexp", [x], "inexact"))


def _logsumexp2(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
                keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    return _logsumexp(a, axis, dtype, out, keepdims, initial, where, scale=math.log(2))


# ---------------------------------------------------------------------------------------------
# accumulate


def _parallel_accumulate(fn: ufunc) -> Callable[..., Any]:
    """``fn.accumulate`` as an associative scan, for the operations whose result does not
    depend on how they are grouped (max, min, bitwise and logical ops)."""

    def accumulate(a: Any, axis: Any = 0, dtype: Any = None) -> Any:
        name = f"{fn.__name__}.accumulate"
        x = as_array(a, name)
        result = fn._result_dtype(x, x) if dtype is None else requested_dtype(dtype, name)
        if axis is None or isinstance(axis, tuple):
            raise ValueError("accumulate does not allow multiple axes")
        (axis,) = R.canonical_axes(axis, x.ndim)
        x = convert(x, result, False)
        if x.size == 0:
            return x
        return associative_scan(fn, x, axis=axis)

    return accumulate


# ---------------------------------------------------------------------------------------------
# at


def _scatter_at(method: str, bool_through_int: bool = False) -> Callable[..., Any]:
    """``ufunc.at`` as one scatter (``x.at[idx].add(b)``...). Bools are updated as ints
    (``add.at`` on bools is a logical or, as JAX computes it)."""

    def at(a: Any, indices: Any, b: Any) -> Any:
        x = as_array(a, "at")
        if bool_through_int and x.dtype == dtypes.bool_:
            ints = convert(x, dtypes.int32)
            values = convert(convert(as_array(b, "at", 1), dtypes.bool_), dtypes.int32)
            return convert(getattr(ints.at[indices], method)(values), dtypes.bool_)
        return getattr(x.at[indices], method)(b)

    return at


def _extremum_at(fn: ufunc, method: str) -> Callable[..., Any]:
    """``maximum.at``/``minimum.at``: operands in the function's result dtype (as JAX's
    general ``at``), then one scatter-max/min (the order of repeats does not matter)."""

    def at(a: Any, indices: Any, *args: Any) -> Any:
        if len(args) != 1:
            return fn._at_by_scan(a, indices, *args)
        dtype = fn._result_dtype(a, args[0])
        x = convert(as_array(a, "at"), dtype, False)
        values = convert(as_array(args[0], "at", 1), dtype, False)
        return getattr(x.at[indices], method)(values)

    return at


# ---------------------------------------------------------------------------------------------


def _methods() -> dict[str, dict[str, Any]]:
    u = UFUNCS
    bitwise = {"bitwise_and": (P.reduce_and, -1), "bitwise_or": (P.reduce_or, 0),
               "bitwise_xor": (P.reduce_xor, 0)}
    logical = {"logical_and": (P.reduce_and, 1), "logical_or": (P.reduce_or, 0),
               "logical_xor": (P.reduce_xor, 0)}
    table: dict[str, dict[str, Any]] = {
        "add": {"reduce": R.sum, "accumulate": cumsum, "at": _scatter_at("add", True)},
        "multiply": {"reduce": R.prod, "accumulate": cumprod,
                     "at": _scatter_at("multiply", True)},
        "subtract": {"at": _scatter_at("subtract")},
        "maximum": {"reduce": _extremum(R.max), "accumulate": _parallel_accumulate(u["maximum"]),
                    "at": _extremum_at(u["maximum"], "max")},
        "minimum": {"reduce": _extremum(R.min), "accumulate": _parallel_accumulate(u["minimum"]),
                    "at": _extremum_at(u["minimum"], "min")},
        "logaddexp": {"reduce": _logsumexp},
    }
    for name, (prim, fill) in bitwise.items():
        table[name] = {"reduce": _bitwise_reduction(f"reduce_{name}", prim, name, fill,
                                                    _require_integer),
                       "accumulate": _parallel_accumulate(u[name])}
    for name, (prim, fill) in logical.items():
        combine = name.replace("logical", "bitwise")
        table[name] = {"reduce": _bitwise_reduction(f"reduce_{name}", prim, combine, fill,
                                                    _to_bool),
                       "accumulate": _parallel_accumulate(u[name])}
    return table


def attach_builtin_methods() -> None:
    """Give the ufuncs of ``llax.numpy`` their specialised methods (run once, when the
    namespace is assembled: the methods use modules built after the ufuncs)."""
    for name, methods in _methods().items():
        UFUNCS[name]._ufunc_props.update(methods)


def logaddexp2_ufunc(func: Callable[..., Any]) -> ufunc:
    """``logaddexp2`` as JAX has it: a ufunc with identity -inf whose ``reduce`` is a
    base-2 log-sum-exp. (``func`` is the elementwise function.)"""
    return ufunc(func, 2, 1, name="logaddexp2", identity=-math.inf, call=func,
                 reduce=_logsumexp2)
