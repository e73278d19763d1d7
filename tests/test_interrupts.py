"""The compile runtime under Ctrl-C and under several compiling threads.

A KeyboardInterrupt may land anywhere in a compile, and several threads may
compile at once; neither may crash the process or leave llax unable to
compile (llax.codegen.interrupts, llax.codegen.target).
"""

from __future__ import annotations

import _thread
import ctypes
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable

import numpy as np
import pytest

from llax.codegen import compile_native, target
from llax.codegen.interrupts import deferred_interrupts
from llax.ir.core import Function
from llax.tests.codegen_util import loop_nest_chain


def _chain(n_groups: int, scale: float) -> tuple[Function, Callable]:
    """``n_groups`` loop nests (some in side modules from lower.SIDE_MODULE_GROUPS = 6 on) and
    their float64 reference."""
    return loop_nest_chain(n_groups, (30, 8), scale)


# The child compiles a function large enough for side modules (8 loop nests; lower.py makes
# side modules from SIDE_MODULE_GROUPS = 6), over and over, while a timer sends it SIGINT at
# a random moment of each compile. Before interrupts were held back during LLVM work, such
# runs died now and then on an LLVM assertion (ELFObjectWriter: "Invalid section index") or
# a double free; the test after it recreates the worst moment on purpose.
_CHILD = textwrap.dedent("""
    import json, os, random, signal, sys, threading, time, traceback
    import numpy as np
    import llax
    import llax.numpy as jnp
    from llax.codegen import compile_native

    def chain(x):
        for k in range(8):
            e = jnp.exp(x) if k % 2 else jnp.sin(x)
            x = jnp.tanh(e * jnp.sum(e, axis=1, keepdims=True) * 0.025)
        return x

    def reference(x):
        x = x.astype(np.float64)
        for k in range(8):
            e = np.exp(x) if k % 2 else np.sin(x)
            x = np.tanh(e * e.sum(axis=1, keepdims=True) * 0.025)
        return x

    x = np.random.default_rng(0).uniform(-0.1, 0.1, size=(300, 40)).astype(np.float32)
    want = reference(x)

    def check(out):
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)

    compiled = llax.jit(lambda v: chain(v)).lower(x).compile()
    modules = compiled.stages["llvm"].count("; ModuleID")
    assert modules == 2, f"expected a side module, got {modules} module(s)"
    optimized = compiled.optimized

    def compile_and_run(k):
        # Mostly straight to code generation, so that a compile follows an interrupted one
        # within milliseconds; every fourth through jit, tracing included.
        if k % 4:
            return compile_native(optimized, optimized).call([x])[0]
        return np.asarray(llax.jit(lambda v: chain(v))(x))  # a new function: a new compile

    start = time.perf_counter()
    check(compile_and_run(0))
    seconds = time.perf_counter() - start  # how long a compile takes here, now

    # A timer thread sends the process a real SIGINT, as Ctrl-C in a terminal does: it lands
    # wherever the main thread is, and also breaks its waits (a join, say) short.
    rng = random.Random(int(sys.argv[1]))
    tries, completed, interrupted, in_compile_module = int(sys.argv[2]), 0, 0, 0
    done = 0
    while done < tries:
        try:  # an interrupt may land anywhere in here, even after its compile finished
            while done < tries:
                done += 1
                timer = threading.Timer(rng.uniform(0, 1.3 * seconds), os.kill,
                                        (os.getpid(), signal.SIGINT))
                timer.start()
                try:
                    out = compile_and_run(done)
                finally:
                    timer.cancel()
                    timer.join()  # after this, its signal was sent or never will be
                check(out)
                completed += 1
        except KeyboardInterrupt as e:
            interrupted += 1
            frames = [f.f_code.co_name for f, _ in traceback.walk_tb(e.__traceback__)]
            in_compile_module += "compile_module" in frames
    check(compile_and_run(0))  # llax still compiles, and right
    check(compile_and_run(1))
    print(json.dumps({"completed": completed, "interrupted": interrupted,
                      "in_compile_module": in_compile_module}))
""")


def test_ctrl_c_at_random_moments_of_large_compiles_leaves_llax_working() -> None:
    tries = 16
    # Two threads requested, so large functions use side modules on any host.
    env = {**os.environ, "LLAX_NUM_THREADS": "2"}
    run = subprocess.run([sys.executable, "-c", _CHILD, "7", str(tries)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"child exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    counts = json.loads(run.stdout.strip().splitlines()[-1])
    assert counts["completed"] + counts["interrupted"] == tries
    assert counts["interrupted"] >= 1
    # Some interrupts arrived while LLVM was at work: held back, raised as compile_module
    # returned (the moments that used to abort the process).
    assert counts["in_compile_module"] >= 1


def test_an_interrupt_inside_the_block_is_raised_as_it_ends() -> None:
    handler = signal.getsignal(signal.SIGINT)
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            _thread.interrupt_main()  # as a SIGINT: the handler runs at the next bytecodes
            steps += [sum(range(1000)) for _ in range(100)]
            steps.append("end of block")
    assert steps[-1] == "end of block"
    assert signal.getsignal(signal.SIGINT) is handler


def test_nested_blocks_raise_once_at_the_outer_end() -> None:
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            with deferred_interrupts():
                _thread.interrupt_main()
                sum(range(1000))
            reached.append("after the inner block")
    assert reached == ["after the inner block"]


def test_a_block_without_interrupts_restores_the_handler_and_passes_errors_on() -> None:
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(ValueError, match="from the block"):
        with deferred_interrupts():
            raise ValueError("from the block")
    assert signal.getsignal(signal.SIGINT) is handler
    with deferred_interrupts():
        pass
    assert signal.getsignal(signal.SIGINT) is handler


def test_outside_the_main_thread_the_block_changes_nothing() -> None:
    seen = []

    def work() -> None:
        with deferred_interrupts():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGINT)]


