"""Native code for ``cond``, ``while`` and ``scan`` (llax.ir.prims.control_flow).

A region is lowered like any function body (``KernelBuilder.lower_region``): its fusions
become loop nests, its dots BLAS calls or generated loops, and so on. Loops are native loops
with no Python in them, and no iteration allocates: every temporary of a loop's regions, and
of loops nested in them, is made once around the outermost loop (``storage.LoopScope``).

Each carry lives in storage the loop owns (``_carry`` picks one of three forms):

- ``_StackCarry`` (at most REGISTER_CARRY_BYTES, so scalars such as a fori_loop's counter):
  the body reads one stack slot and writes another, copied back after each iteration. Every
  pointer is fixed, so once the body's loop nests are inlined LLVM keeps the value in
  registers.
- ``_InPlaceCarry``: the body's ``aliases`` put its result in the carry parameter's buffer
  (the ``inplace`` pass did it), so there is one buffer, updated in place: the loop's output
  buffer (a kernel output when the loop's result is a function result, or the initial
  value's buffer when the loop op aliases it).
- ``_SwappedCarry``: double buffering: the body reads one buffer and writes the other, and
  the pointers swap (phis). One of the two is the output buffer; a scan's trip count is
  known, so the last iteration writes it; a while loop copies at the end if it did not. The
  first iteration reads the initial value where it is (no copy in) unless the body writes
  into its parameter.

A scan reads each xs slice in place (the xs buffer plus i slices) and its body writes each
ys slice straight into the stacked output; ``reverse`` walks i downwards; ``unroll`` becomes
LLVM loop metadata (no IR is duplicated here, so asking costs nothing). A while loop
evaluates its cond region into a one-byte flag and branches. A cond is a switch over its
branches, each lowered to write the op's outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import llvmlite.ir as ir
import numpy as np

from llax.codegen import callbacks, ltypes
from llax.codegen.loops import for_range
from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.codegen.ltypes import I8, I32, PTR, i64
from llax.codegen.storage import plan_buffers
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Literal, Op
from llax.ir.types import TensorType

# Carries up to this many bytes are stack slots copied after each iteration rather than
# swapped buffers: a 16-float copy is two vector moves, and fixed pointers let LLVM promote
# scalars to registers (a swapped pair of pointers would keep them in memory).
REGISTER_CARRY_BYTES = 64
BOOL = TensorType((), np.dtype(np.bool_))


class _StackCarry:
    """A small carry: read from one stack slot, written to another, copied back."""

    state = 0

    def __init__(self, kb: KernelBuilder, t: TensorType, init: Atom, out: ir.Value,
                 in_place: bool) -> None:
        self.kb, self.t, self.init, self.out = kb, t, init, out
        self.cur = kb.stack_alloc(t, force=True)
        self.nxt = self.cur if in_place else kb.stack_alloc(t, force=True)

    def setup(self) -> list[ir.Value]:
        self.kb.copy(self.init, self.cur)
        return []

    def read(self, state: Sequence[ir.Value]) -> ir.Value:
        return self.cur

    def write(self, state: Sequence[ir.Value]) -> ir.Value:
        return self.nxt

    def latch(self, state: Sequence[ir.Value]) -> list[ir.Value]:
        self.kb.copy_bytes(self.cur, self.nxt, self.t.nbytes)
        return []

    def finish(self, state: Sequence[ir.Value]) -> None:
        self.kb.copy_bytes(self.out, self.cur, self.t.nbytes)


class _InPlaceCarry(_StackCarry):
    """A carry the body updates in place, in the loop's output buffer."""

    def __init__(self, kb: KernelBuilder, t: TensorType, init: Atom, out: ir.Value) -> None:
        self.kb, self.t, self.init, self.out = kb, t, init, out
        self.cur = self.nxt = out

    def setup(self) -> list[ir.Value]:
        if self.kb.buffer(self.init) is not self.out:  # else the loop op aliases it
            self.kb.copy(self.init, self.out)
        return []

    def finish(self, state: Sequence[ir.Value]) -> None:
        pass


