"""Ops carrying user-defined derivatives (``custom_jvp`` / ``custom_vjp``).

The region is the traced function. The rules are Python callables held in the
params and traced only when a transformation needs them (a rule usually calls
the function itself, so tracing it eagerly would recurse forever); they print
as ``<rule name>``. Evaluating one of these ops runs its region, and
compilation inlines it first (passes/inline_calls.py).

- ``custom_jvp_call[jvp, symbolic_zeros](*args) { fun }``
- ``custom_vjp_call[fwd, bwd](*args) { fun }``
- ``custom_lin[bwd, num_res, out_types](*residuals, *tangents)``: what forward-mode
  differentiation of a custom_vjp_call leaves behind, linear in the tangents;
  only its transpose (running ``bwd``) is defined.
"""

from __future__ import annotations

from llax.ir.primitive import abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = ["custom_jvp_call", "custom_vjp_call", "custom_lin"]

custom_jvp_call = primitive("custom_jvp_call", multiple_results=True)
custom_vjp_call = primitive("custom_vjp_call", multiple_results=True)
custom_lin = primitive("custom_lin", multiple_results=True)


def _call_rule(name: str):
    def rule(*in_types: TensorType, regions, **params) -> tuple[TensorType, ...]:
        (fun,) = regions
        if tuple(t.strong() for t in in_types) != tuple(t.strong() for t in fun.in_types):
            raise TypeError(f"{name}: operands {in_types} do not match the region's "
                            f"parameters {fun.in_types}")
        return fun.out_types

    return rule


abstract_eval[custom_jvp_call] = _call_rule("custom_jvp_call")
abstract_eval[custom_vjp_call] = _call_rule("custom_vjp_call")


def _custom_lin_rule(*in_types: TensorType, bwd, num_res: int,
                     out_types: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    return tuple(out_types)


abstract_eval[custom_lin] = _custom_lin_rule
