"""The fast call path: a CPython entry point emitted next to each kernel.

A kernel is ``void kernel(ptr noalias in0, ..., ptr noalias out0, ...)`` over
dense row-major buffers. ``add_entry`` emits, into the same LLVM module, a
``METH_FASTCALL`` function ``PyObject *entry(PyObject *self, PyObject *const
*args, Py_ssize_t nargs)`` that checks every argument is exactly a NumPy
ndarray of the expected dtype and shape, C-contiguous, aligned and in native
byte order; allocates the outputs with NumPy's C API (except an output computed in a
donated input's buffer: that input is returned); calls the kernel; and returns the
output (or a tuple of them). ``make_callable`` wraps the compiled
entry as a builtin function, so a call costs what a C extension call costs
instead of ctypes' microseconds.

Everything the generated code assumes about CPython and NumPy memory layouts
is read from NumPy's own headers and verified against live objects when this
module is imported (``ABI``); a mismatch raises ImportError here rather than
crashing later inside generated code.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as lir
import numpy as np

from llax.codegen import entry_runtime, target

# ---------------------------------------------------------------------------
# Exceptions raised by generated entry points


class ArgumentError(Exception):
    """An argument does not match what a compiled entry was specialised for.

    Dispatchers catch this to take a slow path (convert, or recompile).
    """


class ArgumentTypeError(ArgumentError, TypeError):
    """Wrong Python type, dtype or argument count."""


class ArgumentValueError(ArgumentError, ValueError):
    """Right type and dtype, but the wrong shape or memory layout."""


# ---------------------------------------------------------------------------
# ABI facts: read from NumPy's headers, verified against live objects

_PTR_SIZE = ctypes.sizeof(ctypes.c_void_p)
# Sizes of the C types that appear in the structs we read. npy_intp and
# npy_hash_t are Py_ssize_t-sized on every platform NumPy supports.
_C_TYPE_SIZES = {
    "char": 1, "int": ctypes.sizeof(ctypes.c_int), "npy_uint64": 8,
    "npy_intp": ctypes.sizeof(ctypes.c_ssize_t), "npy_hash_t": ctypes.sizeof(ctypes.c_ssize_t),
}


class AbiError(ImportError):
    """CPython or NumPy does not have the layout the entry code relies on."""


def _strip_c(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _struct_offsets(header: str, opener: str) -> dict[str, int]:
    """Field offsets of the first struct after ``opener`` in ``header``.

    A small C layout computation: PyObject_HEAD is sizeof(PyObject), pointers
    and the scalar types in ``_C_TYPE_SIZES`` are naturally aligned. It stops
    at the first field whose type it does not know (later offsets would be
    guesses); preprocessor lines are skipped, which only affects fields after
    the ones used here.
    """
    start = header.index(opener) + len(opener)
    body = _strip_c(header[start:header.index("}", start)])
    body = "\n".join(ln for ln in body.splitlines() if not ln.lstrip().startswith("#"))
    offsets: dict[str, int] = {}
    offset = 0
    for decl in body.split(";"):
        decl = " ".join(decl.split())
        if decl.startswith("PyObject_HEAD"):
            offset = object.__basicsize__  # sizeof(PyObject) for this build
            decl = decl[len("PyObject_HEAD"):].strip()
        if not decl:
            continue
        m = re.fullmatch(r"([\w ]+?)\s*(\*+)?\s*(\w+)\s*(?:\[(\d+)\])?", decl)
        if m is None:
            break
        ctype, stars, field, count = m.groups()
        size = _PTR_SIZE if stars else _C_TYPE_SIZES.get(ctype.replace("const ", ""))
        if size is None:
            break
        offset = (offset + size - 1) // size * size  # natural alignment
        offsets[field] = offset
        offset += size * int(count or 1)
    return offsets


def _api_slots(header: str) -> dict[str, int]:
    """``PyArray_API`` slot of each macro in ``__multiarray_api.h``.

    Each API function is ``#define PyArray_X (*(signature) PyArray_API[N])``.
    """
    slots = {}
    for m in re.finditer(r"#define\s+(\w+)\s*\\?\s*([^#]*?)PyArray_API\[(\d+)\]", header):
        slots[m.group(1)] = int(m.group(3))
    return slots


def _header_constants(header: str, names: Sequence[str]) -> dict[str, int]:
    found = {}
    for name in names:
        m = re.search(rf"#define\s+{name}\s+(0x[0-9a-fA-F]+|\d+)\b", header)
        if m:
            found[name] = int(m.group(1), 0)
    return found


# Used only if NumPy's headers are missing (they ship in every wheel, under
# numpy/_core/include). These are the NumPy 2.x values; verification below
# still checks them.
_FALLBACK_ARRAY_FIELDS = ("data", "nd", "dimensions", "strides", "base", "descr", "flags")
_FALLBACK_SLOTS = {"PyArray_GetNDArrayCVersion": 0, "PyArray_Type": 2, "PyArray_New": 93}
_FALLBACK_FLAGS = {"NPY_ARRAY_C_CONTIGUOUS": 0x0001, "NPY_ARRAY_ALIGNED": 0x0100,
                   "NPY_ARRAY_WRITEABLE": 0x0400}


def _fallback_array_offsets() -> dict[str, int]:
    head = object.__basicsize__
    offs = dict(zip(_FALLBACK_ARRAY_FIELDS, (head, head + 8, head + 16, head + 24,
                                            head + 32, head + 40, head + 48), strict=True))
    return offs


def _fallback_descr_offsets() -> dict[str, int]:
    head = object.__basicsize__
    return {"typeobj": head, "kind": head + 8, "type": head + 9, "byteorder": head + 10,
            "type_num": head + 12}


@dataclass(frozen=True)
class Abi:
    """Offsets and addresses the generated entry code bakes in."""

    ob_type: int  # offsetof(PyObject, ob_type)
    array: dict[str, int]  # offsetof(PyArrayObject_fields, ...)
    descr: dict[str, int]  # offsetof(PyArray_Descr, ...)
    c_contiguous: int  # NPY_ARRAY_C_CONTIGUOUS
    aligned: int  # NPY_ARRAY_ALIGNED
    writeable: int  # NPY_ARRAY_WRITEABLE
    ndarray_type: int  # &PyArray_Type
    foreign_byteorder: bytes  # NPY_OPPBYTE: the byteorder char of byte-swapped arrays
    functions: dict[str, int]  # symbol name -> address, registered with LLVM
    source: str  # where the layout came from, for error messages


def _read_ptr(addr: int) -> int:
    return ctypes.c_void_p.from_address(addr).value or 0


def _read_int(addr: int) -> int:
    return ctypes.c_int.from_address(addr).value


def _read_ssize(addr: int) -> int:
    return ctypes.c_ssize_t.from_address(addr).value


def _capi() -> ctypes.PyDLL:
    # A private handle on the interpreter's symbols, so setting argtypes here
    # never changes ctypes.pythonapi for other code in the process.
    return ctypes.PyDLL("python", handle=ctypes.pythonapi._handle)


def _array_api_table() -> int:
    """Address of NumPy's ``PyArray_API`` function table (from its capsule)."""
    try:
        from numpy._core import _multiarray_umath as multiarray
    except ImportError:  # NumPy 1.x layout; our other checks will reject it anyway
        from numpy.core import _multiarray_umath as multiarray  # type: ignore[no-redef]
    api = _capi()
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsule = multiarray._ARRAY_API
    # NumPy creates the capsule with a NULL name; asking for its name keeps
    # this right should it ever get one.
    table = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    if not table:
        raise AbiError("llax: NumPy's _ARRAY_API capsule holds no pointer")
    return table


