"""Batching rules of the control-flow primitives ``cond``, ``while`` and ``scan``.

A region is batched as a fusion's body is: ``batch_function`` of the region with
the batch dims of the values it receives (region parameters take a batch axis
anywhere, so operands are not moved for them). Two things make control flow
more than that:

- A loop feeds its carry back into its body, so a carry needs the same batch dim
  on the way in and out. Which carries are batched is a fixed point (a carry is
  batched if its initial value is, or if the body makes it so from batched
  values); batched carries live at dim 0.
- A batched branch index or loop predicate means the examples go different ways,
  which one op cannot do. Per example, ``cond`` is then rewritten as every branch
  evaluated and the results selected, and ``while`` runs until every example is
  done while the body leaves the carry of a finished example as it is; the
  rewritten example is batched like any other code (JAX's semantics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend.core import bind
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Function
from llax.ir.types import TensorType
from llax.transforms.batching import Axis, Dim, axis_batching_rules, batch_function, batch_ops
from llax.transforms.batching_rules import batch_at, move_axis, scalar
from llax.transforms.staging import build_function, call_function

# ---------------------------------------------------------------------------------------------
# Helpers


def _batch_region(fn: Function, in_dims: Sequence[Dim], axis: Axis,
                  out_dims: Sequence[Dim] | None = None) -> tuple[Function, list[Dim]]:
    return batch_function(fn, in_dims, axis.size, axis.name, out_dims)


def _at_front(batched: Sequence[bool]) -> list[Dim]:
    """Dim 0 where ``batched`` says so, unbatched elsewhere."""
    return [0 if b else None for b in batched]


def _place(x: Any, d: Dim, want: Dim, size: int) -> Any:
    """``x`` (batched at ``d``) batched at ``want``; an unbatched value may stay unbatched."""
    return x if want is None else batch_at(x, d, size, want)


def _split(xs: Sequence[Any], *sizes: int) -> list[list[Any]]:
    """``xs`` cut into consecutive pieces of ``sizes`` and the rest."""
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    return [*out, list(xs[start:])]


def _batch_loop_body(body: Function, lead_dims: Sequence[Dim], carry_batched: Sequence[bool],
                     tail_dims: Sequence[Dim], axis: Axis
                     ) -> tuple[Function, list[Dim], list[Dim]]:
    """Batch a loop body ``(*lead, *carry, *tail) -> (*carry, *rest)`` so that each carry
    is batched at 0 or unbatched, alike on the way in and out.

    Returns the batched body, the carry dims and the dims of the other results. A
    carry starts batched if ``carry_batched`` says so and becomes batched when the
    body returns it batched; every round that does not settle batches one more
    carry, so there are at most ``len(carry)`` + 1 rounds.
    """
    n = len(carry_batched)
    batched = list(carry_batched)
    while True:
        carry_dims = _at_front(batched)
        in_dims = [*lead_dims, *carry_dims, *tail_dims]
        fn, out_dims = _batch_region(body, in_dims, axis)
        grown = [b or d is not None for b, d in zip(batched, out_dims[:n])]
        if grown == batched:
            break
        batched = grown
    if out_dims[:n] != carry_dims:
        # A batched carry the body returns unbatched (a constant) or batched elsewhere:
        # the body broadcasts or moves it, so it comes back as it went in.
        fn, out_dims = _batch_region(body, in_dims, axis, [*carry_dims, *out_dims[n:]])
    return fn, carry_dims, out_dims[n:]


# ---------------------------------------------------------------------------------------------
# cond


def _select_branches(regions: Sequence[Function]) -> Function:
    """A cond of one example as data flow: every branch evaluated, outputs selected by index.

    Each branch sees its floating operands through ``select_n(taken, stop_gradient(x),
    x)``: the same values, but a branch that is not taken gets a zero tangent, so
    a branch whose derivative is infinite where it is not taken (a log of a value
    it is not meant for) does not put 0 * inf = NaN into a gradient (JAX does the
    same, see its issue 1052).
    """
    def per_example(index: Any, *operands: Any) -> list[Any]:
        branch_outs = []
        for k, branch in enumerate(regions):
            taken = bind(P.eq, (index, scalar(k, np.int32)), {})
            args = [bind(P.select_n, (taken, bind(P.stop_gradient, (x,), {}), x), {})
                    if dtypes.is_inexact(x.dtype) else x for x in operands]
            branch_outs.append(call_function(branch, args))
        return [bind(P.select_n, (index, *cases), {}) if len(cases) > 1 else cases[0]
                for cases in zip(*branch_outs)]

    index_type = TensorType((), np.dtype(np.int32))
    return build_function(per_example, [index_type, *regions[0].in_types], "cond_as_select")


# An unbatched index: every example takes the same branch, so the cond stays one op over
# batched branches. An output batched by any branch must come out of every branch batched
# at 0 (the branches' results share one type); the others stay unbatched.
# A batched index: the cond becomes selects of all the branches' results (_select_branches),
# batched inline; the index was clamped when the cond was made, so select_n can take it.
def _cond_rule(axis: Axis, args, dims, *, regions):
    index, *operands = args
    index_dim, *operand_dims = dims
    if index_dim is not None:
        return batch_ops(_select_branches(regions), args, dims, axis)
    batched = [_batch_region(branch, operand_dims, axis) for branch in regions]
    out_dims = _at_front([any(d is not None for d in ds)
                          for ds in zip(*(got for _, got in batched))])
    branches = tuple(fn if got == out_dims else _batch_region(branch, operand_dims, axis,
                                                              out_dims)[0]
                     for branch, (fn, got) in zip(regions, batched))
    return bind(P.cond, [index, *operands], {}, branches), out_dims


axis_batching_rules[P.cond] = _cond_rule


# ---------------------------------------------------------------------------------------------
# while


def _guarded_body(cond: Function, body: Function, cond_nconsts: int,
                  body_nconsts: int) -> Function:
    """``(*cond_consts, *body_consts, *carry) -> carry``: one example's body step, that
    leaves the carry as it is once the example's predicate is false."""
    def step(*args: Any) -> list[Any]:
        cond_consts, body_args = args[:cond_nconsts], args[cond_nconsts:]
        carry = body_args[body_nconsts:]
        (running,) = call_function(cond, [*cond_consts, *carry])
        out = []
        for old, new in zip(carry, call_function(body, body_args)):
            kept = bind(P.select_n, (running, old, new), {})
            if kept.weak_type != new.weak_type:  # the carry results have the body's types
                kept = bind(P.convert_element_type, (kept,),
                            {"new_dtype": new.dtype, "weak_type": new.weak_type})
            out.append(kept)
        return out

    return build_function(step, [*cond.in_types[:cond_nconsts], *body.in_types],
                          "while_guarded_body")