class _SwappedCarry:
    """A double-buffered carry; the state is the pointers (read, write, the other one)."""

    state = 3

    def __init__(self, kb: KernelBuilder, t: TensorType, init: Atom, out: ir.Value,
                 written: bool, length: int | None) -> None:
        self.kb, self.t, self.init, self.out, self.length = kb, t, init, out, length
        aliased = kb.buffer(init) is out
        # The first iteration reads the initial value in place, unless the body writes
        # into its parameter: then into a copy (which the loop owns).
        self.copy_in = written and not aliased
        spare = kb.alloc(t)
        # Iterations write first, second, first, ...: a scan's last one writes ``out``.
        first = out if length is None or (length - 1) % 2 == 0 else spare
        if aliased and first is out:  # the first iteration reads out
            first = spare
        self.first, self.second = first, (spare if first is out else out)

    def setup(self) -> list[ir.Value]:
        kb = self.kb
        if self.copy_in:
            kb.copy(self.init, self.second)
            self.start = self.second
        else:
            self.start = kb.buffer(self.init)
        return [self.start, self.first, self.second]

    def read(self, state: Sequence[ir.Value]) -> ir.Value:
        return state[0]

    def write(self, state: Sequence[ir.Value]) -> ir.Value:
        return state[1]

    def latch(self, state: Sequence[ir.Value]) -> list[ir.Value]:
        return [state[1], state[2], state[1]]

    def finish(self, state: Sequence[ir.Value]) -> None:
        kb, n = self.kb, self.t.nbytes
        if self.length is None:  # a while loop: wherever the last iteration left it
            b = kb.b
            with b.if_then(b.icmp_unsigned("!=", state[0], self.out)):
                kb.copy_bytes(self.out, state[0], n)
            return
        last = self.start if self.length == 0 else (
            self.first if (self.length - 1) % 2 == 0 else self.second)
        kb.copy_bytes(self.out, last, n)


Carry = _StackCarry | _SwappedCarry


def _carries(kb: KernelBuilder, body: Function, first: int, inits: Sequence[Atom],
             outs: Sequence[ir.Value], types: Sequence[TensorType],
             length: int | None) -> list[Carry]:
    """The storage of each carry; the body's parameters ``first``... are the carries."""
    plan = plan_buffers(body, range(first, first + len(inits)))
    carries: list[Carry] = []
    for k, (init, out, t) in enumerate(zip(inits, outs, types)):
        param = body.params[first + k]
        in_place = plan.in_place(body.results[k], param)
        if t.nbytes <= REGISTER_CARRY_BYTES:
            carries.append(_StackCarry(kb, t, init, out, in_place))
        elif in_place:
            carries.append(_InPlaceCarry(kb, t, init, out))
        else:
            carries.append(_SwappedCarry(kb, t, init, out, plan.written(param), length))
    return carries


def _split(carries: Sequence[Carry], state: Sequence[ir.Value]) -> list[Sequence[ir.Value]]:
    parts, k = [], 0
    for c in carries:
        parts.append(state[k:k + c.state])
        k += c.state
    return parts


def _setup(carries: Sequence[Carry]) -> list[ir.Value]:
    return [v for c in carries for v in c.setup()]


def _pointers(carries: Sequence[Carry], state: Sequence[ir.Value]
              ) -> tuple[list[ir.Value], list[ir.Value]]:
    """Where the body reads each carry, and where it writes the next one."""
    parts = _split(carries, state)
    return ([c.read(s) for c, s in zip(carries, parts)],
            [c.write(s) for c, s in zip(carries, parts)])


def _latch(carries: Sequence[Carry], state: Sequence[ir.Value]) -> list[ir.Value]:
    return [v for c, s in zip(carries, _split(carries, state)) for v in c.latch(s)]


def _finish(carries: Sequence[Carry], state: Sequence[ir.Value]) -> None:
    for c, s in zip(carries, _split(carries, state)):
        c.finish(s)


def _slice(b: ir.IRBuilder, base: ir.Value, i: ir.Value, stacked: TensorType) -> ir.Value:
    """Slice ``i`` of a buffer stacked along its leading axis, in place."""
    step = stacked.nbytes // stacked.shape[0]
    if step == 0:
        return ir.Constant(PTR, None)
    return b.gep(base, [b.mul(i, i64(step), flags=["nuw", "nsw"])], inbounds=True,
                 source_etype=I8)


# --- scan ----------------------------------------------------------------------------------

