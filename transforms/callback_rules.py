"""JVP and batching rules of the host callbacks (llax.ir.prims.callbacks), as JAX has them.

Differentiation: ``debug_print`` and ``debug_callback`` run on the primal values and have
no tangents (so ``debug.print`` under ``grad`` prints the primals, once); ``pure_callback``
and ``io_callback`` refuse (JAX's errors: wrap them in ``custom_jvp``).

Batching gives the op a new host function over the batched arrays:

- the debug callbacks call the original once per example (one print per example);
- ``pure_callback`` follows its ``vmap_method``: ``sequential`` calls per example and
  stacks the results; ``expand_dims`` passes unbatched operands with a size-1 batch axis,
  ``broadcast_all`` broadcast to the batch size, ``legacy_vectorized`` as they are; the
  last three call once and expect results with the batch axis in front;
- ``io_callback`` calls per example, unless ordered (JAX refuses to batch those).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.types import TensorType
from llax.transforms.batching import Axis, Dim, axis_batching_rules
from llax.transforms.batching_rules import move_axis
from llax.transforms.jvp import jvp_rules

# --- differentiation ---------------------------------------------------------------------


def _primal_only(prim: Any) -> Callable:
    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        bind(prim, primals, params)
        return [], []

    return rule


def _refuse(message: str) -> Callable:
    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        raise ValueError(message)

    return rule


jvp_rules[P.debug_print] = _primal_only(P.debug_print)
jvp_rules[P.debug_callback] = _primal_only(P.debug_callback)
jvp_rules[P.pure_callback] = _refuse("Pure callbacks do not support JVP. Please use "
                                     "`jax.custom_jvp` to use callbacks while taking gradients.")
jvp_rules[P.io_callback] = _refuse("IO callbacks do not support JVP.")


# --- batching ------------------------------------------------------------------------------


def _example(arrays: Sequence[np.ndarray], batched: Sequence[bool], i: int) -> list[np.ndarray]:
    return [a[i] if b else a for a, b in zip(arrays, batched)]


def _per_example(callback: Callable, batched: Sequence[bool], size: int,
                 results: bool) -> Callable:
    """A host function over batched arrays (batch axis in front where ``batched``) that calls
    ``callback`` once per example and, if ``results``, stacks what it returns."""

    def each(*arrays: np.ndarray) -> Any:
        outs = [callback(*_example(arrays, batched, i)) for i in range(size)]
        if results:
            return [np.stack(r) for r in zip(*outs)]
        return None

    each.__name__ = getattr(callback, "__name__", "callback")
    return each


def _front(args: Sequence[Any], dims: Sequence[Dim]) -> tuple[list[Any], list[bool]]:
    """The batched operands with their batch axis moved to the front."""
    return ([a if d is None else move_axis(a, d, 0) for a, d in zip(args, dims)],
            [d is not None for d in dims])


def _batched_avals(avals: Sequence[TensorType], size: int) -> tuple[TensorType, ...]:
    return tuple(t.with_shape((size, *t.shape)) for t in avals)


def _debug_rule(prim: Any) -> Callable:
    def rule(axis: Axis, args: Sequence[Any], dims: Sequence[Dim], *, callback: Callable,
             **params: Any):
        operands, batched = _front(args, dims)
        bind(prim, operands, {**params,
                              "callback": _per_example(callback, batched, axis.size, False)})
        return [], []

    return rule


def _sequential(prim: Any, axis: Axis, args: Sequence[Any], dims: Sequence[Dim],
                callback: Callable, result_avals: tuple[TensorType, ...], params: dict):
    operands, batched = _front(args, dims)
    outs = bind(prim, operands, {**params, "callback": _per_example(
        callback, batched, axis.size, True), "result_avals": _batched_avals(result_avals,
                                                                              axis.size)})
    return outs, [0] * len(outs)


def _vectorized(prim: Any, axis: Axis, operands: Sequence[Any], callback: Callable,
                result_avals: tuple[TensorType, ...], params: dict):
    outs = bind(prim, operands, {**params, "callback": callback,
                                 "result_avals": _batched_avals(result_avals, axis.size)})
    return outs, [0] * len(outs)


def _expand(x: Any, size: int) -> Any:
    return bind(P.broadcast_in_dim, (x,), {"shape": (size, *x.shape),
                                           "broadcast_dimensions": tuple(range(1, x.ndim + 1))})


def _pure_callback_rule(axis: Axis, args: Sequence[Any], dims: Sequence[Dim], *,
                        callback: Callable, result_avals: tuple[TensorType, ...],
                        vmap_method: str | None):
    params = {"vmap_method": vmap_method}
    if vmap_method in ("sequential", "sequential_unrolled"):
        return _sequential(P.pure_callback, axis, args, dims, callback, result_avals, params)
    operands, batched = _front(args, dims)
    if vmap_method == "expand_dims":
        operands = [x if b else _expand(x, 1) for x, b in zip(operands, batched)]
    elif vmap_method == "broadcast_all":
        operands = [x if b else _expand(x, axis.size) for x, b in zip(operands, batched)]
    elif vmap_method != "legacy_vectorized":
        raise NotImplementedError(
            "vmap is only supported for the pure_callback primitive when vmap_method is one "
            "of 'sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all', or "
            f"'legacy_vectorized'. Got vmap_method={vmap_method}.")
    return _vectorized(P.pure_callback, axis, operands, callback, result_avals, params)


def _io_callback_rule(axis: Axis, args: Sequence[Any], dims: Sequence[Dim], *,
                      callback: Callable, result_avals: tuple[TensorType, ...], ordered: bool):
    if ordered:
        raise ValueError("Cannot `vmap` ordered IO callback.")
    return _sequential(P.io_callback, axis, args, dims, callback, result_avals,
                       {"ordered": ordered})


axis_batching_rules[P.debug_print] = _debug_rule(P.debug_print)
axis_batching_rules[P.debug_callback] = _debug_rule(P.debug_callback)
axis_batching_rules[P.pure_callback] = _pure_callback_rule
axis_batching_rules[P.io_callback] = _io_callback_rule
