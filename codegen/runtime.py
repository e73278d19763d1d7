"""Runtime modules: LLVM code compiled once per process that kernels call by name.

Code that every kernel of some kind needs is not compiled into each kernel:
``load_runtime`` builds it as a module of its own the first time it is asked
for, compiles it with ``target.compile_module`` and publishes its exported
symbols to the JIT's process-wide symbol table (``llvm.add_symbol``). Kernels
only declare those symbols, so their object code refers to them by name and
the loader resolves the name when the kernel is loaded: never an address baked
into the code, which would not survive into another process.

The runtimes: the thread pool (``parallel.threads()``), the argument checks
and output allocation of large entries (``entry_runtime.ensure_runtime``) and
the huge-argument path of sin, cos and tan (``vecmath.trig.load_huge_runtime``). Whatever loads a
kernel's object code without lowering it (a cache) must load the runtimes
that kernel declares first: their symbols are resolved when it is loaded.

Once kernels may link against a runtime it must be whole and the only one: a
Ctrl-C between compiling and publishing it, or two threads compiling it at
once, would leave kernels calling code that is gone. So it is compiled,
published and set up under a lock, with Ctrl-C held back, and kept alive (with
its CompiledModule) for the rest of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import llvmlite.binding as llvm
import llvmlite.ir as ir

from llax.codegen import target
from llax.codegen.interrupts import deferred_interrupts

# Reentrant: a runtime's build or setup may load another runtime.
_lock = threading.RLock()
_loaded: dict[str, target.CompiledModule] = {}  # for the rest of the process


def load_runtime(name: str, build: Callable[[], ir.Module], exports: Iterable[str],
                 setup: Callable[[target.CompiledModule], None] | None = None,
                 opt: bool = True) -> target.CompiledModule:
    """The runtime ``name``: on the first call in the process, ``build()`` compiled (``opt``:
    with LLVM's O3 pipeline), its ``exports`` published for kernels to link against, then
    ``setup(compiled)`` run; later calls return the same CompiledModule at once (and
    ignore the other arguments).
    """
    compiled = _loaded.get(name)
    if compiled is not None:
        return compiled
    with _lock, deferred_interrupts():
        compiled = _loaded.get(name)
        if compiled is None:
            compiled = target.compile_module(build(), name, opt=opt, keep_ir=False)
            for symbol in exports:
                llvm.add_symbol(symbol, compiled.address(symbol))
            if setup is not None:
                setup(compiled)
            _loaded[name] = compiled
        return compiled
