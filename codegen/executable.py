"""Build the ``Compiled`` object: lower, add the CPython entry, optimise, JIT.

The kernel and its METH_FASTCALL entry (``llax.codegen.native``) share one
module, so LLVM inlines the kernel into the entry and a call costs about what
a C-extension call costs. Three text stages are kept for inspection:
unoptimised LLVM IR, optimised IR, and host assembly (produced on first access,
since most callers never look at it).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from llax.codegen import allocator, callbacks, native, target
from llax.codegen.compiled import Compiled
from llax.codegen.lower import lower_function
from llax.ir.core import Function

# Kernels touching more than this many bytes release the GIL while they run:
# dropping and retaking it costs ~0.1 us, noise next to a kernel this size.
RELEASE_GIL_BYTES = 1 << 20

_ids = itertools.count()


class Stages(Mapping):
    """``{"llvm", "llvm-opt", "asm"}``; the assembly is generated when first read."""

    def __init__(self, llvm_ir: str, compiled: target.CompiledModule) -> None:
        self._llvm = llvm_ir
        self._compiled = compiled

    def __getitem__(self, key: str) -> str:
        if key == "llvm":
            return self._llvm
        if key == "llvm-opt":
            return self._compiled.optimized_ir
        if key == "asm":
            return self._compiled.assembly
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("llvm", "llvm-opt", "asm"))

    def __len__(self) -> int:
        return 3


def compile_native(traced: Function, optimized: Function,
                   donated: frozenset[int] = frozenset()) -> Compiled:
    """Compile ``optimized`` to native code; ``traced`` is kept for reference only.

    ``donated``: positions of the inputs whose buffers the caller gives up (as the
    ``inplace`` pass was told): the code may write them, and returns such an input as the
    output computed in its buffer. The caller must pass those as arrays nothing else uses.
    """
    t0 = time.perf_counter()
    allocator.keep_freed_buffers()
    kernel = lower_function(optimized, donated)
    module = kernel.module
    kernel_fn = module.get_global(kernel.name)
    name = f"llax_{_symbol(optimized.name)}_{next(_ids)}"
    nbytes = sum(t.nbytes for t in (*kernel.in_types, *kernel.out_types))
    # A kernel that calls back into Python runs without the GIL: its callbacks take it for
    # the call only, so other threads run meanwhile.
    release_gil = nbytes > RELEASE_GIL_BYTES or kernel.callbacks is not None
    entry = native.add_entry(
        module, kernel_fn,
        [(t.shape, t.dtype) for t in kernel.in_types],
        [(t.shape, t.dtype) for t in kernel.out_types],
        name=name, release_gil=release_gil, reuse=kernel.reuse)
    main_ir = str(module)  # (printing a module is a few ms per 10 KB: once)
    side_ir = [str(m) for m in kernel.side_modules]
    llvm_ir = "\n".join([main_ir, *side_ir])
    t1 = time.perf_counter()
    compiled = target.compile_module(main_ir, name, side_modules=side_ir)
    fn = native.make_callable(compiled, entry, kernel.callbacks)
    if kernel.callbacks is not None:
        fn = _raising_callback_errors(fn)
    t2 = time.perf_counter()
    in_types = kernel.in_types
    single = len(kernel.out_types) == 1

    def slow(args: Sequence[np.ndarray]) -> object:
        # The entry accepts only exact, C-contiguous, aligned arrays of the right
        # shape and dtype; coerce anything else once here (e.g. a 0-d value that
        # np.ascontiguousarray turned into shape (1,)) and let real errors raise.
        if len(args) != len(in_types):
            return fn(*args)
        fixed = []
        for a, t in zip(args, in_types):
            v = np.asarray(a, dtype=t.dtype)
            if v.shape != t.shape and v.size == t.size:
                v = v.reshape(t.shape)
            fixed.append(np.require(v, requirements=("C", "A")))
        return fn(*fixed)

    def call(args: Sequence[np.ndarray]) -> list[np.ndarray]:
        try:
            out = fn(*args)
        except native.ArgumentError:
            out = slow(args)
        return [out] if single else list(out)

    return Compiled(traced, optimized, call, Stages(llvm_ir, compiled), entry=fn,
                    timings={"lower": t1 - t0, "jit": t2 - t1}, donated=frozenset(donated))


def _raising_callback_errors(fn: Callable[..., object]) -> Callable[..., object]:
    """``fn``, raising what one of its host callbacks raised (llax.codegen.callbacks)."""

    def call(*args: object) -> object:
        out = fn(*args)
        callbacks.raise_pending()
        return out

    return call


def _symbol(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:40] or "fn"
