"""Common-subexpression elimination: merge ops that compute the same thing.

Two ops are the same computation when they have the same primitive, equal params,
the same region objects and the same operands, where a Var matches only itself
and a Literal matches a literal of the same type and bits (``Literal.key``: so
``0.0`` and ``-0.0`` differ, and two NaNs with one payload agree). The later op's
outputs are replaced by the earlier op's. Every primitive is pure, so this is
sound; ops with effects (``dce.EFFECTFUL``) are never merged.

Each region is its own scope (regions cannot capture values), so CSE runs inside
every region separately and never merges across a region boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from llax.ir.core import Atom, Function, Op, Params, Var
from llax.passes.dce import has_effects
from llax.passes.manager import Pass, PassContext, register_pass


def eliminate_common_subexpressions(fn: Function) -> Function:
    """``fn`` with duplicate computations merged; ``fn`` itself if there were none."""
    subst: dict[Var, Atom] = {}
    seen: dict[tuple, Op] = {}
    new_ops: list[Op] = []
    changed = False

    def sub(a: Atom) -> Atom:
        return subst.get(a, a) if isinstance(a, Var) else a

    for op in fn.ops:
        inputs = tuple(sub(a) for a in op.inputs)
        regions = tuple(eliminate_common_subexpressions(r) for r in op.regions)
        if any(a is not b for a, b in zip(inputs, op.inputs, strict=True)) or \
                any(a is not b for a, b in zip(regions, op.regions, strict=True)):
            op = op.replace(inputs=inputs, regions=regions)
            changed = True
        if has_effects(op):
            new_ops.append(op)
            continue
        # Regions are keyed by identity (Function hashes by identity): structurally equal
        # but distinct regions are not merged.
        key = (op.prim, _params_key(op.params), op.regions,
               tuple(a if isinstance(a, Var) else ("literal", *a.key()) for a in op.inputs))
        prev = seen.get(key)
        if prev is not None and all(a.type == b.type
                                    for a, b in zip(prev.outputs, op.outputs, strict=True)):
            subst.update(zip(op.outputs, prev.outputs, strict=True))
            changed = True
            continue
        seen[key] = op
        new_ops.append(op)
    if not changed:
        return fn
    return fn.replace(ops=tuple(new_ops), results=tuple(sub(a) for a in fn.results))


def _params_key(params: Params) -> tuple:
    # Params compare with ==, under which 1 == 1.0 == True and 0.0 == -0.0; merging ops
    # whose params differ that way would change results, so compare types and bits too.
    return tuple((k, _strict(v)) for k, v in params.items())


def _strict(value: Any) -> Any:
    if isinstance(value, tuple):
        return (tuple, *(_strict(v) for v in value))
    if isinstance(value, (float, np.floating)):
        return (float, np.float64(value).tobytes())
    if isinstance(value, (bool, int, np.integer, np.bool_)):
        return (type(value), value)
    return value


@register_pass
@dataclass(frozen=True)
class CommonSubexpressionElimination(Pass):
    """Merge ops that compute the same value (see the module docstring)."""

    name = "cse"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return eliminate_common_subexpressions(fn)


__all__ = ["CommonSubexpressionElimination", "eliminate_common_subexpressions"]
