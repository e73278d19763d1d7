"""Building Functions by tracing Python, and running a Function on traced or concrete values.

Transformations are written as interpreters: they walk a Function's ops and
emit rewritten ones through ``bind`` into a fresh ``Trace``. ``build_function``
runs such an interpreter and closes the result; ``call_function`` is the
converse, running a Function's ops on given operands, so a transformed
Function is inlined into whatever trace is active (or evaluated when none is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend.core import (
    Array,
    LiteralArray,
    Trace,
    aval_of,
    bind,
    concrete_value,
    eager_checks_off,
    trace_stack,
)
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Literal, Var
from llax.ir.interpreter import evaluate_function
from llax.ir.types import TensorType


def literal_operand(lit: Literal) -> Array:
    """A Literal as an operand for ``bind`` (which turns it back into the same Literal)."""
    return LiteralArray(lit)


def build_closed_function(body: Callable[..., Sequence[Any]], in_types: Sequence[TensorType],
                          name: str) -> tuple[Function, list[Any]]:
    """Trace ``body`` on one tracer per input type: ``(fn, captured)``.

    ``body`` returns the flat list of results. Values ``body`` used without being
    given them (arrays, tracers of enclosing traces) become ``fn``'s leading params,
    and ``captured`` lists them: call ``fn`` with ``[*captured, *inputs]``.
    """
    t = Trace(name)
    with t:
        tracers = [t.new_param(ty) for ty in in_types]
        outs = list(body(*tracers))
    return t.finish(outs)


def build_function(body: Callable[..., Sequence[Any]], in_types: Sequence[TensorType],
                   name: str) -> Function:
    """``build_closed_function`` for bodies that capture nothing.

    Transformation rules create constants only from scalars, so anything captured
    is a bug in a rule.
    """
    fn, captured = build_closed_function(body, in_types, name)
    if captured:
        raise AssertionError(f"{name}: a transformation rule captured {len(captured)} "
                             "non-scalar constant(s); rules must build constants from scalars")
    return fn


def call_function(fn: Function, args: Sequence[Any]) -> list[Any]:
    """Apply ``fn`` to ``args``: inlined into the active trace, or evaluated if none is
    (op by op through ``bind`` while debug_nans/debug_infs check every eager op)."""
    if len(args) != len(fn.params):
        raise TypeError(f"{fn.name}: expected {len(fn.params)} operands, got {len(args)}")
    if not trace_stack() and eager_checks_off():
        outs = evaluate_function(fn, [concrete_value(a)[0] for a in args])
        return [Array(np.asarray(o, dtype=r.type.dtype), r.type.weak)
                for o, r in zip(outs, fn.results)]
    env: dict[Var, Any] = {p: _with_type(a, p.type) for p, a in zip(fn.params, args)}

    def read(a: Atom) -> Any:
        return env[a] if isinstance(a, Var) else literal_operand(a)

    for op in fn.ops:
        outs = bind(op.prim, [read(a) for a in op.inputs], dict(op.params), op.regions)
        env.update(zip(op.outputs, outs if op.prim.multiple_results else (outs,)))
    return [read(r) for r in fn.results]


def _with_type(x: Any, type: TensorType) -> Any:
    """An argument of ``call_function`` with its parameter's weak flag. Values passed on by
    transformations may differ from the traced types in weak type only; the ops are replayed
    on exactly the traced types, as ops with regions (whose parameter types are fixed) and
    custom-derivative ops (whose rules were traced for them) need."""
    t = aval_of(x)
    if t.weak == type.weak or t.dtype != type.dtype:
        return x
    return bind(P.convert_element_type, (x,), {"new_dtype": type.dtype, "weak_type": type.weak})
