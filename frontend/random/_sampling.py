"""What every sampler shares: argument checks, and floats from random bits.

(Public samplers live in ``distributions.py`` and the modules beside it.)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend import lax, xla_math
from llax.frontend.api import jit
from llax.frontend.jnp._dtypes import requested_dtype
from llax.frontend.jnp._manipulation import broadcast_to
from llax.frontend.random import threefry
from llax.frontend.random.keys import KeyArray, check_key
from llax.ir import dtypes

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


def float_sampler(draw: Callable[[KeyArray, tuple[int, ...], np.dtype], Any],
                  name: str | None = None) -> Callable[..., Any]:
    """The public sampler ``name(key, shape=(), dtype=None)`` for ``draw`` (by default
    ``name_draw``): JAX's argument checks, then the draw jitted with the shape and dtype
    static (so eager calls run the compiled code too)."""
    name = name or draw.__name__.removesuffix("_draw")
    kernel = jit(draw, static_argnums=(1, 2))

    def sampler(key: Any, shape: Any = (), dtype: Any = None) -> Any:
        typed = single_key(name, key)
        dt = float_dtype(dtype, name)
        return kernel(typed, canonical_shape(shape, name), dt)

    sampler.__name__ = sampler.__qualname__ = name
    sampler.__doc__ = draw.__doc__
    return sampler


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
    # A type with under 8 mantissa bits (bfloat16) takes its bits from an 8-bit draw, as JAX.
    width = info.bits if info.nmant >= 8 else 8
    raw = bits(key, width, shape)
    top = lax.shift_right_logical(raw, lax.full((), width - info.nmant, raw.dtype))
    return lax.mul(lax.convert_element_type(top, dtype),
                   lax.full((), 2.0 ** -info.nmant, dtype))


def uniform_between(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype, lo: Any,
                    hi: Any) -> Any:
    """JAX's ``uniform(key, shape, dtype, lo, hi)``, traced: ``max(lo, f * (hi - lo) + lo)``
    for unit floats ``f``, the multiply-add fused. ``lo`` and ``hi`` are Python floats
    (constants, whose width is rounded in ``dtype`` as XLA folds it) or arrays."""
    floats = unit_floats(key, shape, dtype)
    if isinstance(lo, float) and isinstance(hi, float):
        if (lo, hi) == (0.0, 1.0):
            return floats
        lo_c, hi_c = np.asarray(lo, dtype), np.asarray(hi, dtype)
        lo_v, width = lax.full((), lo_c, dtype), lax.full((), hi_c - lo_c, dtype)
    else:
        lo_v, hi_v = (broadcast_to(lax.convert_element_type(v, dtype), shape) for v in (lo, hi))
        width = lax.sub(hi_v, lo_v)
    return lax.max(broadcast_to(lo_v, shape), xla_math.fma(floats, width, lo_v))