# CPython functions the entry code calls, registered with LLVM under these
# names with addresses from the running interpreter.
_CPYTHON_FUNCTIONS = ("PyTuple_New", "PyTuple_SetItem", "Py_IncRef", "Py_DecRef",
                      "PyEval_SaveThread", "PyEval_RestoreThread")
# The cold path calls the entry's owner with the rejected arguments. Use the
# interpreter's exported PyObject_Vectorcall, or else PyObject_VectorcallDict
# (same C signature; a NULL dict means no keywords): whichever it exports.
_VECTORCALL_NAMES = ("PyObject_Vectorcall", "PyObject_VectorcallDict")


def _check(cond: bool, what: str, source: str) -> None:
    if not cond:
        raise AbiError(f"llax: ABI check failed: {what} (layout from {source}); the compiled "
                       "entry points would misread arrays, so llax.codegen.native refuses to load")


def _verify(abi: Abi) -> None:
    """Read live objects through the offsets and compare with what Python reports."""
    src = abi.source
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    _check(_read_ptr(id(arr) + abi.ob_type) == id(np.ndarray), "ob_type offset", src)
    _check(abi.ndarray_type == id(np.ndarray), "PyArray_API[PyArray_Type]", src)
    views = [arr, arr[:, ::2], arr.T, np.zeros((), np.bool_), np.zeros((2, 0, 3), np.int64),
             np.frombuffer(bytearray(17), np.float32, count=4, offset=1),  # misaligned
             np.zeros(3, ">f8"), np.zeros(3, np.float16)]
    a = abi.array
    for v in views:
        base = id(v)
        what = f"{v.dtype}{list(v.shape)} strides {v.strides}"
        _check(_read_ptr(base + a["data"]) == v.__array_interface__["data"][0],
               f"data offset ({what})", src)
        _check(_read_int(base + a["nd"]) == v.ndim, f"nd offset ({what})", src)
        dims, strides = _read_ptr(base + a["dimensions"]), _read_ptr(base + a["strides"])
        for k in range(v.ndim):
            _check(_read_ssize(dims + k * _PTR_SIZE) == v.shape[k], f"dimensions ({what})", src)
            _check(_read_ssize(strides + k * _PTR_SIZE) == v.strides[k], f"strides ({what})", src)
        flags = _read_int(base + a["flags"])
        _check(flags == v.flags.num, f"flags offset ({what})", src)
        _check(bool(flags & abi.c_contiguous) == v.flags.c_contiguous,
               f"NPY_ARRAY_C_CONTIGUOUS ({what})", src)
        _check(bool(flags & abi.aligned) == v.flags.aligned, f"NPY_ARRAY_ALIGNED ({what})", src)
        descr = _read_ptr(base + a["descr"])
        _check(descr == id(v.dtype), f"descr offset ({what})", src)
        _check(_read_int(descr + abi.descr["type_num"]) == v.dtype.num, f"type_num ({what})", src)
        byteorder = ctypes.c_char.from_address(descr + abi.descr["byteorder"]).value
        _check(byteorder == v.dtype.byteorder.encode(), f"byteorder ({what})", src)
        kind = ctypes.c_char.from_address(descr + abi.descr["kind"]).value
        _check(kind == v.dtype.kind.encode(), f"kind ({what})", src)
    swapped = np.zeros(1, np.dtype(np.float64).newbyteorder())
    _check(swapped.dtype.byteorder.encode() == abi.foreign_byteorder, "NPY_OPPBYTE", src)


