"""Inline the call-like ops: ``custom_jvp_call``, ``custom_vjp_call`` and ``jit``.

Once the transformations are done, such an op means nothing more than its
one region (the custom function's ``fun``, the nested jitted function), so
compilation starts by splicing that region's ops into the enclosing function
(with fresh output variables, as one region may be inlined more than once).
"""

from __future__ import annotations

from dataclasses import dataclass

from llax.ir.core import Atom, Function, Op, Var
from llax.ir.primitive import Primitive
from llax.ir.prims import custom_jvp_call, custom_vjp_call
from llax.ir.prims.call import jit_call
from llax.passes.manager import Pass, PassContext, register_pass

# Ops whose one region receives exactly the op's operands and is all they mean.
CALLS: frozenset[Primitive] = frozenset({custom_jvp_call, custom_vjp_call, jit_call})


def inline_calls(fn: Function) -> Function:
    """``fn`` with every call-like op replaced by its ``fun`` region; ``fn`` if there were none."""
    if not any(op.prim in CALLS or op.regions for op in fn.ops):
        return fn
    subst: dict[Var, Atom] = {}

    def sub(a: Atom) -> Atom:
        return subst.get(a, a) if isinstance(a, Var) else a

    ops: list[Op] = []
    for op in fn.ops:
        op = op.replace(inputs=tuple(sub(a) for a in op.inputs))
        if op.prim not in CALLS:
            if op.regions:
                op = op.replace(regions=tuple(inline_calls(r) for r in op.regions))
            ops.append(op)
            continue
        body = inline_calls(op.regions[0])
        inner: dict[Var, Atom] = dict(zip(body.params, op.inputs))
        for body_op in body.ops:
            fresh = tuple(Var(v.type) for v in body_op.outputs)
            inputs = tuple(inner.get(a, a) if isinstance(a, Var) else a for a in body_op.inputs)
            inner.update(zip(body_op.outputs, fresh))
            ops.append(body_op.replace(inputs=inputs, outputs=fresh))
        for out, r in zip(op.outputs, body.results):
            subst[out] = inner.get(r, r) if isinstance(r, Var) else r
    return fn.replace(ops=tuple(ops), results=tuple(sub(a) for a in fn.results))


@register_pass
@dataclass(frozen=True)
class InlineCalls(Pass):
    """Replace call-like ops by their bodies (see the module docstring)."""

    name = "inline-calls"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return inline_calls(fn)


__all__ = ["InlineCalls", "inline_calls"]
