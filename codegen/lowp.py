"""ml_dtypes' types in native code: none lower natively, so such functions are interpreted.

bfloat16, the 8/6/4-bit floats and the 4/2/1-bit integers have no LLVM lowering here (no
element type, no rounding rules, no buffers at the native entry). A function holding any
value of them is refused with a ``LoweringError`` (a NotImplementedError) naming the first
parameter or op involved; ``llax.frontend.compile`` then runs it with the NumPy
interpreter, whose reference rules compute them as XLA's CPU backend does (widened to
float32 or int8, rounded back per op). float16 is a plain NumPy type and stays native.
"""

from __future__ import annotations

from llax.codegen.emitter import LoweringError
from llax.ir import dtypes
from llax.ir.core import Function, walk_ops


def _is_low_precision(atom) -> bool:
    return dtypes.is_low_precision(atom.type.dtype)


def native_blocker(fn: Function) -> str | None:
    """Why ``fn`` cannot be lowered natively because of ml_dtypes' types, or None."""
    for p in fn.params:
        if _is_low_precision(p):
            return f"parameter {p} has the ml_dtypes type {p.type}"
    for op in walk_ops(fn):
        for v in (*op.inputs, *op.outputs):
            if _is_low_precision(v):
                return (f"no native lowering of {op.prim.name!r} on {v.type.dtype.name} "
                        "values")
    for r in fn.results:
        if _is_low_precision(r):
            return f"result {r} has the ml_dtypes type {r.type}"
    return None


def check_native(fn: Function) -> None:
    """Raise ``LoweringError`` (NotImplementedError) naming what in ``fn`` has an ml_dtypes
    type (bfloat16, float8..., int4...) and so no native lowering."""
    why = native_blocker(fn)
    if why is not None:
        raise LoweringError(f"native code generation of {fn.name!r}: {why}")