def _verify_array_new(address: int, source: str) -> None:
    """Call the PyArray_New slot once through ctypes: it must build an array."""
    proto = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_int,
                              ctypes.POINTER(ctypes.c_ssize_t), ctypes.c_int, ctypes.c_void_p,
                              ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
    dims = (ctypes.c_ssize_t * 2)(2, 3)
    made = proto(address)(id(np.ndarray), 2, dims, np.dtype(np.int16).num, None, None, 0, 0, None)
    _check(type(made) is np.ndarray and made.shape == (2, 3) and made.dtype == np.int16
           and made.flags.c_contiguous and made.flags.owndata, "PyArray_New slot", source)


def _load_abi() -> Abi:
    if platform.python_implementation() != "CPython":
        raise AbiError("llax: native entry points need CPython (they use its C API)")
    if ctypes.sizeof(ctypes.c_ssize_t) != _PTR_SIZE or np.dtype(np.intp).itemsize != _PTR_SIZE:
        raise AbiError("llax: Py_ssize_t, npy_intp and pointers differ in size")
    include = os.path.join(np.get_include(), "numpy")
    try:
        with open(os.path.join(include, "ndarraytypes.h")) as f:
            types_h = f.read()
        with open(os.path.join(include, "__multiarray_api.h")) as f:
            api_h = f.read()
        array = _struct_offsets(types_h, "typedef struct tagPyArrayObject_fields {")
        descr = _struct_offsets(types_h, "typedef struct _PyArray_Descr {")
        slots = _api_slots(api_h)
        flags = _header_constants(types_h, list(_FALLBACK_FLAGS))
        source = f"NumPy {np.__version__} headers in {include}"
    except (OSError, ValueError):
        array, descr = _fallback_array_offsets(), _fallback_descr_offsets()
        slots, flags = dict(_FALLBACK_SLOTS), dict(_FALLBACK_FLAGS)
        source = f"llax's built-in NumPy 2.x layout (no headers found in {include})"
    for needed, have in ((_FALLBACK_ARRAY_FIELDS, array),
                         (("kind", "byteorder", "type_num"), descr),
                         (tuple(_FALLBACK_SLOTS), slots), (tuple(_FALLBACK_FLAGS), flags)):
        missing = [n for n in needed if n not in have]
        _check(not missing, f"could not read {missing}", source)

    table = _array_api_table()

    def api_fn(slot: int) -> int:
        return _read_ptr(table + slot * _PTR_SIZE)

    # Struct layouts below assume NumPy's 2.x ABI (PyArray_Descr changed in 2.0).
    cversion = ctypes.CFUNCTYPE(ctypes.c_uint)(api_fn(slots["PyArray_GetNDArrayCVersion"]))()
    _check(cversion >> 24 == 2, f"NumPy C ABI version {cversion:#x} is not 2.x", source)
    array_new = api_fn(slots["PyArray_New"])
    _verify_array_new(array_new, source)

    capi = _capi()
    functions = {n: ctypes.cast(getattr(capi, n), ctypes.c_void_p).value or 0
                 for n in _CPYTHON_FUNCTIONS}
    functions["llax_PyArray_New"] = array_new
    functions["llax_PyObject_Vectorcall"] = next(
        (ctypes.cast(getattr(capi, n), ctypes.c_void_p).value or 0
         for n in _VECTORCALL_NAMES if hasattr(capi, n)), 0)
    _check(all(functions.values()), "a C-API function has no address", source)

    abi = Abi(
        ob_type=object.__basicsize__ - _PTR_SIZE,  # ob_type is PyObject's last field
        array=array, descr=descr,
        c_contiguous=flags["NPY_ARRAY_C_CONTIGUOUS"], aligned=flags["NPY_ARRAY_ALIGNED"],
        writeable=flags["NPY_ARRAY_WRITEABLE"], ndarray_type=api_fn(slots["PyArray_Type"]),
        foreign_byteorder=b">" if sys.byteorder == "little" else b"<",
        functions=functions, source=source)
    _verify(abi)
    for name, addr in functions.items():
        llvm.add_symbol(name, addr)
    return abi


