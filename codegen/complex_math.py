"""Complex numbers in native code: which primitives the code generator lowers on them.

A complex element is ``{T, T}`` (llax.codegen.ltypes); elementwise rules live in
llax.codegen.complex_rules (arithmetic, comparisons, conversions) and
llax.codegen.complex_functions (transcendental functions), reductions and data movement
go through the same code as real dtypes, and ``dot_general`` calls BLAS cgemm/zgemm.

Primitives with no complex lowering are refused here with a ``LoweringError`` (a
NotImplementedError) naming the first op involved, rather than give wrong numbers;
``llax.frontend.compile`` then runs such a function with the NumPy interpreter, whose
reference rules define the results anyway. ``NATIVE_COMPLEX`` lists the primitives that
may touch complex values natively, each with a test of its op where only some of its
instances are lowered (``integer_pow`` with a huge exponent is NumPy's ``cpow``).

Not lowered on complex values (so still interpreted): ``sort``, the linear-algebra and
``fft`` primitives (LAPACK/FFT calls of their own) and the host callbacks.
"""

from __future__ import annotations

from collections.abc import Callable

from llax.codegen.emitter import LoweringError
from llax.ir import dtypes
from llax.ir.core import Function, Op, walk_ops

_ANY: Callable[[Op], bool] = lambda op: True  # noqa: E731


def _integer_pow(op: Op) -> bool:
    from llax.codegen.complex_rules import integer_pow_is_native

    return integer_pow_is_native(op)


# Primitives with a native lowering on complex operands or results; the function says
# whether it covers one op (its parameters), where it does not cover them all.
NATIVE_COMPLEX: dict[str, Callable[[Op], bool]] = {
    **{name: _ANY for name in (
        # elementwise (complex_rules, complex_functions)
        "add sub mul div neg conj real imag complex abs eq ne select_n convert_element_type "
        "stop_gradient square exp log sqrt exp2 expm1 log1p sign rsqrt logistic "
        "sin cos tan sinh cosh tanh pow max min atan atanh asin asinh acos acosh "
        # data movement (index_rules, indexing, lower)
        "broadcast_in_dim concatenate dynamic_slice gather iota pad reshape rev slice "
        "squeeze transpose dynamic_update_slice scatter scatter-add scatter-sub scatter-mul "
        # reductions, regions and control flow (reductions, lower, control_flow)
        "reduce_sum reduce_prod fusion while cond scan dot_general cumsum cumprod "
        # NumPy's own routines, called from native code (numpy_routines)
        "fft eig").split()},
    "integer_pow": _integer_pow,
}


def _is_complex(var) -> bool:
    return dtypes.is_complex(var.type.dtype)


def native_blocker(fn: Function) -> str | None:
    """Why ``fn`` cannot be lowered natively because of complex values, or None."""
    for op in walk_ops(fn):
        native = NATIVE_COMPLEX.get(op.prim.name)
        if native is not None and native(op):
            continue
        for v in (*op.inputs, *op.outputs):
            if _is_complex(v):
                return (f"no native lowering of {op.prim.name!r} on complex values "
                        f"({v.type.dtype.name})")
    return None


def check_native(fn: Function) -> None:
    """Raise ``LoweringError`` (NotImplementedError) naming what in ``fn`` is complex and
    has no native lowering."""
    why = native_blocker(fn)
    if why is not None:
        raise LoweringError(f"native code generation of {fn.name!r}: {why}")
