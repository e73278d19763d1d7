"""Sorting along one axis: ``sort`` (JAX's primitive of that name).

``sort[dimension, is_stable, num_keys](*operands) -> results``: every operand has
one shape (rank >= 1), and result ``i`` is operand ``i`` with its elements along
``dimension`` permuted by one common permutation: the one that orders the first
``num_keys`` operands lexicographically (the first is the primary key), row by
row. The order is JAX's default comparator: integers and bools as numbers;
floats with -0.0 equal to +0.0 and every NaN equal to every other NaN and after
+inf. ``is_stable`` asks for equal keys to keep their order; llax's sorts always
do, so an unstable sort gives the same results as a stable one.

It is its own kernel (FusionClass.OPAQUE): a row is sorted as a whole.
"""

from __future__ import annotations

from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

sort = primitive("sort", multiple_results=True, fusion=FusionClass.OPAQUE)


def _sort_rule(*operands: TensorType, dimension: int, is_stable: bool,
               num_keys: int) -> tuple[TensorType, ...]:
    if not operands:
        raise TypeError("sort takes at least one operand")
    first = operands[0]
    for i, t in enumerate(operands[1:], 1):
        if t.shape != first.shape:
            raise TypeError(f"sort: operands must have equal shapes, got {first.shape} "
                            f"(operand 0) and {t.shape} (operand {i})")
    if first.ndim == 0:
        raise ValueError("sort: operands must have rank at least 1, got rank-0 operands")
    if not isinstance(dimension, int) or not 0 <= dimension < first.ndim:
        raise ValueError(f"sort: dimension {dimension} is out of range for operands of shape "
                         f"{first.shape}")
    if not isinstance(num_keys, int) or not 1 <= num_keys <= len(operands):
        raise ValueError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    if not isinstance(is_stable, bool):
        raise TypeError(f"sort: is_stable must be a bool, got {is_stable!r}")
    return operands


abstract_eval[sort] = _sort_rule
