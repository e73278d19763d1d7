"""A jitted function called inside another trace: one ``jit`` op with its own traced region.

JAX stages such a call as a ``jit`` equation holding the inner jaxpr, and
``make_jaxpr`` shows it so. llax does the same: the function is traced on its
own, abstractly (as jit always traces: Python control flow on its arguments is an
error there even under eager ``grad``), and the enclosing trace records one op.
Transformations and compilation inline the op (transforms/call_rules.py,
passes/inline_calls.py), so it costs nothing at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llax.frontend.core import Trace, aval_of
from llax.frontend.tree_util import tree_flatten, tree_unflatten
from llax.frontend.validation import check_output_leaves
from llax.ir.core import Function
from llax.transforms.call_rules import emit_jit_call


def bind_call(name: str, traced: Function, args: Sequence[Any]) -> list[Any]:
    """Apply the traced function ``traced`` to the flat ``args`` (its captured values first)
    as one ``jit`` op named ``name`` in the active trace; its flat outputs."""
    return emit_jit_call(name, traced, list(args))


def trace_call(fun: Callable, name: str, leaves: Sequence[Any],
               rebuild: Callable[[list[Any]], tuple[tuple, dict]]) -> tuple[Function, list[Any],
                                                                            Any]:
    """Trace ``fun(*args, **kwargs)`` with ``(args, kwargs) = rebuild(tracers)``, one tracer
    per leaf of the shape, dtype and weak type of ``leaves``: ``(fn, captured, out_tree)``."""
    t = Trace(name)
    with t:
        args, kwargs = rebuild([t.new_param(aval_of(x)) for x in leaves])
        out = fun(*args, **kwargs)
    out_leaves, out_tree = tree_flatten(out)
    check_output_leaves(fun, "jit", out, out_leaves)
    fn, captured = t.finish(out_leaves)
    return fn, captured, out_tree


def call_jitted(fun: Callable, name: str, args: tuple, kwargs: dict,
                statics: Callable[[tuple, dict], tuple[tuple, dict]] | None = None) -> Any:
    """``fun(*args, **kwargs)`` staged as one ``jit`` op. ``args``/``kwargs`` hold the dynamic
    arguments only; ``statics(args, kwargs)`` puts the static ones back (api's
    ``_merge_statics``)."""
    leaves, in_tree = tree_flatten((args, kwargs))

    def rebuild(tracers: list[Any]) -> tuple[tuple, dict]:
        a, k = tree_unflatten(in_tree, tracers)
        return statics(a, k) if statics is not None else (a, k)

    fn, captured, out_tree = trace_call(fun, name, leaves, rebuild)
    return tree_unflatten(out_tree, bind_call(name, fn, [*captured, *leaves]))


__all__ = ["bind_call", "call_jitted", "trace_call"]
