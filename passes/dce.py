"""Dead-code elimination: drop ops whose outputs nothing reads.

An op is dead when none of its outputs reaches the function's results, unless it
has effects: the primitives in ``EFFECTFUL`` (host callbacks that print or do I/O,
llax.ir.prims.callbacks) are always kept, as are ops whose regions contain one
(and no such op is merged by CSE).

Inside regions, dead ops are removed too. A region's parameters and results are
its op's interface; the primitives in ``PRUNE_RULES`` narrow it: a ``fusion`` or
``cond`` drops unused outputs (and their region results) and operands no region
reads; a ``scan`` drops dead carries (neither used outside nor read to compute a
live value in a later iteration), unused ``ys``, ``consts`` and ``xs``; a ``while``
drops carries that neither its results, its condition nor its live carries need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llax.ir.core import Function, Op, Var, walk_ops
from llax.ir.primitive import Primitive
from llax.ir.prims import cond, fusion, scan, while_loop
from llax.ir.prims.callbacks import EFFECTFUL_CALLBACKS
from llax.passes.manager import Pass, PassContext, register_pass

# Primitives whose ops have effects beyond their outputs; see the module docstring.
EFFECTFUL: set[Primitive] = set(EFFECTFUL_CALLBACKS)


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
        prune = PRUNE_RULES.get(op.prim)
        new = prune(op, used) if prune is not None and not has_effects(op) else _dce_regions(op)
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


def _prune_region(region: Function, keep: Sequence[bool]) -> tuple[Function, list[bool]]:
    """``region`` returning only the results flagged in ``keep``, without dead ops; and
    which of its params the rest still reads."""
    results = tuple(r for r, k in zip(region.results, keep, strict=True) if k)
    region = eliminate_dead_code(region.replace(results=results))
    read = {a for inner in region.ops for a in inner.inputs if isinstance(a, Var)}
    read.update(a for a in region.results if isinstance(a, Var))
    return region, [p in read for p in region.params]


def _select(xs: Sequence, keep: Sequence[bool]) -> tuple:
    return tuple(x for x, k in zip(xs, keep, strict=True) if k)


def _rebuilt(op: Op, inputs: Sequence[bool], outputs: Sequence[bool],
             regions: tuple[Function, ...], **params) -> Op:
    """``op`` with the flagged inputs and outputs only, new regions and changed params;
    ``op`` itself if nothing changed."""
    if all(inputs) and all(outputs) and all(
            a is b for a, b in zip(regions, op.regions, strict=True)):
        return op
    return op.replace(inputs=_select(op.inputs, inputs), outputs=_select(op.outputs, outputs),
                      regions=regions, params=op.params.replace(**params) if params
                      else op.params)


def _without_params(region: Function, keep: Sequence[bool]) -> Function:
    return region.replace(params=_select(region.params, keep))


def _prune_fusion(op: Op, used: list[bool]) -> Op:
    region, read = _prune_region(op.regions[0], used)
    return _rebuilt(op, read, used, (_without_params(region, read),))


def _prune_cond(op: Op, used: list[bool]) -> Op:
    pruned = [_prune_region(b, used) for b in op.regions]
    read = [any(col) for col in zip(*(r for _, r in pruned), strict=True)]
    branches = tuple(_without_params(b, read) for b, _ in pruned)
    return _rebuilt(op, [True, *read], used, branches)


def _live_carries(n: int, used: Sequence[bool],
                  reads: Callable[[list[bool]], list[bool]]) -> list[bool]:
    """Carries needed: used outside, or read (``reads(live)``: which carries the live part
    of one iteration reads) to compute a needed one; a fixed point."""
    live = list(used[:n])
    while True:
        grown = [a or b for a, b in zip(live, reads(live), strict=True)]
        if grown == live:
            return live
        live = grown


def _prune_scan(op: Op, used: list[bool]) -> Op:
    (body,) = op.regions
    nc, nk = op.params["num_consts"], op.params["num_carry"]
    ys = used[nk:]
    live = _live_carries(nk, used, lambda live: _prune_region(body, live + ys)[1][nc:nc + nk])
    body, read = _prune_region(body, live + ys)
    # A live carry keeps its parameter even if no live op reads it: it is the loop's state.
    keep = read[:nc] + live + read[nc + nk:]
    return _rebuilt(op, keep, live + ys, (_without_params(body, keep),),
                    num_consts=sum(keep[:nc]), num_carry=sum(live))


def _prune_while(op: Op, used: list[bool]) -> Op:
    cond_fn, body = op.regions
    nc, nb = op.params["cond_nconsts"], op.params["body_nconsts"]
    cond_fn, cond_read = _prune_region(cond_fn, [True])
    n = len(op.outputs)
    needed = [u or r for u, r in zip(used, cond_read[nc:], strict=True)]
    live = _live_carries(n, needed, lambda live: _prune_region(body, live)[1][nb:])
    body, body_read = _prune_region(body, live)
    cond_keep = cond_read[:nc] + live
    body_keep = body_read[:nb] + live
    return _rebuilt(op, cond_keep[:nc] + body_keep[:nb] + live, live,
                    (_without_params(cond_fn, cond_keep), _without_params(body, body_keep)),
                    cond_nconsts=sum(cond_keep[:nc]), body_nconsts=sum(body_keep[:nb]))


# Primitives whose region interface DCE may narrow: rule(op, used outputs) -> new op.
PRUNE_RULES: dict[Primitive, Callable[[Op, list[bool]], Op]] = {
    fusion: _prune_fusion, cond: _prune_cond, scan: _prune_scan, while_loop: _prune_while,
}


@register_pass
@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Remove ops whose outputs are never used (see the module docstring)."""

    name = "dce"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return eliminate_dead_code(fn)
