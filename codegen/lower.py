"""Function -> LLVM module holding one kernel with static shapes.

``void llax_kernel(ptr in0, ..., ptr out0, ...)``: every buffer is ``noalias``,
not captured, aligned to its element size and dereferenceable for its byte
size. Outputs are allocated by the caller. Inputs are only read, except those the
caller donated: the kernel may update them in place (as the ``aliases`` say), and a
result that ends up in a donated input's buffer has no output pointer at all: the
caller returns that input (``Kernel.reuse``).

Each top-level op becomes a loop nest (or a BLAS call): a ``fusion`` op is one
group whose region is evaluated per element by ``Emitter``; a lone elementwise,
index-map or reduction op is a one-op group through the same emitter; other
(opaque) ops have a rule in ``OPAQUE_RULES``; control flow (cond, while, scan)
lowers its regions through the same ``lower_region`` as the kernel's own body
(llax.codegen.control_flow). An op output that is a function result is written
straight into its output buffer; other intermediates are stack slots when small,
else malloc'ed (64-byte aligned) and freed right after their last use (in a
loop: once, around the outermost loop). Values the ``aliases`` param puts in one
buffer share it (llax.codegen.storage). A result that is a parameter, a literal,
or repeated is copied (filled) into its output at the end.

Nests with enough work (elementwise nests, and reductions' independent units: output
rows or tiles, or runs of blocks of a whole-array reduction) are outlined and split
across cores by ``llax.codegen.parallel``; the loop body is the same code either way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes, parallel
from llax.codegen.emitter import Emitter, Index, LoweringError, choose_group, loop_index, loop_shape
from llax.codegen.loops import for_range, loop_nest, tiled_pair
from llax.codegen.ltypes import I1, I8, I64, PTR, VOID, i64
from llax.codegen.reductions import UnitBody, Units
from llax.codegen.storage import (
    ALIGN,
    KernelScope,
    LoopScope,
    Move,
    donated_results,
    parallel_moves,
    plan_buffers,
)
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Literal, Op, Var
from llax.ir.primitive import FusionClass, Primitive, fusion_class
from llax.ir.prims.fusion import epilogue_head
from llax.ir.structure import structure_key
from llax.ir.types import TensorType

KERNEL_NAME = "llax_kernel"
# Groups over at most this many elements are compiled for size (minsize: no vectorisation
# or unrolling to speak of). They run in microseconds either way, and vectorising them is
# much of LLVM's time on a first call: on the MLP train step this cut the first call from
# about 243 to 205 ms (1 << 13 gained nothing more), with the step time within noise.
SMALL_GROUP = 1 << 11
# With this many loop nests or more, some are compiled on a second thread (a side module)
# while the calling thread compiles the entry, the kernel and the others: on the MLP train
# step LLVM's share of the first call went from ~145 to ~105 ms. Below it a thread would not
# pay. Nests are shared out by instruction count; the main module starts with this many per
# argument and result for the entry's checks (tuned on the MLP: 72 vs 77 ms per thread).
SIDE_MODULE_GROUPS = 6
ENTRY_INSTRUCTIONS_PER_ARRAY = 10
_side_ids = itertools.count()
# Temporaries of at most this many bytes are stack slots in the kernel's entry block, up to
# STACK_BYTES in all (a kernel may run on a thread with a small stack). Scalars there live in
# registers once LLVM has inlined the loop nests that use them (the carry of a fori_loop);
# small arrays save a malloc/free pair per kernel call (~40 ns).
STACK_BUFFER_BYTES = 1 << 10
STACK_BYTES = 1 << 14

OpaqueRule = Callable[["KernelBuilder", Op, list[ir.Value]], None]
OPAQUE_RULES: dict[Primitive, OpaqueRule] = {}
# Producers of epilogue regions (ir.prims.fusion) that apply the epilogue themselves:
# ``rule(kb, producer, epilogue_ops, sources, results)`` lowers the region and returns
# True, or returns False having emitted nothing (the producer is then lowered into a
# temporary by its OPAQUE_RULES entry and the epilogue run as a group over it).
EpilogueRule = Callable[["KernelBuilder", Op, Sequence[Op], dict,
                         Sequence[tuple[Atom, ir.Value]]], bool]
EPILOGUE_RULES: dict[Primitive, EpilogueRule] = {}
# Opaque ops whose lowering of a given op is self-contained (its own loops and library
# calls, nothing of the kernel's state such as host callbacks' flags): they are lowered as
# groups too, functions of their buffers, which the side module can take (the window ops:
# a CNN train step's first call went from ~490 to ~350 ms).
OUTLINED: dict[Primitive, Callable[[Op], bool]] = {}


@dataclass
class Kernel:
    """A lowered function: its module and the kernel's calling contract."""

    module: ir.Module
    name: str
    in_types: tuple[TensorType, ...]
    out_types: tuple[TensorType, ...]
    # Modules holding loop nests the kernel calls, compiled alongside (target.compile_module).
    side_modules: tuple[ir.Module, ...] = ()
    # Per result: the donated input whose buffer holds it (the kernel has no output pointer
    # for it), or None (an output pointer, in order after the inputs).
    reuse: tuple[int | None, ...] = ()
    # The host functions the kernel calls back (llax.codegen.callbacks.Registrations), or
    # None: they must live as long as its code.
    callbacks: object = None


