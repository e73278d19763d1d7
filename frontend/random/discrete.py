"""Samplers that reorder or pick: ``permutation`` and ``choice``, with JAX's numbers.

- permutation: rounds of a stable sort keyed by fresh 32-bit draws (a key split
  per round); ``ceil(3 log(n) / log(2**32 - 1))`` rounds make ties between all
  keys of a round improbable. A multi-dimensional array is shuffled by one
  permutation of its ``axis`` (or each slice independently).
- choice: uniform indices by ``randint``, or the first draws of a permutation
  without replacement; with probabilities ``p``, inverse-CDF sampling (the
  cumulative sum in XLA's order of additions, then a sorted search) with
  replacement, or the Gumbel top-k trick without.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import lax, xla_math
from llax.frontend.api import jit
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._creation import arange, zeros
from llax.frontend.jnp._dtypes import to_inexact
from llax.frontend.jnp._take import take
from llax.frontend.random import _sampling as S
from llax.frontend.random import threefry
from llax.frontend.random.distributions import randint
from llax.frontend.random.keys import KeyArray
from llax.ir import dtypes

_ROUNDS_EXPONENT = 3
_UINT32_MAX = np.iinfo(np.uint32).max


def _axis(axis: int, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


# ---------------------------------------------------------------------------------------------
# permutation


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False) -> Any:
    """``x`` shuffled along ``axis`` (an integer ``x``: a shuffled ``arange(x)``)."""
    typed = S.single_key("permutation", key)
    if isinstance(x, KeyArray):
        raise TypeError("permutation requires ndarray or scalar arguments, got KeyArray")
    arr = as_array(x, "permutation")
    axis = _axis(axis, arr.ndim or 1)
    if not arr.ndim:
        if not dtypes.is_int(arr.dtype):
            raise TypeError("x must be an integer or at least 1-dimensional")
        return _shuffle(typed, arange(operator.index(np.asarray(arr))), axis)
    if independent or arr.ndim == 1:
        return _shuffle(typed, arr, axis)
    order = _shuffle(typed, arange(arr.shape[axis]), 0)
    return take(arr, order, axis, unique_indices=True)


@jit(static_argnums=2)
def _shuffle(key: KeyArray, x: Any, axis: int) -> Any:
    size = math.prod(x.shape)
    rounds = int(np.ceil(_ROUNDS_EXPONENT * np.log(max(1, size)) / np.log(_UINT32_MAX)))
    data = key._data
    for _ in range(rounds):
        keys = threefry.split(data, (2,))
        data, sub = (lax.reshape(lax.slice(keys, (i, 0), (i + 1, 2)), (2,)) for i in (0, 1))
        _, x = lax.sort_key_val(threefry.random_bits(sub, 32, tuple(x.shape)), x, axis)
    return x


# ---------------------------------------------------------------------------------------------
# choice


def choice(key: Any, a: Any, shape: Sequence[int] = (), replace: bool = True, p: Any = None,
           axis: int = 0) -> Any:
    """Draws from ``a`` (or from ``arange(a)`` for an integer ``a``) along ``axis``."""
    typed = S.single_key("choice", key)
    if not isinstance(shape, Sequence):
        raise TypeError(f"shape argument of jax.random.choice must be a sequence, got {shape}")
    shape = S.canonical_shape(shape, "choice")
    arr = as_array(a, "choice")
    if arr.ndim == 0:
        n_inputs = operator.index(np.asarray(arr))
    else:
        axis = _axis(axis, arr.ndim)
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return zeros(shape, dtype=arr.dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"Cannot take a larger sample (size {n_draws}) than population (size "
                         f"{n_inputs}) when 'replace=False'")
    if p is None:
        if replace:
            ind = randint(typed, shape, 0, n_inputs)
            result = ind if arr.ndim == 0 else take(arr, ind, axis)
        else:
            shuffled = permutation(typed, n_inputs if arr.ndim == 0 else arr, axis)
            result = lax.slice_in_dim(shuffled, 0, n_draws, axis=0 if arr.ndim == 0 else axis)
    else:
        p_arr = as_array(p, "choice")
        p_arr = lax.convert_element_type(p_arr, to_inexact(p_arr.dtype, False)[0])
        if tuple(p_arr.shape) != (n_inputs,):
            raise ValueError("p must be None or a 1D vector with the same size as "
                             f"a.shape[axis]. p has shape {tuple(p_arr.shape)} and "
                             f"a.shape[axis] is {n_inputs}.")
        ind = (_weighted_with_replacement if replace else _weighted_distinct)(typed, p_arr,
                                                                               shape)
        result = ind if arr.ndim == 0 else take(arr, ind, axis)
    out_shape = shape if arr.ndim == 0 else (*arr.shape[:axis], *shape, *arr.shape[axis + 1:])
    return lax.reshape(result, out_shape)


def _default_int() -> np.dtype:
    return np.dtype(as_array(0, "choice").dtype)


@jit(static_argnums=2)
def _weighted_with_replacement(key: KeyArray, p: Any, shape: tuple[int, ...]) -> Any:
    cdf = cumsum_xla_order(p)
    total = lax.slice(cdf, (cdf.shape[0] - 1,), (cdf.shape[0],))
    total = lax.reshape(total, ())
    one = lax.full((), 1.0, p.dtype)
    r = lax.mul(total, lax.sub(one, S.unit_floats(key, shape, np.dtype(p.dtype))))
    # searchsorted(cdf, r, side="left") on a sorted cdf: how many entries lie below r.
    below = lax.lt(lax.broadcast_in_dim(cdf, (*shape, cdf.shape[0]), (len(shape),)),
                   lax.broadcast_in_dim(r, (*shape, cdf.shape[0]), tuple(range(len(shape)))))
    counts = lax.convert_element_type(below, _default_int())
    return _sum_last(counts)


def _sum_last(x: Any) -> Any:
    from llax.frontend.jnp._reductions import sum as jsum

    return jsum(x, axis=-1)


@jit(static_argnums=2)
def _weighted_distinct(key: KeyArray, p: Any, shape: tuple[int, ...]) -> Any:
    n = p.shape[0]
    dtype = np.dtype(p.dtype)
    # Gumbel noise as JAX's default ("low") mode: -log(-log(u)) for u uniform in [tiny, 1).
    tiny = lax.full((), np.finfo(dtype).tiny, dtype)
    u = lax.max(tiny, xla_math.fma(S.unit_floats(key, (n,), dtype),
                            lax.sub(lax.full((), 1.0, dtype), tiny), tiny))
    noise = lax.neg(xla_math.log(lax.neg(xla_math.log(u))))
    scores = lax.add(noise, xla_math.log(p))
    _, ind = lax.top_k(scores, math.prod(shape))
    return lax.convert_element_type(ind, _default_int())


# ---------------------------------------------------------------------------------------------
# The cumulative sum in XLA's order


_BLOCK = 16


def cumsum_xla_order(x: Any) -> Any:
    """The inclusive cumulative sum of a 1-D float array, added in the order XLA's CPU code
    adds (so ``choice`` finds JAX's indices): blocks of 16 summed left to right, the block
    totals cumulated the same way (recursively), each block's exclusive total added back."""
    n = x.shape[0]
    if n <= _BLOCK:
        return _sequential_prefix(x)
    blocks = -(-n // _BLOCK)
    padded = lax.pad(x, lax.full((), 0, x.dtype), [(0, blocks * _BLOCK - n, 0)])
    rows = _sequential_prefix(lax.reshape(padded, (blocks, _BLOCK)))
    totals = lax.reshape(lax.slice(rows, (0, _BLOCK - 1), (blocks, _BLOCK)), (blocks,))
    before = cumsum_xla_order(totals)
    exclusive = lax.concatenate([lax.full((1,), 0, x.dtype),
                                 lax.slice(before, (0,), (blocks - 1,))], 0)
    out = lax.add(rows, lax.broadcast_in_dim(exclusive, (blocks, _BLOCK), (0,)))
    return lax.slice(lax.reshape(out, (blocks * _BLOCK,)), (0,), (n,))


def _sequential_prefix(x: Any) -> Any:
    """Prefix sums along the last axis (of at most 16), each the previous plus one element."""
    last = x.ndim - 1
    cols = [lax.slice_in_dim(x, i, i + 1, axis=last) for i in range(x.shape[last])]
    acc = [cols[0]]
    for col in cols[1:]:
        acc.append(lax.add(acc[-1], col))
    return lax.concatenate(acc, last)
