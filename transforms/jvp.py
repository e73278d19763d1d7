"""Forward-mode differentiation (JVP) as a Function transformation.

``jvp_function(fn, nonzero)`` turns ``fn: params -> results`` into
``(params..., tangents of the nonzero params...) -> (results..., tangents of results...)``.
It walks ``fn`` once, re-emitting every op; an op that has a nonzero input
tangent is emitted by its rule from ``jvp_rules``, which also emits the ops
computing the output tangents.

Tangents are either traced values or ``None``, a symbolic zero: ops whose inputs
all have zero tangents are copied without touching their rule, so integer
arithmetic, index computations and constants cost nothing. Only values of
inexact dtypes carry tangents.

Every tangent a rule emits must be *linear* in the input tangents, with
coefficients computed from primal values only (``t * cos(x)``, never
``t * t``); partial evaluation and transposition (reverse mode) rely on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend.core import bind
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Var
from llax.ir.primitive import Primitive
from llax.ir.types import TensorType
from llax.transforms.staging import build_closed_function, literal_operand

# rule(primals, tangents, **params) -> (primal output(s), tangent output(s)); tangents are
# traced values or None (zero). Ops with regions also get ``regions=``.
JvpRule = Callable[..., tuple[Any, Any]]
jvp_rules: dict[Primitive, JvpRule] = {}

# Primitives whose outputs have zero tangent whatever their inputs' tangents, with why.
zero_tangent: dict[Primitive, str] = {}


def has_tangent(type: TensorType) -> bool:
    """Whether values of this type carry tangents (and cotangents): inexact dtypes only
    (float and complex)."""
    return dtypes.is_inexact(type.dtype)


def zeros(type: TensorType) -> Any:
    """A zero array of ``type``, weak flag included (as JAX's zeros of an aval), built from
    a scalar literal (transformations capture no array constants)."""
    from llax.frontend.core import Array

    zero = Array(np.zeros((), type.dtype), type.weak)
    if type.shape == ():
        return zero
    return bind(P.broadcast_in_dim, (zero,), {"shape": type.shape, "broadcast_dimensions": ()})


def instantiate(tangent: Any, type: TensorType) -> Any:
    """A symbolic-zero tangent made into real zeros; other tangents unchanged."""
    return zeros(type) if tangent is None else tangent


def add_any(x: Any, y: Any) -> Any:
    """``x + y`` of equal shapes, weak only if ``x`` is: how JAX sums tangents and
    cotangents (its ``add_any``), whose weak flag is that of the first term."""
    from llax.frontend import lax
    from llax.frontend.core import aval_of
    from llax.frontend.jnp._coerce import convert

    total = lax.add(x, y)
    weak = aval_of(x).weak
    return total if aval_of(total).weak == weak else convert(total, total.dtype, weak)


def jvp_op(prim: Primitive, primals: Sequence[Any], tangents: Sequence[Any], params: dict,
           regions: tuple[Function, ...] = ()) -> tuple[list[Any], list[Any]]:
    """Emit one op and its tangent computation; returns (outputs, output tangents)."""
    if prim in zero_tangent or all(t is None for t in tangents):
        outs = bind(prim, primals, params, regions)
        outs = outs if prim.multiple_results else [outs]
        return outs, [None] * len(outs)
    rule = jvp_rules.get(prim)
    if rule is None:
        raise NotImplementedError(f"Differentiation rule for '{prim.name}' not implemented")
    kwargs = dict(params, regions=regions) if regions else params
    outs, touts = rule(primals, tangents, **kwargs)
    if not prim.multiple_results:
        outs, touts = [outs], [touts]
    # Integer and boolean results never carry tangents, whatever a rule returns.
    touts = [t if has_tangent(o.aval) else None for o, t in zip(outs, touts)]
    return list(outs), touts


def jvp_function(fn: Function, nonzero: Sequence[bool]) -> tuple[Function, list[Any]]:
    """The JVP of ``fn`` for tangents on the params flagged ``nonzero`` (all must be inexact).

    Returns ``(jvp_fn, consts)``: ``jvp_fn`` takes ``(*consts, *params, *tangents)`` and
    returns ``(*results, *result tangents)``, with zero tangents instantiated as zeros so
    the signature does not depend on them. ``consts`` are the values that custom JVP
    rules (traced only now) closed over; usually there are none.
    """
    if len(nonzero) != len(fn.params):
        raise ValueError(f"jvp_function: {len(nonzero)} flags for {len(fn.params)} params")
    for v, nz in zip(fn.params, nonzero):
        if nz and not has_tangent(v.type):
            raise TypeError(f"jvp_function: a tangent for a parameter of type {v.type}; "
                            "only inexact values have tangents")
    tangent_types = [v.type for v, nz in zip(fn.params, nonzero) if nz]

    def body(*args: Any) -> list[Any]:
        env: dict[Var, Any] = dict(zip(fn.params, args))
        given = iter(args[len(fn.params):])
        tenv: dict[Var, Any] = {v: next(given) for v, nz in zip(fn.params, nonzero) if nz}

        def read(a: Atom) -> Any:
            return env[a] if isinstance(a, Var) else literal_operand(a)

        for op in fn.ops:
            outs, touts = jvp_op(op.prim, [read(a) for a in op.inputs],
                                 [tenv.get(a) if isinstance(a, Var) else None
                                  for a in op.inputs], dict(op.params), op.regions)
            env.update(zip(op.outputs, outs))
            tenv.update((v, t) for v, t in zip(op.outputs, touts) if t is not None)
        results = [read(r) for r in fn.results]
        tangents = [instantiate(tenv.get(r) if isinstance(r, Var) else None, r.type)
                    for r in fn.results]
        return results + tangents

    return build_closed_function(body, fn.in_types + tuple(tangent_types), f"jvp_{fn.name}")
