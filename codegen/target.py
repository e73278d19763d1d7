"""The host target: one LLVM target machine, the O3 pipeline, and the JIT.

The host target machine is detected and built once per process, not per
compile. (The pass builder, by contrast, must be fresh per module: see
``optimize``.)

Compiled code lives in MCJIT execution engines shared by a batch of modules
(``MODULES_PER_ENGINE``). Sharing saves the engine and target-machine set-up
on every compile (measured ~1.5-2 ms of ~12 ms for a small kernel); batching
lets the code of dropped kernels be freed once every module of the batch is
gone, which one engine for the whole process never would. An engine has one
flat symbol namespace, so every definition is renamed with a per-compile
suffix before it enters; ``CompiledModule.address`` takes the original names.

A compile may come with *side modules* (the loop nests of a large function):
they are optimised and turned into object code on a second thread, each in
its own LLVM context and with its own target machine, while the calling
thread compiles the main module; the objects then join the main module in the
engine. llvmlite serialises every LLVM call behind one process-wide lock, so
the compiling thread opts out of it (``_lock_opt_out``): it shares nothing
with other threads but immutable tuning options. Their symbols must be
unique process-wide, as they are not renamed.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as lir

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


def parse(ir_text: str | lir.Module | llvm.ModuleRef) -> llvm.ModuleRef:
    """Parse and verify IR, retargeted to the host (triple and data layout).

    Text goes into LLVM's global context. (A context per module was tried:
    memory use was the same, and llvmlite's engine disposal then frees a
    module's context before the module, so it needs careful ordering.)
    """
    if isinstance(ir_text, llvm.ModuleRef):
        mod = ir_text
    else:
        mod = llvm.parse_assembly(str(ir_text))
    target = host()
    mod.triple = target.triple
    mod.data_layout = target.data_layout
    mod.verify()  # invalid IR can crash LLVM's passes; fail here instead
    return mod


def optimize(module_ref: llvm.ModuleRef) -> None:
    """Run LLVM's default O3 module pipeline (new pass manager) in place."""
    # A fresh pass builder every time, although it looks reusable: llvmlite's
    # run (ffi/newpassmanagers.cpp, LLVMPY_RunNewModulePassManager) registers
    # a stack-allocated StandardInstrumentations' callbacks into the builder,
    # so a reused builder piles up callbacks to dead objects (measured: each
    # compile got slower, 14 -> 19 ms over 300). The pass manager cannot be
    # reused either: a second run aborts inside LLVM. Both are cheap to build.
    pb = llvm.create_pass_builder(host().machine, _tuning_options())
    pb.getModulePassManager().run(module_ref, pb)


class _Engine:
    """One MCJIT engine and how many modules it has been given."""

    def __init__(self) -> None:
        target = host()
        # MCJIT takes ownership of its target machine, so each engine gets its own.
        machine = _new_machine(target.triple, target.cpu, target.features)
        self.ee = llvm.create_mcjit_compiler(parse(""), machine)
        self.count = 0

    def add(self, mod: llvm.ModuleRef) -> None:
        self.ee.add_module(mod)
        self.ee.finalize_object()
        self.count += 1

    def add_objects(self, objects: Sequence[bytes]) -> None:
        """Machine code made outside the engine (side modules); linked against each other."""
        for obj in objects:
            self.ee.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self.ee.finalize_object()
        self.count += 1


_current_engine: _Engine | None = None
_suffix = itertools.count()


def _engine_for_new_module() -> _Engine:
    global _current_engine
    if _current_engine is None or _current_engine.count >= MODULES_PER_ENGINE:
        _current_engine = _Engine()  # the old one lives on in its CompiledModules
    return _current_engine


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
        addr = ee.get_function_address(mangled) if is_function \
            else ee.get_global_value_address(mangled)
        if not addr:
            raise RuntimeError(f"JIT has no address for {symbol!r} in module {self.name!r}")
        return addr

    def _optimized_modules(self) -> list[str]:
        if self._sources is None:
            raise RuntimeError(f"module {self.name!r} was compiled with keep_ir=False")
        if self._optimized is None:  # the same pipeline on the same IR: the same result
            self._optimized = []
            for text in self._sources:
                mod = parse(text)
                if self._opt:
                    optimize(mod)
                self._optimized.append(str(mod))
        return self._optimized

    @property
    def optimized_ir(self) -> str:
        """The LLVM IR after optimisation (side modules after the main one)."""
        return "\n".join(self._optimized_modules())

    @property
    def assembly(self) -> str:
        """Host assembly for the optimised IR (produced on first access)."""
        if self._assembly is None:
            self._assembly = "\n".join(host().machine.emit_assembly(parse(text))
                                        for text in self._optimized_modules())
        return self._assembly

    def __repr__(self) -> str:
        return f"<CompiledModule {self.name!r} symbols={self.symbols}>"