def lower_function(fn: Function, donated: Collection[int] = ()) -> Kernel:
    """Build the LLVM module computing ``fn``; the parameters numbered in ``donated`` are
    the caller's to give up: their buffers may be written, and may hold results."""
    return KernelBuilder(fn, donated).build()


class KernelBuilder:
    def __init__(self, fn: Function, donated: Collection[int] = ()) -> None:
        from llax.codegen import target

        self.fn = fn
        self.module = ir.Module(name=fn.name)
        host = target.host()
        self.module.triple = host.triple
        self.module.data_layout = host.data_layout
        self.donated = tuple(sorted(set(donated)))
        if any(not 0 <= k < len(fn.params) for k in self.donated):
            raise LoweringError(f"donated parameters {self.donated} out of range for "
                                f"{len(fn.params)} parameters")
        self.reuse = tuple(donated_results(plan_buffers(fn, self.donated), self.donated))
        n_in = len(fn.params)
        fresh = [a.type for a, k in zip(fn.results, self.reuse) if k is None]
        self.func = ir.Function(self.module, ir.FunctionType(VOID, [PTR] * (n_in + len(fresh))),
                                name=KERNEL_NAME)
        self.func.attributes.add("nounwind")
        _buffer_attributes(self.func.args, [v.type for v in fn.params] + fresh)
        self.b = ir.IRBuilder(self.func.append_basic_block("entry"))
        self.inputs = list(self.func.args[:n_in])
        out_args = iter(self.func.args[n_in:])
        # Where each result goes: its output, or the donated input that already holds it.
        self.outputs = [next(out_args) if k is None else self.inputs[k] for k in self.reuse]
        self.buffers: dict[Var, ir.Value] = dict(zip(fn.params, self.inputs))
        self._literals: dict[tuple, ir.Value] = {}
        self._groups: dict[Hashable, _Group] = {}
        self.scope: KernelScope | LoopScope = KernelScope(self)
        self.loop_depth = 0  # loops around the code being emitted
        self._stack_bytes = 0
        self._static: set[int] = set()  # ids of pointers never freed (stack slots, null)
        # Host callbacks (llax.codegen.callbacks): their registrations, and the i32 stack
        # flag a failed one sets; both made by the first callback lowered.
        self.callbacks = None
        self.callback_failed: ir.Value | None = None
        # Loop nests go to a side module, compiled on a second thread, when there are
        # enough of them to be worth it; their names are then unique process-wide.
        self.side: ir.Module | None = None
        self._side_literals: dict[tuple, ir.Value] = self._literals
        self.group_prefix = "llax"
        # Instructions so far in [the main module, the side module]; the main one starts
        # with an estimate of the entry's argument checks, emitted last.
        self._sizes = [ENTRY_INSTRUCTIONS_PER_ARRAY * (len(fn.params) + len(fn.results)), 0]
        groups = sum(_is_group(op) for op in fn.ops)
        if groups >= SIDE_MODULE_GROUPS and target.parallel_compile_available():
            self.side = ir.Module(name=f"{fn.name}.loops")
            self.side.triple, self.side.data_layout = host.triple, host.data_layout
            self._side_literals = {}
            self.group_prefix = f"llax_side{next(_side_ids)}"

    # --- memory ------------------------------------------------------------------------

    def literal_ptr(self, lit: Literal) -> ir.Value:
        """A private constant global holding a literal's bytes (one per distinct literal)."""
        key = lit.key()
        ptr = self._literals.get(key)
        if ptr is None:
            data = np.ascontiguousarray(lit.value).tobytes()
            if not data:
                return ir.Constant(PTR, None)
            g = ir.GlobalVariable(self.module, ir.ArrayType(I8, len(data)),
                                  name=f"lit{len(self._literals)}")
            g.global_constant = True
            g.linkage = "private"
            g.align = ALIGN
            g.initializer = ir.Constant(ir.ArrayType(I8, len(data)), bytearray(data))
            self._literals[key] = ptr = g
        return ptr

    def buffer(self, atom: Atom) -> ir.Value:
        """The pointer holding ``atom`` (a literal becomes a constant global)."""
        if isinstance(atom, Literal):
            return self.literal_ptr(atom)
        return self.buffers[atom]

    def source_pointer(self, source: ir.Value | Literal) -> ir.Value:
        """A group source (a pointer, or a Literal given inline) as a pointer."""
        return self.literal_ptr(source) if isinstance(source, Literal) else source

    def alloc(self, t: TensorType) -> ir.Value:
        """A temporary buffer of type ``t`` from the current scope (``free`` gives it back)."""
        return self.scope.alloc(t)

    def free(self, ptr: ir.Value) -> None:
        self.scope.release(ptr)

    def stack_alloc(self, t: TensorType, force: bool = False) -> ir.Value | None:
        """A stack slot for ``t`` in the entry block, or None when it is too big for one
        (``force``: whatever its size; for a few bytes)."""
        if t.nbytes == 0:
            ptr = ir.Constant(PTR, None)
        elif force or (t.nbytes <= STACK_BUFFER_BYTES
                       and self._stack_bytes + t.nbytes <= STACK_BYTES):
            self._stack_bytes += t.nbytes
            entry = self.func.entry_basic_block
            with self.b.goto_block(entry):
                self.b.position_at_start(entry)
                ptr = self.b.alloca(ir.ArrayType(ltypes.mem_type(t.dtype), t.size))
                ptr.align = min(ALIGN, 1 << (t.nbytes - 1).bit_length())
                ptr.type = PTR  # an untyped pointer, as every buffer (llvmlite checks stores)
        else:
            return None
        self._static.add(id(ptr))
        return ptr

    def is_static(self, ptr: ir.Value) -> bool:
        """Whether ``ptr`` is a stack slot or null: never freed."""
        return id(ptr) in self._static or isinstance(ptr, ir.Constant)

    @contextmanager
    def loop(self) -> Iterator[None]:
        """Emit a loop inside: temporaries come from the outermost loop's scope."""
        outer = self.scope
        if not isinstance(outer, LoopScope):
            self.scope = LoopScope(self)
        self.loop_depth += 1
        try:
            yield
        finally:
            self.loop_depth -= 1
            if self.scope is not outer:
                self.scope.end()
                self.scope = outer

    # --- driver ------------------------------------------------------------------------

    def build(self) -> Kernel:
        fn = self.fn
        self.lower_region(fn, self.inputs, self.outputs, writable=self.donated)
        self.b.ret_void()
        for group in self._groups.values():
            attributes = group.fn.attributes
            if group.in_loop:
                # Run per iteration: always optimised for speed; small ones inlined, so a
                # loop's scalars and small arrays can stay in registers.
                small = group.elements <= SMALL_GROUP or group.calls == 1
                attributes.add("alwaysinline" if small else "noinline")
            elif group.elements <= SMALL_GROUP:
                # Optimised for size, in its own function (inlining would drop the attribute).
                for attr in ("noinline", "minsize", "optsize"):
                    attributes.add(attr)
            elif group.callee is group.fn:  # in this module: inlining is possible
                attributes.add("alwaysinline" if group.calls == 1 else "noinline")
        side = (self.side,) if self.side is not None else ()
        return Kernel(self.module, KERNEL_NAME, fn.in_types, fn.out_types, side, self.reuse,
                      self.callbacks)

    def lower_region(self, fn: Function, params: Sequence[ir.Value],
                     dests: Sequence[ir.Value], writable: Collection[int] = ()) -> None:
        """Emit ``fn``'s ops at the builder's position: ``params`` point at its parameters
        (those numbered in ``writable`` may be updated in place, as its ``aliases`` say) and
        each result ends up in its ``dests`` pointer.

        A result computed here is written straight into its destination, unless that is a
        parameter's buffer (still to be read); others are copied at the end.
        """
        plan = plan_buffers(fn, writable)
        saved, self.buffers = self.buffers, dict(zip(fn.params, params))
        home: dict[Var, ir.Value] = dict(zip(fn.params, params))  # group root -> its buffer
        taken = {id(p) for p in params}
        moves: list[Move] = []
        for a, dst in zip(fn.results, dests):
            r = plan.root.get(a) if isinstance(a, Var) else None
            if r is not None and home.get(r) is dst:
                continue  # already there: updated in place, or passed through
            if r is not None and r not in home and id(dst) not in taken:
                home[r] = dst
                taken.add(id(dst))
                continue
            moves.append(Move(a, None, dst))
        frees: dict[int, list[ir.Value]] = {}
        for t, op in enumerate(fn.ops):
            for v in op.outputs:
                r = plan.root[v]
                if r not in home:
                    home[r] = self.alloc(v.type)
                    # A dead output is freed right after the op that wrote it.
                    frees.setdefault(plan.last_read.get(r, t), []).append(home[r])
                self.buffers[v] = home[r]
            self.lower_op(op)
            for ptr in frees.pop(t, []):
                self.free(ptr)
        for m in moves:
            m.src = self.buffer(m.atom) if isinstance(m.atom, Var) else None
        parallel_moves(moves, self._move, self._spill)
        for ptrs in frees.values():  # read by a copied result
            for ptr in ptrs:
                self.free(ptr)
        self.buffers = saved

    def _move(self, m: Move) -> None:
        if m.src is None:
            self.copy(m.atom, m.dst)
        else:
            self.copy_bytes(m.dst, m.src, m.atom.type.nbytes)

    def _spill(self, m: Move) -> ir.Value:
        tmp = self.alloc(m.atom.type)
        self.copy_bytes(tmp, m.src, m.atom.type.nbytes)
        return tmp

    def copy_bytes(self, dst: ir.Value, src: ir.Value, nbytes: int) -> None:
        """``memcpy(dst, src, nbytes)``: distinct buffers (a small one becomes a few moves)."""
        if nbytes == 0 or dst is src:
            return
        ltypes.intrinsic(self.b, "memcpy", [dst, src, i64(nbytes), ir.Constant(I1, 0)], VOID,
                         [PTR, PTR, I64])

    def lower_op(self, op: Op) -> None:
        if _is_group(op):
            self.call_group(op)
            return
        self.lower_op_inline(op, [self.buffers[v] for v in op.outputs])

    def call_group(self, op: Op) -> None:
        """Emit ``op``'s loop nest as a function of its buffers, and call it.

        Ops computing the same thing on the same types share the function (an MLP's train
        step has one SGD update per parameter of each shape, and the same relu twice):
        less code for LLVM, whose time is most of a first call. A function called once is
        inlined back (alwaysinline); one called more often stays a call. Small groups are
        compiled for size (see SMALL_GROUP).
        """
        # Each buffer is passed once: a value read twice, and an output stored in an
        # operand's buffer (``aliases``), which LLVM then sees as one pointer (noalias).
        var_inputs = list(dict.fromkeys(a for a in op.inputs if isinstance(a, Var)))
        pointers = [self.buffers[a] for a in var_inputs]
        in_operand = {o: k for o, v in enumerate(op.outputs)
                      for k, p in enumerate(pointers) if p is self.buffers[v]}
        own = [o for o in range(len(op.outputs)) if o not in in_operand]
        in_loop = self.loop_depth > 0
        key = (_group_key(op), in_loop, tuple(sorted(in_operand.items())))
        group = self._groups.get(key)
        if group is None:
            types = [a.type for a in var_inputs] + [op.outputs[o].type for o in own]
            # Balance the two threads' work: the side module takes a nest while it holds
            # fewer instructions than the main one (entry, kernel and the nests kept there).
            # Nests run in a loop stay here, where they can be inlined.
            to_side = self.side is not None and not in_loop and self._sizes[1] <= self._sizes[0]
            module = self.side if to_side else self.module
            before = {f.name for f in module.functions}
            fn = ir.Function(module, ir.FunctionType(VOID, [PTR] * len(types)),
                             name=f"{self.group_prefix}_group{len(self._groups)}")
            if not to_side:
                fn.linkage = "internal"
            fn.attributes.add("nounwind")
            _buffer_attributes(fn.args, types)
            saved = self.b, self.buffers, self.module, self._literals
            self.b = ir.IRBuilder(fn.append_basic_block("entry"))
            self.buffers = dict(zip(var_inputs, fn.args))
            if to_side:
                self.module, self._literals = module, self._side_literals
            args = dict(zip(own, fn.args[len(var_inputs):]))
            args.update((o, fn.args[k]) for o, k in in_operand.items())
            self.lower_op_inline(op, [args[o] for o in range(len(op.outputs))])
            self.b.ret_void()
            self.b, self.buffers, self.module, self._literals = saved
            # (with the functions the nest made: its parallel worker, say)
            self._sizes[to_side] += sum(len(block.instructions) for f in module.functions
                                        if f.name not in before for block in f.blocks)
            callee = ir.Function(self.module, fn.function_type, name=fn.name) if to_side else fn
            group = self._groups[key] = _Group(fn, callee, _elements(op, types), in_loop)
        group.calls += 1
        self.b.call(group.callee, pointers + [self.buffers[op.outputs[o]] for o in own])

    def lower_op_inline(self, op: Op, outs: list[ir.Value]) -> None:
        if op.prim is P.fusion:
            (region,) = op.regions
            sources: dict[Var, ir.Value | Literal] = {}
            for p, a in zip(region.params, op.inputs):
                sources[p] = a if isinstance(a, Literal) else self.buffer(a)
            results = list(zip(region.results, outs))
            head = epilogue_head(region)
            if head is not None:
                self._lower_epilogue_region(head, region.ops[1:], sources, results)
            else:
                self.lower_group(region.ops, sources, results)
            return
        cls = fusion_class.get(op.prim)
        if cls in (FusionClass.ELEMENTWISE, FusionClass.INDEX_MAP, FusionClass.REDUCTION):
            sources = {a: self.buffer(a) for a in op.inputs if isinstance(a, Var)}
            self.lower_group([op], sources, list(zip(op.outputs, outs, strict=True)))
            return
        rule = OPAQUE_RULES.get(op.prim)
        if rule is None:
            raise LoweringError(f"no lowering rule for primitive {op.prim.name!r}")
        rule(self, op, outs)

    def _lower_epilogue_region(self, head: Op, ops: Sequence[Op], sources: dict,
                               results: Sequence[tuple[Atom, ir.Value]]) -> None:
        """``head`` then the elementwise ``ops`` over its output (an epilogue region)."""
        rule = EPILOGUE_RULES.get(head.prim)
        if rule is not None and rule(self, head, ops, sources, results):
            return
        (value,) = head.outputs
        given = next((p for a, p in results if a is value), None)
        # In a group's own function (call_group) the kernel's stack slots are out of reach.
        in_kernel = self.b.function is self.func
        temp = (given if given is not None else self.alloc(value.type) if in_kernel
                else ltypes.heap_alloc(self.b, max(1, value.type.nbytes)))
        saved = self.buffers
        self.buffers = {**saved, **{p: self.source_pointer(a) for p, a in sources.items()}}
        self.lower_op_inline(head, [temp])
        self.buffers = saved
        self.lower_group(ops, {**sources, value: temp}, [r for r in results if r[0] is not value])
        if given is None:
            if in_kernel:
                self.free(temp)
            else:
                ltypes.heap_free(self.b, temp)

    def emitter(self, ops: Sequence[Op], sources: dict) -> Emitter:
        return Emitter(self.b, ops, sources, self.literal_ptr)

    def lower_group(self, ops: Sequence[Op], sources: dict,
                    results: Sequence[tuple[Atom, ir.Value]]) -> None:
        """One loop nest per distinct result shape, evaluating ``ops`` per element."""
        from llax.codegen.reductions import RULES as REDUCTION_RULES

        producer = {v: op for op in ops for v in op.outputs}
        reductions = [op for op in ops if fusion_class.get(op.prim) is FusionClass.REDUCTION]
        if reductions:
            atom, ptr = results[0]
            op = producer.get(atom)
            if len(results) != 1 or len(reductions) > 1 or op is not reductions[0]:
                raise LoweringError("a group with a reduction must have it as its only result")
            if op.prim not in REDUCTION_RULES:
                raise LoweringError(f"no reduction lowering rule for {op.prim.name!r}")
            work = op.inputs[0].type.size * len(ops)
            REDUCTION_RULES[op.prim](self.emitter(ops, sources), op, ptr, ops,
                                     self._units(ops, sources, work))
            return
        by_shape: dict[tuple[int, ...], list[tuple[Atom, ir.Value]]] = {}
        for atom, ptr in results:
            by_shape.setdefault(atom.type.shape, []).append((atom, ptr))
        for shape, group in by_shape.items():
            if math.prod(shape) == 0:
                continue
            n = choose_group(shape, ops, [a for a, _ in group])
            sizes = loop_shape(shape, n)
            work = math.prod(shape) * (len(ops) + len(group))
            # (Small nests are compiled for size: no interleaving there.)
            interleave = _interleave(ops) if math.prod(shape) > SMALL_GROUP else 1
            tile = _transpose_tile(ops, shape, n)
            if sizes and parallel.worth_it(sizes[0], work):
                self._parallel_nest(ops, sources, group, shape, n, sizes, interleave, tile)
            else:
                _elementwise_nest(self.b, self.emitter(ops, sources), group, shape, n, sizes,
                                  i64(0), None, interleave, tile)

    def _units(self, ops: Sequence[Op], sources: dict, work: int) -> Units:
        """Runs a reduction's independent units (``reductions.Units``): outlined onto the
        thread pool when there is enough work, with the pointers they use as arguments."""

        def run(n: int, pointers: Sequence[ir.Value], body: UnitBody) -> None:
            if not parallel.worth_it(n, work):
                body(self.emitter(ops, sources), list(pointers), i64(0), n)
                return
            given = [(None, p) for p in pointers]
            local = local_values(sources, given)

            def build(b: ir.IRBuilder, values: list[ir.Value], lo: ir.Value,
                      hi: ir.Value) -> None:
                srcs, moved = remapped(local, values, sources, given)
                body(Emitter(b, ops, srcs, self.literal_ptr), [p for _, p in moved], lo,
                     b.sub(hi, lo))

            parallel.emit_parallel(self.b, n, local, build, align=1)

        return run

    def _parallel_nest(self, ops: Sequence[Op], sources: dict,
                       group: Sequence[tuple[Atom, ir.Value]], shape: tuple[int, ...], n: int,
                       sizes: list[int], interleave: int = 1, tile: int = 0) -> None:
        """The nest outlined and its outermost loop split across threads."""
        local = local_values(sources, group)

        def build(b: ir.IRBuilder, values: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
            srcs, outs = remapped(local, values, sources, group)
            em = Emitter(b, ops, srcs, self.literal_ptr)
            _elementwise_nest(b, em, outs, shape, n, sizes, lo, b.sub(hi, lo), interleave, tile)

        # Split coalesced element loops on cache-line-sized chunks; split rows anywhere.
        parallel.emit_parallel(self.b, sizes[0], local, build,
                               align=parallel.CHUNK_ALIGN if len(sizes) == 1 else 1)

    def copy(self, atom: Atom, out: ir.Value) -> None:
        """Copy ``atom`` into ``out`` (a literal is filled in)."""
        if isinstance(atom, Var):
            self.copy_bytes(out, self.buffer(atom), atom.type.nbytes)
            return
        self.lower_group([], {}, [(atom, out)])


_GROUP_CLASSES = (FusionClass.ELEMENTWISE, FusionClass.INDEX_MAP, FusionClass.REDUCTION)


def _is_group(op: Op) -> bool:
    """Is ``op`` lowered as a function of its buffers (see ``call_group``)? An epilogue
    region is when its producer would be (OUTLINED)."""
    if op.prim is P.fusion:
        head = epilogue_head(op.regions[0])
        if head is None:
            return True
        op = head
    if fusion_class.get(op.prim) in _GROUP_CLASSES:
        return True
    outlined = OUTLINED.get(op.prim)
    return outlined is not None and outlined(op)


@dataclass
class _Group:
    """A loop nest's function: defined in the kernel's module or a side module, and called
    (through ``callee``, its declaration in the kernel's module if it is elsewhere)."""

    fn: ir.Function
    callee: ir.Function
    elements: int
    in_loop: bool  # called inside a loop (cond, while, scan)
    calls: int = 0


def _elements(op: Op, types: Sequence[TensorType]) -> int:
    """The size of the largest array a group's loops run over: its buffers', or a value
    computed in its region (a sum of random numbers made from an iota reads and writes
    scalars only, yet its loop is long)."""
    inner = (v.type.size for r in op.regions for o in r.ops for v in o.outputs)
    return max(itertools.chain((t.size for t in types), inner), default=1)


def _buffer_attributes(args: Sequence[ir.Argument], types: Sequence[TensorType]) -> None:
    for arg, t in zip(args, types):
        # noalias: inputs are only read, except donated ones, which their caller gave up
        # (nothing else points into them), and outputs are fresh, so no store through one
        # pointer can change what another reads; this is what lets LLVM vectorise.
        arg.attributes.add("noalias")
        arg.attributes.add("captures(none)")
        arg.attributes.align = t.dtype.itemsize
        if t.nbytes:
            arg.attributes.dereferenceable = t.nbytes


def _group_key(op: Op) -> Hashable:
    """Equal for ops that compute the same thing on buffers of the same types.

    Which operands are the same value is part of it: ``mul x x`` reads one buffer, so its
    function cannot serve ``mul y z``.
    """
    inputs = tuple(a.key() if isinstance(a, Literal) else (a.type, op.inputs.index(a))
                   for a in op.inputs)
    regions = tuple(structure_key(r) for r in op.regions)
    return (op.prim, op.params, inputs, tuple(v.type for v in op.outputs), regions)


def local_values(sources: dict, results: Sequence[tuple[Atom, ir.Value]]) -> list[ir.Value]:
    """The kernel's own values among a group's pointers: an outlined (parallel) loop
    must receive them as arguments; globals and constants it can use directly."""
    local: list[ir.Value] = []
    for v in [*sources.values(), *(p for _, p in results)]:
        if isinstance(v, ir.Value) and not isinstance(v, (ir.GlobalValue, ir.Constant)) \
                and not any(v is w for w in local):
            local.append(v)
    return local


def remapped(local: list[ir.Value], values: list[ir.Value], sources: dict,
           results: Sequence[tuple[Atom, ir.Value]]) -> tuple[dict, list]:
    """``sources`` and ``results`` with each of ``local`` replaced by its ``values`` twin."""
    remap = dict(zip(map(id, local), values))
    srcs = {k: remap.get(id(v), v) for k, v in sources.items()}
    return srcs, [(a, remap.get(id(p), p)) for a, p in results]


def _interleave(ops: Sequence[Op]) -> int:
    """Vector iterations LLVM should interleave in a loop computing ``ops`` (1: its choice)."""
    from llax.codegen.scalar_rules import INTERLEAVE

    return max((INTERLEAVE.get(op.prim, 1) for op in ops), default=1)


def _elementwise_nest(b: ir.IRBuilder, em: Emitter, group: Sequence[tuple[Atom, ir.Value]],
                      shape: tuple[int, ...], n: int, sizes: list[int], start: ir.Value,
                      count: ir.Value | None, interleave: int = 1, tile: int = 0) -> None:
    """Loops storing every ``(atom, ptr)`` of ``group`` over ``shape``; the outermost
    loop runs ``count`` iterations from ``start`` (all of them when ``count`` is None).
    ``interleave`` > 1 asks LLVM to interleave that many vector iterations of the
    innermost loop; ``tile`` > 0 walks the last two loops in blocks of that side."""
    latches: list[ir.Block] = []

    def body(ivs: list[ir.Value]) -> None:
        index = loop_index(b, shape, n, ivs)
        for atom, ptr in group:
            em.store(em.emit(atom, index), ptr, atom.type.dtype, index)
        latches.append(b.block)  # the loop's increment and back edge go at its end

    _nest(b, body, sizes, start, count, tile)
    # The innermost loop's trip count: a static 1 makes no loop (no back edge to mark).
    innermost = count if count is not None and len(sizes) == 1 else (sizes[-1] if sizes else 1)
    if interleave > 1 and latches and innermost != 1:
        latches[0].terminator.set_metadata("llvm.loop", _interleave_metadata(b.module,
                                                                             interleave))


def _interleave_metadata(module: ir.Module, count: int) -> ir.values.MDValue:
    """``!{self, !{"llvm.loop.interleave.count", i32 count}}`` (a loop ID refers to itself,
    which ``Module.add_metadata`` cannot express: the node is made, then closed)."""
    hint = module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"),
                                ir.Constant(ir.IntType(32), count)])
    loop = ir.values.MDValue(module, [], name=str(len(module.metadata)))
    loop.operands = (loop, hint)
    return loop


