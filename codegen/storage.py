"""Where a function's values live: buffers shared through ``aliases``, and the scopes that
allocate temporaries.

The ``inplace`` pass records buffer reuse as ``aliases=((output, operand), ...)`` on an op
(``ir.core.ALIASES``): the output is stored in the operand's buffer, which nothing reads
afterwards. The code generator follows that and makes no aliasing decision of its own.
``plan_buffers`` joins the values of one function (the kernel's, or a region's) into buffer
groups: a group is one buffer, started by its root (a parameter or an op output) and updated
in place by every op whose output joins it. It is freed once, after the last read of its
last value.

A parameter's buffer may only be written when its owner says so (``writable``): a loop's
carry is storage the loop owns, and so is a kernel input its caller donated; the other
kernel inputs, a scan's consts and xs slices, and a cond's operands (unless the cond op
itself aliases them) belong to someone else. An alias into a buffer that may not be
written is not followed: the op writes fresh storage. Nor is one on a fusion whose region
reads that operand elsewhere than at the output's own index (through a reversal, say):
writing element i would clobber an element still to be read. A kernel result whose group
is rooted at a donated input stays there: the caller gets that input back as the output
(``donated_results``).

Temporaries come from a scope. ``KernelScope``: made where first written and freed after
their last use. ``LoopScope``: everything a loop needs (its regions' temporaries, the second
buffer of a swapped carry, the same for loops nested inside it) is allocated once before the
outermost loop and freed after it, so no iteration allocates. Either way small buffers are
stack slots in the kernel's entry block (``KernelBuilder.stack_alloc``), where LLVM can keep
scalars in registers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import llvmlite.ir as ir

from llax.codegen import ltypes
from llax.codegen.emitter import LoweringError
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Op, Var
from llax.ir.graph import last_use
from llax.ir.primitive import FusionClass, fusion_class
from llax.ir.types import TensorType

if TYPE_CHECKING:
    from llax.codegen.lower import KernelBuilder

ALIGN = 64  # bytes: a cache line, and enough for any vector load


@dataclass
class BufferPlan:
    """The buffer groups of one function."""

    fn: Function
    root: dict[Var, Var]  # every parameter and op output -> the root of its group
    # root -> index of the last op reading any value of the group (len(ops) for a result);
    # a group nobody reads is absent.
    last_read: dict[Var, int] = field(default_factory=dict)

    def written(self, param: Var) -> bool:
        """Whether some op writes into ``param``'s buffer."""
        return any(r is param and v is not param for v, r in self.root.items())

    def in_place(self, result: Atom, param: Var) -> bool:
        """Whether ``result`` lives in ``param``'s buffer."""
        return isinstance(result, Var) and self.root.get(result) is param


def plan_buffers(fn: Function, writable: Collection[int] = ()) -> BufferPlan:
    """Group ``fn``'s values by buffer, following the ops' ``aliases`` (checked: an invalid
    one raises LoweringError rather than corrupting a value); ``writable`` are the indices of
    the parameters whose buffers the function may update in place."""
    last = last_use(fn)
    read_only = set(fn.params) - {fn.params[k] for k in writable}
    root: dict[Var, Var] = {p: p for p in fn.params}
    for t, op in enumerate(fn.ops):
        root.update((v, v) for v in op.outputs)
        for out, operand in op.aliases:
            r = root[_checked_alias(op, out, operand, t, last)]
            if r not in read_only and (op.prim is not P.fusion
                                       or P.reads_pointwise(op.regions[0], operand)):
                root[op.outputs[out]] = r
    plan = BufferPlan(fn, root)
    for v, r in root.items():
        if v in last:
            plan.last_read[r] = max(plan.last_read.get(r, -1), last[v])
    return plan


def donated_results(plan: BufferPlan, donated: Collection[int]) -> list[int | None]:
    """For each result of the planned function, the donated parameter (by index) whose
    buffer already holds it at the end, or None. Such a result needs no buffer of its own:
    the caller gets the parameter's buffer back. A buffer goes to its first such result
    only; another result in it (the same value returned twice) is copied out."""
    owner = {plan.fn.params[k]: k for k in donated}
    return [owner.pop(plan.root.get(a), None) if isinstance(a, Var) else None
            for a in plan.fn.results]


def carry_operand(op: Op, out: int) -> int | None:
    """The operand whose buffer a loop's or a cond's output ``out`` may take over: the
    matching initial carry of a while or scan; for cond, any operand (checked by type)."""
    if op.prim not in (P.while_loop, P.scan):
        return None
    first, _, n = P.loop_carries(op)
    return first + out if out < n else None


