"""Operators, methods and properties of ``Array`` and ``Tracer``, attached from one table.

Both classes get exactly the same entries, so eager and traced code behave alike.
Binary operators return ``NotImplemented`` for operands that are not arrays or
scalars (a list, say), as JAX does, so Python can try the other operand.
Indexing (``x[i]``, ``x.at[i]``) is delegated to ``llax.frontend.indexing``.
``ARRAY_ONLY`` holds what only concrete Arrays have: their device and sharding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from llax.frontend import devices, jnp
from llax.frontend.core import Array, Tracer
from llax.frontend.jnp import _manipulation as M
from llax.frontend.jnp import _reductions as R
from llax.frontend.jnp._coerce import convert
from llax.frontend.jnp._dtypes import requested_dtype
from llax.ir import dtypes

_OPERAND_TYPES = (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)


def _forward(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if not isinstance(other, _OPERAND_TYPES):
            return NotImplemented
        return fn(self, other)

    return method


def _reflected(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if not isinstance(other, _OPERAND_TYPES):
            return NotImplemented
        return fn(other, self)

    return method


def _divmod(x: Any, y: Any) -> tuple[Any, Any]:
    return jnp.floor_divide(x, y), jnp.remainder(x, y)


# operator name -> jnp function; each also gets its reflected form unless marked.
_BINARY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "add": jnp.add, "sub": jnp.subtract, "mul": jnp.multiply, "truediv": jnp.divide,
    "floordiv": jnp.floor_divide, "mod": jnp.remainder, "divmod": _divmod,
    "matmul": jnp.matmul, "and": jnp.bitwise_and, "or": jnp.bitwise_or,
    "xor": jnp.bitwise_xor, "lshift": jnp.left_shift, "rshift": jnp.right_shift,
}
# Comparisons have no reflected forms: Python swaps ``a < b`` into ``b > a`` itself.
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": jnp.equal, "ne": jnp.not_equal, "lt": jnp.less, "le": jnp.less_equal,
    "gt": jnp.greater, "ge": jnp.greater_equal,
}
_UNARY_OPERATORS: dict[str, Callable[[Any], Any]] = {
    "neg": jnp.negative, "pos": jnp.positive, "abs": jnp.abs, "invert": jnp.invert,
}


def _unary(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # A plain function, so that it binds as a method (ufunc objects are not descriptors).
    def method(self: Any) -> Any:
        return fn(self)

    return method


def _pow(self: Any, other: Any, mod: None = None) -> Any:
    if mod is not None:
        raise NotImplementedError("three-argument pow() is not supported on arrays")
    if not isinstance(other, _OPERAND_TYPES):
        return NotImplemented
    return jnp.power(self, other)


def _rpow(self: Any, other: Any) -> Any:
    if not isinstance(other, _OPERAND_TYPES):
        return NotImplemented
    return jnp.power(other, self)


def _shape_args(shape: tuple) -> Any:
    """``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` both mean shape (2, 3)."""
    return shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape


def _reshape(self: Any, *shape: Any, order: str = "C") -> Any:
    return M.reshape(self, _shape_args(shape), order)


def _transpose(self: Any, *axes: Any) -> Any:
    return M.transpose(self, _shape_args(axes) if axes else None)


def _astype(self: Any, dtype: Any, copy: bool = False, device: Any = None) -> Any:
    return convert(self, requested_dtype(dtype, "astype"), False)


def _round_method(self: Any, decimals: int = 0, out: None = None) -> Any:
    return jnp.round(self, decimals, out)


def _python_round(self: Any, ndigits: int | None = None) -> Any:
    if ndigits is None:
        # Python's round() gives JAX's default integer type (int32 unless x64), not int64.
        return convert(jnp.round(self), dtypes.default_int())
    return jnp.round(self, ndigits)


def _getitem(self: Any, index: Any) -> Any:
    from llax.frontend import indexing  # written alongside; imported on first use

    return indexing.getitem(self, index)


def _at(self: Any) -> Any:
    from llax.frontend import indexing

    return indexing.at(self)


# DLPack export of a concrete Array's buffer (kDLCPU is device type 1). DLPack 1.0 flags it
# read-only; an older consumer (JAX's from_dlpack asks for no version) cannot be told, so it
# gets a copy of its own.
def _dlpack(self: Any, *, stream: Any = None, max_version: tuple[int, int] | None = None,
            dl_device: Any = None, copy: bool | None = None) -> Any:
    value = np.asarray(self)
    if max_version is None or max_version[0] < 1:
        value = value.copy()
    return value.__dlpack__(stream=stream, max_version=max_version, dl_device=dl_device,
                            copy=copy)


def _dlpack_device(self: Any) -> tuple[int, int]:
    return (1, 0)


def _imag(self: Any) -> Any:
    return jnp.imag(self)


def _compress(self: Any, condition: Any, axis: int | None = None, **kwargs: Any) -> Any:
    return jnp.compress(condition, self, axis, **kwargs)  # (the array is compress's second)


def _choose(self: Any, choices: Any, mode: str = "raise") -> Any:
    return jnp.choose(self, choices, mode=mode)


METHODS: dict[str, Any] = {
    **{f"__{name}__": _forward(fn) for name, fn in _BINARY_OPERATORS.items()},
    **{f"__r{name}__": _reflected(fn) for name, fn in _BINARY_OPERATORS.items()},
    **{f"__{name}__": _forward(fn) for name, fn in _COMPARISONS.items()},
    **{f"__{name}__": _unary(fn) for name, fn in _UNARY_OPERATORS.items()},
    "__pow__": _pow, "__rpow__": _rpow, "__round__": _python_round,
    "__getitem__": _getitem,
    "reshape": _reshape, "transpose": _transpose, "astype": _astype, "round": _round_method,
    "sum": R.sum, "prod": R.prod, "max": R.max, "min": R.min, "mean": R.mean, "var": R.var,
    "std": R.std, "any": R.any, "all": R.all, "argmax": R.argmax, "argmin": R.argmin,
    "swapaxes": M.swapaxes, "squeeze": M.squeeze, "ravel": M.ravel, "flatten": M.ravel,
    "dot": jnp.dot, "clip": jnp.clip, "nonzero": jnp.nonzero, "sort": jnp.sort,
    "argsort": jnp.argsort, "take": jnp.take, "cumsum": jnp.cumsum, "cumprod": jnp.cumprod,
    "searchsorted": jnp.searchsorted, "argpartition": jnp.argpartition, "ptp": jnp.ptp,
    "diagonal": jnp.diagonal, "trace": jnp.trace, "repeat": jnp.repeat,
    "compress": _compress, "choose": _choose,
    "conj": _unary(jnp.conjugate), "conjugate": _unary(jnp.conjugate), "copy": jnp.asarray,
    "T": property(_transpose), "mT": property(M.matrix_transpose),
    "real": property(_unary(jnp.real)), "imag": property(_imag), "at": property(_at),
    "itemsize": property(lambda self: self.dtype.itemsize),
    "nbytes": property(lambda self: self.size * self.dtype.itemsize),
}


# Where a concrete Array lives (JAX's methods on a CPU-only system). Tracers have no place:
# these are Array's alone.
ARRAY_ONLY: dict[str, Any] = {
    "devices": devices.array_devices, "device": property(devices.array_device),
    "sharding": property(devices.array_sharding),
    "__dlpack__": _dlpack, "__dlpack_device__": _dlpack_device,
    "copy_to_host_async": devices.array_copy_to_host_async,
    "is_fully_addressable": property(lambda self: True),
    "is_fully_replicated": property(lambda self: True),
}


def attach(classes: tuple[type, ...] = (Array, Tracer)) -> None:
    for cls in classes:
        for name, value in METHODS.items():
            setattr(cls, name, value)
    for name, value in ARRAY_ONLY.items():
        setattr(Array, name, value)


attach()
