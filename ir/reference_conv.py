"""NumPy reference of ``conv_general_dilated``: the operands in canonical layout (batch,
feature, spatial...), the input's windows viewed as the window primitives view them (the
input dilated and padded), and each group's windows multiplied by its filters with
``matmul`` (BLAS)."""

from __future__ import annotations

import math

import numpy as np

from llax.ir.prims.convolution import as_conv_dnums, conv_general_dilated
from llax.ir.reference import _WIDE_OF, reference
from llax.ir.reference_windows import window_view


def _windows(x: np.ndarray, window: tuple[int, ...], padding, strides, lhs_dilation,
             rhs_dilation) -> np.ndarray:
    """(batch, feature, out spatial..., window...): the dilated, padded input under every
    filter tap at every output position."""
    unit = (1, 1)
    view = window_view(x, unit + tuple(window), unit + tuple(strides),
                       [(0, 0), (0, 0), *padding], unit + tuple(lhs_dilation),
                       unit + tuple(rhs_dilation), x.dtype.type(0))
    return view.reshape(*view.shape[:x.ndim], *window)


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
    win = _windows(x, w.shape[2:], [tuple(p) for p in padding], window_strides, lhs_dilation,
                   rhs_dilation)
    groups_f, groups_b = int(feature_group_count), int(batch_group_count)
    o = w.shape[0]
    if groups_b > 1:
        nb, ob = win.shape[0] // groups_b, o // groups_b
        parts = [_contract(win[b * nb:(b + 1) * nb], w[b * ob:(b + 1) * ob])
                 for b in range(groups_b)]
    else:
        cg, og = win.shape[1] // groups_f, o // groups_f
        parts = [_contract(win[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
                 for g in range(groups_f)]
    logical = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return np.transpose(logical, np.argsort(dn.out_spec)).astype(out_dtype)


reference[conv_general_dilated] = convolve
