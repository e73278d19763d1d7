"""Batching (vmap) as a Function transformation.

``batch_function(fn, in_dims, axis_size)`` turns ``fn``, written for one example,
into a Function over a batch: parameter ``i`` gains an axis of size ``axis_size``
at position ``in_dims[i]`` (or stays as it is when ``in_dims[i]`` is None: the
same value for every example). It walks ``fn`` once and re-emits every op:

- an op none of whose operands is batched is copied unchanged, so work that does
  not depend on the example (weights, index arithmetic, constants) is done once;
- any other op is emitted by its rule from ``batching_rules`` (written in
  batching_rules.py), which decides where the output's batch dimension lies.

Each value is tracked with its batch dimension (an int) or None, and rules move
batch dimensions only where an op needs them, so unbatched operands are never
broadcast unless the op has no way to take them as they are.

Collectives (psum, pmax, pmin, axis_index) and ops with regions need the mapped
axis itself (its size and name): their rules live in ``axis_batching_rules`` and
take it as the first argument. They run even when no operand is batched if the op
refers to the axis by name (a psum of an unbatched value multiplies it by the
axis size).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from llax.frontend.core import bind
from llax.ir.core import Atom, Function, Var, walk_ops
from llax.ir.primitive import Primitive
from llax.ir.prims.collectives import COLLECTIVES, axis_names
from llax.ir.types import TensorType
from llax.transforms.staging import build_function, literal_operand

Dim = int | None


@dataclass(frozen=True)
class Axis:
    """The mapped axis: its size, and the name collectives use to refer to it."""

    size: int
    name: Hashable | None = None


# rule(args, dims, **params) -> (out, out_dim), or (outs, out_dims) for primitives with
# multiple results. ``args`` are traced values; ``dims[i]`` is the batch dimension of
# args[i] or None. At least one operand is batched when a rule runs.
BatchRule = Callable[..., tuple[Any, Any]]
batching_rules: dict[Primitive, BatchRule] = {}

# rule(axis, args, dims, **params): rules that need the Axis (collectives, ops with
# regions, which also get ``regions=``).
axis_batching_rules: dict[Primitive, BatchRule] = {}

# Primitives that never see a batched operand, with why (the registry test reads this).
never_batched: dict[Primitive, str] = {}


class OutDimError(ValueError):
    """An output was asked to be unbatched (out dim None) but is batched."""

    def __init__(self, index: int, dim: int) -> None:
        super().__init__(f"output {index} is batched on axis {dim} but out dim None was requested")
        self.index = index
        self.dim = dim


def uses_axis(prim: Primitive, params: dict, regions: Sequence[Function], axis: Axis) -> bool:
    """Whether the op refers to ``axis`` by name (a collective over it, or one in a region)."""
    if axis.name is None:
        return False
    if prim in COLLECTIVES and axis.name in axis_names(params):
        return True
    return any(op.prim in COLLECTIVES and axis.name in axis_names(op.params)
               for region in regions for op in walk_ops(region))


def batch_op(axis: Axis, prim: Primitive, args: Sequence[Any], dims: Sequence[Dim],
             params: dict, regions: tuple[Function, ...] = ()) -> tuple[list[Any], list[Dim]]:
    """Emit the batched form of one op; returns its outputs and their batch dims."""
    if all(d is None for d in dims) and not uses_axis(prim, params, regions, axis):
        outs = bind(prim, args, params, regions)
        outs = outs if prim.multiple_results else [outs]
        return list(outs), [None] * len(outs)
    if prim in axis_batching_rules:
        kwargs = dict(params, regions=regions) if regions else params
        outs, out_dims = axis_batching_rules[prim](axis, args, dims, **kwargs)
    elif prim in batching_rules:
        outs, out_dims = batching_rules[prim](args, dims, **params)
    else:
        raise NotImplementedError(f"Batching rule for '{prim.name}' not implemented")
    if not prim.multiple_results:
        outs, out_dims = [outs], [out_dims]
    return list(outs), list(out_dims)


def batch_ops(fn: Function, args: Sequence[Any], dims: Sequence[Dim],
              axis: Axis) -> tuple[list[Any], list[Dim]]:
    """Run ``fn`` on batched values in the active trace: its results and their batch dims."""
    env: dict[Var, tuple[Any, Dim]] = dict(zip(fn.params, zip(args, dims)))

    def read(a: Atom) -> tuple[Any, Dim]:
        return env[a] if isinstance(a, Var) else (literal_operand(a), None)

    for op in fn.ops:
        ins = [read(a) for a in op.inputs]
        outs, out_dims = batch_op(axis, op.prim, [x for x, _ in ins], [d for _, d in ins],
                                  dict(op.params), op.regions)
        env.update(zip(op.outputs, zip(outs, out_dims)))
    results = [read(r) for r in fn.results]
    return [x for x, _ in results], [d for _, d in results]


def batched_type(t: TensorType, dim: Dim, size: int) -> TensorType:
    """The type of a value of per-example type ``t`` batched at ``dim``."""
    if dim is None:
        return t
    if not 0 <= dim <= t.ndim:
        raise ValueError(f"batch dimension {dim} is out of range for a value of type {t}")
    return t.with_shape(t.shape[:dim] + (size,) + t.shape[dim:])


def batch_function(fn: Function, in_dims: Sequence[Dim], axis_size: int,
                   axis_name: Hashable | None = None,
                   out_dims: Sequence[Dim] | None = None) -> tuple[Function, list[Dim]]:
    """The batched form of ``fn`` and the batch dimension of each of its results.

    ``in_dims[i]`` (0 <= d <= rank, or None) says where parameter ``i`` carries the
    batch. With ``out_dims`` the results are moved to those dimensions (negative ones
    count from the end of the batched rank), unbatched results broadcast where an int
    is asked for; asking None of a batched result raises OutDimError.
    """
    if len(in_dims) != len(fn.params):
        raise ValueError(f"batch_function: {len(in_dims)} in_dims for {len(fn.params)} params")
    if out_dims is not None and len(out_dims) != len(fn.results):
        raise ValueError(f"batch_function: {len(out_dims)} out_dims for "
                         f"{len(fn.results)} results")
    axis = Axis(axis_size, axis_name)
    in_types = [batched_type(t, d, axis_size) for t, d in zip(fn.in_types, in_dims)]
    final_dims: list[Dim] = []

    def body(*args: Any) -> list[Any]:
        outs, dims = batch_ops(fn, args, in_dims, axis)
        if out_dims is not None:
            outs, dims = _place_outputs(outs, dims, out_dims, axis_size)
        final_dims.extend(dims)
        return outs

    return build_function(body, in_types, f"vmap_{fn.name}"), final_dims


def _place_outputs(outs: list[Any], dims: list[Dim], wanted: Sequence[Dim],
                   size: int) -> tuple[list[Any], list[Dim]]:
    from llax.transforms.batching_rules import broadcast_batched, move_axis

    placed, placed_dims = [], []
    for i, (x, d, w) in enumerate(zip(outs, dims, wanted)):
        if w is None:
            if d is not None:
                raise OutDimError(i, d)
        else:
            rank = x.ndim + (d is None)
            if not -rank <= w < rank:
                raise ValueError(f"axis {w} is out of bounds for array of dimension {rank}")
            w %= rank
            x = broadcast_batched(x, size, w) if d is None else move_axis(x, d, w)
        placed.append(x)
        placed_dims.append(w)
    return placed, placed_dims


import llax.transforms.batching_rules  # noqa: E402,F401  (the rules register themselves)
import llax.transforms.control_flow_batching  # noqa: E402,F401
