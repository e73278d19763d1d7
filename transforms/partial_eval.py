"""Partial evaluation: split a Function into the part computable from known inputs and the rest.

Reverse mode is JVP, then this split, then transposition: with the primals known
and the tangents unknown, the known part is the primal computation (plus the
coefficients the tangent ops need: the *residuals*) and the unknown part is a
function linear in the tangents, ready to be transposed.

An op is known when all its inputs are (literals are known). An op with an
unknown input is staged whole, unless its primitive has a rule in
``partial_eval_rules``: ops with regions (``scan``, ``cond``, ``while``) must be
split themselves, or their non-linear primal computation would land on the
staged side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llax.ir.core import Function, Op, Var
from llax.ir.primitive import Primitive

# rule(op, unknown inputs) -> (known ops, staged ops): ops computing op's outputs (each of
# them exactly once, on one side), the staged ones reading unknown values and whatever known
# values they need (those become residuals). The outputs of the staged ops are unknown.
PartialEvalRule = Callable[[Op, list[bool]], tuple[list[Op], list[Op]]]
partial_eval_rules: dict[Primitive, PartialEvalRule] = {}


@dataclass(frozen=True)
class Split:
    """``known: known params -> (known results..., residuals...)`` and
    ``staged: (residuals..., unknown params...) -> staged results``."""

    known: Function
    staged: Function
    num_residuals: int


def _split_ops(fn: Function, unknown: Sequence[bool]) -> tuple[list[Op], list[Op], set[Var]]:
    """(known ops, staged ops, the unknown values) of ``fn`` given its ``unknown`` params."""
    unknown_vars = {v for v, u in zip(fn.params, unknown) if u}
    known_ops: list[Op] = []
    staged_ops: list[Op] = []
    for op in fn.ops:
        uk = [isinstance(a, Var) and a in unknown_vars for a in op.inputs]
        if not any(uk):
            known_ops.append(op)
            continue
        rule = partial_eval_rules.get(op.prim)
        known, staged = rule(op, uk) if rule is not None else ([], [op])
        known_ops += known
        staged_ops += staged
        for s in staged:
            unknown_vars.update(s.outputs)
    return known_ops, staged_ops, unknown_vars


def unknown_results(fn: Function, unknown: Sequence[bool]) -> list[bool]:
    """Which results of ``fn`` the split given its ``unknown`` params leaves unknown."""
    _, _, unknown_vars = _split_ops(fn, unknown)
    return [isinstance(r, Var) and r in unknown_vars for r in fn.results]


def partial_eval(fn: Function, unknown: Sequence[bool], staged_results: Sequence[bool]) -> Split:
    """Split ``fn`` by which params are ``unknown``.

    The results flagged in ``staged_results`` are returned by the staged function,
    the others by the known one (each of those must depend on known params only).
    """
    known_ops, staged_ops, unknown_vars = _split_ops(fn, unknown)

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
