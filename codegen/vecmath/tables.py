"""Constant tables in LLVM IR: a private global array and its lookup, per lane.

A table is a ``[rows x [columns x iN]]`` constant of bit patterns as wide as the
emitter's floating type (floats, or fields packed into one word), defined once
per module (by name) with private linkage, so that modules joining one JIT
engine never clash and LLVM may merge equal copies.  ``lookup`` loads one
column of a row: a scalar offset is one load, which the loop vectoriser turns
into a gather (or scalar loads) of the vectorised loop; a vector offset, for
the emitters applied to vector operands, is loaded lane by lane.

The offset must already be in range (callers mask it): nothing is checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from llvmlite import ir

from llax.codegen.vecmath.core import Emitter, Value

_I32 = ir.IntType(32)


def table_global(e: Emitter, name: str, rows: Sequence[Sequence[int]]) -> ir.GlobalVariable:
    """The module's constant table ``name`` of bit patterns (rows of equal length, each
    value an unsigned or signed integer of the format's width), defined on first use."""
    module = e.b.module
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    elem = ir.IntType(e.bits)
    row_ty = ir.ArrayType(elem, len(rows[0]))
    ty = ir.ArrayType(row_ty, len(rows))
    half = 1 << (e.bits - 1)
    g = ir.GlobalVariable(module, ty, name=name)
    g.global_constant = True
    g.linkage = "private"
    g.unnamed_addr = True
    g.align = 32  # rows may be fetched by vector gathers
    signed = [[(v + half) % (2 * half) - half for v in row] for row in rows]
    g.initializer = ir.Constant(ty, [ir.Constant(row_ty, row) for row in signed])
    return g


def lookup(e: Emitter, table: ir.GlobalVariable, offset: Value, column: int) -> Value:
    """The word of ``column`` in the row at byte ``offset`` (row index times row size,
    see ``row_bytes``), as an integer of the emitter's shape (``e.to_float`` views it as
    a float); offset is an integer of that shape, scalar or vector.

    Rows are addressed by byte offsets so that the scaling is one vector shift
    rather than one scalar shift per lane after the lanes are extracted."""
    b = e.b
    elem = ir.IntType(e.bits)
    i8 = ir.IntType(8)

    def load(off: ir.Value) -> ir.Value:
        ptr = b.gep(table, [off], inbounds=True, source_etype=i8)
        if column:
            ptr = b.gep(ptr, [ir.Constant(ir.IntType(64), column * e.bits // 8)], inbounds=True,
                        source_etype=i8)
        return b.load(ptr, typ=elem)

    if not isinstance(e.ty, ir.VectorType):
        return load(offset)
    out: ir.Value = ir.Constant(e.ity, ir.Undefined)
    for lane in range(e.ty.count):
        out = b.insert_element(out, load(b.extract_element(offset, _I32(lane))), _I32(lane))
    return out


def row_bytes(table: ir.GlobalVariable) -> int:
    """The size of one row of the table in bytes (a power of two for a cheap index scale)."""
    row_ty = table.value_type.element
    return row_ty.count * row_ty.element.width // 8
