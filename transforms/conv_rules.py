"""JVP, transpose and batching rules of ``conv_general_dilated`` (ir.prims.convolution).

Imported by llax.frontend.lax_conv, which registers them with the transformations.

A convolution is bilinear, so its tangent is ``conv(dx, w) + conv(x, dw)``, and each
transpose is again a convolution, as in JAX:

- towards the input: the cotangent convolved with the spatially reversed filter, its
  feature axes swapped; the forward strides become the input dilation and the input
  dilation the strides, and the padding is what makes the result the input's shape. A
  grouped filter moves its group factor from the output-feature axis to the input-feature
  axis (batch groups likewise, the result then spreading them back over the batch).
- towards the filter: the input convolved with the cotangent, batch and feature axes
  swapped on every operand (the batch is then contracted); the forward strides become the
  filter dilation. Feature groups become batch groups and back.

Batching folds the mapped axis into an axis the convolution already has: the input's
batch when only the input is mapped; the filter's output features when only the filter
is; with both mapped, the input's features and the filter's output features, as that
many more feature groups (each member of the batch its own group).
"""

from __future__ import annotations

from typing import Any

from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.prims.convolution import ConvDimensionNumbers, as_conv_dnums, dilate_dim
from llax.transforms.batching import batching_rules
from llax.transforms.batching_rules import move_axis
from llax.transforms.jvp import jvp_rules
from llax.transforms.jvp_rules import add_tangents
from llax.transforms.transpose import is_linear, transpose_rules


def _conv(lhs: Any, rhs: Any, params: dict, **changes: Any) -> Any:
    return bind(P.conv_general_dilated, (lhs, rhs), dict(params, **changes))


def _swap_first_two(spec: tuple[int, ...]) -> tuple[int, ...]:
    return (spec[1], spec[0], *spec[2:])


