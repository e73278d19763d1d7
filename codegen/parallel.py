"""Splitting a large loop nest's outermost loop across cores.

A parallel nest is outlined into ``worker(ptr noalias p0, ..., i64 lo, i64 hi)``
running outermost iterations [lo, hi), plus a ``task(ptr ctx, i64 lo, i64 hi)``
that loads the pointers from ``ctx`` and calls it (the noalias parameters keep
the worker as vectorisable as the serial loop). The kernel calls
``llax_parallel_for(task, ctx, n, chunk)``.

That runtime is a small thread pool generated here once per process (LLVM IR,
Linux futexes), built so a busy machine cannot stall a kernel: the calling
thread claims chunks from a shared counter like the pool threads do, and only
waits for chunks that another thread has actually started. A pool thread that
is not scheduled claims nothing and costs nothing, unlike a fork-join barrier
(libgomp's waited a whole time slice: 8 ms instead of 0.75 ms for a 1e6-element
SELU at load 15 on 2 cores). Idle pool threads spin briefly, then sleep on a
futex.

Protocol (every atomic is seq_cst): the caller takes ``busy`` (or, if another
thread holds it, runs serially), fills a job on its stack, publishes its
address, sets ``open``, bumps ``seq`` and wakes sleepers; everyone claims
``chunk`` iterations at a time from ``job.next``. A pool thread announces
itself in ``active`` and re-checks ``seq``/``open`` before touching the job;
the caller closes the job, then waits for ``active`` to drain before its stack
frame (the job) goes away.

``LLAX_NUM_THREADS`` sets the number of threads (default: the cores this process
may run on; 1 turns parallel nests off). After fork() the child runs serially:
the pool threads do not exist there.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import llvmlite.ir as ir

from llax.codegen.ltypes import I32, I64, PTR, VOID, i64, pointer_array, pointers_in
from llax.codegen.runtime import load_runtime

if TYPE_CHECKING:
    from llax.codegen.target import CompiledModule

# Chunks of the coalesced element loop are multiples of this many iterations, so
# threads never write the same cache line and vector loops keep their full width.
CHUNK_ALIGN = 64
# Chunks per thread: small enough that an unlucky (descheduled) chunk is a small
# part of the work, large enough that claiming is noise.
CHUNKS_PER_THREAD = 4
# Below this much work (elements x ops per element, about 200 us on one core) a
# nest stays serial. Waking the pool costs a few microseconds, but the outlined
# worker also costs compile time (about 7 ms a nest), and on a busy machine the
# hand-off can wait much longer: at 1 << 18 the MLP train step's six [128, 512]
# fusions went parallel, for 45 ms more compilation and no measurable gain.
MIN_WORK = 1 << 20
# Pause-loop iterations a pool thread spins before sleeping (~0.1-0.3 ms).
SPIN = 4000

_SYS_FUTEX = 202  # x86-64
_FUTEX_WAIT_PRIVATE, _FUTEX_WAKE_PRIVATE = 128, 129
_RUNTIME = "llax_parallel_for"
_TASK = ir.FunctionType(VOID, [PTR, I64, I64])


def _requested() -> int:
    env = os.environ.get("LLAX_NUM_THREADS", "").strip()
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@functools.cache
def threads() -> int:
    """Threads a parallel nest uses (1: none). Starts the pool on first call."""
    n = _requested()
    if n <= 1 or not sys.platform.startswith("linux") or os.uname().machine != "x86_64":
        return 1
    _Pool.start(n - 1)
    return n


def worth_it(outer: int, work: int) -> bool:
    """Parallelise a nest with ``outer`` outermost iterations and ``work`` element-ops?"""
    return outer >= 2 and work >= MIN_WORK and threads() > 1


_count = 0


def emit_parallel(b: ir.IRBuilder, n: int, values: Sequence[ir.Value],
                  build: Callable[[ir.IRBuilder, list[ir.Value], ir.Value, ir.Value], None],
                  align: int = CHUNK_ALIGN) -> None:
    """At ``b``, run ``build(builder, values, lo, hi)`` over [0, n) on the pool.

    ``values`` are the pointers the loop body uses (function-local values cannot
    cross into the outlined function otherwise); ``build`` receives them remapped.
    """
    global _count
    _count += 1
    module = b.module
    tag = f"llax_par{_count}"
    k = len(values)

    worker = ir.Function(module, ir.FunctionType(VOID, [PTR] * k + [I64, I64]),
                         name=tag + "_worker")
    worker.linkage = "internal"
    worker.attributes.add("nounwind")
    for a in worker.args[:k]:
        a.attributes.add("noalias")
    wb = ir.IRBuilder(worker.append_basic_block("entry"))
    build(wb, list(worker.args[:k]), worker.args[k], worker.args[k + 1])
    wb.ret_void()

    task = ir.Function(module, _TASK, name=tag)
    task.linkage = "internal"
    task.attributes.add("nounwind")
    tb = ir.IRBuilder(task.append_basic_block("entry"))
    ctx, lo, hi = task.args
    ptrs = pointers_in(tb, ctx, k)
    tb.call(worker, [*ptrs, lo, hi])
    tb.ret_void()

    ctx_arr = pointer_array(b, values)
    per = -(-n // (threads() * CHUNKS_PER_THREAD))
    chunk = max(align, -(-per // align) * align)
    runtime = module.globals.get(_RUNTIME) or ir.Function(
        module, ir.FunctionType(VOID, [PTR, PTR, I64, I64]), name=_RUNTIME)
    b.call(runtime, [task, ctx_arr, i64(n), i64(chunk)])


# --- the pool runtime ------------------------------------------------------------------------

class _Pool:
    """The process's pool: its compiled runtime module and its threads."""

    compiled = None
    threads: list[ctypes.c_ulong] = []

    @classmethod
    def start(cls, n_threads: int) -> None:
        """Create the runtime and ``n_threads`` pool threads (once per process).

        The threads start inside ``load_runtime``'s critical section: two threads
        starting the pool at once must not start two sets of threads.
        """
        cls.compiled = load_runtime("llax_pool", _runtime_module, [_RUNTIME],
                                    setup=lambda compiled: cls._start_threads(compiled, n_threads))

    @classmethod
    def _start_threads(cls, compiled: CompiledModule, n_threads: int) -> None:
        workers = ctypes.c_int.from_address(compiled.address("llax_pool_workers"))
        libc = ctypes.CDLL(None, use_errno=True)
        create = libc.pthread_create
        create.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        entry = compiled.address("llax_pool_thread")
        for _ in range(n_threads):
            tid = ctypes.c_ulong()
            if create(ctypes.byref(tid), None, entry, None) != 0:
                break
            cls.threads.append(tid)
        workers.value = len(cls.threads)
        # Pool threads are not copied by fork(): a child runs every nest serially.
        os.register_at_fork(after_in_child=lambda: setattr(workers, "value", 0))


