"""Transposition of linear functions: the backward half of reverse-mode differentiation.

``transpose_function(fn, linear)`` takes ``fn: (params...) -> results`` that is
linear in the params flagged ``linear`` and returns
``(non-linear params..., result cotangents...) -> cotangents of the linear params``.

Ops that read no linear value are re-emitted forwards first (they compute
coefficients). The linear ops are then walked backwards: each one's rule from
``transpose_rules`` receives its output cotangent(s) and its inputs, where the
linear inputs are ``UndefinedPrimal`` placeholders, and returns a cotangent for
each input (``None`` for zero or non-linear inputs). Cotangents of a value used
several times are summed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir.core import Atom, Function, Var
from llax.ir.primitive import Primitive
from llax.ir.types import TensorType
from llax.transforms.jvp import add_any, instantiate
from llax.transforms.staging import build_closed_function, literal_operand


class UndefinedPrimal:
    """A linear input of an op being transposed: only its type is known."""

    __slots__ = ("aval",)

    def __init__(self, aval: TensorType) -> None:
        self.aval = aval

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval})"


def is_linear(x: Any) -> bool:
    return isinstance(x, UndefinedPrimal)


# rule(cotangent(s) of the output(s), *inputs, **params) -> a cotangent (or None) per input.
# Single-result primitives get their one cotangent, never None.
TransposeRule = Callable[..., Sequence[Any]]
transpose_rules: dict[Primitive, TransposeRule] = {}


def transpose_function(fn: Function, linear: Sequence[bool],
                       ct_types: Sequence[TensorType] | None = None
                       ) -> tuple[Function, list[Any]]:
    """The transpose of ``fn`` with respect to its ``linear`` params; see the module docstring.

    Returns ``(fn_t, consts)``: call ``fn_t(*consts, *non-linear params, *cotangents)``.
    ``consts`` are values that custom VJP rules (traced only now) closed over. The
    cotangents have the types of ``fn``'s results unless ``ct_types`` says otherwise (in
    weak flag only: reverse mode seeds with the primal output's, as JAX does).
    """
    if len(linear) != len(fn.params):
        raise ValueError(f"transpose_function: {len(linear)} flags for {len(fn.params)} params")
    fixed = [v for v, lin in zip(fn.params, linear) if not lin]
    lin_params = [v for v, lin in zip(fn.params, linear) if lin]

    def body(*args: Any) -> list[Any]:
        env: dict[Var, Any] = dict(zip(fixed, args))
        cts = args[len(fixed):]
        linear_vars = set(lin_params)

        def read(a: Atom) -> Any:
            return env[a] if isinstance(a, Var) else literal_operand(a)

        linear_ops = []
        for op in fn.ops:
            if any(isinstance(a, Var) and a in linear_vars for a in op.inputs):
                linear_ops.append(op)
                linear_vars.update(op.outputs)
            else:
                outs = bind(op.prim, [read(a) for a in op.inputs], dict(op.params), op.regions)
                env.update(zip(op.outputs, outs if op.prim.multiple_results else (outs,)))

        ct_env: dict[Var, Any] = {}
        for r, ct in zip(fn.results, cts):
            if isinstance(r, Var) and r in linear_vars:
                _accumulate(ct_env, r, ct)
        for op in reversed(linear_ops):
            cts_out = [ct_env.pop(v, None) for v in op.outputs]
            if all(ct is None for ct in cts_out):
                continue
            ins = [UndefinedPrimal(a.type) if isinstance(a, Var) and a in linear_vars
                   else read(a) for a in op.inputs]
            for a, x, ct in zip(op.inputs, ins, _transpose_op(op, cts_out, ins)):
                if ct is not None and is_linear(x):
                    _accumulate(ct_env, a, ct)
        return [instantiate(ct_env.get(v), v.type) for v in lin_params]

    if ct_types is None:
        ct_types = [r.type for r in fn.results]
    for r, t in zip(fn.results, ct_types, strict=True):
        if (r.type.shape, r.type.dtype) != (t.shape, t.dtype):
            raise ValueError(f"transpose_function: a cotangent of type {t} for a result of "
                             f"type {r.type}")
    in_types = [v.type for v in fixed] + list(ct_types)
    return build_closed_function(body, in_types, f"transpose_{fn.name}")


def _transpose_op(op, cts_out: list[Any], ins: list[Any]) -> Sequence[Any]:
    rule = transpose_rules.get(op.prim)
    if rule is None:
        raise NotImplementedError(
            f"Transpose rule (for reverse-mode differentiation) for '{op.prim.name}' not "
            "implemented")
    params = dict(op.params, regions=op.regions) if op.regions else op.params
    if op.prim.multiple_results:
        return rule(cts_out, *ins, **params)
    (ct,) = cts_out
    ct = instantiate(ct, op.outputs[0].type)
    return rule(ct, *ins, **params)


def _accumulate(ct_env: dict[Var, Any], var: Var, ct: Any) -> None:
    if tuple(ct.shape) != var.type.shape:
        raise AssertionError(f"transpose: cotangent of shape {tuple(ct.shape)} for a value of "
                             f"type {var.type} (a transpose rule is wrong)")
    if ct.dtype != var.type.dtype:
        ct = lax.convert_element_type(ct, var.type.dtype)
    prev = ct_env.get(var)
    ct_env[var] = ct if prev is None else add_any(prev, ct)
