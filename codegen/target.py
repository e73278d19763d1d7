"""The host target: one LLVM target machine, the O3 pipeline, and the JIT.

The host target machine is detected and built once per process, not per
compile. (The pass builder, by contrast, must be fresh per module: see
``optimize``.)

Each compile parses its module into an LLVM context of its own, optimises it
and emits object code, then frees module and context: the engine only ever
gets object code. Compiled code lives in MCJIT execution engines shared by a
batch of modules (``MODULES_PER_ENGINE``): sharing saves making an engine and
its target machine per compile (~0.2 ms, and a few pages of code memory for
even the smallest kernel); batching lets the code of dropped kernels be freed
once every module of the batch is gone, which one engine for the whole
process never would. An engine has one flat symbol namespace, so every
definition is renamed with a per-compile suffix before it enters;
``CompiledModule.address`` takes the original names.

A compile may come with *side modules* (the loop nests of a large function):
they are optimised and turned into object code on a second thread, each in
its own LLVM context and with the thread's own target machine, while the
calling thread compiles the main module; the objects then join the main
module's in the engine. llvmlite serialises every LLVM call behind one
process-wide lock, so the compiling thread opts out of it (``_lock_opt_out``):
it shares nothing with other threads but immutable tuning options. Their
symbols must be unique process-wide, as they are not renamed.

``compile_module`` may be called from several threads at once, and holds
Ctrl-C back while it runs (llax.codegen.interrupts): a KeyboardInterrupt in
the middle would leave LLVM objects half handed over, or the side thread
working on, and LLVM would abort the process later. Every other llvmlite call
here is held back likewise: one interrupted between taking llvmlite's lock
and entering its ``with`` block would never release the lock.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as lir
from llvmlite.binding.newpassmanagers import NewPassManager

from llax.codegen.interrupts import deferred_interrupts

# Kernels per engine. Larger amortises engine creation further but keeps more
# dead code alive; 32 keeps the waste at a few megabytes at most.
MODULES_PER_ENGINE = 32


@dataclass(frozen=True)
class HostTarget:
    """What LLVM knows about this machine, plus the target machine built for it."""

    triple: str
    cpu: str
    features: str
    data_layout: str
    machine: llvm.TargetMachine  # for optimisation and assembly; never given to an engine

    def has_feature(self, name: str) -> bool:
        """True if LLVM reports CPU feature ``name`` (e.g. ``"avx2"``) enabled."""
        return f"+{name}" in self.features.split(",")


@functools.cache
def host() -> HostTarget:
    """The host target, detected from the running CPU (never assumed)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    triple = llvm.get_process_triple()
    cpu = llvm.get_host_cpu_name()
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot list features on some hosts; the CPU name still tells
        features = ""
    machine = _new_machine(triple, cpu, features)
    return HostTarget(triple, cpu, features, str(machine.target_data), machine)


def _new_machine(triple: str, cpu: str, features: str) -> llvm.TargetMachine:
    # 'jitdefault' is the large code model on x86-64: MCJIT may place code and
    # the data it references more than 2 GiB apart, so small-model relocations
    # could overflow. Its cost is a movabs per constant-pool load.
    return llvm.Target.from_triple(triple).create_target_machine(
        cpu=cpu, features=features, opt=3, codemodel="jitdefault", jit=True)


@functools.cache
def _tuning_options() -> llvm.PipelineTuningOptions:
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    # No unrolling beyond what interleaving does: on the MLP train step it more than doubled
    # optimisation time (260 -> 600 ms) and code generation (170 -> 340 ms), with no
    # measurable gain on SELU, sums or softmax. Interleaving (several accumulators per
    # reduction) is what reductions need, and it is cheap.
    pto.loop_unrolling = False
    pto.loop_interleaving = True
    return pto


