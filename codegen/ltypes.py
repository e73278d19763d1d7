"""How llax dtypes live in LLVM: memory types, register types and constants.

bool is ``i8`` in memory (NumPy's layout) and ``i1`` in registers, so that
selects and branches use it directly; every other dtype has one type for both.
Signedness is not part of LLVM integer types: rules consult the dtype.

A complex element is the literal struct ``{T, T}`` (real, imaginary part) of its part
type ``T``, in memory (NumPy's interleaved layout) and in registers. It is loaded and
stored as two scalar accesses of ``T`` (at ``2*i`` and ``2*i + 1``), never as one
aggregate access: LLVM's loop vectoriser forms interleaved access groups from those, and
instcombine folds the struct's ``insertvalue``/``extractvalue`` pairs away before it runs.
``select`` on complex values goes part by part (``select``) for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    if dtype.kind == "c":
        part = _FLOATS[dtype.itemsize // 2]
        return ir.LiteralStructType([part, part])
    return ir.IntType(8 * dtype.itemsize)  # bool is one byte, like NumPy


def is_complex_type(t: ir.Type) -> bool:
    """Whether an LLVM type is a complex element's ``{T, T}``."""
    return isinstance(t, ir.LiteralStructType) and len(t.elements) == 2


def part_type(dtype: np.dtype) -> ir.Type:
    """The LLVM type of a complex dtype's parts (a real dtype's own type)."""
    dtype = np.dtype(dtype)
    return _FLOATS[dtype.itemsize // 2] if dtype.kind == "c" else reg_type(dtype)


def parts(b: ir.IRBuilder, z: ir.Value) -> tuple[ir.Value, ir.Value]:
    """A complex register value's (real, imaginary) parts."""
    if isinstance(z, ir.Constant) and isinstance(z.constant, (list, tuple)):
        return z.constant[0], z.constant[1]
    return b.extract_value(z, 0), b.extract_value(z, 1)


def make_complex(b: ir.IRBuilder, re: ir.Value, im: ir.Value) -> ir.Value:
    """The complex register value with parts ``re`` and ``im``."""
    t = ir.LiteralStructType([re.type, re.type])
    if isinstance(re, ir.Constant) and isinstance(im, ir.Constant):
        return ir.Constant(t, [re, im])
    return b.insert_value(b.insert_value(ir.Constant(t, ir.Undefined), re, 0), im, 1)


def select(b: ir.IRBuilder, cond: ir.Value, x: ir.Value, y: ir.Value) -> ir.Value:
    """``cond ? x : y`` for any element value (complex ones part by part)."""
    if is_complex_type(x.type):
        (xr, xi), (yr, yi) = parts(b, x), parts(b, y)
        return make_complex(b, b.select(cond, xr, yr), b.select(cond, xi, yi))
    return b.select(cond, x, y)


def reg_type(dtype: np.dtype) -> ir.Type:
    """The type of a value in a register (bool is i1)."""
    return I1 if dtypes.is_bool(dtype) else mem_type(dtype)


def load(b: ir.IRBuilder, ptr: ir.Value, dtype: np.dtype) -> ir.Value:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        part, align = part_type(dtype), dtype.itemsize // 2
        re = b.load(ptr, typ=part, align=align)
        im = b.load(b.gep(ptr, [i64(1)], inbounds=True, source_etype=part), typ=part,
                    align=align)
        return make_complex(b, re, im)
    v = b.load(ptr, typ=mem_type(dtype), align=np.dtype(dtype).itemsize)
    # != 0 rather than trunc: a byte other than 0/1 still reads as True, as in NumPy.
    return b.icmp_unsigned("!=", v, ir.Constant(I8, 0)) if dtypes.is_bool(dtype) else v


def store(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, dtype: np.dtype) -> None:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        part, align = part_type(dtype), dtype.itemsize // 2
        re, im = parts(b, value)
        b.store(re, ptr, align=align)
        b.store(im, b.gep(ptr, [i64(1)], inbounds=True, source_etype=part), align=align)
        return
    if dtypes.is_bool(dtype):
        value = b.zext(value, I8)
    b.store(value, ptr, align=np.dtype(dtype).itemsize)


def element_ptr(b: ir.IRBuilder, base: ir.Value, dtype: np.dtype, offset: ir.Value) -> ir.Value:
    # inbounds: offsets are always within the buffer, which lets LLVM reason about strides.
    dtype = np.dtype(dtype)
    if dtype.kind == "c":  # the real part of element ``offset``: part 2 * offset
        part = part_type(dtype)
        return b.gep(base, [b.mul(offset, i64(2), flags=["nuw", "nsw"])
                            if not isinstance(offset, ir.Constant)
                            else i64(2 * int(offset.constant))],
                     inbounds=True, source_etype=part)
    return b.gep(base, [offset], inbounds=True, source_etype=mem_type(dtype))


def const(dtype: np.dtype, value: object) -> ir.Constant:
    """A register constant of ``dtype`` holding ``value`` (NumPy conversion rules)."""
    dtype = np.dtype(dtype)
    if dtypes.is_bool(dtype):
        return ir.Constant(I1, int(bool(value)))
    if dtype.kind == "c":
        z = complex(np.asarray(value).astype(dtype))
        part = dtypes.real_part(dtype)
        return ir.Constant(reg_type(dtype), [const(part, z.real), const(part, z.imag)])
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
    if isinstance(t, ir.VectorType):
        return f"v{t.count}{_suffix(t.element)}"
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


def splat(b: ir.IRBuilder, x: ir.Value, lanes: int) -> ir.Value:
    """A vector of ``lanes`` copies of scalar ``x``."""
    vec = ir.VectorType(x.type, lanes)
    one = b.insert_element(ir.Constant(vec, None), x, ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(vec, None),
                            ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))


