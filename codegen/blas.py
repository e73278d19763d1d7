"""The BLAS that NumPy ships, made callable from generated code.

NumPy 2.x wheels bundle scipy-openblas built with 64-bit integers (ILP64). Its
CBLAS entry points carry a prefix and suffix, e.g. ``scipy_cblas_sgemm64_``;
other ILP64 builds use ``cblas_sgemm64_``. ``register()`` finds that library,
checks that its integers really are 64-bit, and registers each routine with
LLVM under a stable name (``llax_cblas_sgemm`` ...) so generated IR can
``declare`` and call it with i64 sizes whatever the library's own naming.

Two instances of the library serve two kinds of product. Ordinary calls go to
a private copy set to one thread (``llax_cblas_<r>``); llax splits the larger
of those over its own pool (codegen/dot.py), whose threads sleep when idle.
The largest products go to NumPy's own instance and OpenBLAS's threads
(``llax_cblas_threaded_<r>``), so they run exactly as fast as NumPy's on every
host: when NumPy has just used those threads, they are busy-waiting for work
and would otherwise take a core from llax's pool (measured on the 2-core dev
machine, 1024^3 float32 alternating with NumPy's ``a @ b``: 23.6 ms split over
the pool, 11.8 ms on NumPy's threads, 11.6 ms for NumPy itself).

Only ILP64 libraries are accepted: calling a 32-bit-integer CBLAS with i64
sizes would be silently wrong, so when none is found ``register()`` returns
None and the code generator must fall back to loops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as lir
import numpy as np

# CBLAS enum values (cblas.h; stable across every CBLAS). Enums are C ints.
ROW_MAJOR = 101
COL_MAJOR = 102
NO_TRANS = 111
TRANS = 112
CONJ_TRANS = 113

# Complex routines (c: complex64, z: complex128) take alpha and beta by pointer, each
# an interleaved (re, im) pair, as NumPy's arrays hold them.
ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot", "cgemm", "zgemm")

# Symbol spellings for ILP64 CBLAS, most specific first. scipy-openblas
# (NumPy >= 2.0 wheels) uses scipy_cblas_<r>64_; OpenBLAS built with
# INTERFACE64=1 SYMBOLSUFFIX=64_ uses cblas_<r>64_.
_SYMBOL_PATTERNS = ("scipy_cblas_{}64_", "cblas_{}64_", "cblas_{}_64")
# openblas_get_config, for checking USE64BITINT, under the same spellings.
_CONFIG_SYMBOLS = ("scipy_openblas_get_config64_", "openblas_get_config64_",
                   "openblas_get_config")


def llax_name(routine: str, threaded: bool = False) -> str:
    """The name generated IR uses for ``routine`` (e.g. ``llax_cblas_sgemm``), on the
    ordinary instance or (``threaded``) on NumPy's instance and its threads."""
    return f"llax_cblas_{'threaded_' if threaded else ''}{routine}"


@dataclass(frozen=True)
class BlasLibrary:
    """A located ILP64 CBLAS and the addresses of the routines llax uses."""

    path: str
    addresses: dict[str, int]  # routine ("sgemm") -> address
    native_names: dict[str, str]  # routine -> symbol in the library
    config: str | None  # openblas_get_config() text, when the library has it
    # A private instance of the library set to one thread: llax splits large products over
    # its own pool (codegen/dot.py) instead of OpenBLAS's, whose threads busy-wait after
    # every call and then take a core from whatever runs next (compilation, other loops).
    single_threaded: bool = False

    def has(self, routine: str) -> bool:
        return routine in self.addresses


def _loaded_libraries() -> Iterator[str]:
    # The library NumPy itself already loaded is the best choice: same code,
    # same thread pool. /proc/self/maps lists it on Linux.
    try:
        with open("/proc/self/maps") as f:
            lines = f.readlines()
    except OSError:
        return
    seen = set()
    for line in lines:
        # address perms offset dev inode [path]; the path may contain spaces.
        fields = line.rstrip("\n").split(maxsplit=5)
        path = fields[5] if len(fields) == 6 else ""
        if "blas" in os.path.basename(path).lower() and path not in seen:
            seen.add(path)
            yield path