ABI = _load_abi()

# ---------------------------------------------------------------------------
# Argument specs

# Builtin type codes, to find every type number with a given kind and size:
# int64 is both NPY_LONG and NPY_LONGLONG on LP64 Linux, and an array may
# carry either, so both must be accepted.
_TYPE_CODES = "?bBhHiIlLqQefdgFDG"
_KINDS = "biufc"  # plain memory; object or string arrays must never reach a kernel


@dataclass(frozen=True)
class ArraySpec:
    """Shape and dtype one entry argument or result must have."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def make(cls, shape: Sequence[int], dtype: object) -> ArraySpec:
        dt = np.dtype(dtype)
        if dt.kind not in _KINDS or dt.fields is not None or dt.subdtype is not None:
            raise TypeError(f"llax: entry points support plain numeric dtypes, not {dt}")
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ValueError(f"llax: negative dimension in shape {shape}")
        return cls(shape, dt.newbyteorder("="))

    @property
    def type_nums(self) -> tuple[int, ...]:
        """Every NumPy type number with this dtype's kind and size."""
        same = {np.dtype(c).num for c in _TYPE_CODES
                if np.dtype(c).kind == self.dtype.kind
                and np.dtype(c).itemsize == self.dtype.itemsize}
        return tuple(sorted(same | {self.dtype.num}))

    def mismatch(self, x: object) -> tuple[type[ArgumentError], str] | None:
        """Why ``x`` fails the entry's checks, or None if it passes them.

        Mirrors the generated checks one for one; it runs only after they
        failed, to say which one and why.
        """
        if type(x) is not np.ndarray:
            cls = type(x)
            where = "" if cls.__module__ == "builtins" else cls.__module__ + "."
            return ArgumentTypeError, f"a numpy.ndarray, got {where}{cls.__qualname__}"
        if x.dtype.num not in self.type_nums or x.dtype.byteorder == ABI.foreign_byteorder.decode():
            return ArgumentTypeError, f"dtype {self.dtype.name}, got dtype {x.dtype.str!r} " \
                f"({x.dtype.name}{', byte-swapped' if not x.dtype.isnative else ''})"
        if x.shape != self.shape:
            return ArgumentValueError, f"shape {self.shape}, got shape {x.shape}"
        if not (x.flags.c_contiguous and x.flags.aligned):
            return ArgumentValueError, "a C-contiguous, aligned array, got a strided or " \
                "misaligned one (numpy.ascontiguousarray(x) makes a suitable copy)"
        return None

    def to_json(self) -> list[object]:
        return [list(self.shape), self.dtype.str]

    @classmethod
    def from_json(cls, data: list) -> ArraySpec:
        return cls.make(data[0], data[1])

    def __str__(self) -> str:
        return f"{self.dtype.name}[{','.join(map(str, self.shape))}]"


def explain_mismatch(name: str, inputs: Sequence[ArraySpec],
                     args: Sequence[object]) -> ArgumentError:
    """The exception an entry raises for ``args``: which argument, expected vs got."""
    expected = f"({', '.join(map(str, inputs))})"
    if len(args) != len(inputs):
        return ArgumentTypeError(f"llax: {name}{expected} takes {len(inputs)} array "
                                 f"argument{'s' * (len(inputs) != 1)}, got {len(args)}")
    for i, (spec, x) in enumerate(zip(inputs, args, strict=True)):
        why = spec.mismatch(x)
        if why is not None:
            exc, detail = why
            return exc(f"llax: {name}{expected}: argument {i}: expected {detail}")
    # The native checks refused what these accept: a bug, but never a crash.
    return ArgumentError(f"llax: {name}{expected}: arguments rejected by the native "
                         "checks but not by their Python mirror (please report)")


# ---------------------------------------------------------------------------
# IR emission

_I8, _I32, _I64 = lir.IntType(8), lir.IntType(32), lir.IntType(64)
_PTR = lir.PointerType()
_SSIZE = lir.IntType(8 * ctypes.sizeof(ctypes.c_ssize_t))
_INTP = lir.IntType(8 * np.dtype(np.intp).itemsize)
_NULL = lir.Constant(_PTR, None)
SIGNATURE_SUFFIX = ".llax_signature"


def _declare(module: lir.Module, name: str, ret: lir.Type, args: list[lir.Type], *,
             cold: bool = False) -> lir.Function:
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    fn = lir.Function(module, lir.FunctionType(ret, args), name=name)
    if cold:
        # Blocks that call a cold function are laid out off the hot path.
        fn.attributes.add("cold")
    return fn


