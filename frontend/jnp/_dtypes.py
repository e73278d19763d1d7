"""Dtype helpers of ``llax.numpy``: scalar types, ``dtype``, ``result_type``, ``iinfo``...

The scalar types (``jnp.float32``...) are classes whose ``dtype`` attribute makes
``np.dtype(jnp.float32)`` work, and whose call builds an Array, as in JAX.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import ml_dtypes
import numpy as np

from llax.config import config
from llax.frontend.core import Array, Tracer
from llax.ir import dtypes, promotion

# NumPy's abstract scalar classes serve as dtype categories, as in JAX.
generic, number, inexact, floating = np.generic, np.number, np.inexact, np.floating
integer, signedinteger, unsignedinteger = np.integer, np.signedinteger, np.unsignedinteger
complexfloating, character, flexible = np.complexfloating, np.character, np.flexible


class _ScalarMeta(type):
    """Metaclass of ``jnp.float32`` and friends: a dtype that can also be called."""

    dtype: np.dtype

    def __call__(cls, x: Any = 0) -> Any:
        from llax.frontend.jnp._creation import asarray

        return asarray(x, dtype=cls.dtype)

    def __eq__(cls, other: object) -> bool:
        return other is cls or other is cls.dtype.type

    def __ne__(cls, other: object) -> bool:
        return not cls == other

    def __hash__(cls) -> int:
        return hash(cls.dtype.type)

    def __repr__(cls) -> str:
        return f"<class 'llax.numpy.{cls.__name__}'>"

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.dtype.type)


def _scalar_type(name: str, np_type: type) -> _ScalarMeta:
    return _ScalarMeta(name, (), {"dtype": np.dtype(np_type), "__module__": "llax.numpy"})


SCALAR_TYPES: dict[str, _ScalarMeta] = {
    **{name: _scalar_type(name, getattr(np, name))
       for name in ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                    "uint64", "float16", "float32", "float64", "complex64", "complex128")},
    # ml_dtypes' types, as JAX has them: bfloat16, the narrow floats and the sub-byte ints.
    **{name: _scalar_type(name, getattr(ml_dtypes, name))
       for name in ("bfloat16", *dtypes.NARROW_FLOAT_NAMES, *dtypes.NARROW_INT_NAMES)},
}
# Aliases JAX exports: the 64-bit defaults (canonicalised like any 64-bit request).
SCALAR_ALIASES: dict[str, _ScalarMeta] = {
    "bool": SCALAR_TYPES["bool_"], "int_": SCALAR_TYPES["int64"],
    "uint": SCALAR_TYPES["uint64"], "float_": SCALAR_TYPES["float64"],
    "single": SCALAR_TYPES["float32"], "double": SCALAR_TYPES["float64"],
    "half": SCALAR_TYPES["float16"],
    "complex_": SCALAR_TYPES["complex128"], "csingle": SCALAR_TYPES["complex64"],
    "cdouble": SCALAR_TYPES["complex128"],
}

_PYTHON_TYPE_DTYPES = {bool: dtypes.bool_, int: dtypes.int64, float: dtypes.float64,
                       complex: dtypes.complex128}


def _raw_dtype(x: Any) -> np.dtype:
    """The dtype ``x`` names or carries, before x64 narrowing."""
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic)):
        return np.dtype(x.dtype)
    if x is bool or x is int or x is float or x is complex:  # Python types: 64-bit defaults
        return _PYTHON_TYPE_DTYPES[x]
    try:
        return np.dtype(x)
    except TypeError as e:
        raise TypeError(f"{x!r} is not a valid dtype") from e


def dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
    """``jnp.dtype``: the dtype named by ``obj`` (``float`` is float64), not narrowed."""
    return _raw_dtype(obj)


def requested_dtype(dtype_like: Any, where: str) -> np.dtype:
    """Canonicalise a dtype the user asked for, warning as JAX does when x64 narrows it."""
    raw, canonical = _requested_dtype(dtype_like, where, config.jax_enable_x64)
    if canonical != raw and not any(dtype_like is t for t in _PYTHON_TYPE_DTYPES):
        warnings.warn(f"Explicitly requested dtype {raw} requested in {where} is not available, "
                      f"and will be truncated to dtype {canonical}. To enable more dtypes, set "
                      "the jax_enable_x64 configuration option or the JAX_ENABLE_X64 shell "
                      "environment variable.", UserWarning, stacklevel=3)
    return canonical


@functools.lru_cache(maxsize=512)
def _requested_dtype(dtype_like: Any, where: str, x64: bool) -> tuple[np.dtype, np.dtype]:
    raw = _raw_dtype(dtype_like)
    return raw, dtypes.canonicalize(raw, where=where)


def maybe_requested_dtype(dtype_like: Any, where: str) -> np.dtype | None:
    return None if dtype_like is None else requested_dtype(dtype_like, where)


def _typed(x: Any) -> tuple[np.dtype, bool]:
    """``(dtype, weak)`` of a value or a dtype-like, for ``result_type``."""
    if isinstance(x, (Array, Tracer)):
        return x.dtype, x.weak_type
    if x is int or x is float or x is complex:  # Python types stand for weak values, as in JAX
        return _PYTHON_TYPE_DTYPES[x], True
    if isinstance(x, (bool, int, float, complex, np.generic, np.ndarray)):
        return promotion.dtype_of_value(x)
    return _raw_dtype(x), False


def result_type(*args: Any) -> np.dtype:
    """``jnp.result_type``: the dtype of an op on ``args`` (values or dtypes), as JAX does."""
    dt, _ = promotion.result_type(*(_typed(a) for a in args))
    return dt


def promote_types(a: Any, b: Any) -> np.dtype:
    return promotion.promote_types(_raw_dtype(a), _raw_dtype(b))


# NumPy files ml_dtypes' types under np.void; JAX files them where they belong.
_ABSTRACT_PARENT = {"f": np.floating, "i": np.signedinteger, "u": np.unsignedinteger}
# A NumPy dtype of the same category, for the category questions NumPy can answer.
_STAND_IN = {"f": dtypes.float32, "i": dtypes.int8, "u": dtypes.uint8}


def issubdtype(arg1: Any, arg2: Any) -> bool:
    """``jnp.issubdtype``: NumPy's, with bfloat16 & co. under ``floating``/``(un)signedinteger``."""
    a, b = _category(arg1), _category(arg2)
    a_low = isinstance(a, np.dtype) and dtypes.is_low_precision(a)
    b_low = isinstance(b, np.dtype) and dtypes.is_low_precision(b)
    if a_low or b_low:
        if a_low and b_low:
            return a == b
        if b_low:  # nothing else is a subtype of a concrete low-precision type
            return False
        return _is_abstract(b) and issubclass(_ABSTRACT_PARENT[dtypes.kind(a)], b)
    return np.issubdtype(a, b)