def split_axis(x: Any, axis: int, major: int) -> Any:
    """``x`` with ``axis`` (of size ``major * m``) split into axes ``(major, m)``."""
    shape = list(x.shape)
    shape[axis:axis + 1] = [major, shape[axis] // major]
    return lax.reshape(x, tuple(shape))


def merge_axis(x: Any, src: int, dst: int) -> Any:
    """``x`` with axis ``src`` folded into axis ``dst`` as its major factor (``dst``
    counted as if ``src`` were already gone)."""
    perm = [d for d in range(x.ndim) if d != src]
    perm.insert(dst, src)
    shape = [x.shape[d] for d in range(x.ndim) if d != src]
    shape[dst] *= x.shape[src]
    return lax.reshape(lax.transpose(x, tuple(perm)), tuple(shape))


# --- JVP -----------------------------------------------------------------------------------

def _conv_jvp(primals, tangents, **params):
    (x, w), (dx, dw) = primals, tangents
    out = _conv(x, w, params)
    return out, add_tangents(None if dx is None else _conv(dx, w, params),
                             None if dw is None else _conv(x, dw, params))


jvp_rules[P.conv_general_dilated] = _conv_jvp


# --- transpose -----------------------------------------------------------------------------

def _spatial(shape: tuple[int, ...], spec: tuple[int, ...]) -> list[int]:
    return [shape[a] for a in spec[2:]]


def _input_cotangent(ct: Any, w: Any, lhs_shape: tuple[int, ...], params: dict) -> Any:
    dn = as_conv_dnums(params["dimension_numbers"])
    groups, batch_groups = params["feature_group_count"], params["batch_group_count"]
    kernel = _spatial(w.shape, dn.rhs_spec)
    if groups > 1 or batch_groups > 1:
        w = merge_axis(split_axis(w, dn.rhs_spec[0], max(groups, batch_groups)),
                       dn.rhs_spec[0], dn.rhs_spec[1])
    pads = []
    for n, k, s, o, (lo, _), ld, rd in zip(
            _spatial(lhs_shape, dn.lhs_spec), kernel, params["window_strides"],
            _spatial(ct.shape, dn.out_spec), params["padding"], params["lhs_dilation"],
            params["rhs_dilation"]):
        before = dilate_dim(k, rd) - lo - 1
        pads.append((before, dilate_dim(n, ld) + dilate_dim(k, rd) - 1 - dilate_dim(o, s)
                     - before))
    out = _conv(ct, lax.rev(w, tuple(dn.rhs_spec[2:])), params,
                window_strides=tuple(params["lhs_dilation"]), padding=tuple(pads),
                lhs_dilation=tuple(params["window_strides"]),
                dimension_numbers=ConvDimensionNumbers(dn.out_spec,
                                                       _swap_first_two(dn.rhs_spec),
                                                       dn.lhs_spec),
                feature_group_count=max(groups, batch_groups), batch_group_count=1,
                preferred_element_type=None)
    if batch_groups > 1:
        out = merge_axis(split_axis(out, dn.lhs_spec[1], batch_groups), dn.lhs_spec[1],
                         dn.lhs_spec[0])
    return out


def _filter_cotangent(ct: Any, x: Any, rhs_shape: tuple[int, ...], params: dict) -> Any:
    dn = as_conv_dnums(params["dimension_numbers"])
    groups, batch_groups = params["feature_group_count"], params["batch_group_count"]
    pads = []
    for n, k, s, o, (lo, _), ld, rd in zip(
            _spatial(x.shape, dn.lhs_spec), _spatial(rhs_shape, dn.rhs_spec),
            params["window_strides"], _spatial(ct.shape, dn.out_spec), params["padding"],
            params["lhs_dilation"], params["rhs_dilation"]):
        pads.append((lo, dilate_dim(o, s) - dilate_dim(n, ld) + dilate_dim(k, rd) - lo - 1))
    return _conv(x, ct, params, window_strides=tuple(params["rhs_dilation"]),
                 padding=tuple(pads), rhs_dilation=tuple(params["window_strides"]),
                 dimension_numbers=ConvDimensionNumbers(_swap_first_two(dn.lhs_spec),
                                                        _swap_first_two(dn.out_spec),
                                                        _swap_first_two(dn.rhs_spec)),
                 feature_group_count=batch_groups, batch_group_count=groups,
                 preferred_element_type=None)


def _conv_transpose(ct, x, w, **params):
    ct_x = ct_w = None
    if 0 in ct.shape:  # no output: nothing flows back
        return [None if not is_linear(x) else lax.full(x.aval.shape, 0, x.aval.dtype),
                None if not is_linear(w) else lax.full(w.aval.shape, 0, w.aval.dtype)]
    if is_linear(x):
        ct_x = _input_cotangent(lax.convert_element_type(ct, x.aval.dtype), w, x.aval.shape,
                                params)
    if is_linear(w):
        ct_w = _filter_cotangent(lax.convert_element_type(ct, w.aval.dtype), x, w.aval.shape,
                                 params)
    return [ct_x, ct_w]


transpose_rules[P.conv_general_dilated] = _conv_transpose


# --- batching ------------------------------------------------------------------------------

def _conv_batch(args, dims, **params):
    (x, w), (xd, wd) = args, dims
    dn = as_conv_dnums(params["dimension_numbers"])
    groups, batch_groups = params["feature_group_count"], params["batch_group_count"]
    if xd is not None and wd is None and batch_groups == 1:
        size = x.shape[xd]
        out = _conv(merge_axis(x, xd, dn.lhs_spec[0]), w, params)
        return split_axis(out, dn.out_spec[0], size), dn.out_spec[0]
    if xd is None and wd is not None and groups == 1 and batch_groups == 1:
        size = w.shape[wd]
        out = _conv(x, merge_axis(w, wd, dn.rhs_spec[0]), params)
        return split_axis(out, dn.out_spec[1], size), dn.out_spec[1]
    if xd is not None and wd is not None and batch_groups == 1:
        size = x.shape[xd]
        out = _conv(merge_axis(x, xd, dn.lhs_spec[1]), merge_axis(w, wd, dn.rhs_spec[0]),
                    params, feature_group_count=groups * size)
        return split_axis(out, dn.out_spec[1], size), dn.out_spec[1]
    # Batch groups with a mapped operand: one convolution per member, stacked.
    size = x.shape[xd] if xd is not None else w.shape[wd]
    xs = move_axis(x, xd, 0) if xd is not None else None
    ws = move_axis(w, wd, 0) if wd is not None else None
    members = [_conv(x if xs is None else lax.index_in_dim(xs, i, 0, False),
                     w if ws is None else lax.index_in_dim(ws, i, 0, False), params)
               for i in range(size)]
    return lax.concatenate([lax.expand_dims(m, (0,)) for m in members], 0), 0


batching_rules[P.conv_general_dilated] = _conv_batch
