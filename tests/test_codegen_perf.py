"""Speed figures of generated code, reported and never asserted (they depend on the
machine and its load). Run ``pytest tests/test_codegen_perf.py -s`` to see them.

"kernel" times call the kernel alone on preallocated buffers (through ctypes,
which adds ~1 us); "call" times go through the native entry, which also
allocates the outputs (at 1e7 floats that means fresh, page-faulting memory on
every call, as for NumPy). Large nests run on the thread pool
(``llax.codegen.parallel``); "one thread" is the same kernel compiled serial.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

import numpy as np
import pytest

from llax.codegen import compile_native, target
from llax.codegen.lower import lower_function
from llax.ir import prims as P
from llax.ir.core import Function
from llax.tests.codegen_util import F32, fused, single, tt
from llax.tests.test_codegen_structure import _selu_region


def _best(f: Callable[[], object], seconds: float = 0.3, max_reps: int = 200) -> float:
    """Best time of repeated calls, in milliseconds."""
    f()
    best, start, reps = float("inf"), time.perf_counter(), 0
    while reps < 3 or (time.perf_counter() - start < seconds and reps < max_reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
        reps += 1
    return best * 1e3


def _kernel_only(fn: Function, args: list[np.ndarray]) -> Callable[[], None]:
    """The bare kernel on preallocated outputs."""
    kernel = lower_function(fn)
    compiled = target.compile_module(kernel.module, "perf_kernel")
    n = len(kernel.in_types) + len(kernel.out_types)
    cfn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * n)(compiled.address(kernel.name))
    outs = [np.empty(t.shape, t.dtype) for t in kernel.out_types]
    ptrs = [a.ctypes.data for a in (*args, *outs)]
    keep = (compiled, args, outs)  # the code and the buffers must outlive the calls

    def run() -> None:
        cfn(*ptrs)
        assert keep

    return run


def _selu_np(x: np.ndarray) -> np.ndarray:
    return np.float32(1.0507009873554805) * np.where(
        x > 0, x, np.float32(1.6732632423543772) * (np.exp(x) - np.float32(1)))


@pytest.mark.parametrize("n", [10**6, 10**7])
def test_report_selu(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from llax.codegen import parallel

    x = np.random.default_rng(0).normal(size=n).astype(np.float32)
    fn = fused(_selu_region((n,)))
    compiled = compile_native(fn, fn)
    call = _best(lambda: compiled.entry(x))
    kernel = _best(_kernel_only(fn, [x]))
    monkeypatch.setattr(parallel, "MIN_WORK", 1 << 62)  # the same kernel, one thread
    serial = compile_native(fn, fn)
    one = _best(lambda: serial.entry(x))
    numpy = _best(lambda: _selu_np(x))
    print(f"\nSELU {n:.0e} f32 (one fusion): call {call:.3f} ms ({parallel.threads()} threads), "
          f"kernel {kernel:.3f} ms, one thread {one:.3f} ms, NumPy {numpy:.3f} ms")


def test_report_exp_and_sum() -> None:
    x = np.random.default_rng(0).normal(size=10**6).astype(np.float32)
    for name, fn, ref in (
            ("exp", single(P.exp, [tt(x.shape, F32)]), np.exp),
            ("sum", single(P.reduce_sum, [tt(x.shape, F32)], axes=(0,)), np.sum)):
        compiled = compile_native(fn, fn)
        call = _best(lambda c=compiled: c.entry(x))
        kernel = _best(_kernel_only(fn, [x]))
        numpy = _best(lambda r=ref: r(x))
        print(f"\n{name} 1e6 f32: call {call:.3f} ms, kernel {kernel:.3f} ms, NumPy {numpy:.3f} ms")


def test_report_matmul() -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.random((1024, 1024), dtype=np.float32) for _ in range(2))
    fn = single(P.dot_general, [tt(a.shape, F32)] * 2, dimension_numbers=(((1,), (0,)), ((), ())),
                precision=None, preferred_element_type=None)
    compiled = compile_native(fn, fn)
    ours = _best(lambda: compiled.entry(a, b), seconds=1.0, max_reps=20)
    numpy = _best(lambda: a @ b, seconds=1.0, max_reps=20)
    print(f"\nmatmul 1024^3 f32: llax {ours:.2f} ms, NumPy {numpy:.2f} ms "
          f"({numpy / ours:.2f}x NumPy's speed)")


def test_report_compile_latency() -> None:
    times = {"lower": [], "total": []}
    for i in range(8):
        x = tt((1000 + i,), F32)
        fn = single(P.add, [x, x])
        t = time.perf_counter()
        compiled = compile_native(fn, fn)
        times["total"].append(time.perf_counter() - t)
        times["lower"].append(compiled.timings["lower"])
    med = {k: sorted(v)[len(v) // 2] * 1e3 for k, v in times.items()}
    print(f"\ncompile small add: median {med['total']:.1f} ms "
          f"(lowering + entry {med['lower']:.1f} ms, rest is LLVM O3 + JIT)")
