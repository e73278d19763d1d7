"""``lax``'s convolutions (``conv_general_dilated`` and its wrappers) and the shape helpers
that ``stax`` builds on, with JAX's signatures, defaults and errors."""

from __future__ import annotations

import enum
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

import llax.ir.reference_conv  # noqa: F401  (registers the primitive's NumPy reference)
from llax.frontend.core import bind
from llax.frontend.jnp._coerce import as_array
from llax.frontend.jnp._dtypes import requested_dtype
from llax.ir import prims as P
from llax.ir.prims.convolution import ConvDimensionNumbers, conv_out_spatial, dilate_dim

__all__ = ["ConvDimensionNumbers", "ConvGeneralDilatedDimensionNumbers", "PaddingType", "conv",
           "conv_dimension_numbers", "conv_general_dilated", "conv_general_permutations",
           "conv_general_shape_tuple", "conv_shape_tuple", "conv_transpose",
           "conv_transpose_shape_tuple", "conv_with_general_padding", "padtype_to_pads"]

ConvGeneralDilatedDimensionNumbers = Any  # None, three layout strings, or ConvDimensionNumbers


class PaddingType(enum.Enum):
    VALID = 1
    SAME = 2
    SAME_LOWER = 3


def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int],
                    window_strides: Sequence[int], padding: str | PaddingType
                    ) -> list[tuple[int, int]]:
    """``(lo, hi)`` per spatial axis for a padding name: 'VALID' none; 'SAME' (and
    'SAME_LOWER') enough that the output has ``ceil(in / stride)`` positions, the odd
    element on the high (low) side."""
    if isinstance(padding, str):
        try:
            padding = PaddingType[padding.upper()]
        except KeyError:
            raise RuntimeError(f"Unrecognized padding type: expected 'VALID', 'SAME', or "
                               f"'SAME_LOWER', got {padding}.") from None
    if padding is PaddingType.VALID:
        return [(0, 0)] * len(in_shape)
    if padding not in (PaddingType.SAME, PaddingType.SAME_LOWER):
        raise TypeError(f"Unknown padding type: {padding}.")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        total = max((-(-int(n) // int(s)) - 1) * int(s) + int(k) - int(n), 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if padding is PaddingType.SAME else (large, small))
    return pads


def conv_general_permutations(dimension_numbers: Sequence[str]
                              ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The axis permutations (batch/out-feature, feature/in-feature, spatial...) that three
    layout strings such as ``('NHWC', 'HWIO', 'NHWC')`` describe; spatial axes are ordered
    as they appear in the filter's string."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for i, (spec, (a, b)) in enumerate(zip(dimension_numbers, pairs)):
        if not spec.count(a) == spec.count(b) == 1:
            raise TypeError(f"convolution dimension_numbers[{i}] must contain the characters "
                            f"'{a}' and '{b}' exactly once, got {spec}.")
        if len(spec) != len(set(spec)):
            raise TypeError(f"convolution dimension_numbers[{i}] cannot have duplicate "
                            f"characters, got {spec}.")
    spatial = [set(spec) - set(pair) for spec, pair in zip(dimension_numbers, pairs)]
    if not spatial[0] == spatial[1] == spatial[2]:
        raise TypeError(f"convolution dimension_numbers elements must each have the same set "
                        f"of spatial characters, got {tuple(dimension_numbers)}.")

    def permutation(spec: str, pair: tuple[str, str]) -> tuple[int, ...]:
        axes = sorted((i for i, c in enumerate(spec) if c not in pair),
                      key=lambda i: rhs_spec.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1]), *axes)

    return tuple(permutation(s, p) for s, p in zip(dimension_numbers, pairs))  # type: ignore


def conv_dimension_numbers(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                           dimension_numbers: ConvGeneralDilatedDimensionNumbers
                           ) -> ConvDimensionNumbers:
    """``dimension_numbers`` (None: batch, feature, spatial... everywhere; three layout
    strings; or a ConvDimensionNumbers) as a ConvDimensionNumbers."""
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return dimension_numbers
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(f"convolution requires lhs and rhs ndim to be equal, got "
                        f"{len(lhs_shape)} and {len(rhs_shape)}.")
    if dimension_numbers is None:
        iota = tuple(range(len(lhs_shape)))
        return ConvDimensionNumbers(iota, iota, iota)
    if not isinstance(dimension_numbers, (list, tuple)):
        raise TypeError(f"convolution dimension_numbers must be tuple/list or None, got "
                        f"{type(dimension_numbers)}.")
    if len(dimension_numbers) != 3:
        raise TypeError(f"convolution dimension_numbers list/tuple must be length 3, got "
                        f"{len(dimension_numbers)}.")
    if not all(isinstance(s, str) for s in dimension_numbers):
        raise TypeError(f"convolution dimension_numbers elements must be strings, got "
                        f"{tuple(map(type, dimension_numbers))}.")
    for i, spec in enumerate(dimension_numbers):
        if len(spec) != len(lhs_shape):
            raise TypeError(f"convolution dimension_numbers[{i}] must have len equal to the "
                            f"ndim of lhs and rhs, got {len(spec)} for lhs and rhs shapes "
                            f"{tuple(lhs_shape)} and {tuple(rhs_shape)}.")
    return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))


