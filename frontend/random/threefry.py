"""The threefry2x32 PRNG on raw key data: a key is a uint32 array of shape (2,).

These are JAX's algorithms in its default "partitionable" mode, so the same key
gives JAX's bits: element ``i`` of a draw of shape ``s`` hashes the 64-bit
counter ``i`` (its row-major index in ``s``), split into high and low 32-bit
words, under the key. ``split`` makes new keys the same way (each key is the
two words of a hash), and ``fold_in`` hashes the pair ``(0, data)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir import dtypes
from llax.ir import prims as P

UINT = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}


def seed(seed: Any) -> Any:
    """Key data from a scalar integer seed: the seed's 64 bits as (high word, low word);
    a seed of 32 bits or fewer is sign- or zero-extended to 32 and has a zero high word."""
    if np.dtype(seed.dtype).itemsize == 8:
        high = lax.convert_element_type(
            lax.shift_right_logical(seed, lax.full((), 32, seed.dtype)), np.uint32)
    else:
        high = lax.full((), 0, np.uint32)
    low = lax.convert_element_type(seed, np.uint32)  # the low 32 bits, as C casts
    return lax.concatenate([lax.reshape(high, (1,)), lax.reshape(low, (1,))], 0)


def hash_pairs(key: Any, x0: Any, x1: Any) -> tuple[Any, Any]:
    """threefry2x32 of the counter pairs ``(x0, x1)`` under ``key``."""
    k0 = lax.reshape(lax.slice(key, (0,), (1,)), ())
    k1 = lax.reshape(lax.slice(key, (1,), (2,)), ())
    return tuple(bind(P.threefry2x32, (k0, k1, x0, x1), {}))


def counters(shape: tuple[int, ...]) -> tuple[Any, Any]:
    """The high and low words of each element's row-major index in ``shape`` (elementwise ops
    take a rank-0 operand as the same value everywhere)."""
    size = math.prod(shape)
    if size > 1 << 32:
        raise NotImplementedError(f"random bits of shape {shape}: more than 2**32 elements "
                                  "(the high counter word) is not supported")
    low = lax.reshape(lax.iota(np.uint32, size), shape)
    return np.uint32(0), low  # the high words, all zero: one scalar


def split(key: Any, shape: tuple[int, ...]) -> Any:
    """Key data of shape ``(*shape, 2)``: the hashes of the counters of ``shape``."""
    words = hash_pairs(key, *counters(shape))
    return lax.concatenate([lax.expand_dims(w, (len(shape),)) for w in words], len(shape))


def fold_in(key: Any, data: Any) -> Any:
    """Key data from ``key`` and a uint32 scalar: the hash of the pair ``(0, data)``."""
    y0, y1 = hash_pairs(key, lax.full((1,), 0, np.uint32), lax.reshape(data, (1,)))
    return lax.concatenate([y0, y1], 0)


def random_bits(key: Any, bit_width: int, shape: tuple[int, ...]) -> Any:
    """Unsigned integers of ``bit_width`` bits: the two hash words xor-ed (32 bits and
    fewer, truncated) or concatenated (64 bits)."""
    if bit_width not in UINT:
        raise TypeError(f"random bits: bit width must be 8, 16, 32 or 64, got {bit_width}")
    y0, y1 = hash_pairs(key, *counters(shape))
    if bit_width == 64:
        high, low = (lax.convert_element_type(w, np.uint64) for w in (y0, y1))
        return lax.bitwise_or(lax.shift_left(high, lax.full((), 32, np.uint64)), low)
    bits = lax.bitwise_xor(y0, y1)
    return bits if bit_width == 32 else lax.convert_element_type(bits, UINT[bit_width])
