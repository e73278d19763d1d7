"""Convolutions: ``conv_general_dilated`` (JAX's primitive of that name).

``conv_general_dilated[window_strides, padding, lhs_dilation, rhs_dilation,
dimension_numbers, feature_group_count, batch_group_count, precision,
preferred_element_type](lhs, rhs)``. ``dimension_numbers`` says where each logical axis
lives: ``lhs_spec = (batch, feature, spatial...)`` of the input, ``rhs_spec = (out
feature, in feature, spatial...)`` of the filter, ``out_spec = (batch, feature,
spatial...)`` of the result. Along each spatial axis the input is dilated by
``lhs_dilation`` (``d - 1`` zeros between elements), padded by ``padding``'s ``(lo, hi)``
(negative pads crop), and the filter, dilated by ``rhs_dilation``, slides over it in steps
of ``window_strides``; every window position is one output element, the sum over the
window and the input features of input times filter.

``feature_group_count`` G splits the input features into G contiguous groups and the
output features likewise: output group g sees input group g only (G = C is a depthwise
convolution). ``batch_group_count`` B splits the input batch into B contiguous blocks
and the output features into B groups: output group b sums over batch block b (how the
filter gradient of a grouped convolution is written). At most one of them exceeds 1.

It is its own kernel (FusionClass.OPAQUE): compiled code forms the input's patches and
multiplies them by the filter with BLAS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.prims.fusion import EPILOGUE_PRODUCERS
from llax.ir.types import TensorType

__all__ = ["ConvDimensionNumbers", "as_conv_dnums", "conv_general_dilated", "conv_out_spatial",
           "dilate_dim"]


class ConvDimensionNumbers(NamedTuple):
    """Where each logical axis of a convolution's operands and result is (JAX's type; a
    NamedTuple, so the IR prints it as a plain tuple and reads back an equal one)."""

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


def as_conv_dnums(dn: Any) -> ConvDimensionNumbers:
    """Normalise a ConvDimensionNumbers (or a parsed plain tuple) to tuples of ints."""
    return ConvDimensionNumbers(*(tuple(int(d) for d in spec) for spec in dn))


conv_general_dilated = primitive("conv_general_dilated", fusion=FusionClass.OPAQUE)
EPILOGUE_PRODUCERS.add(conv_general_dilated)


def dilate_dim(size: int, dilation: int) -> int:
    """Length of an axis of ``size`` elements with ``dilation - 1`` zeros between them."""
    return 0 if size == 0 else (size - 1) * dilation + 1


def conv_out_spatial(in_sizes: Sequence[int], window: Sequence[int],
                     window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                     lhs_dilation: Sequence[int], rhs_dilation: Sequence[int]) -> tuple[int, ...]:
    """The output's spatial sizes: window positions along each padded, dilated axis."""
    out = []
    for n, k, s, (lo, hi), ld, rd in zip(in_sizes, window, window_strides, padding,
                                          lhs_dilation, rhs_dilation):
        span = dilate_dim(n, ld) + lo + hi - dilate_dim(k, rd)
        out.append(0 if span < 0 else span // s + 1)
    return tuple(out)


def _check_spec(name: str, spec: tuple[int, ...], ndim: int) -> None:
    if sorted(spec) != list(range(ndim)):
        raise TypeError(f"conv_general_dilated: {name} {spec} must be a permutation of the "
                        f"{ndim} axes of its operand")


def _positive(name: str, values: Sequence[int], count: int) -> None:
    if len(values) != count:
        raise TypeError(f"conv_general_dilated: {name} must have {count} entries (one per "
                        f"spatial dimension), got {tuple(values)}")
    if any(int(v) < 1 for v in values):
        raise TypeError(f"conv_general_dilated: {name} must be positive, got {tuple(values)}")


def _conv_rule(lhs: TensorType, rhs: TensorType, *, window_strides, padding, lhs_dilation,
               rhs_dilation, dimension_numbers, feature_group_count: int,
               batch_group_count: int, precision=None,
               preferred_element_type=None) -> TensorType:
    dn = as_conv_dnums(dimension_numbers)
    if lhs.ndim != rhs.ndim:
        raise TypeError(f"conv_general_dilated: lhs and rhs must have the same rank, got "
                        f"shapes {lhs.shape} and {rhs.shape}")
    if lhs.ndim < 2:
        raise TypeError(f"conv_general_dilated: operands must have rank at least 2, got "
                        f"{lhs.shape}")
    for name, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), dn):
        _check_spec(name, spec, lhs.ndim)
    nspatial = lhs.ndim - 2
    _positive("window_strides", window_strides, nspatial)
    _positive("lhs_dilation", lhs_dilation, nspatial)
    _positive("rhs_dilation", rhs_dilation, nspatial)
    if len(padding) != nspatial or any(len(p) != 2 for p in padding):
        raise TypeError(f"conv_general_dilated: padding must be {nspatial} (lo, hi) pairs, got "
                        f"{padding}")
    G, B = int(feature_group_count), int(batch_group_count)
    if G < 1 or B < 1:
        raise ValueError(f"conv_general_dilated: feature_group_count ({G}) and "
                         f"batch_group_count ({B}) must be positive")
    if G > 1 and B > 1:
        raise ValueError("conv_general_dilated: at most one of feature_group_count and "
                         "batch_group_count may exceed 1")
    batch, features = lhs.shape[dn.lhs_spec[0]], lhs.shape[dn.lhs_spec[1]]
    out_features, in_features = rhs.shape[dn.rhs_spec[0]], rhs.shape[dn.rhs_spec[1]]
    if features % G:
        raise ValueError(f"conv_general_dilated: lhs feature dimension ({features}) must be "
                         f"divisible by feature_group_count ({G})")
    if features // G != in_features:
        raise ValueError(f"conv_general_dilated: lhs feature dimension divided by "
                         f"feature_group_count ({features} // {G} = {features // G}) must equal "
                         f"the rhs input feature dimension ({in_features}); shapes "
                         f"{lhs.shape} and {rhs.shape}")
    if out_features % G:
        raise ValueError(f"conv_general_dilated: rhs output feature dimension ({out_features}) "
                         f"must be divisible by feature_group_count ({G})")
    if batch % B:
        raise ValueError(f"conv_general_dilated: lhs batch dimension ({batch}) must be "
                         f"divisible by batch_group_count ({B})")
    if out_features % B:
        raise ValueError(f"conv_general_dilated: rhs output feature dimension ({out_features}) "
                         f"must be divisible by batch_group_count ({B})")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"conv_general_dilated: lhs and rhs must have the same dtype, got "
                        f"{lhs.dtype} and {rhs.dtype}")
    kind = dtypes.kind(lhs.dtype)
    if kind not in "fciu":
        raise TypeError(f"conv_general_dilated: unsupported dtype {lhs.dtype}")
    spatial = conv_out_spatial([lhs.shape[d] for d in dn.lhs_spec[2:]],
                               [rhs.shape[d] for d in dn.rhs_spec[2:]], window_strides,
                               [tuple(p) for p in padding], lhs_dilation, rhs_dilation)
    logical = (batch // B, out_features, *spatial)
    shape = [0] * lhs.ndim
    for axis, size in zip(dn.out_spec, logical):
        shape[axis] = size
    dtype = lhs.dtype if preferred_element_type is None else preferred_element_type
    return TensorType(tuple(shape), dtype, lhs.weak and rhs.weak)


abstract_eval[conv_general_dilated] = _conv_rule