class _OptOutLock:
    """llvmlite's global lock, made skippable by threads that set ``skip.on``."""

    def __init__(self, real) -> None:
        self.real = real
        self.skip = threading.local()

    def acquire(self, *args, **kwargs) -> bool:
        return True if getattr(self.skip, "on", False) else self.real.acquire(*args, **kwargs)

    def release(self) -> None:
        if not getattr(self.skip, "on", False):
            self.real.release()


@functools.cache
def _lock_opt_out() -> _OptOutLock | None:
    """Install the skippable lock once; None where llvmlite's lock is not as expected (then
    side modules compile on the calling thread)."""
    try:
        from llvmlite.binding import ffi

        holder = ffi.lib._lock
        if not hasattr(holder._lock, "acquire") or isinstance(holder._lock, _OptOutLock):
            return None
        holder._lock = _OptOutLock(holder._lock)
        return holder._lock
    except Exception:  # noqa: BLE001 - a different llvmlite: no parallel compiles
        return None


def parallel_compile_available() -> bool:
    from llax.codegen import parallel

    return parallel.threads() > 1 and _lock_opt_out() is not None


def _object_code(ir_text: str, machine: llvm.TargetMachine) -> bytes:
    """Optimise ``ir_text`` in a fresh LLVM context and emit its object code."""
    context = llvm.create_context()
    mod = llvm.parse_assembly(ir_text, context=context)
    try:
        mod.verify()
        pb = llvm.create_pass_builder(machine, _tuning_options())
        pb.getModulePassManager().run(mod, pb)
        return machine.emit_object(mod)
    finally:
        mod.close()
        context.close()


_SIDE_LOCK = threading.Lock()


class _SideCompile(threading.Thread):
    """Compiles side modules to object code on its own thread (see the module docstring)."""

    def __init__(self, texts: Sequence[str], machine: llvm.TargetMachine) -> None:
        super().__init__(name="llax-compile", daemon=True)
        self.texts, self.machine = texts, machine
        self.results: list[bytes] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        lock = _lock_opt_out()
        lock.skip.on = True
        try:
            self.results = [_object_code(t, self.machine) for t in self.texts]
        except BaseException as e:  # noqa: BLE001 - reported on the calling thread
            self.error = e
        finally:
            lock.skip.on = False


@functools.cache
def _side_machine() -> llvm.TargetMachine:
    """The side thread's own target machine, made once, on a calling thread (under the lock
    like any other LLVM call)."""
    target = host()
    return _new_machine(target.triple, target.cpu, target.features)


def _rename_definitions(mod: llvm.ModuleRef) -> dict[str, tuple[str, bool]]:
    """Give every definition a per-compile suffix, unique within the shared engine; returns
    original name -> (name in the engine, is a function)."""
    suffix = f".llax{next(_suffix)}"
    symbols: dict[str, tuple[str, bool]] = {}
    for is_function, values in ((True, mod.functions), (False, mod.global_variables)):
        for value in values:
            if value.is_declaration:
                continue
            original = value.name
            value.name = original + suffix
            symbols[original] = (value.name, is_function)
    return symbols


def compile_module(ir: str | lir.Module | llvm.ModuleRef, name: str, *,
                   opt: bool = True, keep_ir: bool = True,
                   side_modules: Sequence[str] = ()) -> CompiledModule:
    """Verify, optimise (O3) and JIT-compile ``ir``; ``name`` labels it in messages.

    ``keep_ir=False`` drops the IR text (and so ``optimized_ir`` and ``.assembly``),
    shaving a little off the compile time. A ModuleRef is taken over (it
    belongs to the JIT afterwards).
    """
    with _SIDE_LOCK:  # one side thread at a time: it owns the side target machine
        side = None
        if side_modules and parallel_compile_available():
            side = _SideCompile(list(side_modules), _side_machine())
            side.start()
        try:
            mod = parse(ir)
            source = (ir if isinstance(ir, str) else str(mod)) if keep_ir else None
            if opt:
                optimize(mod)
            symbols = _rename_definitions(mod)
            # With side modules, the main module's machine code is made here too, while the
            # side thread works (the engine would otherwise make it after the join).
            main_object = host().machine.emit_object(mod) if side_modules else None
        finally:  # never leave the side thread running: it owns the side machine
            if side is not None:
                side.join()
        if side is None or side.error is not None:  # compile them here instead
            results = [_object_code(t, host().machine) for t in side_modules]
        else:
            results = side.results

    engine = _engine_for_new_module()
    if main_object is None:
        engine.add(mod)
    else:
        engine.add_objects([main_object, *results])
    sources = [source, *side_modules] if keep_ir else None
    return CompiledModule(name, engine, symbols, sources, opt)