def _const_ptr(address: int) -> lir.Constant:
    return lir.Constant(_I64, address).inttoptr(_PTR)


def _cstring_global(module: lir.Module, name: str, text: str, *,
                    linkage: str = "private") -> lir.GlobalVariable:
    data = bytearray(text.encode("utf-8") + b"\0")
    ty = lir.ArrayType(_I8, len(data))
    g = lir.GlobalVariable(module, ty, name=name)
    g.global_constant = True
    if linkage:  # "" is llvmlite's spelling of an external definition
        g.linkage = linkage
    g.initializer = lir.Constant(ty, data)
    return g


class _EntryBuilder:
    """Emits one entry function, a step per method.

    Every failed check branches to one cold block that calls the entry's
    ``self`` (its EntryOwner) with the same arguments; that Python code finds
    the failing check and raises the detailed exception. The hot path stays a
    short run of loads and compares, and the IR stays small (compile time).
    """

    def __init__(self, module: lir.Module, kernel: lir.Function, name: str) -> None:
        self.module, self.kernel, self.name = module, kernel, name
        self.fn = lir.Function(module, lir.FunctionType(_PTR, [_PTR, _PTR, _SSIZE]), name=name)
        self.self_, self.args, self.nargs = self.fn.args
        self.self_.name, self.args.name, self.nargs.name = "self", "args", "nargs"
        self.b = lir.IRBuilder(self.fn.append_basic_block("entry"))
        self.decref = _declare(module, "Py_DecRef", lir.VoidType(), [_PTR])
        self.bad = self.fn.append_basic_block("bad_arguments")
        explain = _declare(module, "llax_PyObject_Vectorcall", _PTR, [_PTR, _PTR, _SSIZE, _PTR],
                           cold=True)
        eb = lir.IRBuilder(self.bad)
        # self(*args) always raises; should it ever return, drop the result and
        # let CPython report "error return without exception set".
        eb.call(self.decref, [eb.call(explain, [self.self_, self.args, self.nargs, _NULL])])
        eb.ret(_NULL)

    def field(self, obj: lir.Value, offset: int, ty: lir.Type) -> lir.Value:
        return self.b.load(self.b.gep(obj, [lir.Constant(_I64, offset)], source_etype=_I8), typ=ty)

    def require(self, ok: lir.Value) -> None:
        good = self.fn.append_basic_block("ok")
        self.b.cbranch(ok, good, self.bad)
        self.b.position_at_end(good)

    def all_of(self, conditions: list[lir.Value]) -> lir.Value:
        return functools.reduce(self.b.and_, conditions)

    def any_of(self, conditions: list[lir.Value]) -> lir.Value:
        return functools.reduce(self.b.or_, conditions)

    def check_nargs(self, n: int) -> None:
        self.require(self.b.icmp_signed("==", self.nargs, lir.Constant(_SSIZE, n)))

    def argument(self, i: int) -> lir.Value:
        """The object passed as argument ``i``."""
        return self.b.load(self.b.gep(self.args, [lir.Constant(_I64, i)], source_etype=_PTR),
                           typ=_PTR)

    def check_input(self, i: int, spec: ArraySpec) -> lir.Value:
        """Emit the checks of argument ``i``; return its data pointer."""
        b, a, d = self.b, ABI.array, ABI.descr
        obj = self.argument(i)
        # Exactly ndarray: subclasses may override anything. Nothing else of
        # the object is read before this holds.
        obj_type = self.field(obj, ABI.ob_type, _PTR)
        self.require(b.icmp_unsigned("==", obj_type, _const_ptr(ABI.ndarray_type)))

        descr = self.field(obj, a["descr"], _PTR)
        type_num = self.field(descr, d["type_num"], _I32)
        known_type = self.any_of([b.icmp_signed("==", type_num, lir.Constant(_I32, t))
                                  for t in spec.type_nums])
        byteorder = self.field(descr, d["byteorder"], _I8)
        native = b.icmp_unsigned("!=", byteorder, lir.Constant(_I8, ABI.foreign_byteorder[0]))
        nd = self.field(obj, a["nd"], _I32)
        # C-contiguous is all the kernel's row-major indexing needs: NumPy sets
        # it only when the strides match the shape, except for size-1 axes,
        # whose stride is never used, and size-0 arrays, which are never read.
        flags = self.field(obj, a["flags"], _I32)
        want = lir.Constant(_I32, ABI.c_contiguous | ABI.aligned)
        self.require(self.all_of([
            known_type, native, b.icmp_signed("==", nd, lir.Constant(_I32, len(spec.shape))),
            b.icmp_signed("==", b.and_(flags, want), want)]))

        if spec.shape:  # dimensions may only be read once nd is known to match
            dims = self.field(obj, a["dimensions"], _PTR)
            self.require(self.all_of([
                b.icmp_signed("==", b.load(b.gep(dims, [lir.Constant(_I64, k)],
                                                 source_etype=_INTP), typ=_INTP),
                              lir.Constant(_INTP, size))
                for k, size in enumerate(spec.shape)]))
        return self.field(obj, a["data"], _PTR)

    def allocate(self, specs: Sequence[ArraySpec]) -> list[lir.Value]:
        """New C-contiguous arrays for the outputs; on failure release those made."""
        array_new = _declare(self.module, "llax_PyArray_New", _PTR,
                             [_PTR, _I32, _PTR, _I32, _PTR, _PTR, _I32, _I32, _PTR])
        made: list[lir.Value] = []
        for j, spec in enumerate(specs):
            if spec.shape:
                dims_ty = lir.ArrayType(_INTP, len(spec.shape))
                dims = lir.GlobalVariable(self.module, dims_ty, name=f"{self.name}.out{j}.shape")
                dims.global_constant, dims.linkage = True, "private"
                dims.initializer = lir.Constant(dims_ty, list(spec.shape))
            else:
                dims = _NULL  # 0-d: NumPy reads no dimensions
            # PyArray_New(&PyArray_Type, nd, dims, type_num, strides=NULL,
            #   data=NULL, itemsize=0, flags=0 (C order), obj=NULL) -> new ref.
            arr = self.b.call(array_new, [
                _const_ptr(ABI.ndarray_type), lir.Constant(_I32, len(spec.shape)), dims,
                lir.Constant(_I32, spec.dtype.num), _NULL, _NULL,
                lir.Constant(_I32, 0), lir.Constant(_I32, 0), _NULL])
            self.release_on_null(arr, made)
            made.append(arr)
        return made

    def _table(self, label: str, values: list[int]) -> lir.Value:
        """A private constant int64 array: an argument table for codegen/entry_runtime.py."""
        ty = lir.ArrayType(_I64, max(1, len(values)))
        g = lir.GlobalVariable(self.module, ty, name=f"{self.name}.{label}")
        g.global_constant, g.linkage = True, "private"
        g.initializer = lir.Constant(ty, values or [0])
        return g

    def check_inputs_by_table(self, specs: Sequence[ArraySpec]) -> list[lir.Value]:
        """``check_input`` for every argument in one call of the shared runtime."""
        b = self.b
        check = _declare(self.module, entry_runtime.CHECK_INPUTS, _I32,
                         [_PTR, _PTR, _I64, _PTR])
        data = b.alloca(lir.ArrayType(_PTR, max(1, len(specs))), name="inputs")
        ok = b.call(check, [self.args, self._table("inputs", entry_runtime.input_table(specs)),
                            lir.Constant(_I64, len(specs)), data])
        self.require(b.icmp_signed("!=", ok, lir.Constant(_I32, 0)))
        return [self._element(data, i) for i in range(len(specs))]

    def allocate_by_table(self, specs: Sequence[ArraySpec]
                          ) -> tuple[list[lir.Value], list[lir.Value]]:
        """``allocate`` and ``freeze`` in one call of the shared runtime: the output arrays
        and their data pointers. On failure the runtime has released those it made."""
        b = self.b
        alloc = _declare(self.module, entry_runtime.ALLOC_OUTPUTS, _I32,
                         [_PTR, _I64, _PTR, _PTR])
        arrays = b.alloca(lir.ArrayType(_PTR, max(1, len(specs))), name="outputs")
        data = b.alloca(lir.ArrayType(_PTR, max(1, len(specs))), name="output_data")
        ok = b.call(alloc, [self._table("outputs", entry_runtime.output_table(specs)),
                            lir.Constant(_I64, len(specs)), arrays, data])
        failed, good = self.fn.append_basic_block("alloc_failed"), self.fn.append_basic_block("ok")
        b.cbranch(b.icmp_signed("!=", ok, lir.Constant(_I32, 0)), good, failed)
        lir.IRBuilder(failed).ret(_NULL)
        b.position_at_end(good)
        return ([self._element(arrays, j) for j in range(len(specs))],
                [self._element(data, j) for j in range(len(specs))])

    def _element(self, arr: lir.Value, i: int) -> lir.Value:
        return self.b.load(self.b.gep(arr, [lir.Constant(_I64, 0), lir.Constant(_I64, i)]),
                           typ=_PTR)

    def release_on_null(self, obj: lir.Value, owned: list[lir.Value]) -> None:
        """If ``obj`` is NULL (error set), drop ``owned`` and return NULL."""
        err = self.fn.append_basic_block("alloc_failed")
        good = self.fn.append_basic_block("ok")
        self.b.cbranch(self.b.icmp_unsigned("!=", obj, _NULL), good, err)
        eb = lir.IRBuilder(err)
        for o in owned:
            eb.call(self.decref, [o])
        eb.ret(_NULL)
        self.b.position_at_end(good)

    def call_kernel(self, pointers: list[lir.Value], release_gil: bool) -> None:
        if release_gil:
            save = _declare(self.module, "PyEval_SaveThread", _PTR, [])
            restore = _declare(self.module, "PyEval_RestoreThread", lir.VoidType(), [_PTR])
            state = self.b.call(save, [])
            self.b.call(self.kernel, pointers)
            self.b.call(restore, [state])
        else:
            self.b.call(self.kernel, pointers)

    def freeze(self, outs: list[lir.Value]) -> None:
        """Clear NPY_ARRAY_WRITEABLE on the outputs: llax arrays are immutable, and doing it
        here costs one store where ``arr.flags.writeable = False`` in Python costs ~1 us."""
        a = ABI.array
        for arr in outs:
            flags = self.field(arr, a["flags"], _I32)
            ptr = self.b.gep(arr, [lir.Constant(_I64, a["flags"])], source_etype=_I8)
            self.b.store(self.b.and_(flags, lir.Constant(_I32, ~ABI.writeable)), ptr)

    def reused_input(self, i: int) -> lir.Value:
        """Argument ``i`` as an output (a new reference, read-only): the kernel computed the
        output in its buffer, which the caller donated."""
        obj = self.argument(i)
        self.b.call(_declare(self.module, "Py_IncRef", lir.VoidType(), [_PTR]), [obj])
        self.freeze([obj])
        return obj

    def return_outputs(self, outs: list[lir.Value]) -> None:
        if len(outs) == 1:
            self.b.ret(outs[0])
            return
        tuple_new = _declare(self.module, "PyTuple_New", _PTR, [_SSIZE])
        set_item = _declare(self.module, "PyTuple_SetItem", _I32, [_PTR, _SSIZE, _PTR])
        result = self.b.call(tuple_new, [lir.Constant(_SSIZE, len(outs))])
        self.release_on_null(result, outs)
        for j, arr in enumerate(outs):
            # Steals the reference; cannot fail on a new tuple with j in range.
            self.b.call(set_item, [result, lir.Constant(_SSIZE, j), arr])
        self.b.ret(result)


