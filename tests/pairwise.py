"""Pairwise ("all pairs") selection of parametrized cases.

A test over several independent axes (cases x dtypes x modes x ...) need not run the full
cross product to meet every value of one axis with every value of another: a much smaller
set of rows does that. ``pairwise`` picks one deterministically (greedy: each row added
is one covering the most pairs not yet covered), so the same tests run every time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any


def _pairs(row: tuple) -> set[tuple]:
    return {(i, j, row[i], row[j]) for i, j in itertools.combinations(range(len(row)), 2)}


def pairwise(*axes: Sequence[Any], valid: Callable[..., bool] | None = None) -> list[tuple]:
    """Rows of values, one from each axis, in which every pair of values of two axes that
    occurs in some valid row of the full product occurs in some row. ``valid(*row)`` rules
    rows out (combinations a test does not apply to). Values are compared by position, so
    unhashable values are fine."""
    index_rows = [r for r in itertools.product(*(range(len(a)) for a in axes))
                  if valid is None or valid(*(a[i] for a, i in zip(axes, r)))]
    if len(axes) < 2:
        chosen = index_rows
    else:
        uncovered = set().union(*(_pairs(r) for r in index_rows))
        chosen = []
        while uncovered:
            best = max(index_rows, key=lambda r: len(_pairs(r) & uncovered))
            chosen.append(best)
            uncovered -= _pairs(best)
        chosen.sort()
    return [tuple(a[i] for a, i in zip(axes, r)) for r in chosen]