def _ints(name: str, values: Sequence[int]) -> tuple[int, ...]:
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"conv_general_dilated: {name} must be a sequence of ints, got "
                        f"{values!r}") from None


def conv_general_dilated(lhs: Any, rhs: Any, window_strides: Sequence[int],
                         padding: str | Sequence[tuple[int, int]],
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: ConvGeneralDilatedDimensionNumbers = None,
                         feature_group_count: int = 1, batch_group_count: int = 1,
                         precision: Any = None, preferred_element_type: Any = None) -> Any:
    """The general n-d convolution (llax.ir.prims.convolution says what each argument
    does); ``padding`` is 'SAME', 'SAME_LOWER', 'VALID' or ``(lo, hi)`` per spatial axis."""
    x = as_array(lhs, "conv_general_dilated")
    w = as_array(rhs, "conv_general_dilated", 1)
    dn = conv_dimension_numbers(x.shape, w.shape, dimension_numbers)
    nspatial = x.ndim - 2
    lhs_dilation = (1,) * nspatial if lhs_dilation is None else _ints("lhs_dilation",
                                                                     lhs_dilation)
    rhs_dilation = (1,) * nspatial if rhs_dilation is None else _ints("rhs_dilation",
                                                                     rhs_dilation)
    window_strides = _ints("window_strides", window_strides)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation):
            raise ValueError("String padding is not implemented for transposed convolution "
                             "using this op. Please either exactly specify the required "
                             "padding or use conv_transpose.")
        window = [dilate_dim(w.shape[a], d) for a, d in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = padtype_to_pads([x.shape[a] for a in dn.lhs_spec[2:]], window,
                                  window_strides, padding)
    else:
        try:
            padding = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
        except (ValueError, TypeError):
            raise ValueError(f"padding argument to conv_general_dilated should be a string or "
                             f"a sequence of (low, high) pairs, got {padding}") from None
    preferred = (None if preferred_element_type is None
                 else requested_dtype(preferred_element_type, "conv_general_dilated"))
    return bind(P.conv_general_dilated, (x, w), {
        "window_strides": window_strides, "padding": tuple(tuple(p) for p in padding),
        "lhs_dilation": lhs_dilation, "rhs_dilation": rhs_dilation,
        "dimension_numbers": dn, "feature_group_count": operator.index(feature_group_count),
        "batch_group_count": operator.index(batch_group_count), "precision": None,
        "preferred_element_type": preferred})


def conv(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: str,
         precision: Any = None, preferred_element_type: Any = None) -> Any:
    """``conv_general_dilated`` in (batch, feature, spatial...) layout, undilated."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs: Any, rhs: Any, window_strides: Sequence[int],
                              padding: str | Sequence[tuple[int, int]],
                              lhs_dilation: Sequence[int] | None,
                              rhs_dilation: Sequence[int] | None, precision: Any = None,
                              preferred_element_type: Any = None) -> Any:
    """``conv_general_dilated`` in (batch, feature, spatial...) layout."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k: int, s: int, padding: str | tuple[int, int]) -> tuple[int, int]:
    """Padding of the dilated input that makes a transposed convolution the shape inverse
    of a forward one with padding ``padding`` (per axis; ``k`` the dilated kernel size)."""
    if padding == "SAME":
        total = k + s - 2
        before = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        before = k - 1
    elif isinstance(padding, tuple):
        pads = tuple(k - p - 1 for p in padding)
        before, total = pads[0], sum(pads)
    else:
        raise ValueError(f"Invalid padding mode: {padding}")
    return before, total - before


_DEFAULT_TRANSPOSE_LAYOUTS = {3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                              5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs: Any, rhs: Any, strides: Sequence[int],
                   padding: str | Sequence[tuple[int, int]],
                   rhs_dilation: Sequence[int] | None = None,
                   dimension_numbers: ConvGeneralDilatedDimensionNumbers = None,
                   transpose_kernel: bool = False, precision: Any = None,
                   preferred_element_type: Any = None,
                   use_consistent_padding: bool = False) -> Any:
    """A fractionally strided convolution (the input dilated by ``strides``), padded so the
    output has the shape a forward convolution with ``padding`` would have had as input.
    ``transpose_kernel`` flips the filter's spatial axes and swaps its feature axes."""
    x = as_array(lhs, "conv_transpose")
    w = as_array(rhs, "conv_transpose", 1)
    if x.ndim != w.ndim:
        raise TypeError(f"conv_transpose: lhs and rhs must have the same rank, got shapes "
                        f"{tuple(x.shape)} and {tuple(w.shape)}")
    if dimension_numbers is None:
        if x.ndim not in _DEFAULT_TRANSPOSE_LAYOUTS:
            raise ValueError("No 4+ dimensional dimension_number defaults.")
        dimension_numbers = _DEFAULT_TRANSPOSE_LAYOUTS[x.ndim]
    dn = conv_dimension_numbers(x.shape, w.shape, dimension_numbers)
    kernel = [w.shape[a] for a in dn.rhs_spec[2:]]
    rhs_dilation = (1,) * (x.ndim - 2) if rhs_dilation is None else tuple(rhs_dilation)
    if use_consistent_padding or (isinstance(padding, str) and padding in ("SAME", "VALID")):
        per_axis = [padding] * len(strides) if isinstance(padding, str) else list(padding)
        pads: Any = tuple(_conv_transpose_padding(dilate_dim(k, d), s,
                                                  p if isinstance(p, str) else tuple(p))
                          for k, d, s, p in zip(kernel, rhs_dilation, strides, per_axis))
    else:
        pads = padding
    if transpose_kernel:
        from llax.frontend import lax

        w = lax.rev(w, tuple(dn.rhs_spec[2:]))
        perm = list(range(w.ndim))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        w = lax.transpose(w, tuple(perm))
    return conv_general_dilated(x, w, (1,) * (x.ndim - 2), pads, strides, rhs_dilation, dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                     strides: Sequence[int], pads: str | Sequence[tuple[int, int]],
                     batch_group_count: int = 1) -> tuple[int, ...]:
    """The output shape of a convolution of operands in (batch, feature, spatial...)
    layout."""
    if isinstance(pads, str):
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
    if len(pads) != len(lhs_shape) - 2:
        raise TypeError(f"Wrong number of explicit pads for convolution: expected "
                        f"{len(lhs_shape) - 2}, got {len(pads)}.")
    padded = [int(n) + lo + hi for n, (lo, hi) in zip(lhs_shape[2:], pads)]
    if any(p < 0 for p in padded):
        raise ValueError(f"Negative padding is larger than the size of the corresponding "
                         f"dimension: got padding={pads} for lhs_shape[2:]={lhs_shape[2:]}")
    ones = (1,) * len(pads)
    spatial = conv_out_spatial(lhs_shape[2:], rhs_shape[2:], strides, pads, ones, ones)
    return (int(lhs_shape[0]) // batch_group_count, int(rhs_shape[0]), *spatial)


def conv_general_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                             window_strides: Sequence[int],
                             padding: str | Sequence[tuple[int, int]],
                             dimension_numbers: Sequence[str]) -> tuple[int, ...]:
    """``conv_shape_tuple`` for operands laid out as ``dimension_numbers`` say."""
    lhs_perm, rhs_perm, out_perm = conv_general_permutations(dimension_numbers)
    out = conv_shape_tuple(np.take(lhs_shape, lhs_perm), np.take(rhs_shape, rhs_perm),
                           window_strides, padding)
    return tuple(int(n) for n in np.take(out, np.argsort(out_perm)))


def conv_transpose_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                               window_strides: Sequence[int],
                               padding: str | Sequence[tuple[int, int]],
                               dimension_numbers: Sequence[str]) -> tuple[int, ...]:
    """The output shape of ``conv_transpose`` for operands laid out as
    ``dimension_numbers`` say."""
    lhs_perm, rhs_perm, out_perm = conv_general_permutations(dimension_numbers)
    lhs_t, rhs_t = np.take(lhs_shape, lhs_perm), np.take(rhs_shape, rhs_perm)
    if isinstance(padding, str):
        padding = [_conv_transpose_padding(int(k), int(s), padding)
                   for k, s in zip(rhs_t[2:], window_strides)]
    spatial = [(int(i) - 1) * int(s) - int(k) + 2 + int(sum(p))
               for i, k, s, p in zip(lhs_t[2:], rhs_t[2:], window_strides, padding)]
    out = (int(lhs_t[0]), int(rhs_t[0]), *spatial)
    return tuple(int(n) for n in np.take(out, np.argsort(out_perm)))
