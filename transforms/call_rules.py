"""Transformation rules of the ``jit`` call op (ir/prims/call.py): each inlines the region.

A nested jit is a call boundary for ``make_jaxpr`` only. Every transformation
runs the region's ops through itself in place of the op, so the result is what
the transformation of the inlined function would be:

- JVP: the region's ops go through ``jvp_op`` one by one (an op without
  tangents is re-emitted as it is, a jit op among them too);
- transpose: the region is transposed as a function of its linear operands and
  called in place;
- partial evaluation: the region's ops are split like the enclosing function's,
  its results renamed to the op's outputs;
- batching (also of loop bodies, which batch their ops the same way): the
  region's ops are batched in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llax.frontend.core import bind
from llax.ir.core import Atom, Function, Op, Params, Var, renamed
from llax.ir.prims.call import jit_call
from llax.transforms.batching import Axis, Dim, axis_batching_rules, batch_ops
from llax.transforms.jvp import instantiate, jvp_op, jvp_rules
from llax.transforms.partial_eval import _split_ops, partial_eval_rules
from llax.transforms.staging import call_function, literal_operand
from llax.transforms.transpose import is_linear, transpose_function, transpose_rules


def _jit_call_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                  regions: tuple[Function, ...], name: str) -> tuple[list[Any], list[Any]]:
    (fun,) = regions
    env: dict[Var, Any] = dict(zip(fun.params, primals))
    tenv: dict[Var, Any] = {v: t for v, t in zip(fun.params, tangents) if t is not None}

    def read(a: Atom) -> Any:
        return env[a] if isinstance(a, Var) else literal_operand(a)

    for op in fun.ops:
        outs, touts = jvp_op(op.prim, [read(a) for a in op.inputs],
                             [tenv.get(a) if isinstance(a, Var) else None for a in op.inputs],
                             dict(op.params), op.regions)
        env.update(zip(op.outputs, outs))
        tenv.update((v, t) for v, t in zip(op.outputs, touts) if t is not None)
    return ([read(r) for r in fun.results],
            [tenv.get(r) if isinstance(r, Var) else None for r in fun.results])


jvp_rules[jit_call] = _jit_call_jvp


def _jit_call_transpose(cts: Sequence[Any], *inputs: Any, regions: tuple[Function, ...],
                        name: str) -> list[Any]:
    (fun,) = regions
    linear = [is_linear(x) for x in inputs]
    fn_t, consts = transpose_function(fun, linear)
    fixed = [x for x, lin in zip(inputs, linear) if not lin]
    cts = [instantiate(ct, t) for ct, t in zip(cts, fun.out_types)]
    given = iter(call_function(fn_t, [*consts, *fixed, *cts]))
    return [next(given) if lin else None for lin in linear]


transpose_rules[jit_call] = _jit_call_transpose


def _jit_call_partial_eval(op: Op, unknown: list[bool]) -> tuple[list[Op], list[Op]]:
    fun = renamed(op.regions[0])  # its variables must not collide with another inlining's
    subst: dict[Var, Atom] = dict(zip(fun.params, op.inputs))
    # Each result defined by one of the region's ops takes the op's output variable as its
    # name; the others (a parameter or a literal passed through, a result repeated) are
    # copied into the output by an identity call.
    defined = {v for body_op in fun.ops for v in body_op.outputs}
    rename: dict[Var, Var] = {}
    copies: list[tuple[Atom, Var]] = []
    for r, out in zip(fun.results, op.outputs):
        if isinstance(r, Var) and r in defined and r not in rename:
            rename[r] = out
        else:
            copies.append((r, out))

    def sub(a: Atom) -> Atom:
        if not isinstance(a, Var):
            return a
        return rename.get(a) or subst.get(a, a)

    ops = [body_op.replace(inputs=tuple(sub(a) for a in body_op.inputs),
                           outputs=tuple(rename.get(v, v) for v in body_op.outputs))
           for body_op in fun.ops]
    params: dict[Var, bool] = {}
    for a, uk in zip(op.inputs, unknown):
        if isinstance(a, Var):
            params[a] = params.get(a, False) or uk
    inner = Function(tuple(params), tuple(ops), (), f"{fun.name}_inlined")
    known, staged, unknown_vars = _split_ops(inner, list(params.values()))
    for src, out in copies:
        src = sub(src)
        copy = _identity_call(src, out)
        (staged if isinstance(src, Var) and src in unknown_vars else known).append(copy)
    return known, staged


def _identity_call(src: Atom, out: Var) -> Op:
    param = Var(out.type)
    region = Function((param,), (), (param,), "identity")
    return Op(jit_call, (src,), (out,), Params(name="identity"), (region,))


partial_eval_rules[jit_call] = _jit_call_partial_eval


def _jit_call_batch(axis: Axis, args: Sequence[Any], dims: Sequence[Dim], *,
                    regions: tuple[Function, ...], name: str) -> tuple[list[Any], list[Dim]]:
    return batch_ops(regions[0], args, dims, axis)


axis_batching_rules[jit_call] = _jit_call_batch


def emit_jit_call(name: str, fun: Function, args: Sequence[Any]) -> list[Any]:
    """Apply ``fun`` to ``args`` as one ``jit`` op (staged, or evaluated when no trace is
    active)."""
    return bind(jit_call, args, {"name": name}, (fun,))


__all__ = ["emit_jit_call"]
