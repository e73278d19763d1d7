"""The call of a jitted function from inside another trace: JAX's ``jit`` equation.

``jit[name, jaxpr={...}](*args)``: one region, the traced function, applied to
the op's operands (the function's captured values first). It means nothing
more than its region: evaluation runs the region, every transformation inlines
it (transforms/call_rules.py), and compilation inlines it before anything else
(passes/inline_calls.py). It exists so that ``make_jaxpr`` shows a nested
``jit`` as JAX does, with its own sub-jaxpr.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llax.ir.core import Function, Op
from llax.ir.interpreter import evaluate_function, region_rules
from llax.ir.primitive import abstract_eval, primitive, region_params
from llax.ir.types import TensorType

__all__ = ["jit_call"]

jit_call = primitive("jit", multiple_results=True)

# Printed as JAX prints it: the region is the ``jaxpr`` param.
region_params[jit_call] = ("jaxpr",)


def _jit_call_types(*in_types: TensorType, regions: Sequence[Function],
                    name: str) -> tuple[TensorType, ...]:
    (fun,) = regions
    # Weak flags may differ (a transformation may hand a strong value where the trace saw a
    # weak one); shapes and dtypes may not.
    if tuple(t.strong() for t in in_types) != tuple(t.strong() for t in fun.in_types):
        raise TypeError(f"jit of {name}: operands {', '.join(map(str, in_types))} do not "
                        f"match the region's parameters {', '.join(map(str, fun.in_types))}")
    return fun.out_types


abstract_eval[jit_call] = _jit_call_types


def _run_jit_call(op: Op, vals: list[np.ndarray]) -> list[np.ndarray]:
    return evaluate_function(op.regions[0], vals)


region_rules[jit_call] = _run_jit_call