def add_entry(module: lir.Module, kernel_fn: lir.Function,
              inputs: Sequence[tuple[Sequence[int], object]],
              outputs: Sequence[tuple[Sequence[int], object]], *,
              name: str, release_gil: bool = False, internalize_kernel: bool = True,
              reuse: Sequence[int | None] = ()) -> str:
    """Emit a METH_FASTCALL entry ``name`` calling ``kernel_fn``; return its symbol.

    ``inputs``/``outputs`` are ``(shape, dtype)`` pairs in kernel-argument
    order (inputs first). ``release_gil`` drops the GIL around the kernel: for
    kernels long enough to repay ~0.1 us, which must not touch Python objects.
    Kernels may assume outputs alias nothing (they are freshly allocated);
    inputs may alias each other (``f(x, x)``), so kernels must not write them.

    Except donated inputs: ``reuse[j] = i`` says output ``j`` is computed in input ``i``'s
    buffer, so the kernel takes no pointer for it and the entry returns argument ``i``
    itself (made read-only). The caller must pass such an input, and any other input the
    kernel writes, as an array nothing else uses: not another argument, not a view.

    ``internalize_kernel`` gives ``kernel_fn`` internal linkage: once LLVM
    inlines it into the entry the separate copy is dropped, which saves a
    good part of the JIT time of small kernels. Pass False to keep the
    kernel's own address available through ``CompiledModule.address``.
    """
    ins = [ArraySpec.make(s, d) for s, d in inputs]
    outs = [ArraySpec.make(s, d) for s, d in outputs]
    reuse = _checked_reuse(reuse, ins, outs)
    fresh = [spec for spec, i in zip(outs, reuse) if i is None]
    fty = kernel_fn.function_type
    if not isinstance(fty.return_type, lir.VoidType) or len(fty.args) != len(ins) + len(fresh) \
            or not all(isinstance(t, lir.PointerType) for t in fty.args):
        raise TypeError(f"llax: kernel {kernel_fn.name} must be void({len(ins)}+{len(fresh)} "
                        f"pointers), is {fty}")
    if name in module.globals or name + SIGNATURE_SUFFIX in module.globals:
        raise ValueError(f"llax: module already defines {name!r}")

    if internalize_kernel:
        kernel_fn.linkage = "internal"
    entry = _EntryBuilder(module, kernel_fn, name)
    entry.check_nargs(len(ins))
    if len(ins) + len(fresh) >= entry_runtime.MIN_ARRAYS:  # less IR to compile
        entry_runtime.ensure_runtime()
        pointers = entry.check_inputs_by_table(ins)
        made, out_data = entry.allocate_by_table(fresh)
        entry.call_kernel(pointers + out_data, release_gil)
    else:  # unrolled: the fastest calls
        pointers = [entry.check_input(i, spec) for i, spec in enumerate(ins)]
        made = entry.allocate(fresh)
        pointers += [entry.field(arr, ABI.array["data"], _PTR) for arr in made]
        entry.call_kernel(pointers, release_gil)
        entry.freeze(made)
    new_arrays = iter(made)
    entry.return_outputs([next(new_arrays) if i is None else entry.reused_input(i)
                          for i in reuse])
    # The compiled module describes its own entry, so make_callable needs
    # nothing but the module and the name.
    signature = {"inputs": [s.to_json() for s in ins], "outputs": [s.to_json() for s in outs],
                 "reuse": reuse, "release_gil": release_gil}
    _cstring_global(module, name + SIGNATURE_SUFFIX, json.dumps(signature), linkage="")
    return name