def _store_seq_cst(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, align: int) -> None:
    # IRBuilder.store_atomic insists on a typed pointer; build the instruction directly.
    b._insert(ir.instructions.StoreAtomicInstr(b.block, value, ptr, "seq_cst", align))


def _runtime_module() -> ir.Module:
    m = ir.Module(name="llax_pool")

    def glob(name: str, ty: ir.Type, init=0, linkage: str = "internal") -> ir.GlobalVariable:
        g = ir.GlobalVariable(m, ty, name)
        g.initializer = ir.Constant(ty, init)
        g.linkage = linkage
        g.align = 64  # one cache line each: the pool threads poll these
        return g

    workers = glob("llax_pool_workers", I32, linkage="")  # set from Python
    busy, seq, open_, active, sleepers = (glob(n, I32) for n in (
        "busy", "seq", "open", "active", "sleepers"))
    job_ptr = glob("job", PTR, None)
    # job: { ptr task, ptr ctx, i64 n, i64 chunk, i64 next }, all 8-byte fields
    syscall = ir.Function(m, ir.FunctionType(I64, [I64], var_arg=True), name="syscall")
    pause = ir.Function(m, ir.FunctionType(VOID, []), name="llvm.x86.sse2.pause")
    SC = "seq_cst"

    def field(b: ir.IRBuilder, job: ir.Value, k: int) -> ir.Value:
        # Every field is an i64 (pointers go through ptrtoint: llvmlite's typed
        # pointers make mixed-type fields awkward; LLVM folds the casts away).
        return b.gep(job, [i64(k)], source_etype=I64)

    def as_task(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
        return b.inttoptr(v if v.type == I64 else b.ptrtoint(v, I64), _TASK.as_pointer())

    def run_chunks(fn: ir.Function, b: ir.IRBuilder, job: ir.Value) -> None:
        """Claim and run chunks of ``job`` until none is left."""
        # (a typed function pointer, which llvmlite needs to call it; LLVM reads it as ptr)
        task = as_task(b, b.load(field(b, job, 0), typ=I64))
        ctx = b.inttoptr(b.load(field(b, job, 1), typ=I64), PTR)
        n = b.load(field(b, job, 2), typ=I64)
        chunk = b.load(field(b, job, 3), typ=I64)
        loop, body, done = (fn.append_basic_block(x) for x in ("claim", "run", "claimed"))
        b.branch(loop)
        b.position_at_end(loop)
        lo = b.atomic_rmw("add", field(b, job, 4), chunk, SC)
        b.cbranch(b.icmp_signed("<", lo, n), body, done)
        b.position_at_end(body)
        hi = b.select(b.icmp_signed("<", b.add(lo, chunk), n), b.add(lo, chunk), n)
        b.call(task, [ctx, lo, hi])
        b.branch(loop)
        b.position_at_end(done)

    # void llax_parallel_for(ptr task, ptr ctx, i64 n, i64 chunk)
    pf = ir.Function(m, ir.FunctionType(VOID, [PTR, PTR, I64, I64]), name=_RUNTIME)
    task, ctx, n, chunk = pf.args
    b = ir.IRBuilder(pf.append_basic_block("entry"))
    serial, pooled = pf.append_basic_block("serial"), pf.append_basic_block("pooled")
    has_workers = b.icmp_signed(">", b.load_atomic(workers, "monotonic", 4, typ=I32),
                                ir.Constant(I32, 0))
    with b.if_then(has_workers):
        got = b.cmpxchg(busy, ir.Constant(I32, 0), ir.Constant(I32, 1), SC, SC)
        b.cbranch(b.extract_value(got, 1), pooled, serial)
    b.branch(serial)
    b.position_at_end(serial)
    b.call(as_task(b, task), [ctx, i64(0), n])
    b.ret_void()

    b.position_at_end(pooled)
    job = b.bitcast(b.alloca(I64, size=5), PTR)  # a plain opaque ptr, as gep expects
    for k, v in enumerate((b.ptrtoint(task, I64), b.ptrtoint(ctx, I64), n, chunk, i64(0))):
        b.store(v, field(b, job, k))
    _store_seq_cst(b, job, job_ptr, 8)
    _store_seq_cst(b, ir.Constant(I32, 1), open_, 4)
    b.atomic_rmw("add", seq, ir.Constant(I32, 1), SC)
    asleep = b.icmp_signed(">", b.load_atomic(sleepers, SC, 4, typ=I32), ir.Constant(I32, 0))
    with b.if_then(asleep):
        b.call(syscall, [i64(_SYS_FUTEX), seq, ir.Constant(I32, _FUTEX_WAKE_PRIVATE),
                         ir.Constant(I32, 0x7FFFFFFF)])
    run_chunks(pf, b, job)
    _store_seq_cst(b, ir.Constant(I32, 0), open_, 4)
    drain, drained = pf.append_basic_block("drain"), pf.append_basic_block("drained")
    b.branch(drain)
    b.position_at_end(drain)
    still = b.icmp_signed("!=", b.load_atomic(active, SC, 4, typ=I32), ir.Constant(I32, 0))
    with b.if_then(still):
        b.call(pause, [])
    b.cbranch(still, drain, drained)
    b.position_at_end(drained)
    _store_seq_cst(b, ir.Constant(I32, 0), busy, 4)
    b.ret_void()

    # ptr llax_pool_thread(ptr): wait for a new seq, join the job if still open, repeat.
    th = ir.Function(m, ir.FunctionType(PTR, [PTR]), name="llax_pool_thread")
    b = ir.IRBuilder(th.append_basic_block("entry"))
    start = b.load_atomic(seq, SC, 4, typ=I32)
    wait = th.append_basic_block("wait")
    pre = b.block
    b.branch(wait)
    b.position_at_end(wait)
    seen = b.phi(I32)
    spins = b.phi(I32)
    seen.add_incoming(start, pre)
    spins.add_incoming(ir.Constant(I32, 0), pre)
    now = b.load_atomic(seq, SC, 4, typ=I32)
    new_job, idle = th.append_basic_block("new_job"), th.append_basic_block("idle")
    b.cbranch(b.icmp_unsigned("!=", now, seen), new_job, idle)

    b.position_at_end(idle)
    spin, sleep = th.append_basic_block("spin"), th.append_basic_block("sleep")
    b.cbranch(b.icmp_signed("<", spins, ir.Constant(I32, SPIN)), spin, sleep)
    b.position_at_end(spin)
    b.call(pause, [])
    seen.add_incoming(seen, spin)
    spins.add_incoming(b.add(spins, ir.Constant(I32, 1)), spin)
    b.branch(wait)
    b.position_at_end(sleep)
    b.atomic_rmw("add", sleepers, ir.Constant(I32, 1), SC)
    # Sleeps only if seq still equals seen (the kernel checks atomically).
    b.call(syscall, [i64(_SYS_FUTEX), seq, ir.Constant(I32, _FUTEX_WAIT_PRIVATE), seen,
                     ir.Constant(PTR, None)])
    b.atomic_rmw("sub", sleepers, ir.Constant(I32, 1), SC)
    seen.add_incoming(seen, sleep)
    spins.add_incoming(ir.Constant(I32, 0), sleep)
    b.branch(wait)

    b.position_at_end(new_job)
    b.atomic_rmw("add", active, ir.Constant(I32, 1), SC)
    still_open = b.and_(
        b.icmp_unsigned("!=", b.load_atomic(open_, SC, 4, typ=I32), ir.Constant(I32, 0)),
        b.icmp_unsigned("==", b.load_atomic(seq, SC, 4, typ=I32), now))
    join, leave = th.append_basic_block("join"), th.append_basic_block("leave")
    b.cbranch(still_open, join, leave)
    b.position_at_end(join)
    run_chunks(th, b, b.load_atomic(job_ptr, SC, 8, typ=PTR))
    b.branch(leave)
    b.position_at_end(leave)
    b.atomic_rmw("sub", active, ir.Constant(I32, 1), SC)
    seen.add_incoming(now, leave)
    spins.add_incoming(ir.Constant(I32, 0), leave)
    b.branch(wait)
    return m