def _checked_alias(op: Op, out: int, operand: int, t: int, last: dict[Var, int]) -> Var:
    """The operand Var that output ``out`` of ``op`` (the ``t``-th op) may be stored in."""
    where = f"aliases {op.aliases} on {op.prim.name!r}"
    if not (0 <= out < len(op.outputs) and 0 <= operand < len(op.inputs)):
        raise LoweringError(f"{where}: index out of range")
    a = op.inputs[operand]
    if not isinstance(a, Var):
        raise LoweringError(f"{where}: operand {operand} is a literal, which has no buffer")
    o = op.outputs[out].type
    if (a.type.shape, a.type.dtype) != (o.shape, o.dtype):
        raise LoweringError(f"{where}: output {out} ({o}) and operand {operand} ({a.type}) "
                            "differ in shape or dtype")
    elementwise = op.prim is P.fusion or fusion_class.get(op.prim) is FusionClass.ELEMENTWISE
    if op.prim is P.dynamic_update_slice or op.prim in P.SCATTERS:
        allowed = (out, operand) == (0, 0)
    elif op.prim is P.cond:
        allowed = operand >= 1
    elif op.prim in (P.while_loop, P.scan):
        allowed = carry_operand(op, out) == operand
    else:
        allowed = elementwise
    if not allowed:
        raise LoweringError(f"{where}: the code generator cannot store output {out} in "
                            f"operand {operand}")
    # An op that reads the operand elsewhere than at the output's own index (a loop, an
    # update) must not see it twice: one reading would see the other's writes.
    if last.get(a) != t or (not elementwise and op.inputs.count(a) > 1):
        raise LoweringError(f"{where}: operand {operand} is still read after it is "
                            "overwritten")
    if sum(1 for _, i in op.aliases if i == operand) > 1:
        raise LoweringError(f"{where}: two outputs in the buffer of operand {operand}")
    return a


# --- scopes --------------------------------------------------------------------------------

class KernelScope:
    """Straight-line code: a temporary is made where it is first written and freed after
    its last use."""

    def __init__(self, kb: KernelBuilder) -> None:
        self.kb = kb

    def alloc(self, t: TensorType) -> ir.Value:
        ptr = self.kb.stack_alloc(t)
        return ptr if ptr is not None else ltypes.heap_alloc(self.kb.b, t.nbytes, ALIGN)

    def release(self, ptr: ir.Value) -> None:
        if not self.kb.is_static(ptr):
            ltypes.heap_free(self.kb.b, ptr)


class LoopScope:
    """A loop nest: temporaries are allocated once in a block before the outermost loop
    (``begin``) and freed after it (``end``), however often its regions run."""

    def __init__(self, kb: KernelBuilder) -> None:
        self.kb = kb
        b = kb.b
        allocs = b.append_basic_block("loop.alloc")
        self.start = b.append_basic_block("loop.start")
        b.branch(allocs)
        self.pre = ir.IRBuilder(allocs)
        b.position_at_end(self.start)
        self.heap: list[ir.Value] = []

    def alloc(self, t: TensorType) -> ir.Value:
        ptr = self.kb.stack_alloc(t)
        if ptr is None:
            ptr = ltypes.heap_alloc(self.pre, t.nbytes, ALIGN)
            self.heap.append(ptr)
        return ptr

    def release(self, ptr: ir.Value) -> None:
        pass  # freed once, after the loop

    def end(self) -> None:
        self.pre.branch(self.start)
        for ptr in self.heap:
            ltypes.heap_free(self.kb.b, ptr)


# --- moving results into place -------------------------------------------------------------

@dataclass
class Move:
    """Copy ``src`` (a pointer, or the literal ``atom``) into ``dst``."""

    atom: Atom
    src: ir.Value | None
    dst: ir.Value


def parallel_moves(moves: Sequence[Move], copy: Callable[[Move], None],
                   spill: Callable[[Move], ir.Value]) -> None:
    """Perform ``moves`` as if all at once: a destination is overwritten only after every
    move reading it is done; a cycle (results that swap two buffers) goes through a
    temporary (``spill(move)`` copies ``move.src`` there and returns it)."""
    pending = [m for m in moves if m.src is not m.dst]
    while pending:
        ready = next((m for m in pending
                      if not any(o is not m and o.src is m.dst for o in pending)), None)
        if ready is None:  # every destination is still to be read: break the cycle
            m = pending[0]
            tmp = spill(m)
            for o in pending:
                if o.src is m.src:
                    o.src = tmp
            continue
        copy(ready)
        pending.remove(ready)
