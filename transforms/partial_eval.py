"""Partial evaluation: split a Function into the part computable from known inputs and the rest.

Reverse mode is JVP, then this split, then transposition: with the primals known
and the tangents unknown, the known part is the primal computation (plus the
coefficients the tangent ops need: the *residuals*) and the unknown part is a
function linear in the tangents, ready to be transposed.

An op is known when all its inputs are (literals are known); the split needs no
rule per primitive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llax.ir.core import Function, Op, Var


@dataclass(frozen=True)
class Split:
    """``known: known params -> (known results..., residuals...)`` and
    ``staged: (residuals..., unknown params...) -> staged results``."""

    known: Function
    staged: Function
    num_residuals: int


def partial_eval(fn: Function, unknown: Sequence[bool], staged_results: Sequence[bool]) -> Split:
    """Split ``fn`` by which params are ``unknown``.

    The results flagged in ``staged_results`` are returned by the staged function,
    the others by the known one (each of those must depend on known params only).
    """
    unknown_vars = {v for v, u in zip(fn.params, unknown) if u}
    known_ops: list[Op] = []
    staged_ops: list[Op] = []
    for op in fn.ops:
        if any(isinstance(a, Var) and a in unknown_vars for a in op.inputs):
            staged_ops.append(op)
            unknown_vars.update(op.outputs)
        else:
            known_ops.append(op)

    known_results = [r for r, s in zip(fn.results, staged_results) if not s]
    for r in known_results:
        if isinstance(r, Var) and r in unknown_vars:
            raise ValueError(f"partial_eval: result {r} of {fn.name} depends on unknown inputs")
    staged_out = [r for r, s in zip(fn.results, staged_results) if s]

    # Residuals: known values the staged ops or staged results read, in first-use order.
    residuals: dict[Var, None] = {}
    for op in staged_ops:
        residuals.update((a, None) for a in op.inputs
                         if isinstance(a, Var) and a not in unknown_vars)
    residuals.update((r, None) for r in staged_out
                     if isinstance(r, Var) and r not in unknown_vars)
    res = tuple(residuals)

    known = Function(tuple(v for v, u in zip(fn.params, unknown) if not u), tuple(known_ops),
                     tuple(known_results) + res, f"{fn.name}_known")
    staged = Function(res + tuple(v for v, u in zip(fn.params, unknown) if u),
                      tuple(staged_ops), tuple(staged_out), f"{fn.name}_staged")
    return Split(known, staged, len(res))


