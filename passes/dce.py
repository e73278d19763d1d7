"""Dead-code elimination: drop ops whose outputs nothing reads.

Every primitive is pure today, so an op is dead exactly when none of its outputs
reaches the function's results. ``EFFECTFUL`` is the hook for primitives that
will have side effects (printing, callbacks, in-place updates): their ops, and
ops whose regions contain one, are always kept (and never merged by CSE).

Inside regions, dead ops are removed too; a region's parameters and results are
its op's interface and stay, except for ``fusion`` ops, whose contract is ours:
unused outputs drop their region result and unused region parameters drop their
input.
"""

from __future__ import annotations

from dataclasses import dataclass

from llax.ir.core import Function, Op, Var, walk_ops
from llax.ir.primitive import Primitive
from llax.ir.prims import fusion
from llax.passes.manager import Pass, PassContext, register_pass

# Primitives whose ops have effects beyond their outputs; see the module docstring.
EFFECTFUL: set[Primitive] = set()


def has_effects(op: Op) -> bool:
    """Whether ``op`` (or an op in its regions) must run even if its outputs are unused."""
    if op.prim in EFFECTFUL:
        return True
    return any(inner.prim in EFFECTFUL for region in op.regions for inner in walk_ops(region))


def eliminate_dead_code(fn: Function) -> Function:
    """``fn`` without dead ops (in regions too); ``fn`` itself if there were none."""
    live: set[Var] = {a for a in fn.results if isinstance(a, Var)}
    kept: list[Op] = []
    changed = False
    # Backwards, so an op's liveness is known before its producers are looked at.
    for op in reversed(fn.ops):
        used = [v in live for v in op.outputs]
        if not any(used) and not has_effects(op):
            changed = True
            continue
        new = _prune_fusion(op, used) if op.prim is fusion else _dce_regions(op)
        changed |= new is not op
        live.update(a for a in new.inputs if isinstance(a, Var))
        kept.append(new)
    return fn.replace(ops=tuple(reversed(kept))) if changed else fn


def _dce_regions(op: Op) -> Op:
    if not op.regions:
        return op
    regions = tuple(eliminate_dead_code(r) for r in op.regions)
    if all(a is b for a, b in zip(regions, op.regions, strict=True)):
        return op
    return op.replace(regions=regions)


def _prune_fusion(op: Op, used: list[bool]) -> Op:
    (region,) = op.regions
    outputs = op.outputs
    if not all(used):
        outputs = tuple(v for v, u in zip(op.outputs, used, strict=True) if u)
        results = tuple(r for r, u in zip(region.results, used, strict=True) if u)
        region = region.replace(results=results)
    region = eliminate_dead_code(region)
    read = {a for inner in region.ops for a in inner.inputs if isinstance(a, Var)}
    read.update(a for a in region.results if isinstance(a, Var))
    keep = [i for i, p in enumerate(region.params) if p in read]
    inputs = op.inputs
    if len(keep) < len(region.params):
        region = region.replace(params=tuple(region.params[i] for i in keep))
        inputs = tuple(op.inputs[i] for i in keep)
    if region is op.regions[0]:
        return op
    return op.replace(inputs=inputs, outputs=outputs, regions=(region,))


@register_pass
@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Remove ops whose outputs are never used (see the module docstring)."""

    name = "dce"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return eliminate_dead_code(fn)
