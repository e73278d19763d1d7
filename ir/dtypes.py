"""Dtypes: the set llax supports, their short names, and 64-bit canonicalisation.

Dtypes are plain ``numpy.dtype`` objects. Promotion (JAX's lattice with weak
types) lives in ``llax.ir.promotion``.

The low-precision types (bfloat16, the float8/6/4 family, int4/2/1 and uint4/2/1)
come from ``ml_dtypes``, as in JAX. NumPy gives them ``kind == "V"`` (all but float8_e5m2,
whose kind is "f"), so ask ``kind(dtype)`` (or ``is_float``...) rather than ``dtype.kind``
for their category, and ``is_low_precision`` rather than the kind to single them out.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from llax.config import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)
bfloat16 = np.dtype(ml_dtypes.bfloat16)

# ml_dtypes' floats narrower than 16 bits, and its sub-byte integers (one byte of storage
# each), keyed by name. JAX exports all of them from jax.numpy.
NARROW_FLOAT_NAMES = ("float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz", "float8_e4m3fn",
                      "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
                      "float6_e2m3fn", "float6_e3m2fn", "float4_e2m1fn")
NARROW_INT_NAMES = ("int1", "int2", "int4", "uint1", "uint2", "uint4")
NARROW_FLOATS: dict[str, np.dtype] = {n: np.dtype(getattr(ml_dtypes, n))
                                      for n in NARROW_FLOAT_NAMES}
NARROW_INTS: dict[str, np.dtype] = {n: np.dtype(getattr(ml_dtypes, n)) for n in NARROW_INT_NAMES}

SHORT_NAMES: dict[np.dtype, str] = {
    bool_: "bool",
    int8: "i8", int16: "i16", int32: "i32", int64: "i64",
    uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
    float16: "f16", float32: "f32", float64: "f64",
    complex64: "c64", complex128: "c128",
    bfloat16: "bf16",
    # As JAX's jaxprs name them: float8_e4m3fn -> f8_e4m3fn, int4 -> i4, uint4 -> u4.
    **{dt: name.replace("float", "f") for name, dt in NARROW_FLOATS.items()},
    **{dt: name.replace("uint", "u").replace("int", "i") for name, dt in NARROW_INTS.items()},
}
FROM_SHORT_NAME: dict[str, np.dtype] = {v: k for k, v in SHORT_NAMES.items()}
SUPPORTED = frozenset(SHORT_NAMES)

# Under the default 32-bit mode, 64-bit requests are narrowed, as in JAX.
_NARROW = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}

# A complex dtype's real and imaginary parts, and back.
_PART_OF_COMPLEX = {complex64: float32, complex128: float64}
_COMPLEX_OF_PART = {float32: complex64, float64: complex128}


# The NumPy kind ml_dtypes' types would have if NumPy knew them ("V" otherwise).
_ML_KIND: dict[np.dtype, str] = {
    bfloat16: "f", **dict.fromkeys(NARROW_FLOATS.values(), "f"),
    **{dt: "u" if name.startswith("u") else "i" for name, dt in NARROW_INTS.items()},
}
LOW_PRECISION: frozenset[np.dtype] = frozenset(_ML_KIND)


def short_name(dtype: np.dtype) -> str:
    return SHORT_NAMES[np.dtype(dtype)]


def kind(dtype: np.dtype) -> str:
    """``dtype.kind``, with ml_dtypes' types given their real category ("f", "i" or "u")."""
    dt = np.dtype(dtype)
    return _ML_KIND.get(dt, dt.kind)


def is_low_precision(dtype: np.dtype) -> bool:
    """One of ml_dtypes' types: NumPy cannot compute in them natively."""
    return np.dtype(dtype) in LOW_PRECISION


def is_low_precision_float(dtype: np.dtype) -> bool:
    """bfloat16 or an 8/6/4-bit float: computed in float32 and rounded per op, as XLA's CPU."""
    return _ML_KIND.get(np.dtype(dtype)) == "f"


def is_float(dtype: np.dtype) -> bool:
    return kind(dtype) == "f"


def is_complex(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind == "c"


def is_inexact(dtype: np.dtype) -> bool:
    """Floating or complex: the dtypes autodiff gives tangents to."""
    return kind(dtype) in "fc"


def bit_width(dtype: np.dtype) -> int:
    """The bits of a value (int4: 4, though it takes a byte of storage)."""
    dt = np.dtype(dtype)
    if dt == bool_:
        return 8
    if dt in _ML_KIND:
        return int(ml_dtypes.iinfo(dt).bits if _ML_KIND[dt] in "iu" else ml_dtypes.finfo(dt).bits)
    return dt.itemsize * 8


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
    return kind(dtype) in "iu"


def is_signed(dtype: np.dtype) -> bool:
    return kind(dtype) in "ifc"


def is_bool(dtype: np.dtype) -> bool:
    return np.dtype(dtype) == bool_


def canonicalize(dtype, *, where: str = "dtype") -> np.dtype:
    """Map any dtype-like to a supported numpy dtype, narrowing 64-bit unless x64 is on.

    Raises TypeError naming ``where`` for dtypes llax cannot hold (object, str...).
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
