"""What every sampler shares: argument checks, and floats from random bits.

(Public samplers live in ``distributions.py`` and the modules beside it.)
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.jnp._dtypes import requested_dtype
from llax.frontend.random import threefry
from llax.frontend.random.keys import KeyArray, check_key
from llax.ir import dtypes
from llax.ir import prims as P

Shape = Sequence[int]


def canonical_shape(shape: Any, name: str) -> tuple[int, ...]:
    """A shape argument as a tuple of ints (JAX takes any sequence of integers)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name}: shapes must be 1D sequences of concrete values of integer "
                        f"type, got {shape!r}.") from None


def check_shape(name: str, shape: tuple[int, ...], *param_shapes: tuple[int, ...]) -> None:
    """Parameters must broadcast to ``shape`` exactly (JAX's rule for samplers)."""
    if param_shapes:
        try:
            got = np.broadcast_shapes(shape, *param_shapes)
        except ValueError:
            shapes = [shape, *param_shapes]
            raise ValueError(f"Incompatible shapes for broadcasting: shapes={shapes}") from None
        if got != shape:
            raise ValueError(f"{name} parameter shapes must be broadcast-compatible with shape "
                             "argument, and the result of broadcasting the shapes must equal "
                             f"the shape argument, but got result {got} for shape argument "
                             f"{shape}.")


def float_dtype(dtype: Any, name: str) -> np.dtype:
    """The requested float dtype (default: float32, float64 under x64)."""
    dt = requested_dtype(float if dtype is None else dtype, name)
    if not dtypes.is_float(dt):
        raise ValueError(f"dtype argument to `{name}` must be a float dtype, got {dt}")
    return dt


def int_dtype(dtype: Any, name: str) -> np.dtype:
    dt = requested_dtype(int if dtype is None else dtype, name)
    if not dtypes.is_int(dt):
        raise TypeError(f"{name} only accepts integer dtypes, got {dt}")
    return dt


def single_key(name: str, key: Any) -> KeyArray:
    return check_key(name, key)[0]


def bits(key: KeyArray, bit_width: int, shape: tuple[int, ...]) -> Any:
    return threefry.random_bits(key._data, bit_width, shape)


def unit_floats(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Floats in [0, 1): the top mantissa-many bits of a draw, times 2**-mantissa.

    JAX puts those bits under the exponent of 1.0 and subtracts 1; both give
    exactly ``m * 2**-nmant`` for the same integer ``m``, so the bits agree.
    """
    info = np.finfo(dtype)
    width = info.bits
    raw = bits(key, width, shape)
    top = lax.shift_right_logical(raw, lax.full((), width - info.nmant, raw.dtype))
    return lax.mul(lax.convert_element_type(top, dtype),
                   lax.full((), 2.0 ** -info.nmant, dtype))


def wider(dtype: np.dtype) -> np.dtype | None:
    """A float type in which a product of two ``dtype`` values is exact."""
    return {np.dtype(np.float16): np.dtype(np.float32),
            np.dtype(np.float32): np.dtype(np.float64)}.get(np.dtype(dtype))


def fma(x: Any, y: Any, z: Any) -> Any:
    """``x * y + z`` rounded once, as XLA computes it (LLVM contracts the multiply-add into
    a fused one there). Operands share a dtype; each has the result's shape or rank 0.

    float16 and float32 compute in a wider type where the product is exact (bound directly,
    so it is not narrowed without x64), then round. float64 has no wider type: the product's
    rounding error is recovered exactly (Dekker) and added back with the sum's, which is
    the fused result but for rare one-ulp ties.
    """
    dtype = np.dtype(x.dtype)
    wide = wider(dtype)
    if wide is None:
        return _compensated_fma(x, y, z)

    def convert(v: Any, to: np.dtype) -> Any:
        return bind(P.convert_element_type, (v,), {"new_dtype": to, "weak_type": False})

    x, y, z = (convert(v, wide) for v in (x, y, z))
    return convert(bind(P.add, (bind(P.mul, (x, y), {}), z), {}), dtype)


def _split(a: Any) -> tuple[Any, Any]:
    """Veltkamp's split of a float64: a = high + low, each with at most 26 significant bits."""
    t = lax.mul(a, lax.full((), 134217729.0, a.dtype))  # 2**27 + 1
    high = lax.sub(t, lax.sub(t, a))
    return high, lax.sub(a, high)


def _compensated_fma(x: Any, y: Any, z: Any) -> Any:
    product = lax.mul(x, y)
    (xh, xl), (yh, yl) = _split(x), _split(y)
    product_error = lax.add(lax.add(lax.add(lax.sub(lax.mul(xh, yh), product), lax.mul(xh, yl)),
                                    lax.mul(xl, yh)), lax.mul(xl, yl))
    total = lax.add(product, z)
    z_part = lax.sub(total, product)
    sum_error = lax.add(lax.sub(product, lax.sub(total, z_part)), lax.sub(z, z_part))
    return lax.add(total, lax.add(sum_error, product_error))