def _any_running(cond: Function, pred_dim: int) -> Function:
    """The batched predicate reduced to one: whether any example is still running."""
    def any_true(*args: Any) -> list[Any]:
        (running,) = call_function(cond, args)
        return [bind(P.reduce_or, (running,), {"axes": (pred_dim,)})]

    return build_function(any_true, cond.in_types, "while_any_running")


# A batched predicate: the loop runs until every example is done. The cond region asks
# whether any example still runs; the body updates only those (_guarded_body), so it needs
# the cond's consts too (they are passed twice). Examples stop at different iterations, so
# every carry differs per example: all are batched.
def _while_until_all_done(axis: Axis, args, dims, cond_nconsts: int, body_nconsts: int,
                          cond: Function, body: Function) -> tuple[Any, list[Dim]]:
    cond_consts, body_consts, init = _split(args, cond_nconsts, body_nconsts)
    cond_dims, body_dims, init_dims = _split(dims, cond_nconsts, body_nconsts)
    carry_dims: list[Dim] = [0] * len(init)
    cond_b, (pred_dim,) = _batch_region(cond, [*cond_dims, *carry_dims], axis)
    guarded = _guarded_body(cond, body, cond_nconsts, body_nconsts)
    body_b, _ = _batch_region(guarded, [*cond_dims, *body_dims, *carry_dims], axis,
                              carry_dims)
    init = [batch_at(x, d, axis.size, 0) for x, d in zip(init, init_dims)]
    params = {"cond_nconsts": cond_nconsts, "body_nconsts": cond_nconsts + body_nconsts}
    outs = bind(P.while_loop, [*cond_consts, *cond_consts, *body_consts, *init], params,
                (_any_running(cond_b, pred_dim), body_b))
    return outs, carry_dims


# Both regions are batched, with the carries found by a fixed point; then the predicate's
# batching decides. Unbatched (every example stops at the same iteration): one while over
# the batched carries. Batched: _while_until_all_done.
def _while_rule(axis: Axis, args, dims, *, cond_nconsts, body_nconsts, regions):
    cond, body = regions
    cond_consts, body_consts, init = _split(args, cond_nconsts, body_nconsts)
    cond_dims, body_dims, init_dims = _split(dims, cond_nconsts, body_nconsts)
    body_b, carry_dims, _ = _batch_loop_body(body, body_dims,
                                             [d is not None for d in init_dims], [], axis)
    cond_b, (pred_dim,) = _batch_region(cond, [*cond_dims, *carry_dims], axis)
    if pred_dim is not None:
        return _while_until_all_done(axis, args, dims, cond_nconsts, body_nconsts, cond, body)
    init = [_place(x, d, want, axis.size) for x, d, want in zip(init, init_dims, carry_dims)]
    params = {"cond_nconsts": cond_nconsts, "body_nconsts": body_nconsts}
    outs = bind(P.while_loop, [*cond_consts, *body_consts, *init], params, (cond_b, body_b))
    return outs, carry_dims


axis_batching_rules[P.while_loop] = _while_rule


# ---------------------------------------------------------------------------------------------
# scan


# The scan walks axis 0 of every xs, so an xs batched there has its batch axis moved to 1;
# the body sees each slice batched one dim lower than its xs. Carries are found by a fixed
# point, as for while; ys are stacked on a new axis 0, so a y batched at d is a ys batched
# at d + 1.
def _scan_rule(axis: Axis, args, dims, *, length, num_consts, num_carry, reverse, unroll,
               regions):
    (body,) = regions
    consts, init, xs = _split(args, num_consts, num_carry)
    const_dims, init_dims, xs_dims = _split(dims, num_consts, num_carry)
    xs = [move_axis(x, 0, 1) if d == 0 else x for x, d in zip(xs, xs_dims)]
    x_dims = [None if d is None else max(d, 1) - 1 for d in xs_dims]
    body_b, carry_dims, y_dims = _batch_loop_body(
        body, const_dims, [d is not None for d in init_dims], x_dims, axis)
    init = [_place(x, d, want, axis.size) for x, d, want in zip(init, init_dims, carry_dims)]
    params = {"length": length, "num_consts": num_consts, "num_carry": num_carry,
              "reverse": reverse, "unroll": unroll}
    outs = bind(P.scan, [*consts, *init, *xs], params, (body_b,))
    return outs, [*carry_dims, *(None if d is None else d + 1 for d in y_dims)]


axis_batching_rules[P.scan] = _scan_rule
