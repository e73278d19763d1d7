"""Compiled code is freed with the functions that use it.

Every compile used to keep about 80-90 KB for ever (llvmlite never freed its
module pass managers), so rebuilding ``jit(grad(f))`` in a loop grew without
bound. Now a compile leaves 1-2 KB behind (most of it llvmlite's pass-builder
instrumentation, which it never frees), and a function's machine code goes
with its cache entry.
"""

from __future__ import annotations

import gc
import os
import weakref

import numpy as np

import llax
import llax.numpy as jnp
from llax.codegen import target

# Resident memory a compile may leave behind, averaged over a batch; the leak this guards
# against was 80-90 KB.
MAX_GROWTH_PER_COMPILE = 10 * 1024


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _growth_per_compile(compile_one, warm_up: int, batch: int) -> float:
    """Bytes of resident memory each compile keeps: the smaller of two batches' averages,
    after ``warm_up`` compiles (caches, allocator pools). A leak shows in both batches; a
    one-off jump (a new allocator arena, say) in one only."""
    for i in range(warm_up):
        compile_one(i)
    growth = []
    for b in range(2):
        gc.collect()
        before = _resident_bytes()
        for i in range(batch):
            compile_one(warm_up + b * batch + i)
        gc.collect()
        growth.append((_resident_bytes() - before) / batch)
    return min(growth)


def test_throwaway_jitted_functions_leave_no_memory_behind() -> None:
    x = jnp.arange(8, dtype=jnp.float32)

    def compile_one(i: int) -> None:
        f = llax.jit(lambda v, i=i: v * i + 1)  # a new function, so a new compile
        np.testing.assert_array_equal(np.asarray(f(x)), np.arange(8, dtype=np.float32) * i + 1)

    growth = _growth_per_compile(compile_one, warm_up=20, batch=30)
    assert growth < MAX_GROWTH_PER_COMPILE, f"{growth / 1024:.1f} KB per compile"


def test_rebuilt_jit_of_grad_leaves_no_memory_behind() -> None:
    x = jnp.linspace(-1.0, 1.0, 8, dtype=jnp.float32)
    v = np.asarray(x, np.float64)
    want = np.tanh(v) + v * (1 - np.tanh(v) ** 2)  # d/dv sum(tanh(v) v)

    def f(v):
        return jnp.sum(jnp.tanh(v) * v)

    def compile_one(i: int) -> None:
        g = llax.jit(llax.grad(f))(x)  # grad(f) is a new function each time
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6, atol=1e-6)

    growth = _growth_per_compile(compile_one, warm_up=15, batch=25)
    assert growth < MAX_GROWTH_PER_COMPILE, f"{growth / 1024:.1f} KB per compile"


def _engine_of(jitted: llax.jit, x) -> weakref.ref:
    compiled = jitted.lower(x).compile()
    return weakref.ref(compiled.entry.__self__.compiled._engine)


def test_machine_code_goes_with_the_cache_entries(monkeypatch) -> None:
    monkeypatch.setattr(target, "MODULES_PER_ENGINE", 4)
    monkeypatch.setattr(target, "_current_engine", None)  # fresh engines, only ours

    def f(v):
        return v * 2 + 1

    jitted = llax.jit(f)
    shapes = [(n,) for n in range(1, 13)]  # 12 compiles: 3 engines of 4
    engines = []
    for shape in shapes:
        x = jnp.ones(shape, jnp.float32)
        np.testing.assert_array_equal(np.asarray(jitted(x)), np.full(shape, 3, np.float32))
        engines.append(_engine_of(jitted, x))
    assert len({id(e()) for e in engines}) == 3
    jitted.clear_cache()
    gc.collect()
    # Every engine is freed but the current one, which takes the next compiles.
    alive = [e() for e in engines if e() is not None]
    assert alive and all(e is target._current_engine for e in alive)

    # And when the function itself goes, with its cache.
    g = llax.jit(lambda v: v - 1)
    more = [_engine_of(g, jnp.ones((n,), jnp.float32)) for n in range(1, 6)]
    del g
    gc.collect()
    assert all(e() is None or e() is target._current_engine for e in more)