def _numpy_bundled_libraries() -> Iterator[str]:
    # Wheels put their vendored libraries beside the package: numpy.libs on
    # Linux and Windows, numpy/.dylibs on macOS.
    pkg = os.path.dirname(np.__file__)
    for folder in (pkg + ".libs", os.path.join(pkg, ".dylibs")):
        for pattern in ("*openblas*.so*", "*openblas*.dylib", "*openblas*.dll"):
            yield from sorted(glob.glob(os.path.join(folder, pattern)))


def _numpy_build_config_libraries() -> Iterator[str]:
    # The build machine's path; useful for non-wheel installs (conda, source).
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        libdir = cfg.get("lib directory")
    except Exception:  # the config format is not a stable API
        return
    if libdir and os.path.isdir(libdir):
        yield from sorted(glob.glob(os.path.join(libdir, "*blas*.so*")))


def _system_libraries() -> Iterator[str]:
    for name in ("scipy_openblas64_", "openblas64_", "openblas64", "openblas"):
        found = ctypes.util.find_library(name)
        if found:
            yield found


def _candidates() -> Iterator[str]:
    override = os.environ.get("LLAX_BLAS_LIBRARY")
    if override:
        yield override
    yield from _loaded_libraries()
    yield from _numpy_bundled_libraries()
    yield from _numpy_build_config_libraries()
    yield from _system_libraries()


def _address(lib: ctypes.CDLL, symbol: str) -> int | None:
    try:
        return ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value
    except AttributeError:
        return None


def _probe(path: str) -> BlasLibrary | None:
    try:
        # dlopen of a library NumPy already loaded returns the same instance.
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    return _probe_library(lib, path)


# openblas_set_num_threads under the spellings of _SYMBOL_PATTERNS.
_SET_THREADS_SYMBOLS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                        "openblas_set_num_threads")


def _private_single_threaded(found: BlasLibrary) -> BlasLibrary | None:
    """A second, private instance of ``found``'s library, set to one thread; None if that
    cannot be done (then llax shares NumPy's instance and its threads).

    A copy of the file is loaded (dlopen would return NumPy's instance for the same
    path) and deleted at once; its dependencies are already loaded, by NumPy.
    """
    if os.environ.get("LLAX_SHARED_BLAS", "0").lower() in ("1", "true"):
        return None
    try:
        folder = tempfile.mkdtemp(prefix="llax-blas-")
    except OSError:  # no writable temporary directory
        return None
    copy = os.path.join(folder, os.path.basename(found.path))
    try:
        shutil.copyfile(found.path, copy)
        lib = ctypes.CDLL(copy)
    except OSError:
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    setter = next((s for s in _SET_THREADS_SYMBOLS if _address(lib, s)), None)
    private = _probe_library(lib, found.path)
    if setter is None or private is None:
        return None
    set_threads = getattr(lib, setter)
    set_threads.argtypes = [ctypes.c_int]
    set_threads.restype = None
    set_threads(1)
    return dataclasses.replace(private, single_threaded=True)


def _probe_library(lib: ctypes.CDLL, path: str) -> BlasLibrary | None:
    config = None
    for symbol in _CONFIG_SYMBOLS:
        if _address(lib, symbol):
            get_config = getattr(lib, symbol)
            get_config.restype = ctypes.c_char_p
            get_config.argtypes = []
            config = get_config().decode("ascii", "replace")
            break
    if config is not None and "USE64BITINT" not in config:
        return None  # an LP64 build that happens to use a 64-style name
    for pattern in _SYMBOL_PATTERNS:
        found = {r: (pattern.format(r), _address(lib, pattern.format(r))) for r in ROUTINES}
        found = {r: (name, addr) for r, (name, addr) in found.items() if addr}
        if "sgemm" in found and "dgemm" in found:
            return BlasLibrary(path, {r: a for r, (_, a) in found.items()},
                               {r: n for r, (n, _) in found.items()}, config)
    return None