@contextlib.contextmanager
def _parsed(ir: str | lir.Module | llvm.ModuleRef, triple: str, data_layout: str
            ) -> Iterator[llvm.ModuleRef]:
    """``ir`` parsed, retargeted and verified, in an LLVM context of its own; the module
    (a ModuleRef given is taken over) and the context are freed on leaving.

    Types, constants and metadata live in their context until it dies, so the global
    context would keep a little of every compile for ever; and compiles on different
    threads share no LLVM state. Freeing a context frees the modules still in it, so the
    module goes first. Takes ``triple`` and ``data_layout`` rather than calling ``host()``
    because the side thread runs it.
    """
    if isinstance(ir, llvm.ModuleRef):
        context, mod = None, ir
    else:
        context = llvm.create_context()
        try:
            mod = llvm.parse_assembly(str(ir), context=context)
        except BaseException:
            context.close()
            raise
    try:
        mod.triple, mod.data_layout = triple, data_layout
        mod.verify()  # invalid IR can crash LLVM's passes; fail here instead
        yield mod
    finally:
        mod.close()
        if context is not None:
            context.close()


def optimize(module_ref: llvm.ModuleRef, machine: llvm.TargetMachine | None = None) -> None:
    """Run LLVM's default O3 module pipeline (new pass manager) in place."""
    # A fresh pass builder every time, although it looks reusable: llvmlite's
    # run (ffi/newpassmanagers.cpp, LLVMPY_RunNewModulePassManager) registers
    # a stack-allocated StandardInstrumentations' callbacks into the builder,
    # so a reused builder piles up callbacks to dead objects (measured: each
    # compile got slower, 14 -> 19 ms over 300). The pass manager cannot be
    # reused either: a second run aborts inside LLVM. Both are cheap to build.
    pb = llvm.create_pass_builder(machine or host().machine, _tuning_options())
    manager = pb.getModulePassManager()
    try:
        manager.run(module_ref, pb)
    finally:
        # llvmlite's ModulePassManager finds ObjectRef's no-op _dispose before
        # NewPassManager's (method resolution order), so closing it frees nothing: ~60 KB
        # per compile, measured, until this. Free it here. (The pass builder still keeps
        # ~0.8 KB of instrumentation callbacks that llvmlite never frees.)
        NewPassManager._dispose(manager)
        manager.detach()


def _object_code(ir: str | lir.Module | llvm.ModuleRef, machine: llvm.TargetMachine,
                 triple: str, data_layout: str, *, opt: bool = True, rename: bool = False,
                 keep_text: bool = False, suffix: str | None = None
                 ) -> tuple[bytes, dict[str, tuple[str, bool]], str | None]:
    """Optimise ``ir`` in a context of its own and emit its object code; with ``rename``,
    give its definitions a per-compile suffix (see ``_rename_definitions``; ``suffix``:
    this one instead). Returns the object code, the renamed symbols and (with
    ``keep_text``) the IR text as given."""
    with _parsed(ir, triple, data_layout) as mod:
        text = (ir if isinstance(ir, str) else str(mod)) if keep_text else None
        if opt:
            optimize(mod, machine)
        symbols = _rename_definitions(mod, suffix) if rename else {}
        return machine.emit_object(mod), symbols, text


# Threads that skip llvmlite's lock (side compiles) set ``_skipping.on``.
_skipping = threading.local()
_engines_to_free: list[llvm.ExecutionEngine] = []


class _Engine:
    """One MCJIT engine and how many modules it has been given."""

    def __init__(self) -> None:
        target = host()
        # MCJIT takes ownership of its target machine, so each engine gets its own. Its
        # module is an empty placeholder: compiled code comes in as object files.
        machine = _new_machine(target.triple, target.cpu, target.features)
        self.ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
        self.count = 0

    def add_objects(self, objects: Sequence[bytes]) -> None:
        """One module's machine code (its main object and its side modules' objects, linked
        against each other)."""
        for obj in objects:
            self.ee.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self.ee.finalize_object()
        self.count += 1

    def __del__(self, skipping=_skipping, to_free=_engines_to_free) -> None:
        # Freed by a garbage collection that ran on the side thread, the engine would be
        # disposed there without llvmlite's lock, maybe while another thread compiles;
        # leave that to the next compile_module instead. (Default arguments: they outlive
        # the module's globals at interpreter exit.)
        if getattr(skipping, "on", False):
            to_free.append(self.ee)


_current_engine: _Engine | None = None
_engine_lock = threading.Lock()  # guards _current_engine and each engine's count
_suffix = itertools.count()


