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
    out = reference[op.prim](*vals, **op.rule_params)
    return list(out) if op.prim.multiple_results else [out]


def _run_region(op: Op, vals: list[np.ndarray]) -> list[np.ndarray]:
    """fusion, custom_jvp_call, custom_vjp_call: the op means its one region."""
    return evaluate_function(op.regions[0], vals)


def _cond(op: Op, vals: list[np.ndarray]) -> list[np.ndarray]:
    index, *operands = vals
    return evaluate_function(op.regions[int(index)], operands)


def _while(op: Op, vals: list[np.ndarray]) -> list[np.ndarray]:
    cond, body = op.regions
    nc, nb = op.params["cond_nconsts"], op.params["body_nconsts"]
    cond_consts, body_consts, carry = vals[:nc], vals[nc:nc + nb], vals[nc + nb:]
    while evaluate_function(cond, [*cond_consts, *carry])[0]:
        carry = evaluate_function(body, [*body_consts, *carry])
    return carry


def _scan(op: Op, vals: list[np.ndarray]) -> list[np.ndarray]:
    (body,) = op.regions
    p = op.params
    length, nc, nk = p["length"], p["num_consts"], p["num_carry"]
    consts, carry, xs = vals[:nc], vals[nc:nc + nk], vals[nc + nk:]
    ys: list[list[np.ndarray]] = []
    steps = range(length - 1, -1, -1) if p["reverse"] else range(length)
    for i in steps:
        out = evaluate_function(body, [*consts, *carry, *(x[i] for x in xs)])
        carry, y = out[:nk], out[nk:]
        ys.append(y)
    if p["reverse"]:
        ys.reverse()
    stacked = [np.stack([y[j] for y in ys]) if ys else np.empty(v.type.shape, v.type.dtype)
               for j, v in enumerate(op.outputs[nk:])]
    return [*carry, *stacked]


def _custom_lin(*vals: np.ndarray, **params) -> list[np.ndarray]:
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


def _register() -> None:
    from llax.ir.prims import (
        cond,
        custom_jvp_call,
        custom_lin,
        custom_vjp_call,
        fusion,
        scan,
        while_loop,
    )

    for prim in (fusion, custom_jvp_call, custom_vjp_call):
        region_rules[prim] = _run_region
    reference[custom_lin] = _custom_lin
    region_rules[cond] = _cond
    region_rules[while_loop] = _while
    region_rules[scan] = _scan


_register()
