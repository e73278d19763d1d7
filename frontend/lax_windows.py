"""``lax``'s window reductions: ``reduce_window`` (pooling) and the two primitives that max
and min pooling differentiate through, with JAX's signatures.

``reduce_window`` binds ``reduce_window_sum``/``_max``/``_min`` when the computation is
``lax.add``/``max``/``min`` with its identity as the initial value, as JAX does. Any other
computation (or several operands) is folded over the window's taps: one strided slice of
the padded operand per tap, combined in order, starting from the initial value. A window
has few taps, and XLA leaves the combination order unspecified.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import llax.ir.reference_windows  # noqa: F401  (registers the primitives' NumPy references)
from llax.frontend.core import bind
from llax.frontend.jnp._coerce import as_array
from llax.frontend.lax_conv import padtype_to_pads
from llax.ir import prims as P
from llax.ir.prims.convolution import dilate_dim
from llax.ir.prims.windows import reduce_window_shape
from llax.ir.reference_windows import identity

__all__ = ["reduce_window", "reduce_window_shape_tuple", "select_and_gather_add",
           "select_and_scatter_add"]


def _ints(name: str, values: Sequence[int] | None, rank: int, default: int = 1
          ) -> tuple[int, ...]:
    if values is None:
        return (default,) * rank
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"reduce_window: {name} must be a sequence of ints, got "
                        f"{values!r}") from None


def _pads(padding: str | Sequence[tuple[int, int]], shape: Sequence[int],
          window: Sequence[int], strides: Sequence[int], base_dilation: Sequence[int],
          window_dilation: Sequence[int]) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, str):
        dilated = [dilate_dim(n, d) for n, d in zip(shape, base_dilation)]
        spans = [dilate_dim(k, d) for k, d in zip(window, window_dilation)]
        return tuple(padtype_to_pads(dilated, spans, strides, padding))
    return tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)


def reduce_window_shape_tuple(operand_shape: Sequence[int], window_dimensions: Sequence[int],
                              window_strides: Sequence[int],
                              padding: Sequence[tuple[int, int]],
                              base_dilation: Sequence[int] | None = None,
                              window_dilation: Sequence[int] | None = None) -> tuple[int, ...]:
    """The shape ``reduce_window`` gives an operand of ``operand_shape``."""
    return reduce_window_shape(operand_shape, window_dimensions, window_strides,
                               [tuple(p) for p in padding], base_dilation, window_dilation)


_MONOIDS = {"add": P.reduce_window_sum, "max": P.reduce_window_max,
            "min": P.reduce_window_min}


def _monoid(computation: Callable, init: Any, x: Any) -> Any:
    """The window primitive ``computation`` with ``init`` amounts to, if any."""
    from llax.frontend import lax

    for name, prim in _MONOIDS.items():
        if computation is getattr(lax, name):
            try:
                value = np.asarray(init)
            except Exception:  # a tracer: not a known identity
                return None
            if value.shape == () and value == identity(prim.name, x.dtype):
                return prim
    return None


def reduce_window(operand: Any, init_value: Any, computation: Callable,
                  window_dimensions: Sequence[int],
                  window_strides: Sequence[int] | None = None,
                  padding: str | Sequence[tuple[int, int]] = "VALID",
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Any:
    """``computation`` over every window of ``operand`` (an array or a pytree of arrays,
    with ``init_value`` the same structure of scalars)."""
    from llax.frontend.tree_util import tree_flatten, tree_unflatten

    xs, tree = tree_flatten(operand)
    inits, init_tree = tree_flatten(init_value)
    if init_tree != tree:
        raise ValueError(f"Operands must have the same tree structure as init_values: {tree} "
                         f"vs. {init_tree}")
    xs = [as_array(x, "reduce_window") for x in xs]
    if len({x.shape for x in xs}) > 1:
        raise TypeError(f"reduce_window: operands must have one shape, got "
                        f"{[tuple(x.shape) for x in xs]}")
    rank = xs[0].ndim
    window = _ints("window_dimensions", window_dimensions, rank)
    if len(window) != rank:
        raise TypeError(f"reduce_window got the wrong number of window_dimensions for "
                        f"operand: got operand shape {tuple(xs[0].shape)} with "
                        f"window_dimensions {window}.")
    strides = _ints("window_strides", window_strides, rank)
    base = _ints("base_dilation", base_dilation, rank)
    wdil = _ints("window_dilation", window_dilation, rank)
    pads = _pads(padding, xs[0].shape, window, strides, base, wdil)
    params = {"window_dimensions": window, "window_strides": strides, "padding": pads,
              "base_dilation": base, "window_dilation": wdil}
    if len(xs) == 1:
        prim = _monoid(computation, inits[0], xs[0])
        if prim is not None:
            return tree_unflatten(tree, [bind(prim, (xs[0],), params)])
    return tree_unflatten(tree, _fold_taps(xs, inits, computation, tree, params))


def _fold_taps(xs: list[Any], inits: list[Any], computation: Callable, tree: Any,
               params: dict) -> list[Any]:
    """The general reduce_window: each operand padded with its initial value (holes
    too), one strided slice per tap, folded into the initial value by ``computation``."""
    from llax.frontend import lax
    from llax.frontend.tree_util import tree_flatten, tree_unflatten

    window, strides = params["window_dimensions"], params["window_strides"]
    out_shape = reduce_window_shape(xs[0].shape, window, strides, params["padding"],
                                    params["base_dilation"], params["window_dilation"])
    inits = [lax.convert_element_type(as_array(v, "reduce_window"), x.dtype)
             for v, x in zip(inits, xs)]
    padded = [lax.pad(x, v, [(lo, hi, d - 1) for (lo, hi), d in
                             zip(params["padding"], params["base_dilation"])])
              for x, v in zip(xs, inits)]
    acc = [lax.broadcast(v, out_shape) for v in inits]
    if 0 in out_shape:
        return acc
    for tap in itertools.product(*(range(k) for k in window)):
        start = [t * d for t, d in zip(tap, params["window_dilation"])]
        limit = [s + (n - 1) * st + 1 for s, n, st in zip(start, out_shape, strides)]
        taps = [lax.slice(p, start, limit, strides) for p in padded]
        combined = computation(tree_unflatten(tree, acc), tree_unflatten(tree, taps))
        acc, _ = tree_flatten(combined)
    return acc


def select_and_gather_add(tangents: Any, operand: Any, select_prim: Any,
                          window_dimensions: Sequence[int], window_strides: Sequence[int],
                          padding: Sequence[tuple[int, int]], base_dilation: Sequence[int],
                          window_dilation: Sequence[int]) -> Any:
    """Per window, the element of ``tangents`` where ``operand`` is selected (its maximum
    for ``lax.ge``, minimum for ``lax.le``): the tangent of max/min pooling."""
    from llax.transforms.window_rules import select_prim_name

    t, x = as_array(tangents, "select_and_gather_add"), as_array(operand,
                                                                "select_and_gather_add", 1)
    return bind(P.select_and_gather_add, (t, x), {
        "select_prim": select_prim_name(select_prim),
        "window_dimensions": tuple(window_dimensions), "window_strides": tuple(window_strides),
        "padding": tuple(tuple(p) for p in padding), "base_dilation": tuple(base_dilation),
        "window_dilation": tuple(window_dilation)})


def select_and_scatter_add(source: Any, operand: Any, select_prim: Any,
                           window_dimensions: Sequence[int], window_strides: Sequence[int],
                           padding: Sequence[tuple[int, int]]) -> Any:
    """Each window's element of ``source`` added at the element of ``operand`` it selects
    (max-pooling's gradient): an array of ``operand``'s shape."""
    from llax.transforms.window_rules import select_prim_name

    s, x = as_array(source, "select_and_scatter_add"), as_array(operand,
                                                               "select_and_scatter_add", 1)
    return bind(P.select_and_scatter_add, (s, x), {
        "select_prim": select_prim_name(select_prim),
        "window_dimensions": tuple(window_dimensions), "window_strides": tuple(window_strides),
        "padding": tuple(tuple(p) for p in padding)})