def _checked_reuse(reuse: Sequence[int | None], ins: Sequence[ArraySpec],
                   outs: Sequence[ArraySpec]) -> list[int | None]:
    """``reuse`` for every output (None where not given), checked: each input an output of
    its own shape and dtype, at most once."""
    if len(reuse) > len(outs):
        raise ValueError(f"llax: reuse {list(reuse)} names more outputs than the {len(outs)} "
                         "there are")
    full = [*reuse, *[None] * (len(outs) - len(reuse))]
    taken = [i for i in full if i is not None]
    for j, i in enumerate(full):
        if i is None:
            continue
        if not 0 <= i < len(ins) or ins[i] != outs[j]:
            raise ValueError(f"llax: output {j} ({outs[j]}) cannot reuse input {i}"
                             + (f" ({ins[i]})" if 0 <= i < len(ins) else ": no such input"))
        if taken.count(i) > 1:
            raise ValueError(f"llax: input {i} is reused by two outputs")
    return full


# ---------------------------------------------------------------------------
# Turning the compiled entry into a Python callable

_METH_FASTCALL = 0x0080  # methodobject.h; in the stable ABI since 3.10


class _PyMethodDef(ctypes.Structure):
    # methodobject.h: struct PyMethodDef (stable ABI).
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


class EntryOwner:
    """The ``__self__`` of a compiled callable: owns everything its code uses.

    A builtin function holds a strong reference to its ``__self__``, so the
    method definition, its strings and the JIT code (through ``compiled``)
    live exactly as long as the callable. The entry also calls its owner,
    with the rejected arguments, to raise the detailed argument error.
    """

    def __init__(self, compiled: target.CompiledModule, entry_name: str,
                 keepalive: object, doc: str | None) -> None:
        self.compiled = compiled
        self.entry_name = entry_name
        self.keepalive = keepalive
        sig = json.loads(ctypes.string_at(compiled.address(entry_name + SIGNATURE_SUFFIX)))
        self.inputs = [ArraySpec.from_json(s) for s in sig["inputs"]]
        self.outputs = [ArraySpec.from_json(s) for s in sig["outputs"]]
        self.reuse: list[int | None] = sig["reuse"]  # output -> the input it returns
        self.release_gil = bool(sig["release_gil"])
        self._name = entry_name.encode()
        self._doc = (doc or f"{entry_name}({', '.join(map(str, self.inputs))}) -> "
                            f"({', '.join(map(str, self.outputs))})").encode()
        self.method_def = _PyMethodDef(self._name, compiled.address(entry_name),
                                       _METH_FASTCALL, self._doc)

    def __call__(self, *args: object) -> None:
        """Raise the error for arguments the compiled checks rejected."""
        raise explain_mismatch(self.entry_name, self.inputs, args)

    def __repr__(self) -> str:
        return f"<llax entry {self.entry_name!r} of {self.compiled.name!r}>"


