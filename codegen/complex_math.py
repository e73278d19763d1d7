"""Complex numbers in native code: what the code generator can lower, and what it cannot.

The native code generator has no complex lowering yet: no LLVM type for a complex
element, no scalar rules on (re, im) pairs, no complex BLAS calls, and the native entry
does not accept complex NumPy buffers. Rather than give wrong numbers, a function that
holds any complex value is refused here with a ``LoweringError`` (a NotImplementedError)
naming the first op (or parameter) involved; ``llax.frontend.compile`` then runs such a
function with the NumPy interpreter, whose reference rules define the results anyway.

When complex ops gain native rules, ``NATIVE_COMPLEX`` lists their primitives and the
check lets functions made only of those through.
"""

from __future__ import annotations

from llax.codegen.emitter import LoweringError
from llax.ir import dtypes
from llax.ir.core import Function, walk_ops

# Primitives with a native lowering on complex operands or results (none yet).
NATIVE_COMPLEX: frozenset[str] = frozenset()


def _is_complex(var) -> bool:
    return dtypes.is_complex(var.type.dtype)


def native_blocker(fn: Function) -> str | None:
    """Why ``fn`` cannot be lowered natively because of complex values, or None."""
    for p in fn.params:
        if _is_complex(p) and not NATIVE_COMPLEX:
            return f"parameter {p} has complex type {p.type}"
    for op in walk_ops(fn):
        if op.prim.name in NATIVE_COMPLEX:
            continue
        for v in (*op.inputs, *op.outputs):
            if _is_complex(v):
                return (f"no native lowering of {op.prim.name!r} on complex values "
                        f"({v.type.dtype.name})")
    for r in fn.results:
        if _is_complex(r) and not NATIVE_COMPLEX:
            return f"result {r} has complex type {r.type}"
    return None


def check_native(fn: Function) -> None:
    """Raise ``LoweringError`` (NotImplementedError) naming what in ``fn`` is complex and
    has no native lowering."""
    why = native_blocker(fn)
    if why is not None:
        raise LoweringError(f"native code generation of {fn.name!r}: {why}")