def _add_to_engine(objects: Sequence[bytes]) -> _Engine:
    """Load one module's objects into the current engine (a new one when it is full)."""
    global _current_engine
    with _engine_lock:
        if _current_engine is None or _current_engine.count >= MODULES_PER_ENGINE:
            _current_engine = _Engine()  # the old one lives on in its CompiledModules
        engine = _current_engine
        try:
            engine.add_objects(objects)
        except BaseException:
            _current_engine = None  # half loaded: never give it another module
            raise
        return engine


class CompiledModule:
    """JIT-compiled code of one module; keep it alive while its code may run."""

    def __init__(self, name: str, engine: _Engine, symbols: dict[str, tuple[str, bool]],
                 sources: Sequence[str] | None, opt: bool = True) -> None:
        self.name = name
        self._engine = engine  # holds the machine code alive
        self._symbols = symbols  # original name -> (name in the engine, is function)
        # The IR given (main module, then side modules), for the optimised text on demand:
        # printing it at every compile would cost a few ms that hardly anyone uses.
        self._sources = None if sources is None else list(sources)
        self._opt = opt
        self._optimized: list[str] | None = None
        self._assembly: str | None = None

    @property
    def symbols(self) -> list[str]:
        """The names this module defines (as written in its IR)."""
        return list(self._symbols)

    def address(self, symbol: str) -> int:
        """Address of a function or global the module defines."""
        try:
            mangled, is_function = self._symbols[symbol]
        except KeyError:
            raise KeyError(f"module {self.name!r} defines no symbol {symbol!r}; "
                           f"it defines {sorted(self._symbols)}") from None
        ee = self._engine.ee
        # Under the engine lock: a lookup finalizes every object the engine holds, and
        # another thread may be between adding a module's main object and its side
        # modules' (whose symbols the main object needs: LLVM would abort on them).
        with deferred_interrupts(), _engine_lock:  # an llvmlite call: see the module docstring
            addr = ee.get_function_address(mangled) if is_function \
                else ee.get_global_value_address(mangled)
        if not addr:
            raise RuntimeError(f"JIT has no address for {symbol!r} in module {self.name!r}")
        return addr

    def _optimized_modules(self) -> list[str]:
        if self._sources is None:
            raise RuntimeError(f"module {self.name!r} was compiled with keep_ir=False")
        if self._optimized is None:  # the same pipeline on the same IR: the same result
            target = host()
            optimized = []
            with deferred_interrupts():
                for text in self._sources:
                    with _parsed(text, target.triple, target.data_layout) as mod:
                        if self._opt:
                            optimize(mod)
                        optimized.append(str(mod))
            self._optimized = optimized
        return self._optimized

    @property
    def optimized_ir(self) -> str:
        """The LLVM IR after optimisation (side modules after the main one)."""
        return "\n".join(self._optimized_modules())

    @property
    def assembly(self) -> str:
        """Host assembly for the optimised IR (produced on first access)."""
        if self._assembly is None:
            target = host()
            parts = []
            with deferred_interrupts():
                for text in self._optimized_modules():
                    with _parsed(text, target.triple, target.data_layout) as mod:
                        parts.append(target.machine.emit_assembly(mod))
            self._assembly = "\n".join(parts)
        return self._assembly

    def __repr__(self) -> str:
        return f"<CompiledModule {self.name!r} symbols={self.symbols}>"


class _OptOutLock:
    """llvmlite's global lock, made skippable by threads that set ``_skipping.on``."""

    def __init__(self, real) -> None:
        self.real = real

    def acquire(self, *args, **kwargs) -> bool:
        return True if getattr(_skipping, "on", False) else self.real.acquire(*args, **kwargs)

    def release(self) -> None:
        if not getattr(_skipping, "on", False):
            self.real.release()


@functools.cache
def _lock_opt_out() -> _OptOutLock | None:
    """Install the skippable lock once; None where llvmlite's lock is not as expected (then
    side modules compile on the calling thread)."""
    try:
        from llvmlite.binding import ffi

        holder = ffi.lib._lock
        if not isinstance(holder._lock, _OptOutLock):
            if not hasattr(holder._lock, "acquire"):
                return None
            holder._lock = _OptOutLock(holder._lock)
        return holder._lock
    except Exception:  # noqa: BLE001 - a different llvmlite: no parallel compiles
        return None


