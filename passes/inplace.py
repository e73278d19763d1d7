"""In-place buffer reuse: an op writes its result into a dead operand's buffer.

Every value has a buffer of its own unless this pass says otherwise. It says so
with the op param ``aliases=((output, operand), ...)`` (``ir.core.ALIASES``): the
output is stored in the operand's buffer. The code generator reads it and makes
no aliasing decisions of its own; ``buffer_table`` prints the result.

Which outputs may take which operand's buffer (``candidates``):

- ``dynamic_update_slice`` and the ``scatter`` family: the result takes the
  operand's buffer, so an ``x.at[i].set(v)`` costs the update, not a copy of ``x``;
- elementwise ops and single-result ``fusion`` ops without a reduction: an
  operand of the result's shape and dtype that is read only at the result's own
  index (only elementwise ops read it inside the fusion); not epilogue regions,
  whose producer writes the result first;
- ``while`` and ``scan``: each carry output takes its initial value's buffer.

An alias is made only when the operand is dead after the op (no later op reads
it, it is not a result, and the op reads it through no other operand) and its
buffer may be clobbered:

- a value computed in this function (a temporary) always may;
- a parameter of the top-level function only if it was donated
  (``PassContext.donated``): other inputs belong to the caller;
- inside a loop body, a carry parameter only along the chain of aliases that ends
  at the same carry's result: the carry is then updated in place, one buffer for
  every iteration. Constants and ``xs`` slices of a loop, and the operands of a
  ``cond``'s branches, are never clobbered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from llax.ir import prims as P
from llax.ir.core import ALIASES, Function, Op, Var, alias_roots
from llax.ir.graph import last_use
from llax.ir.primitive import FusionClass, fusion_class
from llax.ir.prims.control_flow import loop_carries
from llax.ir.prims.fusion import epilogue_head, reads_pointwise
from llax.passes.manager import Pass, PassContext, register_pass

UPDATES = frozenset({P.dynamic_update_slice, P.scatter, P.scatter_add, P.scatter_sub,
                     P.scatter_mul, P.scatter_min, P.scatter_max})
LOOPS = frozenset({P.while_loop, P.scan})


def candidates(op: Op) -> Iterator[tuple[int, int]]:
    """The ``(output, operand)`` pairs whose buffers ``op`` could share (see the docstring);
    liveness is checked by the caller."""
    if op.prim in UPDATES:
        yield 0, 0
    elif op.prim in LOOPS:
        first, _, n = loop_carries(op)
        yield from ((k, first + k) for k in range(n))
    elif fusion_class.get(op.prim) is FusionClass.ELEMENTWISE and len(op.outputs) == 1:
        yield from ((0, k) for k in range(len(op.inputs)))
    elif op.prim is P.fusion and len(op.outputs) == 1:
        yield from ((0, k) for k in _pointwise_params(op.regions[0]))


def _pointwise_params(region: Function) -> Iterator[int]:
    """Params of a fusion region without a reduction that reach its result pointwise. An
    epilogue region has none: its producer writes the result before the epilogue reads
    the other operands."""
    if epilogue_head(region) is not None or any(
            fusion_class.get(op.prim) is FusionClass.REDUCTION for op in region.ops):
        return
    for k, p in enumerate(region.params):
        if p not in region.results and any(p in op.inputs for op in region.ops) \
                and reads_pointwise(region, k):
            yield k


def _same_storage(op: Op, out: int, operand: int) -> bool:
    a, v = op.inputs[operand], op.outputs[out]
    return (isinstance(a, Var) and a.type.shape == v.type.shape
            and a.type.dtype == v.type.dtype and op.inputs.count(a) == 1)


def assign_buffers(fn: Function, donated: frozenset[Var] = frozenset()) -> Function:
    """``fn`` with ``aliases`` params wherever an output may take an operand's buffer;
    ``donated`` are the params whose buffers the caller gave up."""
    return _assign(fn, donated, {})


def _assign(fn: Function, clobberable: frozenset[Var],
            preset: dict[int, list[tuple[int, int]]]) -> Function:
    """Greedy, in op order: an output takes a dead operand's buffer when that buffer may be
    clobbered. ``preset`` holds pairs decided already (a loop body's carry chains)."""
    last = last_use(fn)
    owner: dict[Var, Var] = {}  # value -> the value whose buffer it lives in (if not its own)
    free = set(clobberable)  # buffers that may be overwritten once their value is dead
    ops = []
    for i, op in enumerate(fn.ops):
        op = _assign_in_regions(op)
        pairs = list(preset.get(i, ()))
        taken = {out for out, _ in pairs}
        for out, k in candidates(op):
            if out in taken or not _same_storage(op, out, k) or last.get(op.inputs[k]) != i:
                continue
            if owner.get(op.inputs[k], op.inputs[k]) in free:
                pairs.append((out, k))
                taken.add(out)
        for out, k in pairs:
            owner[op.outputs[out]] = owner.get(op.inputs[k], op.inputs[k])
        # A new buffer may be reused once its value dies; one handed on stays as it was.
        free.update(v for v in op.outputs if v not in owner)
        if pairs:
            op = op.replace(params=op.params.replace(**{ALIASES: tuple(pairs)}))
        ops.append(op)
    return fn.replace(ops=tuple(ops))


def _assign_in_regions(op: Op) -> Op:
    """``op`` with buffers assigned inside its regions (not fusion regions: those are one
    loop nest, whose values are registers)."""
    if op.prim is P.fusion or not op.regions:
        return op
    if op.prim not in LOOPS:  # cond: the branches' operands belong to the enclosing function
        return op.replace(regions=tuple(assign_buffers(r) for r in op.regions))
    *others, body = op.regions
    _, skip, n = loop_carries(op)
    return op.replace(regions=(*(assign_buffers(r) for r in others),
                               _assign(body, frozenset(), _carry_chains(body, skip, n))))


def _carry_chains(body: Function, skip: int, n: int) -> dict[int, list[tuple[int, int]]]:
    """For each carry whose new value can be computed in its parameter's buffer, the aliases
    along the way: op index -> (output, operand) pairs."""
    producer = {v: (i, op) for i, op in enumerate(body.ops) for v in op.outputs}
    last = last_use(body)
    chains: dict[int, list[tuple[int, int]]] = {}
    for k in range(n):
        result, param = body.results[k], body.params[skip + k]
        if body.results.count(result) != 1:
            continue  # a value returned twice needs a copy anyway
        for i, pair in _chain(result, param, producer, last) or ():
            chains.setdefault(i, []).append(pair)
    return chains


def _chain(v, param: Var, producer: dict, last: dict,
           dead_ends: set | None = None) -> list[tuple[int, tuple[int, int]]] | None:
    """Ops ``(index, (output, operand))`` through which ``v`` can be computed in ``param``'s
    buffer, each reading its operand for the last time; None if there is no such chain."""
    if v is param:
        return []
    dead_ends = set() if dead_ends is None else dead_ends
    if not isinstance(v, Var) or v not in producer or v in dead_ends:
        return None
    i, op = producer[v]
    out = op.outputs.index(v)
    for o, j in candidates(op):
        if o == out and _same_storage(op, o, j) and last.get(op.inputs[j]) == i:
            rest = _chain(op.inputs[j], param, producer, last, dead_ends)
            if rest is not None:
                return [*rest, (i, (o, j))]
    dead_ends.add(v)
    return None


@register_pass
@dataclass(frozen=True)
class InPlace(Pass):
    """Let outputs take dead operands' buffers (see the module docstring)."""

    name = "inplace"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        donated = frozenset(fn.params[i] for i in ctx.donated)
        return assign_buffers(fn, donated)


def buffer_table(fn: Function) -> str:
    """Which values share a buffer, by the names of ``print_function(fn)``.

    One line per buffer that holds more than one value, in the order the values take
    it over (``b <- d (scatter) <- f (add)``), per function and region; for loop bodies,
    which carries are updated in place. ``(none)`` when nothing is shared.
    """
    from llax.ir.printer import Printer

    printer = Printer(fn)
    lines: list[str] = []

    def visit(f: Function, where: str) -> None:
        roots = alias_roots(f)
        members: dict[Var, list[str]] = {}
        for op in f.ops:
            for out, _ in op.aliases:
                v = op.outputs[out]
                members.setdefault(roots[v], [printer.name(roots[v])]).append(
                    f"{printer.name(v)} ({op.prim.name})")
        for chain in members.values():
            lines.append(f"{where}: {' <- '.join(chain)}")
        for op in f.ops:
            if op.prim is P.fusion:
                continue
            for k, r in enumerate(op.regions):
                inner = f"{where} > {op.prim.name} region {k}"
                visit(r, inner)
            if op.prim in LOOPS:
                body = op.regions[-1]
                _, skip, n = loop_carries(op)
                chained = alias_roots(body)
                in_place = [k for k in range(n) if isinstance(body.results[k], Var)
                            and chained.get(body.results[k]) is body.params[skip + k]]
                if in_place:
                    lines.append(f"{where} > {op.prim.name}: carries "
                                 f"{', '.join(map(str, in_place))} updated in place")

    visit(fn, fn.name)
    return "\n".join(lines) if lines else "(none)"


__all__ = ["InPlace", "assign_buffers", "buffer_table", "candidates"]