# Side of the blocks a transposing nest is walked in: 16 x 16 elements read 16 rows of the
# operand, one cache line of each (f32), well within L1. 512 x 512 f32 .T: 0.58 -> 0.09 ms
# (JAX: 0.12); 8 was as fast, 32 twice as slow, in float32 and float64.
TRANSPOSE_TILE = 16


def _transpose_tile(ops: Sequence[Op], shape: tuple[int, ...], n: int) -> int:
    """The block side for a nest over ``shape`` (innermost loop of ``n`` elements) that
    transposes a matrix: the operand's rows run down the output's columns, so walking
    rows of the output would touch a new cache line of the operand per element."""
    if len(shape) < 2 or n != shape[-1] or min(shape[-2:]) < 2 * TRANSPOSE_TILE:
        return 0
    last = len(shape) - 1
    transposes = any(op.prim is P.transpose and op.outputs[0].type.shape == shape
                     and op.params["permutation"][-2] == last for op in ops)
    return TRANSPOSE_TILE if transposes else 0


def _nest(b: ir.IRBuilder, body: Callable[[list[ir.Value]], None], sizes: list[int],
          start: ir.Value, count: ir.Value | None, tile: int = 0) -> None:
    if tile and len(sizes) >= 2:
        *outer, rows, cols = sizes
        if count is not None and not outer:  # a thread's share of the rows
            tiled_pair(b, count, cols, lambda r, c: body([r, c]), tile, row_start=start)
            return
        _nest(b, lambda ivs: tiled_pair(b, rows, cols, lambda r, c: body([*ivs, r, c]), tile),
              outer, start, count)
        return
    if count is None or not sizes:
        loop_nest(b, sizes, body)
        return

    def outer(i: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
        first = b.add(start, i, flags=["nuw", "nsw"])
        loop_nest(b, sizes[1:], lambda ivs: body([first, *ivs]), name="j")
        return []

    for_range(b, count, outer, name="p")


# --- dynamic_update_slice: out = x with a clamped window replaced by update ---------------

def _lower_dynamic_update_slice(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    from llax.codegen.index_rules import _start_index

    x, update, *starts = op.inputs
    shape, ushape = x.type.shape, update.type.shape
    (out,) = outs
    if x.type.size == 0:
        return
    b = kb.b
    sources = {a: kb.buffer(a) for a in (x, update, *starts) if isinstance(a, Var)}
    em = kb.emitter([], sources)
    begin = [_start_index(em, s, n, k) for s, n, k in zip(starts, shape, ushape)]
    if isinstance(x, Var) and sources[x] is out:
        # In place (``aliases``): only the window is written.
        if update.type.size == 0:
            return

        def store(ivs: list[ir.Value]) -> None:
            index = loop_index(b, ushape, ushape[-1] if ushape else 1, ivs)
            at = Index(b, shape, [(lambda d=d: b.add(begin[d], index.dim(d), flags=["nsw"]))
                                  for d in range(len(shape))])
            em.store(em.emit(update, index), out, x.type.dtype, at)

        with em.scope():
            loop_nest(b, loop_shape(ushape, ushape[-1] if ushape else 1), store)
        return
    # One branch-free pass over the output: positions inside the window read update.

    def body(ivs: list[ir.Value]) -> None:
        index = loop_index(b, shape, shape[-1] if shape else 1, ivs)
        v = em.emit(x, index)
        if update.type.size:
            inside: ir.Value = ir.Constant(I1, 1)
            dims = []
            for d in range(len(shape)):
                t = b.sub(index.dim(d), begin[d])
                inside = b.and_(inside, b.and_(b.icmp_signed(">=", t, i64(0)),
                                               b.icmp_signed("<", t, i64(ushape[d]))))
                dims.append(ltypes.intrinsic(b, "smin", [ltypes.intrinsic(
                    b, "smax", [t, i64(0)], I64), i64(max(ushape[d] - 1, 0))], I64))
            u = em.emit(update, Index(b, ushape, dims))
            v = ltypes.select(b, inside, u, v)
        em.store(v, out, op.outputs[0].type.dtype, index)

    with em.scope():
        loop_nest(b, loop_shape(shape, shape[-1] if shape else 1), body)


OPAQUE_RULES[P.dynamic_update_slice] = _lower_dynamic_update_slice


def _register_rules() -> None:
    from llax.codegen.dot import lower_dot

    OPAQUE_RULES[P.dot_general] = lower_dot
    # gather/scatter and control flow live in their own modules, which add themselves to
    # the rule tables.
    import llax.codegen.callbacks  # noqa: F401
    import llax.codegen.control_flow  # noqa: F401
    import llax.codegen.conv  # noqa: F401
    import llax.codegen.indexing  # noqa: F401
    import llax.codegen.lapack  # noqa: F401
    import llax.codegen.numpy_routines  # noqa: F401
    import llax.codegen.sort  # noqa: F401
    import llax.codegen.windows  # noqa: F401


_register_rules()
