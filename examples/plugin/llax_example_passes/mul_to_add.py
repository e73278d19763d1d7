"""``mul2-to-add``: rewrite ``x * 2`` as ``x + x``.

A rewrite that keeps every result bit for bit: for integers both wrap the same way,
and for real floating point ``x + x`` is the exact double rounded once, as ``x * 2``
is (including infinities, NaNs and signed zeros). It is not done for complex
numbers, where ``(inf + 0j) * 2`` has a NaN imaginary part that ``x + x`` lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Literal, Op, Var
from llax.passes import Pass, PassContext, map_regions, register_pass


def _is_two(a: Atom) -> bool:
    """A Literal whose every element is 2 (a scalar ``2.0``, or a splat array of 2s)."""
    return isinstance(a, Literal) and a.value.size > 0 and bool(np.all(a.value == 2))


def rewrite(op: Op) -> Op:
    """``op`` as an ``add x x`` if it is a real-valued ``mul x 2`` (either order), else
    ``op`` itself."""
    if op.prim is not P.mul:
        return op
    (out,) = op.outputs
    if out.type.dtype.kind not in "iuf":
        return op
    lhs, rhs = op.inputs
    for x, other in ((lhs, rhs), (rhs, lhs)):
        # The output must have exactly x's type (shape, dtype and weak flag), since the
        # add takes its type from x alone.
        if _is_two(other) and isinstance(x, Var) and x.type == out.type:
            # rule_params drops any buffer assignment: the operands changed.
            return op.replace(prim=P.add, inputs=(x, x), params=op.rule_params)
    return op


@register_pass
@dataclass(frozen=True)
class MulTwoToAdd(Pass):
    """Rewrite ``x * 2`` as ``x + x``, in every region too."""

    name = "mul2-to-add"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        fn = map_regions(fn, lambda region: self.run(region, ctx))
        ops = tuple(rewrite(op) for op in fn.ops)
        if all(new is old for new, old in zip(ops, fn.ops, strict=True)):
            return fn  # unchanged: the pass manager's hooks rely on identity
        return fn.replace(ops=ops)