def test_ctrl_c_while_waiting_for_the_side_thread_waits_for_it(monkeypatch) -> None:
    # The moment that used to abort the process: SIGINT arrives while compile_module waits
    # for its side thread. KeyboardInterrupt left the wait at once, the side thread went on
    # with its target machine, and the next compile's side thread used it too.
    monkeypatch.setattr(target, "parallel_compile_available", lambda: True)  # on any host
    joining = threading.Event()
    run, join = target._SideCompile.run, target._SideCompile.join

    def run_when_joined(self) -> None:
        if joining.wait(timeout=60):
            for _ in range(1000):  # until the main thread blocks in the wait (a signal
                frame = sys._current_frames().get(threading.main_thread().ident)  # before
                if frame is not None and frame.f_code.co_name == "_wait_for_tstate_lock":
                    break  # it would only be handled after the wait)
                time.sleep(0.001)
            time.sleep(0.01)
            # A real signal, as from a terminal: it breaks the main thread's wait short.
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        run(self)

    def join_and_tell(self, timeout=None) -> None:
        joining.set()
        join(self, timeout)

    monkeypatch.setattr(target._SideCompile, "run", run_when_joined)
    monkeypatch.setattr(target._SideCompile, "join", join_and_tell)
    fn, reference = _chain(7, 0.03)
    with pytest.raises(KeyboardInterrupt):
        compile_native(fn, fn)
    assert joining.is_set()  # the interrupt came during the wait
    assert not any(isinstance(t, target._SideCompile) for t in threading.enumerate())
    monkeypatch.setattr(target._SideCompile, "run", run)
    monkeypatch.setattr(target._SideCompile, "join", join)
    x = np.linspace(-1, 1, 240, dtype=np.float32).reshape(30, 8)
    np.testing.assert_allclose(compile_native(fn, fn).call([x])[0], reference(x),
                               rtol=1e-5, atol=1e-6)


# --- several threads compiling at once ----------------------------------------------------

def _engines_of(modules: list[target.CompiledModule]) -> list[tuple[object, int]]:
    """(engine, how many of ``modules`` it holds) for each engine they are in."""
    engines: dict[int, list] = {}
    for m in modules:
        engines.setdefault(id(m._engine), [m._engine, 0])[1] += 1
    return [(e, n) for e, n in engines.values()]


def test_threads_compiling_small_modules_at_once_fill_engines_exactly(monkeypatch) -> None:
    monkeypatch.setattr(target, "MODULES_PER_ENGINE", 3)
    monkeypatch.setattr(target, "_current_engine", None)  # fresh engines, only ours
    n_threads, per_thread = 4, 25
    compiled: dict[int, target.CompiledModule] = {}
    errors: list[BaseException] = []

    def compile_some(t: int) -> None:
        try:
            for k in range(t, n_threads * per_thread, n_threads):
                compiled[k] = target.compile_module(
                    f"define i64 @value() {{\n  ret i64 {k * 7 + 1}\n}}\n", f"value{k}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=compile_some, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    values = {k: ctypes.CFUNCTYPE(ctypes.c_int64)(m.address("value"))()
              for k, m in compiled.items()}
    assert values == {k: k * 7 + 1 for k in range(n_threads * per_thread)}
    # Each engine holds what its count says, never more than MODULES_PER_ENGINE.
    engines = _engines_of(list(compiled.values()))
    assert all(e.count == n <= 3 for e, n in engines)
    assert len(engines) == -(-n_threads * per_thread // 3)


def test_threads_compiling_large_functions_at_once(monkeypatch) -> None:
    # Two of them have side modules: two side threads, each with its own target machine.
    jobs = [_chain(7 if k % 2 else 1, 0.02 + 0.001 * k) for k in range(4)]
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def compile_one(k: int) -> None:
        try:
            results[k] = compile_native(jobs[k][0], jobs[k][0])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=compile_one, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    x = np.random.default_rng(1).uniform(-1, 1, size=(30, 8)).astype(np.float32)
    for k, (_, reference) in enumerate(jobs):
        np.testing.assert_allclose(results[k].call([x])[0], reference(x), rtol=1e-5, atol=1e-6)


def test_an_engine_freed_on_the_side_thread_is_disposed_by_the_next_compile() -> None:
    # A garbage collection may run on the side-compile thread, which skips llvmlite's lock;
    # an engine freed there is kept for the next compile_module to dispose under the lock.
    fn, reference = _chain(1, 0.5)
    compiled = compile_native(fn, fn)
    engine = target._Engine()
    ee = weakref.ref(engine.ee)
    target._skipping.on = True
    try:
        del engine
        gc.collect()
    finally:
        target._skipping.on = False
    assert ee() is not None and any(e is ee() for e in target._engines_to_free)
    again = compile_native(fn, fn)
    gc.collect()
    assert ee() is None
    x = np.linspace(-1, 1, 240, dtype=np.float32).reshape(30, 8)
    for c in (compiled, again):
        np.testing.assert_allclose(c.call([x])[0], reference(x), rtol=1e-5, atol=1e-6)
