"""``jnp.ufunc``: a function applied elementwise, with NumPy's ufunc methods (``reduce``,
``accumulate``, ``at``, ``reduceat``, ``outer``) as JAX defines them.

A ufunc built from a plain scalar function (``jnp.ufunc(f, 2, 1)``, ``jnp.frompyfunc``)
gets the general methods below: a call is ``vectorize(f)``, a reduction is a ``fori_loop``
of ``f``, an accumulation a sequential ``scan``, so results round as JAX's do. The
ufuncs of ``llax.numpy`` (``add``, ``maximum``, ...) are instances too, with a fast call
and, where one exists, a dedicated method (``add.reduce`` is ``sum``), see
``_ufunc_methods``.

This module is imported before the rest of ``llax.numpy`` is built, so it reaches that
namespace only when a method runs.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import llax.frontend.jnp as jnp
from llax.frontend.jnp._coerce import as_operand

__all__ = ["ufunc"]

_AT_INPLACE_MESSAGE = (
    "llax arrays are immutable, so jnp.ufunc.at() cannot update its operand in place as "
    "np.ufunc.at() does. Pass inplace=False and use the returned array instead, e.g. "
    "x = jnp.add.at(x, idx, 1, inplace=False).")

_METHOD_NAMES = ("call", "reduce", "accumulate", "at", "reduceat")


def _check_arraylike(name: str, *args: Any) -> None:
    for position, arg in enumerate(args):
        as_operand(arg, name, position)


def _canonical_axis(axis: Any, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


class ufunc:  # noqa: N801 - NumPy's and JAX's name
    """A universal function: ``func`` applied elementwise to broadcast operands, with the
    methods NumPy's ufuncs have (in JAX's out-of-place form).

    ``call``, ``reduce``, ``accumulate``, ``at`` and ``reduceat`` optionally replace the
    general implementation of that method (a faster equivalent)."""

    def __init__(self, func: Callable[..., Any], /, nin: int, nout: int, *,
                 name: str | None = None, nargs: int | None = None, identity: Any = None,
                 call: Callable[..., Any] | None = None,
                 reduce: Callable[..., Any] | None = None,
                 accumulate: Callable[..., Any] | None = None,
                 at: Callable[..., Any] | None = None,
                 reduceat: Callable[..., Any] | None = None) -> None:
        self.__doc__ = func.__doc__
        self.__name__ = name or func.__name__
        self._set_ufunc_props(func, nin, nout, nargs, identity, call=call, reduce=reduce,
                              accumulate=accumulate, at=at, reduceat=reduceat)

    def _set_ufunc_props(self, func: Callable[..., Any], nin: int, nout: int,
                         nargs: int | None, identity: Any, **methods: Any) -> None:
        # Kept in one private dict behind read-only properties, so a ufunc used as a static
        # argument cannot change under a cached compilation.
        self._ufunc_props = {
            "func": func, "nin": operator.index(nin), "nout": operator.index(nout),
            "nargs": operator.index(nargs or nin), "identity": identity,
            **{m: methods.get(m) for m in _METHOD_NAMES},
        }

    _func = property(lambda self: self._ufunc_props["func"])
    nin = property(lambda self: self._ufunc_props["nin"])
    nout = property(lambda self: self._ufunc_props["nout"])
    nargs = property(lambda self: self._ufunc_props["nargs"])
    identity = property(lambda self: self._ufunc_props["identity"])

    def _identity_key(self) -> tuple:
        # The replacement methods are implementation details, not part of the identity.
        return (self._func, self.__name__, self.identity, self.nin, self.nout, self.nargs)

    def __hash__(self) -> int:
        return hash(self._identity_key())

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ufunc) and self._identity_key() == other._identity_key()

    def __repr__(self) -> str:
        return f"<jnp.ufunc '{self.__name__}'>"

    # -----------------------------------------------------------------------------------------
    # Calling

    def __call__(self, *args: Any, out: None = None, where: None = None) -> Any:
        _check_arraylike(self.__name__, *args)
        check_call_keywords(self, out, where)
        call = self._ufunc_props["call"] or self._call_vectorized
        return call(*args)

    def _call_vectorized(self, *args: Any) -> Any:
        return jnp.vectorize(self._func)(*args)

    def _require_binary(self, method: str) -> None:
        if self.nin != 2:
            raise ValueError(f"{method} only supported for binary ufuncs")
        if self.nout != 1:
            raise ValueError(f"{method} only supported for functions returning a single value")

    def _result_dtype(self, *operands: Any) -> np.dtype:
        """The dtype ``func`` gives for ones of the operands' types (traced, not run)."""
        from llax.frontend.api import eval_shape

        ones = [jnp.ones_like(x, shape=()) for x in operands]
        return np.dtype(eval_shape(self._func, *ones).dtype)

    # -----------------------------------------------------------------------------------------
    # reduce

    def reduce(self, a: Any, axis: int | None = 0, dtype: Any = None, out: None = None,
               keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
        """Fold the binary function over ``axis`` (every axis if None)."""
        _check_arraylike(f"{self.__name__}.reduce", a)
        self._require_binary("reduce")
        if out is not None:
            raise NotImplementedError(f"out argument of {self.__name__}.reduce()")
        if initial is not None:
            _check_arraylike(f"{self.__name__}.reduce", initial)
        if where is not None:
            _check_arraylike(f"{self.__name__}.reduce", where)
            if self.identity is None and initial is None:
                raise ValueError(
                    f"reduction operation {self.__name__!r} does not have an identity, so "
                    "to use a where mask one has to specify 'initial'.")
            where_dtype = jnp.result_type(where)
            if where_dtype != np.bool_:
                raise ValueError(f"where argument must have dtype=bool; got dtype={where_dtype}")
        reduce = self._ufunc_props["reduce"] or self._reduce_by_loop
        return reduce(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
                      where=where)

    def _reduce_by_loop(self, a: Any, axis: Any = 0, dtype: Any = None,
                        keepdims: bool = False, initial: Any = None,
                        where: Any = None) -> Any:
        from llax.frontend.control_flow import fori_loop

        arr = jnp.asarray(a)
        initial = self.identity if initial is None else initial
        dtype = self._result_dtype(arr, arr) if dtype is None else jnp.dtype(dtype)
        if where is not None:
            where = jnp.broadcast_to(where, arr.shape)
        if isinstance(axis, tuple):
            for ax in axis:
                _canonical_axis(ax, arr.ndim)
            raise NotImplementedError("tuple of axes")
        if axis is None:
            final_shape = (1,) * arr.ndim if keepdims else ()
            arr = jnp.ravel(arr)
            where = None if where is None else jnp.ravel(where)
            axis = 0
        else:
            axis = _canonical_axis(axis, arr.ndim)
            final_shape = arr.shape[:axis] + ((1,) if keepdims else ()) + arr.shape[axis + 1:]
        arr = jnp.moveaxis(arr, axis, 0)
        if where is not None:
            where = jnp.moveaxis(where, axis, 0)
        if arr.shape[0] == 0:
            if initial is None:
                raise ValueError(f"zero-size array to reduction operation {self.__name__} "
                                 "which has no identity")
            return jnp.full(final_shape, initial, dtype)

        def step(i: Any, acc: Any) -> Any:
            combined = self(acc, arr[i].astype(dtype))
            return combined if where is None else jnp.where(where[i], combined, acc)

        first, start = (arr[0], 1) if initial is None else (initial, 0)
        acc = jnp.broadcast_to(jnp.asarray(first).astype(dtype), arr.shape[1:])
        return jnp.reshape(fori_loop(start, arr.shape[0], step, acc), final_shape)

    # -----------------------------------------------------------------------------------------
    # accumulate

    def accumulate(self, a: Any, axis: int = 0, dtype: Any = None, out: None = None) -> Any:
        """Running folds of the binary function along ``axis``."""
        self._require_binary("accumulate")
        if out is not None:
            raise NotImplementedError(f"out argument of {self.__name__}.accumulate()")
        accumulate = self._ufunc_props["accumulate"] or self._accumulate_by_scan
        return accumulate(a, axis=axis, dtype=dtype)

    def _accumulate_by_scan(self, a: Any, axis: Any = 0, dtype: Any = None) -> Any:
        from llax.frontend.control_flow import scan

        _check_arraylike(f"{self.__name__}.accumulate", a)
        arr = jnp.asarray(a)
        dtype = self._result_dtype(arr, arr) if dtype is None else jnp.dtype(dtype)
        if axis is None or isinstance(axis, tuple):
            raise ValueError("accumulate does not allow multiple axes")
        axis = _canonical_axis(axis, arr.ndim)
        if arr.size == 0:
            return jnp.zeros(arr.shape, dtype)
        arr = jnp.moveaxis(arr, axis, 0).astype(dtype)

        def step(acc: Any, x: Any) -> tuple[Any, Any]:
            nxt = self(acc, x).astype(dtype)
            return nxt, nxt

        _, rest = scan(step, arr[0], arr[1:])
        return jnp.moveaxis(jnp.concatenate([arr[:1], rest]), 0, axis)

    # -----------------------------------------------------------------------------------------
    # at

    def at(self, a: Any, indices: Any, b: Any = None, /, *, inplace: bool = True) -> Any:
        """``a`` with the function applied at ``indices`` (with ``b`` for binary ufuncs),
        returned as a new array: only ``inplace=False`` is supported. Repeated indices
        apply the function repeatedly, as NumPy's ``ufunc.at`` does."""
        if inplace:
            raise NotImplementedError(_AT_INPLACE_MESSAGE)
        at = self._ufunc_props["at"] or self._at_by_scan
        return at(a, indices) if b is None else at(a, indices, b)

    def _at_by_scan(self, a: Any, indices: Any, *args: Any) -> Any:
        from llax.frontend.control_flow import scan

        _check_arraylike(f"{self.__name__}.at", a, *args)
        dtype = self._result_dtype(a, *args)
        a = jnp.asarray(a).astype(dtype)
        args = tuple(jnp.asarray(arg).astype(dtype) for arg in args)
        indices = _index_tuple(indices)
        if not indices:
            return a
        shapes = [np.shape(i) for i in indices if not isinstance(i, slice)]
        shape = jnp.broadcast_shapes(*shapes) if shapes else ()
        if not shape:  # one place (or a block of slices): no repeats to worry about
            return a.at[indices].set(self(a.at[indices].get(), *args))
        count = math.prod(shape)
        if args:
            value = args[0]
            value = jnp.broadcast_to(value, (*shape, *value.shape[len(shape):]))
            args = (jnp.reshape(value, (count, *value.shape[len(shape):])),)
        flat = [i if isinstance(i, slice) else jnp.ravel(jnp.broadcast_to(i, shape))
                for i in indices]

        def step(carry: Any, i: Any) -> tuple[Any, None]:
            where = tuple(ix if isinstance(ix, slice) else ix[i] for ix in flat)
            updated = self(carry.at[where].get(), *(arg[i] for arg in args))
            return carry.at[where].set(updated), None

        out, _ = scan(step, a, jnp.arange(count))
        return out

    # -----------------------------------------------------------------------------------------
    # reduceat

    def reduceat(self, a: Any, indices: Any, axis: int = 0, dtype: Any = None,
                 out: None = None) -> Any:
        """``reduce`` over the slices ``indices[i]:indices[i+1]`` along ``axis`` (the
        element at ``indices[i]`` alone where the next index is not larger)."""
        self._require_binary("reduceat")
        if out is not None:
            raise NotImplementedError(f"out argument of {self.__name__}.reduceat()")
        reduceat = self._ufunc_props["reduceat"] or self._reduceat_by_loop
        return reduceat(a, indices, axis=axis, dtype=dtype)

    def _reduceat_by_loop(self, a: Any, indices: Any, axis: Any = 0, dtype: Any = None) -> Any:
        from llax.frontend.control_flow import fori_loop

        _check_arraylike(f"{self.__name__}.reduceat", a, indices)
        a = jnp.asarray(a)
        (indices,) = _index_tuple(indices)
        indices = jnp.asarray(indices)
        if a.ndim == 0:
            raise ValueError(f"reduceat: a must have 1 or more dimension, got a.shape={a.shape}")
        if indices.ndim != 1:
            raise ValueError("reduceat: indices must be one-dimensional, got "
                             f"indices.shape={indices.shape}")
        if axis is None or isinstance(axis, (tuple, list)):
            raise ValueError("reduceat requires a single integer axis.")
        axis = _canonical_axis(axis, a.ndim)
        out = jnp.take(a, indices, axis=axis)
        # Segment i runs over (indices[i], next index), its first element already in ``out``;
        # the bounds are laid along ``axis`` to broadcast against ``out``.
        bounds_shape = [1] * a.ndim
        bounds_shape[axis] = indices.shape[0]
        starts = jnp.reshape(indices, bounds_shape)
        ends = jnp.reshape(jnp.append(indices[1:], a.shape[axis]), bounds_shape)

        def step(i: Any, acc: Any) -> Any:
            inside = (i > starts) & (i < ends)
            element = jnp.take(a, jnp.expand_dims(i, 0), axis=axis)
            return jnp.where(inside, self(acc, element), acc)

        return fori_loop(0, a.shape[axis], step, out)

    # -----------------------------------------------------------------------------------------
    # outer

    def outer(self, A: Any, B: Any, /) -> Any:  # noqa: N803 - NumPy's names
        """The function of every pair of elements of ``A`` and ``B``: shape
        ``A.shape + B.shape``."""
        self._require_binary("outer")
        _check_arraylike(f"{self.__name__}.outer", A, B)
        a, b = jnp.asarray(A), jnp.asarray(B)
        # Both operands at the full rank, so no rank promotion is involved.
        a = jnp.reshape(a, a.shape + (1,) * b.ndim)
        b = jnp.reshape(b, (1,) * (a.ndim - b.ndim) + b.shape)
        return self(a, b)


def check_call_keywords(fn: Any, out: Any, where: Any) -> None:
    if out is not None:
        raise NotImplementedError(f"out argument of {fn}")
    if where is not None:
        raise NotImplementedError(f"where argument of {fn}")


def _index_tuple(indices: Any) -> tuple:
    """An index as a tuple of per-axis indices. A list is refused, as JAX refuses it in
    indexing (NumPy's reading of it depends on what it holds)."""
    if isinstance(indices, tuple):
        return indices
    if isinstance(indices, Sequence) and not isinstance(indices, str):
        raise TypeError("Using a non-tuple sequence for multidimensional indexing is not "
                        "allowed; use `arr[array(seq)]` instead of `arr[seq]`.")
    return (indices,)
