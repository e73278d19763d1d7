"""Argument checks and output allocation for entries with many arrays, compiled once.

An entry (codegen/native.py) spells out, per argument, the loads and compares
that check it, and per output the call that allocates it: about 30 lines of
LLVM IR each. For a training step with a dozen arrays that is a good part of
the module, and of its compile time. Entries with at least ``MIN_ARRAYS``
arrays instead describe them in a constant table of int64s and call these two
functions, compiled once per process (a loop costs a few nanoseconds per
array at run time; small entries keep the unrolled checks, which are fastest):

- ``i32 llax_check_inputs(ptr args, ptr table, i64 n, ptr data)``: 1 if each of
  the ``n`` objects in ``args`` is exactly an ndarray with one of the table's
  type numbers, native byte order, C-contiguous, aligned and of the table's
  shape, writing its data pointer to ``data[i]``; else 0. Table, per input:
  ``n_types, type_num..., ndim, dim...``.
- ``i32 llax_alloc_outputs(ptr table, i64 n, ptr arrays, ptr data)``: allocates
  the ``n`` outputs (read-only: llax arrays are immutable), writing the arrays
  and their data pointers; on failure releases those made and returns 0
  (NumPy's error set). Table, per output: ``type_num, ndim, dim...``.
"""

from __future__ import annotations

from collections.abc import Sequence

import llvmlite.ir as lir

from llax.codegen import target
from llax.codegen.runtime import load_runtime

MIN_ARRAYS = 8
CHECK_INPUTS = "llax_check_inputs"
ALLOC_OUTPUTS = "llax_alloc_outputs"

_I8, _I32, _I64 = lir.IntType(8), lir.IntType(32), lir.IntType(64)
_PTR = lir.PointerType()
_NULL = lir.Constant(_PTR, None)


def _i64(v: int) -> lir.Constant:
    return lir.Constant(_I64, v)


def _field(b: lir.IRBuilder, obj: lir.Value, offset: int, ty: lir.Type) -> lir.Value:
    return b.load(b.gep(obj, [_i64(offset)], source_etype=_I8), typ=ty)


def _at(b: lir.IRBuilder, base: lir.Value, index: lir.Value, ty: lir.Type = _I64) -> lir.Value:
    return b.load(b.gep(base, [index], source_etype=ty), typ=ty)


def _loop(b: lir.IRBuilder, fn: lir.Function, n: lir.Value, name: str, cursor: bool = False):
    """Start ``for i in range(n)`` at ``b``, optionally with a table cursor from 0.

    Returns (i, cursor or None, the block reached when done, ``close``); the body goes at
    ``b`` and ``close(next_cursor)`` ends it.
    """
    pre = b.block
    head, body, done = (fn.append_basic_block(f"{name}.{s}") for s in ("head", "body", "done"))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(_I64, name=f"{name}.i")
    i.add_incoming(_i64(0), pre)
    at = None
    if cursor:
        at = b.phi(_I64, name=f"{name}.cursor")
        at.add_incoming(_i64(0), pre)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)

    def close(next_cursor: lir.Value | None = None) -> None:
        i.add_incoming(b.add(i, _i64(1)), b.block)
        if at is not None:
            at.add_incoming(next_cursor, b.block)
        b.branch(head)

    return i, at, done, close


def _require(b: lir.IRBuilder, fn: lir.Function, ok: lir.Value, fail: lir.Block) -> None:
    good = fn.append_basic_block("ok")
    b.cbranch(ok, good, fail)
    b.position_at_end(good)


def _build_check_inputs(module: lir.Module, abi) -> None:
    fn = lir.Function(module, lir.FunctionType(_I32, [_PTR, _PTR, _I64, _PTR]), name=CHECK_INPUTS)
    args, table, n, data = fn.args
    b = lir.IRBuilder(fn.append_basic_block("entry"))
    fail = fn.append_basic_block("fail")
    lir.IRBuilder(fail).ret(lir.Constant(_I32, 0))
    a, d = abi.array, abi.descr

    i, cursor, done, close = _loop(b, fn, n, "arg", cursor=True)
    obj = _at(b, args, i, _PTR)
    ndarray = _i64(abi.ndarray_type).inttoptr(_PTR)
    _require(b, fn, b.icmp_unsigned("==", _field(b, obj, abi.ob_type, _PTR), ndarray), fail)
    descr = _field(b, obj, a["descr"], _PTR)
    type_num = b.sext(_field(b, descr, d["type_num"], _I32), _I64)

    # any(table[cursor + 1 + k] == type_num for k in range(table[cursor]))
    n_types = _at(b, table, cursor)
    k, _, types_done, close_types = _loop(b, fn, n_types, "type")
    hit, next_type = fn.append_basic_block("type.hit"), fn.append_basic_block("type.next")
    listed = _at(b, table, b.add(cursor, b.add(k, _i64(1))))
    b.cbranch(b.icmp_signed("==", listed, type_num), hit, next_type)
    b.position_at_end(next_type)
    close_types()
    b.position_at_end(types_done)
    b.branch(fail)
    b.position_at_end(hit)

    at_ndim = b.add(cursor, b.add(n_types, _i64(1)))
    ndim = _at(b, table, at_ndim)
    byteorder = _field(b, descr, d["byteorder"], _I8)
    nd = b.sext(_field(b, obj, a["nd"], _I32), _I64)
    flags = _field(b, obj, a["flags"], _I32)
    want = lir.Constant(_I32, abi.c_contiguous | abi.aligned)
    ok = b.and_(b.icmp_unsigned("!=", byteorder, lir.Constant(_I8, abi.foreign_byteorder[0])),
                b.and_(b.icmp_signed("==", nd, ndim),
                       b.icmp_signed("==", b.and_(flags, want), want)))
    _require(b, fn, ok, fail)

    # The dimensions, read only now that nd is known to match.
    dims = _field(b, obj, a["dimensions"], _PTR)
    q, _, dims_done, close_dims = _loop(b, fn, ndim, "dim")
    expected = _at(b, table, b.add(at_ndim, b.add(q, _i64(1))))
    _require(b, fn, b.icmp_signed("==", _at(b, dims, q), expected), fail)
    close_dims()
    b.position_at_end(dims_done)

    b.store(_field(b, obj, a["data"], _PTR), b.gep(data, [i], source_etype=_PTR))
    close(b.add(at_ndim, b.add(ndim, _i64(1))))
    b.position_at_end(done)
    b.ret(lir.Constant(_I32, 1))


