"""Structural primitives: broadcasts, reshapes, transposes, slices, concatenation, padding, iota.

Most are index maps (``out[i] = in[g(i)]``), which the fusion pass can fold into
the loops of their consumers without materialising them.
"""

from __future__ import annotations

import math

import numpy as np

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

IDX = FusionClass.INDEX_MAP


def _check_axes(name: str, axes: tuple[int, ...], ndim: int, what: str = "axis") -> None:
    for a in axes:
        if not 0 <= a < ndim:
            raise ValueError(f"{name}: {what} {a} is out of range for rank {ndim}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated {what} in {axes}")


# broadcast_in_dim[shape, broadcast_dimensions](x): x's dim i becomes out dim bd[i].
broadcast_in_dim = primitive("broadcast_in_dim", fusion=IDX)


def _broadcast_in_dim_rule(x: TensorType, *, shape: tuple[int, ...],
                           broadcast_dimensions: tuple[int, ...]) -> TensorType:
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: operand rank {x.ndim} needs {x.ndim} "
                        f"broadcast_dimensions, got {broadcast_dimensions}")
    _check_axes("broadcast_in_dim", broadcast_dimensions, len(shape), "dimension")
    if list(broadcast_dimensions) != sorted(broadcast_dimensions):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} "
                        "must be increasing")
    for i, d in enumerate(broadcast_dimensions):
        if x.shape[i] not in (1, shape[d]):
            raise TypeError(f"broadcast_in_dim: cannot broadcast operand shape {x.shape} "
                            f"to {shape} (operand dim {i} has size {x.shape[i]}, target "
                            f"dim {d} has size {shape[d]})")
    return TensorType(shape, x.dtype, x.weak)


abstract_eval[broadcast_in_dim] = _broadcast_in_dim_rule


# reshape[new_sizes, dimensions=None](x): row-major reshape.
reshape = primitive("reshape", fusion=IDX)


def _reshape_rule(x: TensorType, *, new_sizes: tuple[int, ...], dimensions=None) -> TensorType:
    if dimensions is not None:
        raise NotImplementedError("reshape with dimensions= is not supported; transpose first")
    if math.prod(new_sizes) != x.size or any(d < 0 for d in new_sizes):
        raise TypeError(f"reshape: cannot reshape array of shape {x.shape} (size {x.size}) "
                        f"into shape {new_sizes}")
    return TensorType(new_sizes, x.dtype, x.weak)


abstract_eval[reshape] = _reshape_rule


# transpose[permutation](x): out dim i is x dim permutation[i].
transpose = primitive("transpose", fusion=IDX)


def _transpose_rule(x: TensorType, *, permutation: tuple[int, ...]) -> TensorType:
    if sorted(permutation) != list(range(x.ndim)):
        raise ValueError(f"transpose: permutation {permutation} is not a permutation of "
                         f"the axes of an array of shape {x.shape}")
    return TensorType(tuple(x.shape[p] for p in permutation), x.dtype, x.weak)


abstract_eval[transpose] = _transpose_rule


# squeeze[dimensions](x): drop size-1 dims.
squeeze = primitive("squeeze", fusion=IDX)


def _squeeze_rule(x: TensorType, *, dimensions: tuple[int, ...]) -> TensorType:
    _check_axes("squeeze", dimensions, x.ndim)
    for d in dimensions:
        if x.shape[d] != 1:
            raise ValueError(f"squeeze: cannot squeeze axis {d} of shape {x.shape}: size is not 1")
    return TensorType(tuple(n for i, n in enumerate(x.shape) if i not in dimensions),
                      x.dtype, x.weak)


abstract_eval[squeeze] = _squeeze_rule


# rev[dimensions](x): reverse along the given axes.
rev = primitive("rev", fusion=IDX)


def _rev_rule(x: TensorType, *, dimensions: tuple[int, ...]) -> TensorType:
    _check_axes("rev", dimensions, x.ndim)
    return x


abstract_eval[rev] = _rev_rule


# slice[start_indices, limit_indices, strides](x)
slice = primitive("slice", fusion=IDX)


