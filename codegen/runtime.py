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

Runtimes' object code is also kept on disk (``cache_dir()``), so a new process
loads it instead of compiling it again (the convolution runtimes alone are
about half a second of LLVM). An entry is named by a hash of everything the
code depends on: the IR text, the host (triple, CPU, features), the LLVM and
llvmlite versions and the optimisation flag; it holds the object code, the
renamed symbols and the object's own hash, checked before anything is loaded.
A missing, unreadable or damaged entry is compiled again and rewritten
(atomically: processes may race to write the same entry). ``LLAX_CACHE_DIR``
moves the cache; set to ``off`` (or empty), it turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
import llvmlite.ir as ir

from llax.codegen import target
from llax.codegen.interrupts import deferred_interrupts

# Reentrant: a runtime's build or setup may load another runtime.
_lock = threading.RLock()
_loaded: dict[str, target.CompiledModule] = {}  # for the rest of the process
# Per runtime loaded in this process: "compiled" or "disk" (the cache); for tests and tools.
origins: dict[str, str] = {}


def load_runtime(name: str, build: Callable[[], ir.Module], exports: Iterable[str],
                 setup: Callable[[target.CompiledModule], None] | None = None,
                 opt: bool = True, cache: bool = True) -> target.CompiledModule:
    """The runtime ``name``: on the first call in the process, ``build()`` compiled (``opt``:
    with LLVM's O3 pipeline) or loaded from the disk cache (``cache``: False for code that
    holds this process's addresses), its ``exports`` published for kernels to link
    against, then ``setup(compiled)`` run; later calls return the same CompiledModule at
    once (and ignore the other arguments).
    """
    compiled = _loaded.get(name)
    if compiled is not None:
        return compiled
    with _lock, deferred_interrupts():
        compiled = _loaded.get(name)
        if compiled is None:
            compiled = _cached_compile(name, str(build()), opt, cache)
            for symbol in exports:
                llvm.add_symbol(symbol, compiled.address(symbol))
            if setup is not None:
                setup(compiled)
            _loaded[name] = compiled
        return compiled


def cache_dir() -> Path | None:
    """Where runtimes' object code is kept between processes, or None when that is off."""
    setting = os.environ.get("LLAX_CACHE_DIR")
    if setting is not None:
        return None if setting.strip().lower() in ("", "off", "0") else Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llax"


def _cached_compile(name: str, text: str, opt: bool, cache: bool) -> target.CompiledModule:
    if not cache:
        origins[name] = "compiled"
        return target.compile_module(text, name, opt=opt, keep_ir=False)
    host = target.host()
    key = hashlib.sha256("\0".join([
        text, host.triple, host.cpu, host.features, str(llvm.llvm_version_info),
        llvmlite.__version__, str(opt)]).encode()).hexdigest()[:32]
    where = cache_dir()
    path = None if where is None else where / "runtimes" / f"{name}-{key}"
    entry = _read(path) if path is not None else None
    if entry is None:
        # The suffix is the key's: unique in any process that loads this entry.
        obj, symbols = target.object_code(text, f".rt{key[:16]}", opt=opt)
        if path is not None:
            _write(path, obj, symbols)
        origins[name] = "compiled"
    else:
        obj, symbols = entry
        origins[name] = "disk"
    return target.load_object(name, obj, symbols)


def _with(path: Path, extension: str) -> Path:
    # (not Path.with_suffix: a runtime's name may hold dots, "test.rare.f64")
    return path.with_name(path.name + extension)


def _read(path: Path) -> tuple[bytes, dict[str, tuple[str, bool]]] | None:
    try:
        meta = json.loads(_with(path, ".json").read_text())
        obj = _with(path, ".o").read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(obj).hexdigest():
        return None  # damaged or half written: MCJIT must never see it
    try:
        return obj, {k: (str(v[0]), bool(v[1])) for k, v in meta["symbols"].items()}
    except (KeyError, TypeError, IndexError, AttributeError):
        return None


def _write(path: Path, obj: bytes, symbols: dict[str, tuple[str, bool]]) -> None:
    """The entry, each file written whole under a temporary name then renamed; a cache
    that cannot be written is no error (the next process compiles again)."""
    meta = json.dumps({"sha256": hashlib.sha256(obj).hexdigest(), "symbols": symbols})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix, data in ((".o", obj), (".json", meta.encode())):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, _with(path, suffix))
            except BaseException:
                os.unlink(tmp)
                raise
    except OSError:
        pass
