"""JVP, transpose and batching rules of the window primitives (ir.prims.windows).

Imported by llax.frontend.lax_windows, which registers them with the transformations.

- ``reduce_window_sum`` is linear. Its transpose spreads each cotangent over the window
  it summed: the cotangent dilated by the strides and padded so that a window sum of it
  (strides: the base dilation) lands on the operand's shape, as in JAX.
- ``reduce_window_max``/``_min``: the tangent at the selected element of each window,
  ``select_and_gather_add`` (JAX's rule).
- ``select_and_gather_add`` is linear in its tangents and ``select_and_scatter_add`` in
  its source; each is the other's transpose. Dilated windows, which
  ``select_and_scatter_add`` does not take (nor does JAX differentiate them), scatter to
  the selected elements found by a fold.
- Batching puts a window of 1 on the mapped axis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.prims.convolution import dilate_dim
from llax.ir.reference_windows import identity
from llax.transforms.batching import batching_rules
from llax.transforms.batching_rules import batch_at, batch_size
from llax.transforms.jvp import jvp_rules
from llax.transforms.jvp_rules import linear_jvp
from llax.transforms.transpose import is_linear, transpose_rules

_SELECT = {P.reduce_window_max: "ge", P.reduce_window_min: "le"}
_WINDOW_KEYS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                "window_dilation")


def _gather_params(params: dict, select_prim: str) -> dict:
    return dict(params, select_prim=select_prim)


# --- JVP -----------------------------------------------------------------------------------

jvp_rules[P.reduce_window_sum] = linear_jvp(P.reduce_window_sum)
jvp_rules[P.select_and_gather_add] = linear_jvp(P.select_and_gather_add, (0,))
jvp_rules[P.select_and_scatter_add] = linear_jvp(P.select_and_scatter_add, (0,))


def _chooser_jvp(prim):
    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        y = bind(prim, (x,), params)
        if t is None:
            return y, None
        return y, bind(P.select_and_gather_add, (t, x), _gather_params(params, _SELECT[prim]))

    return rule


for _prim in _SELECT:
    jvp_rules[_prim] = _chooser_jvp(_prim)


# --- transpose -----------------------------------------------------------------------------

def _reduce_window_sum_transpose(ct, x, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    shape = x.aval.shape
    config = []
    for n, k, s, o, (lo, _), bd, wd in zip(shape, window_dimensions, window_strides,
                                            ct.shape, padding, base_dilation, window_dilation):
        before = dilate_dim(k, wd) - lo - 1
        after = dilate_dim(n, bd) + dilate_dim(k, wd) - 1 - dilate_dim(o, s) - before
        config.append((before, after, s - 1))
    spread = lax.pad(ct, lax.full((), 0, ct.dtype), config)
    ones = (1,) * len(shape)
    out = bind(P.reduce_window_sum, (spread,), {
        "window_dimensions": tuple(window_dimensions), "window_strides": tuple(base_dilation),
        "padding": ((0, 0),) * len(shape), "base_dilation": ones,
        "window_dilation": tuple(window_dilation)})
    return [out]


transpose_rules[P.reduce_window_sum] = _reduce_window_sum_transpose


def _select_and_gather_add_transpose(ct, t, x, *, select_prim, window_dimensions,
                                     window_strides, padding, base_dilation, window_dilation):
    assert is_linear(t) and not is_linear(x)
    if any(d != 1 for d in (*base_dilation, *window_dilation)):
        return [_scatter_to_selected(ct, x, select_prim, window_dimensions, window_strides,
                                     padding, base_dilation, window_dilation), None]
    out = bind(P.select_and_scatter_add, (ct, x), {
        "select_prim": select_prim, "window_dimensions": tuple(window_dimensions),
        "window_strides": tuple(window_strides), "padding": tuple(padding)})
    return [out, None]


def _scatter_to_selected(ct, x, select_prim, window_dimensions, window_strides, padding,
                         base_dilation, window_dilation):
    """The transpose for dilated windows, which ``select_and_scatter_add`` (as XLA's) does
    not take: the flat index of each window's selected element, by a fold over (value,
    index) pairs (a strictly better candidate replaces the current one, so the first
    extreme stays), then a scatter-add of the cotangents there. Padding and holes carry
    the index ``x.size``, out of bounds, so their cotangents are dropped."""
    from llax.frontend.lax_windows import reduce_window

    better = lax.gt if select_prim == "ge" else lax.lt
    size = math.prod(x.shape)
    flat_index = lax.reshape(lax.iota(np.int32, size), tuple(x.shape))

    def pick(a, b):
        take = better(b[0], a[0])
        return lax.select(take, b[0], a[0]), lax.select(take, b[1], a[1])

    init = np.asarray(identity("max" if select_prim == "ge" else "min", x.dtype), x.dtype)
    _, chosen = reduce_window((x, flat_index), (init, np.int32(size)), pick,
                              window_dimensions, window_strides, padding, base_dilation,
                              window_dilation)
    spread = lax.full((size,), 0, ct.dtype).at[lax.reshape(chosen, (chosen.size,))].add(
        lax.reshape(ct, (ct.size,)), mode="drop")
    return lax.reshape(spread, tuple(x.shape))


def _select_and_scatter_add_transpose(ct, s, x, *, select_prim, window_dimensions,
                                      window_strides, padding):
    assert is_linear(s) and not is_linear(x)
    ones = (1,) * x.ndim
    out = bind(P.select_and_gather_add, (ct, x), {
        "select_prim": select_prim, "window_dimensions": tuple(window_dimensions),
        "window_strides": tuple(window_strides), "padding": tuple(padding),
        "base_dilation": ones, "window_dilation": ones})
    return [out, None]


transpose_rules[P.select_and_gather_add] = _select_and_gather_add_transpose
transpose_rules[P.select_and_scatter_add] = _select_and_scatter_add_transpose


# --- batching ------------------------------------------------------------------------------

def _unit_window_at(params: dict, axis: int) -> dict:
    """``params`` with a window of one element (no stride, padding or dilation) inserted
    at ``axis``."""
    unit = {"window_dimensions": 1, "window_strides": 1, "padding": (0, 0),
            "base_dilation": 1, "window_dilation": 1}
    out = dict(params)
    for key in _WINDOW_KEYS:
        if key in params:
            values = list(params[key])
            values.insert(axis, unit[key])
            out[key] = tuple(values)
    return out


def _window_batch(prim):
    def rule(args, dims, **params):
        size = batch_size(args, dims)
        moved = [batch_at(a, d, size, 0) for a, d in zip(args, dims)]
        return bind(prim, moved, _unit_window_at(params, 0)), 0

    return rule


for _prim in (*P.REDUCE_WINDOWS, P.select_and_gather_add, P.select_and_scatter_add):
    batching_rules[_prim] = _window_batch(_prim)


def select_prim_name(select_prim: Any) -> str:
    """'ge' or 'le' from a name or llax's ``ge``/``le`` primitive or lax function."""
    name = getattr(select_prim, "name", None) or getattr(select_prim, "__name__", select_prim)
    if name not in P.SELECT_PRIMS:
        raise ValueError(f"select_prim must be lax.ge or lax.le, got {select_prim!r}")
    return name