def _build_alloc_outputs(module: lir.Module, abi) -> None:
    fn = lir.Function(module, lir.FunctionType(_I32, [_PTR, _I64, _PTR, _PTR]),
                      name=ALLOC_OUTPUTS)
    table, n, arrays, data = fn.args
    array_new = lir.Function(module, lir.FunctionType(
        _PTR, [_PTR, _I32, _PTR, _I32, _PTR, _PTR, _I32, _I32, _PTR]), name="llax_PyArray_New")
    decref = lir.Function(module, lir.FunctionType(lir.VoidType(), [_PTR]), name="Py_DecRef")
    b = lir.IRBuilder(fn.append_basic_block("entry"))

    i, cursor, done, close = _loop(b, fn, n, "out", cursor=True)
    type_num = b.trunc(_at(b, table, cursor), _I32)
    ndim = _at(b, table, b.add(cursor, _i64(1)))
    shape = b.gep(table, [b.add(cursor, _i64(2))], source_etype=_I64)
    shape = b.select(b.icmp_signed("==", ndim, _i64(0)), _NULL, shape)  # 0-d: no dims
    # PyArray_New(&PyArray_Type, nd, dims, type_num, strides=NULL, data=NULL, itemsize=0,
    #   flags=0 (C order), obj=NULL) -> a new reference, or NULL with an error set.
    arr = b.call(array_new, [_i64(abi.ndarray_type).inttoptr(_PTR), b.trunc(ndim, _I32), shape,
                             type_num, _NULL, _NULL, lir.Constant(_I32, 0),
                             lir.Constant(_I32, 0), _NULL])
    made, failed = fn.append_basic_block("made"), fn.append_basic_block("failed")
    b.cbranch(b.icmp_unsigned("==", arr, _NULL), failed, made)

    # Failure: release the outputs made so far (0 .. i-1) and report it.
    fb = lir.IRBuilder(failed)
    j, _, released, close_release = _loop(fb, fn, i, "release")
    fb.call(decref, [_at(fb, arrays, j, _PTR)])
    close_release()
    fb.position_at_end(released)
    fb.ret(lir.Constant(_I32, 0))

    b.position_at_end(made)
    flags_ptr = b.gep(arr, [_i64(abi.array["flags"])], source_etype=_I8)
    b.store(b.and_(b.load(flags_ptr, typ=_I32), lir.Constant(_I32, ~abi.writeable)), flags_ptr)
    b.store(arr, b.gep(arrays, [i], source_etype=_PTR))
    b.store(_field(b, arr, abi.array["data"], _PTR), b.gep(data, [i], source_etype=_PTR))
    close(b.add(cursor, b.add(ndim, _i64(2))))
    b.position_at_end(done)
    b.ret(lir.Constant(_I32, 1))


def _runtime_module() -> lir.Module:
    from llax.codegen.native import ABI

    module = lir.Module("llax_entry_runtime")
    _build_check_inputs(module, ABI)
    _build_alloc_outputs(module, ABI)
    return module


def ensure_runtime() -> target.CompiledModule:
    """Compile the two functions (once) and make their names resolvable by later modules
    (a runtime: see llax.codegen.runtime)."""
    # (Not cached on disk: the code holds this process's address of NumPy's array type.)
    return load_runtime("llax_entry_runtime", _runtime_module, (CHECK_INPUTS, ALLOC_OUTPUTS),
                        cache=False)


def input_table(specs: Sequence) -> list[int]:
    """The int64 table ``llax_check_inputs`` reads, for ArraySpecs."""
    table: list[int] = []
    for s in specs:
        table += [len(s.type_nums), *s.type_nums, len(s.shape), *s.shape]
    return table


def output_table(specs: Sequence) -> list[int]:
    """The int64 table ``llax_alloc_outputs`` reads, for ArraySpecs."""
    table: list[int] = []
    for s in specs:
        table += [s.dtype.num, len(s.shape), *s.shape]
    return table
