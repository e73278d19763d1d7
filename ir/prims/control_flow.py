"""Structured control flow: ``cond``, ``while`` and ``scan``, ops with regions (JAX's names).

Regions are closed Functions: whatever a branch or body reads from outside is an
explicit operand of the op (its *consts*), so every region can be compiled,
transformed and printed on its own.

- ``cond[] index *operands { branch_0 } { branch_1 } ...``
  ``index`` is an int32 scalar already clamped to ``[0, len(branches))``; every
  branch maps ``operands -> outs`` with the same types.
- ``while[cond_nconsts, body_nconsts] *cond_consts *body_consts *init { cond } { body }``
  ``cond: (*cond_consts, *carry) -> bool[]``; ``body: (*body_consts, *carry) -> carry``.
  The outputs are the final carry.
- ``scan[length, num_consts, num_carry, reverse, unroll] *consts *init *xs { body }``
  ``body: (*consts, *carry, *x) -> (*carry, *y)`` where each ``x`` is one slice of
  ``xs`` along its leading axis (of size ``length``); the outputs are the final
  carry and the ``ys`` stacked along a new leading axis. ``reverse`` walks the
  slices from last to first (and stacks ``ys`` in place, so ``ys[i]`` still
  belongs to ``xs[i]``). ``unroll`` is a hint for the code generator.

Carry results must have the carry's shape and dtype; they may differ in weak type
(a weakly typed initial value the body makes strong), as in JAX, and the op's
carry outputs have the types of the body's results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llax.ir.core import Function
from llax.ir.primitive import abstract_eval, primitive, region_params
from llax.ir.types import TensorType

__all__ = ["CONTROL_FLOW", "cond", "loop_carries", "scan", "while_loop"]

cond = primitive("cond", multiple_results=True)
while_loop = primitive("while", multiple_results=True)
scan = primitive("scan", multiple_results=True)
CONTROL_FLOW = (cond, while_loop, scan)
region_params[cond] = "branches"
region_params[while_loop] = ("cond_jaxpr", "body_jaxpr")
region_params[scan] = ("jaxpr",)


def _types(ts: Sequence[TensorType]) -> str:
    return "(" + ", ".join(map(str, ts)) + ")"


def _expect(what: str, got: Sequence[TensorType], want: Sequence[TensorType]) -> None:
    if tuple(got) != tuple(want):
        raise TypeError(f"{what}: got {_types(got)}, expected {_types(want)}")


def _expect_carry(what: str, got: Sequence[TensorType], want: Sequence[TensorType]) -> None:
    _expect(what, tuple(t.strong() for t in got), tuple(t.strong() for t in want))


def _cond_rule(index: TensorType, *operands: TensorType,
               regions: tuple[Function, ...]) -> tuple[TensorType, ...]:
    if not regions:
        raise TypeError("cond: needs at least one branch")
    if index.shape != () or index.dtype != np.int32:
        raise TypeError(f"cond: the branch index must be an int32 scalar, got {index}")
    outs = regions[0].out_types
    for k, branch in enumerate(regions):
        _expect(f"cond: the parameters of branch {k}", branch.in_types, operands)
        _expect(f"cond: the results of branch {k}", branch.out_types, outs)
    return outs


abstract_eval[cond] = _cond_rule


def _while_rule(*operands: TensorType, cond_nconsts: int, body_nconsts: int,
                regions: tuple[Function, ...]) -> tuple[TensorType, ...]:
    cond_fn, body = regions
    cond_consts = operands[:cond_nconsts]
    body_consts = operands[cond_nconsts:cond_nconsts + body_nconsts]
    carry = operands[cond_nconsts + body_nconsts:]
    _expect("while: the parameters of cond", cond_fn.in_types, cond_consts + carry)
    _expect("while: the result of cond", tuple(t.strong() for t in cond_fn.out_types),
            (TensorType((), np.bool_),))
    _expect("while: the parameters of body", body.in_types, body_consts + carry)
    _expect_carry("while: the results of body (the carry)", body.out_types, carry)
    return body.out_types


abstract_eval[while_loop] = _while_rule


def _scan_rule(*operands: TensorType, length: int, num_consts: int, num_carry: int,
               reverse: bool, unroll: int,
               regions: tuple[Function, ...]) -> tuple[TensorType, ...]:
    (body,) = regions
    if length < 0:
        raise TypeError(f"scan: length must be non-negative, got {length}")
    consts = operands[:num_consts]
    carry = operands[num_consts:num_consts + num_carry]
    xs = operands[num_consts + num_carry:]
    for t in xs:
        if not t.shape or t.shape[0] != length:
            raise TypeError(f"scan: every xs operand must have leading axis {length}, got {t}")
    x = tuple(TensorType(t.shape[1:], t.dtype, t.weak) for t in xs)
    _expect("scan: the parameters of body", body.in_types, consts + carry + x)
    if len(body.out_types) < num_carry:
        raise TypeError(f"scan: body returns {len(body.out_types)} values, fewer than its "
                        f"{num_carry} carries")
    _expect_carry("scan: the carry results of body", body.out_types[:num_carry], carry)
    ys = tuple(TensorType((length, *t.shape), t.dtype, t.weak)
               for t in body.out_types[num_carry:])
    return body.out_types[:num_carry] + ys


abstract_eval[scan] = _scan_rule


def loop_carries(op) -> tuple[int, int, int]:
    """Where a ``while`` or ``scan`` op keeps its carries: (position of the first initial
    carry among the operands, position of the first carry parameter of the body, number of
    carries)."""
    p = op.params
    if op.prim is while_loop:
        return p["cond_nconsts"] + p["body_nconsts"], p["body_nconsts"], len(op.outputs)
    return p["num_consts"], p["num_consts"], p["num_carry"]