def _slice_rule(x: TensorType, *, start_indices: tuple[int, ...], limit_indices: tuple[int, ...],
                strides: tuple[int, ...] | None = None) -> TensorType:
    strides = strides or (1,) * x.ndim
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise TypeError(f"slice: start/limit/strides must have rank {x.ndim} entries each")
    shape = []
    for d, (s, l, st) in enumerate(zip(start_indices, limit_indices, strides, strict=True)):
        if not 0 <= s <= l <= x.shape[d] or st < 1:
            raise ValueError(f"slice: invalid slice {s}:{l}:{st} of axis {d} with size "
                             f"{x.shape[d]} (operand shape {x.shape})")
        shape.append(0 if l == s else (l - s - 1) // st + 1)
    return TensorType(tuple(shape), x.dtype, x.weak)


abstract_eval[slice] = _slice_rule


def _check_index_operands(name: str, x: TensorType, idx: tuple[TensorType, ...]) -> None:
    if len(idx) != x.ndim:
        raise TypeError(f"{name}: needs {x.ndim} start indices for an operand of shape "
                        f"{x.shape}, got {len(idx)}")
    for t in idx:
        if t.shape != () or not dtypes.is_int(t.dtype):
            raise TypeError(f"{name}: start indices must be integer scalars, got {t}")


# dynamic_slice[slice_sizes](x, *starts): starts are clamped so the slice fits.
dynamic_slice = primitive("dynamic_slice", fusion=IDX)


def _dynamic_slice_rule(x: TensorType, *starts: TensorType,
                        slice_sizes: tuple[int, ...]) -> TensorType:
    _check_index_operands("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
        raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} do not fit operand "
                        f"shape {x.shape}")
    return TensorType(tuple(slice_sizes), x.dtype, x.weak)


abstract_eval[dynamic_slice] = _dynamic_slice_rule


# dynamic_update_slice(x, update, *starts): starts are clamped so the update fits.
dynamic_update_slice = primitive("dynamic_update_slice", fusion=FusionClass.OPAQUE)


def _dynamic_update_slice_rule(x: TensorType, update: TensorType,
                               *starts: TensorType) -> TensorType:
    _check_index_operands("dynamic_update_slice", x, starts)
    if update.ndim != x.ndim or any(u > n for u, n in zip(update.shape, x.shape)):
        raise TypeError(f"dynamic_update_slice: update shape {update.shape} does not fit "
                        f"operand shape {x.shape}")
    if update.dtype != x.dtype:
        raise TypeError(f"dynamic_update_slice: update dtype {update.dtype} differs from "
                        f"operand dtype {x.dtype}")
    return x


abstract_eval[dynamic_update_slice] = _dynamic_update_slice_rule


# concatenate[dimension](*xs)
concatenate = primitive("concatenate", fusion=IDX)


def _concatenate_rule(*xs: TensorType, dimension: int) -> TensorType:
    if not xs:
        raise ValueError("concatenate needs at least one operand")
    first = xs[0]
    _check_axes("concatenate", (dimension,), first.ndim, "dimension")
    for x in xs[1:]:
        if x.dtype != first.dtype:
            raise TypeError(f"concatenate: dtypes differ: {first.dtype} and {x.dtype}")
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != dimension):
            raise TypeError(f"concatenate: shapes {first.shape} and {x.shape} differ outside "
                            f"dimension {dimension}")
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return TensorType(tuple(shape), first.dtype, all(x.weak for x in xs))


abstract_eval[concatenate] = _concatenate_rule


# pad[padding_config](x, padding_value): config is (low, high, interior) per dim; low/high
# may be negative (cropping), as in XLA.
pad = primitive("pad", fusion=IDX)


def _pad_rule(x: TensorType, value: TensorType, *,
              padding_config: tuple[tuple[int, int, int], ...]) -> TensorType:
    if value.shape != () or value.dtype != x.dtype:
        raise TypeError(f"pad: padding value must be a scalar of dtype {x.dtype}, got {value}")
    if len(padding_config) != x.ndim:
        raise TypeError(f"pad: padding_config needs {x.ndim} entries, got {len(padding_config)}")
    shape = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config):
        if interior < 0:
            raise ValueError(f"pad: interior padding must be >= 0, got {interior}")
        size = lo + hi + n + max(n - 1, 0) * interior
        if size < 0:
            raise ValueError(f"pad: padding config {padding_config} gives a negative size "
                             f"for operand shape {x.shape}")
        shape.append(size)
    return TensorType(tuple(shape), x.dtype, x.weak)


abstract_eval[pad] = _pad_rule


# iota[dtype, shape, dimension](): out[i] = i[dimension].
iota = primitive("iota", fusion=IDX)


def _iota_rule(*, dtype: np.dtype, shape: tuple[int, ...], dimension: int) -> TensorType:
    _check_axes("iota", (dimension,), len(shape), "dimension")
    return TensorType(shape, dtype)


abstract_eval[iota] = _iota_rule