def _lower_scan(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    p = op.params
    length, nc, nk, reverse = p["length"], p["num_consts"], p["num_carry"], p["reverse"]
    consts, inits, xs = op.inputs[:nc], op.inputs[nc:nc + nk], op.inputs[nc + nk:]
    (body,) = op.regions
    b = kb.b
    const_ptrs = [kb.buffer(a) for a in consts]
    xs_ptrs = [kb.buffer(a) for a in xs]
    ys = list(zip(outs[nk:], op.outputs[nk:]))
    with kb.loop():
        carries = _carries(kb, body, nc, inits, outs[:nk], [v.type for v in op.outputs[:nk]],
                           length)

        def step(i: ir.Value, state: list[ir.Value]) -> list[ir.Value]:
            at = b.sub(i64(length - 1), i, flags=["nuw", "nsw"]) if reverse else i
            reads, writes = _pointers(carries, state)
            x_ptrs = [_slice(b, ptr, at, a.type) for ptr, a in zip(xs_ptrs, xs)]
            y_ptrs = [_slice(b, ptr, at, v.type) for ptr, v in ys]
            kb.lower_region(body, [*const_ptrs, *reads, *x_ptrs], [*writes, *y_ptrs],
                            writable=range(nc, nc + nk))
            return _latch(carries, state)

        _finish(carries, for_range(b, length, step, _setup(carries), name="scan",
                                   unroll=min(p["unroll"], length)))


# --- while ---------------------------------------------------------------------------------

def _lower_while(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    cn, bn = op.params["cond_nconsts"], op.params["body_nconsts"]
    cond_fn, body = op.regions
    cond_ptrs = [kb.buffer(a) for a in op.inputs[:cn]]
    body_ptrs = [kb.buffer(a) for a in op.inputs[cn:cn + bn]]
    inits = op.inputs[cn + bn:]
    b = kb.b
    with kb.loop():
        carries = _carries(kb, body, bn, inits, outs, [v.type for v in op.outputs], None)
        flag = kb.stack_alloc(BOOL, force=True)
        state = _setup(carries)
        pre = b.block
        head = b.append_basic_block("while.head")
        body_bb = b.append_basic_block("while.body")
        done = b.append_basic_block("while.exit")
        b.branch(head)
        b.position_at_end(head)
        phis = [b.phi(PTR) for _ in state]
        for phi, v in zip(phis, state):
            phi.add_incoming(v, pre)
        reads, writes = _pointers(carries, phis)
        kb.lower_region(cond_fn, [*cond_ptrs, *reads], [flag])
        go = ltypes.load(b, flag, BOOL.dtype)
        if callbacks.calls_back(op):  # a failed callback stops the loop (its error is raised)
            go = b.and_(go, b.not_(callbacks.failed(kb)))
        b.cbranch(go, body_bb, done)
        b.position_at_end(body_bb)
        kb.lower_region(body, [*body_ptrs, *reads], writes, writable=range(bn, bn + len(inits)))
        new = _latch(carries, phis)
        for phi, v in zip(phis, new):
            phi.add_incoming(v, b.block)
        b.branch(head)
        b.position_at_end(done)
        _finish(carries, phis)


# --- cond ----------------------------------------------------------------------------------

def _lower_cond(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    index, *operands = op.inputs
    ptrs = [kb.buffer(a) for a in operands]
    # Operands whose buffers the op's outputs take over may be updated in place (those the
    # buffer plan let them take: not a kernel input the caller still owns).
    writable = [j - 1 for o, j in op.aliases if outs[o] is ptrs[j - 1]]
    branches = op.regions
    if isinstance(index, Literal) or len(branches) == 1:
        k = int(index.value) if isinstance(index, Literal) else 0
        kb.lower_region(branches[min(max(k, 0), len(branches) - 1)], ptrs, outs, writable)
        return
    b = kb.b
    em = kb.emitter([], {index: kb.buffer(index)})
    value = em.emit(index, em.scalar)
    blocks = [b.append_basic_block(f"cond.branch{k}") for k in range(len(branches))]
    done = b.append_basic_block("cond.done")
    switch = b.switch(value, blocks[-1])  # the index is clamped: the default is the last
    for k in range(len(branches) - 1):
        switch.add_case(ir.Constant(I32, k), blocks[k])
    for block, region in zip(blocks, branches):
        b.position_at_end(block)
        kb.lower_region(region, ptrs, outs, writable)
        b.branch(done)
    b.position_at_end(done)


OPAQUE_RULES[P.cond] = _lower_cond
OPAQUE_RULES[P.while_loop] = _lower_while
OPAQUE_RULES[P.scan] = _lower_scan
