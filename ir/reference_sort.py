"""The NumPy reference of ``sort``: a stable lexicographic sort along one axis.

Each key becomes an integer array whose ordinary order is JAX's comparator
(``sortable_key``), so one stable NumPy sort (``lexsort`` for several keys)
finds the permutation, which every operand then takes along the axis.

Importing this module registers the rule in ``llax.ir.reference.reference``.
"""

from __future__ import annotations

import numpy as np

from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.reference import reference

_SIGNED = {2: np.int16, 4: np.int32, 8: np.int64}


def sortable_key(x: np.ndarray) -> np.ndarray:
    """``x`` as numbers whose ordinary order is the sort's: floats with -0.0 made +0.0 and
    every NaN the one positive quiet NaN (after +inf), then their bits turned into signed
    integers ordered as the floats (a negative float's magnitude bits flipped); bools as
    uint8; integers as they are."""
    if x.dtype == np.bool_:
        return x.view(np.uint8)
    if dtypes.kind(x.dtype) != "f":
        return x
    x = np.where(x == 0, np.zeros((), x.dtype), x)
    x = np.where(np.isnan(x), np.full((), np.nan, x.dtype), x)
    bits = x.view(_SIGNED[x.dtype.itemsize])
    width = 8 * x.dtype.itemsize
    magnitude = np.array((1 << (width - 1)) - 1, bits.dtype)
    return bits ^ ((bits >> (width - 1)) & magnitude)


def sort_permutation(keys: list[np.ndarray], dimension: int) -> np.ndarray:
    """Per row along ``dimension``, the stable order of ``keys`` (the first is primary)."""
    canonical = [sortable_key(np.asarray(k)) for k in keys]
    if len(canonical) == 1:
        return np.argsort(canonical[0], axis=dimension, kind="stable")
    # lexsort's last key is the primary one, and it is stable.
    return np.lexsort(canonical[::-1], axis=dimension)


def _sort(*operands: np.ndarray, dimension: int, is_stable: bool,
          num_keys: int) -> tuple[np.ndarray, ...]:
    operands = tuple(np.asarray(x) for x in operands)
    if operands[0].size == 0:
        return tuple(x.copy() for x in operands)
    perm = sort_permutation(list(operands[:num_keys]), dimension)
    return tuple(np.take_along_axis(x, perm, axis=dimension) for x in operands)


reference[P.sort] = _sort
