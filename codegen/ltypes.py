"""How llax dtypes live in LLVM: memory types, register types and constants.

bool is ``i8`` in memory (NumPy's layout) and ``i1`` in registers, so that
selects and branches use it directly; every other dtype has one type for both.
Signedness is not part of LLVM integer types: rules consult the dtype.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from llax.ir import dtypes

I1, I8, I16, I32, I64 = (ir.IntType(n) for n in (1, 8, 16, 32, 64))
HALF, FLOAT, DOUBLE = ir.HalfType(), ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

_FLOATS = {2: HALF, 4: FLOAT, 8: DOUBLE}


def mem_type(dtype: np.dtype) -> ir.Type:
    """The type of one element in a buffer."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return _FLOATS[dtype.itemsize]
    return ir.IntType(8 * dtype.itemsize)  # bool is one byte, like NumPy


def reg_type(dtype: np.dtype) -> ir.Type:
    """The type of a value in a register (bool is i1)."""
    return I1 if dtypes.is_bool(dtype) else mem_type(dtype)


def load(b: ir.IRBuilder, ptr: ir.Value, dtype: np.dtype) -> ir.Value:
    v = b.load(ptr, typ=mem_type(dtype), align=np.dtype(dtype).itemsize)
    # != 0 rather than trunc: a byte other than 0/1 still reads as True, as in NumPy.
    return b.icmp_unsigned("!=", v, ir.Constant(I8, 0)) if dtypes.is_bool(dtype) else v


def store(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, dtype: np.dtype) -> None:
    if dtypes.is_bool(dtype):
        value = b.zext(value, I8)
    b.store(value, ptr, align=np.dtype(dtype).itemsize)


def element_ptr(b: ir.IRBuilder, base: ir.Value, dtype: np.dtype, offset: ir.Value) -> ir.Value:
    # inbounds: offsets are always within the buffer, which lets LLVM reason about strides.
    return b.gep(base, [offset], inbounds=True, source_etype=mem_type(dtype))


def const(dtype: np.dtype, value: object) -> ir.Constant:
    """A register constant of ``dtype`` holding ``value`` (NumPy conversion rules)."""
    dtype = np.dtype(dtype)
    if dtypes.is_bool(dtype):
        return ir.Constant(I1, int(bool(value)))
    if dtype.kind == "f":
        # Through the dtype first so the constant is exactly representable (llvmlite
        # prints it as a double, which LLVM rejects for inexact float constants).
        return ir.Constant(reg_type(dtype), float(np.asarray(value, dtype=dtype)))
    v = int(np.asarray(value).astype(dtype))
    bits = 8 * dtype.itemsize
    if v >= 1 << (bits - 1):  # LLVM integer literals are signed
        v -= 1 << bits
    return ir.Constant(reg_type(dtype), v)


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, int(value))


def min_value(dtype: np.dtype) -> ir.Constant:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return const(dtype, -np.inf)
    if dtypes.is_bool(dtype):
        return const(dtype, False)
    return const(dtype, np.iinfo(dtype).min)


def max_value(dtype: np.dtype) -> ir.Constant:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return const(dtype, np.inf)
    if dtypes.is_bool(dtype):
        return const(dtype, True)
    return const(dtype, np.iinfo(dtype).max)


def _suffix(t: ir.Type) -> str:
    if isinstance(t, ir.IntType):
        return f"i{t.width}"
    if isinstance(t, ir.PointerType):
        return "p0"
    return {HALF: "f16", FLOAT: "f32", DOUBLE: "f64"}[t]


def intrinsic(b: ir.IRBuilder, name: str, args: list[ir.Value], ret: ir.Type,
              overloads: list[ir.Type] | None = None) -> ir.Value:
    """Call ``llvm.<name>`` overloaded on ``overloads`` (default: the return type)."""
    module = b.module
    overloads = [ret] if overloads is None else overloads
    full = "llvm." + name + "".join("." + _suffix(t) for t in overloads)
    fn = module.globals.get(full)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, [a.type for a in args]), name=full)
    return b.call(fn, args)


def external(b: ir.IRBuilder, name: str, ret: ir.Type, arg_types: list[ir.Type]) -> ir.Function:
    """Declare (once) a C function the JIT resolves from the process."""
    fn = b.module.globals.get(name)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ret, arg_types), name=name)
    return fn


def heap_alloc(b: ir.IRBuilder, nbytes: int, align: int = 64) -> ir.Value:
    """``nbytes`` of heap memory aligned to ``align`` bytes, released by ``heap_free``."""
    size = -(-nbytes // align) * align  # aligned_alloc wants a multiple of the alignment
    ptr = b.call(external(b, "aligned_alloc", PTR, [I64, I64]), [i64(align), i64(size)])
    # Out of memory has no error channel from a void kernel: stop rather than write
    # through null.
    with b.if_then(b.icmp_unsigned("==", ptr, ir.Constant(PTR, None)), likely=False):
        intrinsic(b, "trap", [], VOID, [])
    return ptr


def heap_free(b: ir.IRBuilder, ptr: ir.Value) -> None:
    b.call(external(b, "free", VOID, [PTR]), [ptr])