def _is_abstract(x: Any) -> bool:
    return isinstance(x, type) and issubclass(x, np.generic) and x in _ABSTRACT_TYPES


_ABSTRACT_TYPES = (np.generic, np.number, np.inexact, np.floating, np.integer, np.signedinteger,
                   np.unsignedinteger, np.complexfloating, np.character, np.flexible)


def _category(x: Any) -> Any:
    if _is_abstract(x):
        return x
    if isinstance(x, type) and issubclass(x, np.generic):
        return np.dtype(x) if dtypes.is_low_precision(np.dtype(x)) else x
    return _raw_dtype(x)


def isdtype(dtype_like: Any, kind: Any) -> bool:
    """``jnp.isdtype``: NumPy's, with ml_dtypes' types in their categories."""
    dt = _raw_dtype(dtype_like)
    # NumPy answers the named categories; ml_dtypes' types ask through a stand-in.
    stand_in = _STAND_IN[dtypes.kind(dt)] if dtypes.is_low_precision(dt) else dt
    for k in kind if isinstance(kind, tuple) else (kind,):
        if isinstance(k, str):
            if np.isdtype(stand_in, k):
                return True
        elif _raw_dtype(k) == dt:
            return True
    return False


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    if isinstance(from_, (bool, int, float, complex)):
        raise TypeError("can_cast() does not support Python ints, floats, and complex because "
                        "the result used to depend on the value.")
    return bool(np.can_cast(_raw_dtype(from_), _raw_dtype(to), casting=casting))


def iinfo(int_type: Any) -> np.iinfo:
    """``jnp.iinfo``: ml_dtypes' ``iinfo``, which knows int4 & co. as well (as in JAX)."""
    return ml_dtypes.iinfo(_raw_dtype(int_type))


def finfo(float_type: Any) -> np.finfo:
    """``jnp.finfo``: ml_dtypes' ``finfo``, which knows bfloat16 and the float8s (as in JAX)."""
    return ml_dtypes.finfo(_raw_dtype(float_type))


# Where ints and bools go when an op needs a floating dtype: 32-bit and narrower
# integers to float32, 64-bit ones to float64 (JAX's rule, also under x64).
_INEXACT_OF = {
    "bool": dtypes.float32, "i8": dtypes.float32, "u8": dtypes.float32, "i16": dtypes.float32,
    "u16": dtypes.float32, "i32": dtypes.float32, "u32": dtypes.float32,
    "i64": dtypes.float64, "u64": dtypes.float64,
    **dict.fromkeys((dtypes.short_name(dt) for dt in dtypes.NARROW_INTS.values()),
                    dtypes.float32),
}


def to_inexact(dt: np.dtype, weak: bool) -> tuple[np.dtype, bool]:
    """The inexact dtype an op computes ``(dt, weak)`` in (weak stays weak; complex stays)."""
    if dtypes.kind(dt) in "fc":
        return dt, weak
    if weak:
        return dtypes.default_float(), True
    return dtypes.canonicalize(_INEXACT_OF[dtypes.short_name(dt)]), False
