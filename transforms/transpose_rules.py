"""Transpose rules for the linear primitives, each right above its registration.

A rule gets the output cotangent and the op's inputs, where the linear ones
are ``UndefinedPrimal`` placeholders (``is_linear``), and returns one cotangent
per input: ``None`` for inputs that are not linear. JVP rules only ever apply
these primitives to tangents in a linear position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.prims.indexing import as_gather_dnums, as_scatter_dnums
from llax.transforms.jvp import zeros
from llax.transforms.transpose import is_linear, transpose_rules


def unbroadcast(ct: Any, x: Any) -> Any:
    """The cotangent of an elementwise operand that was rank 0 while the output was not."""
    if tuple(ct.shape) == tuple(x.shape):
        return ct
    return lax.reduce_sum(ct, tuple(range(len(ct.shape))))


def _neg_t(ct, x):
    return [lax.neg(ct)]


transpose_rules[P.neg] = _neg_t


def _reduce_precision_t(ct, x, *, exponent_bits, mantissa_bits):
    # JAX's: the cotangent rounded as the value was.
    return [bind(P.reduce_precision, (ct,), {"exponent_bits": exponent_bits,
                                             "mantissa_bits": mantissa_bits})]


transpose_rules[P.reduce_precision] = _reduce_precision_t


def _add_t(ct, x, y):
    return [unbroadcast(ct, x) if is_linear(x) else None,
            unbroadcast(ct, y) if is_linear(y) else None]


transpose_rules[P.add] = _add_t


def _sub_t(ct, x, y):
    return [unbroadcast(ct, x) if is_linear(x) else None,
            unbroadcast(lax.neg(ct), y) if is_linear(y) else None]


transpose_rules[P.sub] = _sub_t


def _mul_t(ct, x, y):
    # Linear in one operand only; the other is a coefficient.
    if is_linear(x):
        return [unbroadcast(lax.mul(ct, y), x), None]
    return [None, unbroadcast(lax.mul(x, ct), y)]


transpose_rules[P.mul] = _mul_t


def _fma_t(ct, x, y, z):
    # Linear in z, and in at most one of x and y (the other a coefficient).
    product = _mul_t(ct, x, y) if is_linear(x) or is_linear(y) else [None, None]
    return [*product, unbroadcast(ct, z) if is_linear(z) else None]


transpose_rules[P.fma] = _fma_t


def _div_t(ct, x, y):
    assert not is_linear(y), "div is linear in its numerator only"
    return [unbroadcast(lax.div(ct, y), x), None]


transpose_rules[P.div] = _div_t


def _convert_t(ct, x, *, new_dtype, weak_type):
    # Back to the operand's dtype and weak flag: a weak value promoted to a strong one gets
    # a weak cotangent (as in JAX, whose linear values have their primals' weak flags). A
    # conversion that only makes a value strong was made for a weak primal, even when the
    # JVP re-applied it to an already strong tangent.
    weak = x.aval.weak or (new_dtype == x.dtype and not weak_type)
    return [bind(P.convert_element_type, (ct,), {"new_dtype": x.dtype, "weak_type": weak})]


transpose_rules[P.convert_element_type] = _convert_t


def _select_n_t(ct, which, *cases):
    # A rank-0 case among shaped ones (the IR allows it) gets the sum of its cotangent.
    zero = lax.full_like(ct, 0)
    return [None] + [unbroadcast(bind(P.select_n, (which, *(ct if j == i else zero
                                                            for j in range(len(cases)))), {}), c)
                     if is_linear(c) else None for i, c in enumerate(cases)]


transpose_rules[P.select_n] = _select_n_t


# ---------------------------------------------------------------------------------------------
# Shape ops


def _broadcast_in_dim_t(ct, x, *, shape, broadcast_dimensions):
    # Sum over the added dimensions and over the size-1 dimensions that were stretched.
    added = [d for d in range(len(shape)) if d not in broadcast_dimensions]
    stretched = [d for i, d in enumerate(broadcast_dimensions)
                 if x.shape[i] == 1 and shape[d] != 1]
    summed = lax.reduce_sum(ct, tuple(sorted(added + stretched))) if added or stretched else ct
    return [lax.reshape(summed, x.shape)]


transpose_rules[P.broadcast_in_dim] = _broadcast_in_dim_t


def _reshape_t(ct, x, *, new_sizes, dimensions=None):
    assert dimensions is None, "reshape with dimensions is transposed after its transpose"
    return [lax.reshape(ct, x.shape)]


transpose_rules[P.reshape] = _reshape_t


def _squeeze_t(ct, x, *, dimensions):
    return [lax.reshape(ct, x.shape)]


transpose_rules[P.squeeze] = _squeeze_t


def _transpose_t(ct, x, *, permutation):
    return [lax.transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


transpose_rules[P.transpose] = _transpose_t


def _rev_t(ct, x, *, dimensions):
    return [lax.rev(ct, dimensions)]


transpose_rules[P.rev] = _rev_t


def _slice_t(ct, x, *, start_indices, limit_indices, strides=None):
    # Put the slice back where it came from: zero padding around it and between strides.
    strides = strides or (1,) * len(x.shape)
    if 0 in ct.shape:
        return [zeros(x.aval)]
    config = []
    for n, start, size, stride in zip(x.shape, start_indices, ct.shape, strides):
        last = start + (size - 1) * stride
        config.append((start, n - 1 - last, stride - 1))
    return [lax.pad(ct, 0.0, config)]


transpose_rules[P.slice] = _slice_t


def _pad_t(ct, x, value, *, padding_config):
    # The operand's elements in ct: negative low/high padding cropped the operand, so undo
    # that first, then take every (interior + 1)-th element of the rest. The padding value
    # was used everywhere else.
    uncrop = [(max(-lo, 0), max(-hi, 0), 0) for lo, hi, _ in padding_config]
    grown = lax.pad(ct, 0.0, uncrop) if any(a or b for a, b, _ in uncrop) else ct
    starts = [max(lo, 0) for lo, _, _ in padding_config]
    limits = [s + (n - 1) * (i + 1) + 1 if n else s
              for s, n, (_, _, i) in zip(starts, x.shape, padding_config)]
    inside = lax.slice(grown, starts, limits, [i + 1 for _, _, i in padding_config])
    ct_v = None
    if is_linear(value):
        everything = tuple(range(len(ct.shape)))
        ct_v = lax.sub(lax.reduce_sum(ct, everything),
                       lax.reduce_sum(inside, tuple(range(len(x.shape)))))
    return [inside if is_linear(x) else None, ct_v]


transpose_rules[P.pad] = _pad_t


def _concatenate_t(ct, *xs, dimension):
    cts, start = [], 0
    for x in xs:
        size = x.shape[dimension]
        if is_linear(x):
            starts = [0] * len(ct.shape)
            limits = list(ct.shape)
            starts[dimension], limits[dimension] = start, start + size
            cts.append(lax.slice(ct, starts, limits))
        else:
            cts.append(None)
        start += size
    return cts


transpose_rules[P.concatenate] = _concatenate_t


def _dynamic_slice_t(ct, x, *starts, slice_sizes):
    return [bind(P.dynamic_update_slice, (zeros(x.aval), ct, *starts), {})] + \
        [None] * len(starts)


transpose_rules[P.dynamic_slice] = _dynamic_slice_t


def _dynamic_update_slice_t(ct, x, update, *starts):
    ct_x = ct_u = None
    if is_linear(x):
        ct_x = bind(P.dynamic_update_slice, (ct, zeros(update.aval), *starts), {})
    if is_linear(update):
        ct_u = bind(P.dynamic_slice, (ct, *starts), {"slice_sizes": tuple(update.shape)})
    return [ct_x, ct_u] + [None] * len(starts)


transpose_rules[P.dynamic_update_slice] = _dynamic_update_slice_t


# ---------------------------------------------------------------------------------------------
# Gathers and scatters: each is the other's transpose


def scatter_params_for_gather(params: dict) -> dict:
    """The scatter(-add) that sends every gathered element back where it was read from."""
    dn = as_gather_dnums(params["dimension_numbers"])
    sdn = P.ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims)
    return {"dimension_numbers": sdn, "mode": params.get("mode"),
            "indices_are_sorted": params.get("indices_are_sorted", False),
            "unique_indices": params.get("unique_indices", False)}


def gather_params_for_scatter(operand_shape: tuple[int, ...], updates_shape: tuple[int, ...],
                              params: dict) -> dict:
    """The gather that reads, for every update element, the operand element it lands on.

    Updates a FILL_OR_DROP scatter dropped read 0 (as in JAX's transpose), not the default
    NaN: they had no effect, so their cotangent is 0.
    """
    dn = as_scatter_dnums(params["dimension_numbers"])
    window = [d for d in range(len(operand_shape))
              if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
    slice_sizes = [1] * len(operand_shape)
    for pos, d in zip(dn.update_window_dims, window):
        slice_sizes[d] = updates_shape[pos]
    gdn = P.GatherDimensionNumbers(
        offset_dims=dn.update_window_dims, collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims)
    return {"dimension_numbers": gdn, "slice_sizes": tuple(slice_sizes),
            "mode": params.get("mode"), "fill_value": 0,
            "indices_are_sorted": params.get("indices_are_sorted", False),
            "unique_indices": params.get("unique_indices", False)}


def _gather_t(ct, x, indices, **params):
    return [bind(P.scatter_add, (zeros(x.aval), indices, ct), scatter_params_for_gather(params)),
            None]


transpose_rules[P.gather] = _gather_t


def _scatter_t(sign: float | None):
    # scatter-add/-sub: the operand passes through; each update is read back from where it
    # went (negated for sub). scatter (sign None): overwritten operand positions get no
    # cotangent.
    def rule(ct, operand, indices, updates, **params):
        ct_op = ct_up = None
        if is_linear(updates):
            g = bind(P.gather, (ct, indices),
                     gather_params_for_scatter(operand.shape, updates.shape, params))
            ct_up = lax.neg(g) if sign == -1.0 else g
        if is_linear(operand):
            ct_op = ct if sign is not None else bind(
                P.scatter, (ct, indices, zeros(updates.aval)), params)
        return [ct_op, None, ct_up]

    return rule


transpose_rules[P.scatter_add] = _scatter_t(1.0)
transpose_rules[P.scatter_sub] = _scatter_t(-1.0)
transpose_rules[P.scatter] = _scatter_t(None)


def _scatter_mul_t(ct, operand, indices, updates, **params):
    assert not is_linear(updates), "scatter-mul is linear in its operand only"
    return [bind(P.scatter_mul, (ct, indices, updates), params), None, None]


transpose_rules[P.scatter_mul] = _scatter_mul_t


# ---------------------------------------------------------------------------------------------
# Reductions and contractions


def _reduce_sum_t(ct, x, *, axes):
    kept = tuple(d for d in range(len(x.shape)) if d not in axes)
    return [lax.broadcast_in_dim(ct, x.shape, kept)]


transpose_rules[P.reduce_sum] = _reduce_sum_t


def _consecutive(*groups: list) -> list[list[int]]:
    """Consecutive index ranges with the lengths of ``groups``: [0..a), [a..a+b), ..."""
    out, start = [], 0
    for g in groups:
        out.append(list(range(start, start + len(g))))
        start += len(g)
    return out


def _dot_transpose_lhs(ct, x_shape, y, dimension_numbers, swapped=False):
    # ct has dims (batch, x free, y free), or (batch, y free, x free) when the operands were
    # swapped. Contract ct with y over y's free dims, batching over the batch dims; the
    # result has dims (batch, x free, x contracting ordered as y's), permuted back to x.
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    x_ndim, y_ndim = len(x_shape), len(y.shape)
    x_free = [d for d in range(x_ndim) if d not in x_contract and d not in x_batch]
    y_free = [d for d in range(y_ndim) if d not in y_contract and d not in y_batch]
    if swapped:
        ct_batch, ct_y, _ = _consecutive(x_batch, y_free, x_free)
    else:
        ct_batch, _, ct_y = _consecutive(x_batch, x_free, y_free)
    dims = ((tuple(ct_y), tuple(y_free)), (tuple(ct_batch), tuple(y_batch)))
    x_contract_by_y = [x_contract[i] for i in np.argsort(y_contract)]
    params = {"precision": None, "preferred_element_type": None}
    order = list(x_batch) + x_free + x_contract_by_y
    if order != sorted(order):
        # With the operands swapped the product comes out as (batch, x contracting, x free);
        # when that is x's order, no transpose is needed (a matmul's dW = x^T g, not (g^T x)^T).
        swapped_order = list(x_batch) + x_contract_by_y + x_free
        if swapped_order == sorted(swapped_order):
            (ct_c, y_c), (ct_b, y_b) = dims
            return bind(P.dot_general, (y, ct), {"dimension_numbers": ((y_c, ct_c), (y_b, ct_b)),
                                                 **params})
    result = bind(P.dot_general, (ct, y), {"dimension_numbers": dims, **params})
    perm = tuple(int(i) for i in np.argsort(order))
    return result if perm == tuple(range(x_ndim)) else lax.transpose(result, perm)


def _dot_general_t(ct, x, y, *, dimension_numbers, precision=None,
                   preferred_element_type=None):
    if preferred_element_type is not None and ct.dtype != x.dtype:
        ct = lax.convert_element_type(ct, x.dtype)
    (xc, yc), (xb, yb) = dimension_numbers
    ct_x = ct_y = None
    if is_linear(x):
        ct_x = _dot_transpose_lhs(ct, x.shape, y, dimension_numbers)
    if is_linear(y):
        ct_y = _dot_transpose_lhs(ct, y.shape, x, ((yc, xc), (yb, xb)), swapped=True)
    return [ct_x, ct_y]


transpose_rules[P.dot_general] = _dot_general_t


# ---------------------------------------------------------------------------------------------
# Collectives


def _psum_t(ct, x, *, axes):
    # Over the examples of the named axis, psum maps X to (sum_j X_j on every example): a
    # symmetric map, so it is its own transpose (JAX's rule too: under vmap, the VJP of
    # psum(x) is psum of the cotangents).
    return [bind(P.psum, (ct,), {"axes": axes})]


transpose_rules[P.psum] = _psum_t
