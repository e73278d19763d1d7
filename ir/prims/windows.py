"""Window reductions (pooling) and the two primitives their derivatives use, as JAX's.

A window walk over an operand: each axis is dilated by ``base_dilation`` (holes between
elements), padded by ``padding``'s ``(lo, hi)``, and a window of ``window_dimensions``
(its taps ``window_dilation`` apart) slides over it in steps of ``window_strides``. Holes
and padding hold the reduction's identity.

- ``reduce_window_sum`` / ``_max`` / ``_min[window_dimensions, window_strides, padding,
  base_dilation, window_dilation](x)``: one output element per window position.
- ``select_and_gather_add[select_prim, <the same window params>](t, x)``: per window, the
  element of ``t`` where ``x`` is selected (its first maximum for ``select_prim='ge'``,
  minimum for ``'le'``): the tangent of a max (min) pool.
- ``select_and_scatter_add[select_prim, window_dimensions, window_strides, padding](s,
  x)``: the transpose: each window adds its element of ``s`` at the position of ``x`` it
  selects, into an array of ``x``'s shape (max-pool gradients).

All are their own kernels (FusionClass.OPAQUE).
"""

from __future__ import annotations

from collections.abc import Sequence

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.prims.convolution import conv_out_spatial
from llax.ir.types import TensorType

__all__ = ["REDUCE_WINDOWS", "SELECT_PRIMS", "reduce_window_max", "reduce_window_min",
           "reduce_window_shape", "reduce_window_sum", "select_and_gather_add",
           "select_and_scatter_add"]

reduce_window_sum = primitive("reduce_window_sum", fusion=FusionClass.OPAQUE)
reduce_window_max = primitive("reduce_window_max", fusion=FusionClass.OPAQUE)
reduce_window_min = primitive("reduce_window_min", fusion=FusionClass.OPAQUE)
select_and_gather_add = primitive("select_and_gather_add", fusion=FusionClass.OPAQUE)
select_and_scatter_add = primitive("select_and_scatter_add", fusion=FusionClass.OPAQUE)

REDUCE_WINDOWS = (reduce_window_sum, reduce_window_max, reduce_window_min)
# select_prim -> does a candidate replace the current choice? ('ge': the first maximum
# stays, as XLA's select keeps its current element while select(current, candidate)).
SELECT_PRIMS = ("ge", "le")


def reduce_window_shape(shape: Sequence[int], window_dimensions: Sequence[int],
                        window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                        base_dilation: Sequence[int] | None = None,
                        window_dilation: Sequence[int] | None = None) -> tuple[int, ...]:
    """Window positions along each axis: a convolution's output positions, every axis
    spatial."""
    ones = (1,) * len(shape)
    return conv_out_spatial(shape, window_dimensions, window_strides, padding,
                            base_dilation or ones, window_dilation or ones)


def _check_window(name: str, x: TensorType, window_dimensions, window_strides, padding,
                  base_dilation=None, window_dilation=None) -> tuple[int, ...]:
    fields = [("window_dimensions", window_dimensions), ("window_strides", window_strides)]
    fields += [(f, v) for f, v in (("base_dilation", base_dilation),
                                   ("window_dilation", window_dilation)) if v is not None]
    for field, values in fields:
        if len(values) != x.ndim:
            raise TypeError(f"{name} got the wrong number of {field} for operand: got "
                            f"operand shape {x.shape} with {field} {tuple(values)}.")
        if any(int(v) < 1 for v in values):
            raise TypeError(f"{name}: {field} must be positive, got {tuple(values)}")
    if len(padding) != x.ndim or any(len(p) != 2 for p in padding):
        raise TypeError(f"{name}: padding must be {x.ndim} (lo, hi) pairs, got {padding}")
    return reduce_window_shape(x.shape, window_dimensions, window_strides,
                               [tuple(p) for p in padding], base_dilation, window_dilation)


def _reduce_window_rule(name: str, numeric_only: bool):
    def rule(x: TensorType, *, window_dimensions, window_strides, padding, base_dilation,
             window_dilation) -> TensorType:
        if numeric_only and dtypes.kind(x.dtype) == "b":
            raise TypeError(f"operand to {name} must have a number dtype, got {x.dtype}")
        shape = _check_window(name, x, window_dimensions, window_strides, padding,
                              base_dilation, window_dilation)
        return TensorType(shape, x.dtype, x.weak)

    return rule


abstract_eval[reduce_window_sum] = _reduce_window_rule("reduce_window_sum", True)
abstract_eval[reduce_window_max] = _reduce_window_rule("reduce_window_max", False)
abstract_eval[reduce_window_min] = _reduce_window_rule("reduce_window_min", False)


def _check_select(name: str, select_prim: str, a: TensorType, x: TensorType) -> None:
    if select_prim not in SELECT_PRIMS:
        raise ValueError(f"{name}: select_prim must be one of {SELECT_PRIMS}, got "
                         f"{select_prim!r}")
    if a.dtype != x.dtype:
        raise TypeError(f"{name}: operands must have one dtype, got {a.dtype} and {x.dtype}")


def _select_and_gather_add_rule(t: TensorType, x: TensorType, *, select_prim: str,
                                window_dimensions, window_strides, padding, base_dilation,
                                window_dilation) -> TensorType:
    _check_select("select_and_gather_add", select_prim, t, x)
    if t.shape != x.shape:
        raise TypeError(f"select_and_gather_add: tangents and operand must have one shape, "
                        f"got {t.shape} and {x.shape}")
    shape = _check_window("select_and_gather_add", x, window_dimensions, window_strides,
                          padding, base_dilation, window_dilation)
    return TensorType(shape, t.dtype, t.weak)


def _select_and_scatter_add_rule(s: TensorType, x: TensorType, *, select_prim: str,
                                 window_dimensions, window_strides, padding) -> TensorType:
    _check_select("select_and_scatter_add", select_prim, s, x)
    shape = _check_window("select_and_scatter_add", x, window_dimensions, window_strides,
                          padding)
    if s.shape != shape:
        raise TypeError(f"select_and_scatter_add: source shape {s.shape} must be the window "
                        f"positions {shape} of operand shape {x.shape}")
    return TensorType(x.shape, s.dtype, s.weak)


abstract_eval[select_and_gather_add] = _select_and_gather_add_rule
abstract_eval[select_and_scatter_add] = _select_and_scatter_add_rule