def lanes_below(b: ir.IRBuilder, n: ir.Value, lanes: int) -> ir.Value:
    """The ``<lanes x i1>`` mask of lanes ``k < n`` (``n`` an i64): a vector's first ``n``."""
    lane = ir.Constant(ir.VectorType(I64, lanes), list(range(lanes)))
    return b.icmp_signed("<", lane, splat(b, n, lanes))


def pointer_array(b: ir.IRBuilder, values: Sequence[ir.Value]) -> ir.Value:
    """A stack array of ``values`` (at least one slot): allocated in the function's entry
    block, once however often this code runs, and filled at the builder."""
    entry = b.function.entry_basic_block
    with b.goto_block(entry):
        b.position_at_start(entry)
        # (llvmlite types an alloca's result; the cast makes it a plain opaque ptr)
        array = b.bitcast(b.alloca(PTR, size=max(1, len(values))), PTR)
    for j, v in enumerate(values):
        b.store(v, b.gep(array, [i64(j)], source_etype=PTR))
    return array


def pointers_in(b: ir.IRBuilder, array: ir.Value, count: int) -> list[ir.Value]:
    """The first ``count`` pointers of a ``pointer_array`` (in the function given it)."""
    return [b.load(b.gep(array, [i64(j)], source_etype=PTR), typ=PTR) for j in range(count)]


def heap_alloc(b: ir.IRBuilder, nbytes: int | ir.Value, align: int = 64) -> ir.Value:
    """``nbytes`` (static or an i64) of heap memory aligned to ``align`` bytes (a power of
    two), released by ``heap_free``."""
    # aligned_alloc wants a multiple of the alignment, and never 0 (it may return null)
    if isinstance(nbytes, int):
        size = i64(max(align, -(-nbytes // align) * align))
    else:
        rounded = b.and_(b.add(nbytes, i64(align - 1)), i64(-align))
        size = intrinsic(b, "umax", [rounded, i64(align)], I64)
    ptr = b.call(external(b, "aligned_alloc", PTR, [I64, I64]), [i64(align), size])
    # Out of memory has no error channel from a void kernel: stop rather than write
    # through null.
    with b.if_then(b.icmp_unsigned("==", ptr, ir.Constant(PTR, None)), likely=False):
        intrinsic(b, "trap", [], VOID, [])
    return ptr


def zero_fill(b: ir.IRBuilder, ptr: ir.Value, nbytes: int | ir.Value) -> None:
    """``memset(ptr, 0, nbytes)``, ``nbytes`` static or an i64."""
    count = i64(nbytes) if isinstance(nbytes, int) else nbytes
    intrinsic(b, "memset", [ptr, ir.Constant(I8, 0), count, ir.Constant(I1, 0)], VOID,
              [PTR, I64])


def heap_free(b: ir.IRBuilder, ptr: ir.Value) -> None:
    b.call(external(b, "free", VOID, [PTR]), [ptr])
