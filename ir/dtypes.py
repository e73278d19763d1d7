"""Dtypes: the set llax supports, their short names, and 64-bit canonicalisation.

Dtypes are plain ``numpy.dtype`` objects. Promotion (JAX's lattice with weak
types) lives in ``llax.ir.promotion``.
"""

from __future__ import annotations

import numpy as np

from llax.config import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

SHORT_NAMES: dict[np.dtype, str] = {
    bool_: "bool",
    int8: "i8", int16: "i16", int32: "i32", int64: "i64",
    uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
    float16: "f16", float32: "f32", float64: "f64",
    complex64: "c64", complex128: "c128",
}
FROM_SHORT_NAME: dict[str, np.dtype] = {v: k for k, v in SHORT_NAMES.items()}
SUPPORTED = frozenset(SHORT_NAMES)

# Under the default 32-bit mode, 64-bit requests are narrowed, as in JAX.
_NARROW = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}

# A complex dtype's real and imaginary parts, and back.
_PART_OF_COMPLEX = {complex64: float32, complex128: float64}
_COMPLEX_OF_PART = {float32: complex64, float64: complex128}


def short_name(dtype: np.dtype) -> str:
    return SHORT_NAMES[np.dtype(dtype)]


def is_float(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def is_complex(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind == "c"


def is_inexact(dtype: np.dtype) -> bool:
    """Floating or complex: the dtypes autodiff gives tangents to."""
    return np.dtype(dtype).kind in "fc"


def real_part(dtype: np.dtype) -> np.dtype:
    """The float dtype of a complex dtype's parts (a real dtype is its own)."""
    dtype = np.dtype(dtype)
    return _PART_OF_COMPLEX.get(dtype, dtype)


def complex_of(dtype: np.dtype) -> np.dtype:
    """The complex dtype whose parts are ``dtype`` (float16 parts widen to complex64)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return dtype
    return _COMPLEX_OF_PART.get(dtype, complex64 if dtype.itemsize <= 4 else complex128)


def is_int(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def is_signed(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in "ifc"


def is_bool(dtype: np.dtype) -> bool:
    return np.dtype(dtype) == bool_


def canonicalize(dtype, *, where: str = "dtype") -> np.dtype:
    """Map any dtype-like to a supported numpy dtype, narrowing 64-bit unless x64 is on.

    Raises TypeError naming ``where`` for dtypes llax cannot hold (object, str, bfloat16...).
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{where}: {dtype!r} is not a valid dtype") from e
    if dt not in SUPPORTED:
        raise TypeError(f"{where}: dtype {dt} is not supported by llax "
                        f"(supported: {', '.join(sorted(str(d) for d in SUPPORTED))})")
    if not config.jax_enable_x64:
        dt = _NARROW.get(dt, dt)
    return dt


def default_int() -> np.dtype:
    return int64 if config.jax_enable_x64 else int32


def default_uint() -> np.dtype:
    return uint64 if config.jax_enable_x64 else uint32


def default_float() -> np.dtype:
    return float64 if config.jax_enable_x64 else float32


def default_complex() -> np.dtype:
    return complex128 if config.jax_enable_x64 else complex64