_new_cfunction = _capi().PyCFunction_NewEx
_new_cfunction.restype = ctypes.py_object  # a new reference, which ctypes takes over
_new_cfunction.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]


def make_callable(compiled: target.CompiledModule, entry_name: str,
                  keepalive: object = None, *, doc: str | None = None) -> Callable[..., object]:
    """A builtin function calling entry ``entry_name`` of ``compiled``.

    ``keepalive`` is anything else the code relies on; it lives as long as the
    callable (and is reachable as ``fn.__self__.keepalive``).
    """
    owner = EntryOwner(compiled, entry_name, keepalive, doc)
    return _new_cfunction(ctypes.addressof(owner.method_def), owner, None)


def compile_callable(module: lir.Module, kernel_fn: lir.Function,
                     inputs: Sequence[tuple[Sequence[int], object]],
                     outputs: Sequence[tuple[Sequence[int], object]], *,
                     name: str, release_gil: bool = False, internalize_kernel: bool = True,
                     keepalive: object = None,
                     reuse: Sequence[int | None] = ()) -> Callable[..., object]:
    """``add_entry``, ``target.compile_module`` and ``make_callable`` in one step."""
    entry = add_entry(module, kernel_fn, inputs, outputs, name=name, release_gil=release_gil,
                      internalize_kernel=internalize_kernel, reuse=reuse)
    return make_callable(target.compile_module(module, name), entry, keepalive)
