"""NumPy reference of ``conv_general_dilated``: the operands in canonical layout (batch,
feature, spatial...), the input dilated and padded, its windows viewed with strides, and
each group's windows multiplied by its filters with ``matmul`` (BLAS)."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from llax.ir.prims.convolution import as_conv_dnums, conv_general_dilated, dilate_dim
from llax.ir.reference import _WIDE_OF, reference


def _dilated_padded(x: np.ndarray, padding, lhs_dilation) -> np.ndarray:
    """``x`` (batch, feature, spatial...) with its spatial axes dilated, then padded by
    ``padding`` (negative pads crop)."""
    spatial = range(2, x.ndim)
    if any(d > 1 for d in lhs_dilation):
        shape = (*x.shape[:2], *(dilate_dim(x.shape[a], d) for a, d in zip(spatial,
                                                                           lhs_dilation)))
        dilated = np.zeros(shape, x.dtype)
        dilated[(slice(None), slice(None), *(slice(None, None, d) for d in lhs_dilation))] = x
        x = dilated
    x = np.pad(x, [(0, 0), (0, 0), *((max(lo, 0), max(hi, 0)) for lo, hi in padding)])
    crop = tuple(slice(max(-lo, 0), x.shape[a] - max(-hi, 0))
                 for a, (lo, hi) in zip(spatial, padding))
    return x[(slice(None), slice(None), *crop)]


def _windows(x: np.ndarray, window: tuple[int, ...], strides, rhs_dilation) -> np.ndarray:
    """(batch, feature, out spatial..., window...): the input under every filter tap at
    every output position."""
    spans = tuple(dilate_dim(k, d) for k, d in zip(window, rhs_dilation))
    nsp = len(window)
    if any(x.shape[2 + i] < spans[i] for i in range(nsp)):
        out = tuple(0 for _ in window)
        return np.zeros((*x.shape[:2], *out, *window), x.dtype)
    view = sliding_window_view(x, spans, axis=tuple(range(2, 2 + nsp)))
    return view[(slice(None), slice(None), *(slice(None, None, s) for s in strides),
                 *(slice(None, None, d) for d in rhs_dilation))]


def _contract(win: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``out[n, o, p...] = sum_{c, k...} win[n, c, p..., k...] w[o, c, k...]``."""
    n, c = win.shape[:2]
    nsp = w.ndim - 2
    out_sp = win.shape[2:2 + nsp]
    taps = c * math.prod(w.shape[2:])
    patches = np.moveaxis(win, 1, 1 + nsp).reshape(n * math.prod(out_sp), taps)
    filters = w.reshape(w.shape[0], taps).T
    out = (patches @ filters).reshape(n, *out_sp, w.shape[0])
    return np.moveaxis(out, -1, 1)


def convolve(lhs: np.ndarray, rhs: np.ndarray, *, window_strides, padding, lhs_dilation,
             rhs_dilation, dimension_numbers, feature_group_count: int,
             batch_group_count: int, precision=None,
             preferred_element_type=None) -> np.ndarray:
    """``conv_general_dilated`` of ``lhs`` by ``rhs`` (see llax.ir.prims.convolution)."""
    dn = as_conv_dnums(dimension_numbers)
    out_dtype = np.dtype(preferred_element_type or lhs.dtype)
    acc = _WIDE_OF.get(out_dtype, out_dtype)  # bfloat16 & co.: accumulate in float32
    x = np.transpose(lhs, dn.lhs_spec).astype(acc)
    w = np.transpose(rhs, dn.rhs_spec).astype(acc)
    x = _dilated_padded(x, [tuple(p) for p in padding], lhs_dilation)
    win = _windows(x, w.shape[2:], window_strides, rhs_dilation)
    groups_f, groups_b = int(feature_group_count), int(batch_group_count)
    o = w.shape[0]
    if groups_b > 1:
        nb, ob = x.shape[0] // groups_b, o // groups_b
        parts = [_contract(win[b * nb:(b + 1) * nb], w[b * ob:(b + 1) * ob])
                 for b in range(groups_b)]
    else:
        cg, og = x.shape[1] // groups_f, o // groups_f
        parts = [_contract(win[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
                 for g in range(groups_f)]
    logical = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return np.transpose(logical, np.argsort(dn.out_spec)).astype(out_dtype)


reference[conv_general_dilated] = convolve