def parallel_compile_available() -> bool:
    from llax.codegen import parallel

    return parallel.threads() > 1 and _lock_opt_out() is not None


class _SideCompile(threading.Thread):
    """Compiles side modules to object code on its own thread (see the module docstring).

    It owns its target machine (made on the calling thread, under llvmlite's lock like
    any LLVM call; about 0.1 ms) and closes it when done, so nothing it touches is
    shared, however many compiles run at once.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        # Not a daemon: should the interpreter exit during a compile, it waits for this
        # thread rather than tearing LLVM down under it.
        super().__init__(name="llax-compile")
        target = host()
        self.texts, self.triple, self.data_layout = texts, target.triple, target.data_layout
        self.machine = _new_machine(target.triple, target.cpu, target.features)
        _tuning_options()  # made here if not yet, under the lock: the thread only reads them
        self.results: list[bytes] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        _skipping.on = True  # parallel_compile_available() made sure the lock allows it
        try:
            self.results = [_object_code(t, self.machine, self.triple, self.data_layout)[0]
                            for t in self.texts]
        except BaseException as e:  # noqa: BLE001 - reported on the calling thread
            self.error = e
        finally:
            self.machine.close()
            _skipping.on = False


def _rename_definitions(mod: llvm.ModuleRef, suffix: str | None = None
                        ) -> dict[str, tuple[str, bool]]:
    """Give every definition a per-compile suffix (or ``suffix``), unique within the shared
    engine; returns original name -> (name in the engine, is a function)."""
    suffix = suffix or f".llax{next(_suffix)}"
    symbols: dict[str, tuple[str, bool]] = {}
    for is_function, values in ((True, mod.functions), (False, mod.global_variables)):
        for value in values:
            if value.is_declaration:
                continue
            original = value.name
            value.name = original + suffix
            symbols[original] = (value.name, is_function)
    return symbols


def object_code(ir: str, suffix: str, opt: bool = True
                ) -> tuple[bytes, dict[str, tuple[str, bool]]]:
    """``ir`` compiled (``opt``: optimised) to object code for this host, its definitions
    renamed with ``suffix`` (which must be unique in the process); and the renamed symbols,
    for ``load_object``. For code that outlives the process (codegen/runtime.py's cache)."""
    with deferred_interrupts():
        target = host()
        obj, symbols, _ = _object_code(ir, target.machine, target.triple, target.data_layout,
                                       opt=opt, rename=True, suffix=suffix)
        return obj, symbols


def load_object(name: str, obj: bytes, symbols: dict[str, tuple[str, bool]]) -> CompiledModule:
    """Object code from ``object_code`` (this process's or an earlier one's), loaded."""
    with deferred_interrupts():
        _engines_to_free.clear()
        return CompiledModule(name, _add_to_engine([obj]), symbols, None)


def compile_module(ir: str | lir.Module | llvm.ModuleRef, name: str, *,
                   opt: bool = True, keep_ir: bool = True,
                   side_modules: Sequence[str] = ()) -> CompiledModule:
    """Verify, optimise (O3) and JIT-compile ``ir``; ``name`` labels it in messages.

    ``keep_ir=False`` drops the IR text (and so ``optimized_ir`` and ``.assembly``),
    shaving a little off the compile time. A ModuleRef is taken over (and freed).
    Safe to call from several threads at once. Ctrl-C is held back until it returns
    (see llax.codegen.interrupts): in between, LLVM objects change hands.
    """
    with deferred_interrupts():
        _engines_to_free.clear()  # disposed here, under llvmlite's lock
        target = host()
        side = None
        if side_modules and parallel_compile_available():
            side = _SideCompile(list(side_modules))
            side.start()
        try:
            main_object, symbols, source = _object_code(
                ir, target.machine, target.triple, target.data_layout, opt=opt, rename=True,
                keep_text=keep_ir)
        finally:  # never leave the side thread running
            if side is not None:
                side.join()
        if side is None or side.error is not None:  # compile them here instead
            side_objects = [_object_code(t, target.machine, target.triple,
                                         target.data_layout)[0] for t in side_modules]
        else:
            side_objects = side.results
        engine = _add_to_engine([main_object, *side_objects])
        sources = [source, *side_modules] if keep_ir else None
        return CompiledModule(name, engine, symbols, sources, opt)
