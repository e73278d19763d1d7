"""Evaluate a Function with the NumPy reference implementations (the oracle for codegen)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llax.ir.core import Atom, Function, Literal, Op, Var
from llax.ir.primitive import Primitive
from llax.ir.reference import reference

# Ops with regions are evaluated by a rule that receives the op itself.
region_rules: dict[Primitive, callable] = {}


def evaluate_function(fn: Function, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(args) != len(fn.params):
        raise TypeError(f"{fn.name}: expected {len(fn.params)} arguments, got {len(args)}")
    env: dict[Var, np.ndarray] = {}
    for var, value in zip(fn.params, args):
        env[var] = np.asarray(value, dtype=var.type.dtype)

    def read(a: Atom) -> np.ndarray:
        return a.value if isinstance(a, Literal) else env[a]

    for op in fn.ops:
        outs = run_op(op, [read(a) for a in op.inputs])
        for var, value in zip(op.outputs, outs):
            env[var] = np.asarray(value, dtype=var.type.dtype).reshape(var.type.shape)
    return [read(a) for a in fn.results]


def run_op(op: Op, vals: list[np.ndarray]) -> list[np.ndarray]:
    if op.regions:
        return list(region_rules[op.prim](op, vals))
    out = reference[op.prim](*vals, **op.params)
    return list(out) if op.prim.multiple_results else [out]


def _run_region(op: Op, vals: list[np.ndarray]) -> list[np.ndarray]:
    """fusion, custom_jvp_call, custom_vjp_call: the op means its one region."""
    return evaluate_function(op.regions[0], vals)


def _custom_lin(*vals: np.ndarray, **params) -> list[np.ndarray]:
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


def _register() -> None:
    from llax.ir.prims import custom_jvp_call, custom_lin, custom_vjp_call, fusion

    for prim in (fusion, custom_jvp_call, custom_vjp_call):
        region_rules[prim] = _run_region
    reference[custom_lin] = _custom_lin


_register()