@functools.cache
def find_shared() -> BlasLibrary | None:
    """Locate an ILP64 CBLAS (NumPy's own instance first), or None if there is none."""
    if os.environ.get("LLAX_DISABLE_BLAS", "0").lower() in ("1", "true"):
        return None
    tried = set()
    for path in _candidates():
        real = os.path.realpath(path) if os.path.exists(path) else path
        if real in tried:
            continue
        tried.add(real)
        found = _probe(path)
        if found is not None:
            return found
    return None


@functools.cache
def find() -> BlasLibrary | None:
    """The instance for ordinary calls: a private single-threaded copy of the shared one
    where possible, else the shared one itself; None if there is no BLAS."""
    shared = find_shared()
    return None if shared is None else _private_single_threaded(shared) or shared


@functools.cache
def register() -> BlasLibrary | None:
    """Find the BLAS and make each routine resolvable as ``llax_cblas_<routine>`` (the
    ordinary instance) and ``llax_cblas_threaded_<routine>`` (NumPy's, threaded).

    Returns None when no usable BLAS exists; callers then emit loops.
    """
    found = find()
    if found is not None:
        for threaded, lib in ((False, found), (True, find_shared())):
            for routine, addr in lib.addresses.items():
                llvm.add_symbol(llax_name(routine, threaded), addr)
    return found


def available() -> bool:
    return register() is not None


_I32, _I64, _PTR = lir.IntType(32), lir.IntType(64), lir.PointerType()


def _signature(routine: str) -> lir.FunctionType:
    # From cblas.h with blasint = int64 (ILP64); enum parameters stay C ints.
    scalar = {"s": lir.FloatType(), "d": lir.DoubleType()}.get(routine[0], _PTR)
    kind = routine[1:]
    if kind == "gemm":  # order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
        return lir.FunctionType(lir.VoidType(), [
            _I32, _I32, _I32, _I64, _I64, _I64, scalar, _PTR, _I64, _PTR, _I64,
            scalar, _PTR, _I64])
    if kind == "gemv":  # order, trans, M, N, alpha, A, lda, X, incX, beta, Y, incY
        return lir.FunctionType(lir.VoidType(), [
            _I32, _I32, _I64, _I64, scalar, _PTR, _I64, _PTR, _I64, scalar, _PTR, _I64])
    if kind == "dot":  # N, X, incX, Y, incY -> scalar
        return lir.FunctionType(scalar, [_I64, _PTR, _I64, _PTR, _I64])
    raise ValueError(f"unknown BLAS routine {routine!r}; known: {ROUTINES}")


def declare(module: lir.Module, routine: str, threaded: bool = False) -> lir.Function:
    """Declare ``routine`` of the ordinary (or ``threaded``) instance in ``module`` (once)
    with its C signature.

    Raises RuntimeError if no BLAS is available or it lacks ``routine``; check
    ``available()`` first and emit loops instead.
    """
    found = register()
    if found is None or not found.has(routine):
        raise RuntimeError(f"BLAS routine {routine!r} is not available in this process")
    name = llax_name(routine, threaded)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    fn = lir.Function(module, _signature(routine), name=name)
    fn.attributes.add("nounwind")
    return fn


def describe() -> str:
    """One line for logs and bug reports: which BLAS llax calls, or why none."""
    found = find()
    if found is None:
        return "no ILP64 CBLAS found; matmul uses generated loops"
    return (f"{found.native_names['sgemm']} from {found.path}"
            + (f" ({found.config.strip()})" if found.config else ""))
