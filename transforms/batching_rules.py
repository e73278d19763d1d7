"""The batching rule of every primitive (see batching.py for the contract).

A rule receives the operands (traced values, with the batch axis inside them)
and their batch dimensions (None: the operand is the same for every example)
and emits the batched op. Rules keep unbatched operands unbatched wherever the
op can take them as they are (a scalar in an elementwise op, the matrix of a
matrix-vector product, the operand of a gather with batched indices) and move a
batch dimension only when the op needs it somewhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend.core import Array, bind
from llax.ir import prims as P
from llax.ir.primitive import PRIMITIVES, Primitive
from llax.ir.prims.indexing import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    as_gather_dnums,
    as_scatter_dnums,
)
from llax.transforms.batching import (
    Axis,
    Dim,
    axis_batching_rules,
    batch_function,
    batching_rules,
    never_batched,
)

# ---------------------------------------------------------------------------------------------
# Helpers


def move_axis(x: Any, src: int, dst: int) -> Any:
    """``x`` with its axis ``src`` moved to position ``dst`` (a transpose, or nothing)."""
    if src == dst:
        return x
    perm = [i for i in range(x.ndim) if i != src]
    perm.insert(dst, src)
    return bind(P.transpose, (x,), {"permutation": tuple(perm)})


def broadcast_batched(x: Any, size: int, dim: int) -> Any:
    """An unbatched ``x`` given a batch axis of ``size`` at ``dim``: every example sees x."""
    shape = (*x.shape[:dim], size, *x.shape[dim:])
    dims = tuple(i if i < dim else i + 1 for i in range(x.ndim))
    return bind(P.broadcast_in_dim, (x,), {"shape": shape, "broadcast_dimensions": dims})


def batch_at(x: Any, d: Dim, size: int, dst: int) -> Any:
    """``x`` batched at ``dst``: moved there if batched, broadcast if not."""
    return broadcast_batched(x, size, dst) if d is None else move_axis(x, d, dst)


def shift_axes(axes: Sequence[int], d: Dim) -> tuple[int, ...]:
    """Per-example axis numbers as axes of the value batched at ``d``."""
    return tuple(a + 1 if d is not None and a >= d else a for a in axes)


def _inc(axes: Sequence[int]) -> tuple[int, ...]:
    """Axis numbers after a batch axis is put in front."""
    return tuple(a + 1 for a in axes)


def batch_size(args: Sequence[Any], dims: Sequence[Dim]) -> int:
    return next(x.shape[d] for x, d in zip(args, dims) if d is not None)


def scalar(value: Any, dtype: Any, weak: bool = False) -> Array:
    """A scalar constant operand (it becomes a literal in the IR)."""
    return Array(np.array(value, dtype=dtype), weak)


def _example_rank(x: Any, d: Dim) -> int:
    return x.ndim - (d is not None)


# ---------------------------------------------------------------------------------------------
# Elementwise


def _unary(prim: Primitive):
    def rule(args, dims, **params):
        return bind(prim, args, params), dims[0]

    return rule


for _name in ("neg sign abs exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan "
              "sinh cosh asinh acosh atanh sqrt rsqrt cbrt floor ceil round erf erfc erf_inv "
              "is_finite not population_count clz reduce_precision integer_pow square "
              "stop_gradient convert_element_type bitcast_convert_type").split():
    batching_rules[PRIMITIVES[_name]] = _unary(PRIMITIVES[_name])


def align_elementwise(args: Sequence[Any], dims: Sequence[Dim],
                      full: Sequence[int] = ()) -> tuple[list[Any], int]:
    """Operands of an elementwise op, batched at one common dimension, and that dimension.

    Elementwise ops take equal shapes or rank-0 operands, so an unbatched scalar stays
    as it is (unless its index is in ``full``: an operand that decides the result's
    shape), an unbatched array is broadcast along the batch axis, and a batched
    scalar among arrays is spread over the example's elements. The common dimension
    is that of the first batched full-rank operand, so operands batched alike are
    never transposed.
    """
    ranks = [_example_rank(x, d) for x, d in zip(args, dims)]
    rank, size = max(ranks), batch_size(args, dims)
    target = next((d for d, r in zip(dims, ranks) if d is not None and r == rank), 0)
    x0, d0 = next((x, d) for x, d, r in zip(args, dims, ranks) if r == rank)
    example = x0.shape if d0 is None else x0.shape[:d0] + x0.shape[d0 + 1:]
    shape = (*example[:target], size, *example[target:])
    out = []
    for i, (x, d, r) in enumerate(zip(args, dims, ranks)):
        if d is None and r == 0 and i not in full:
            out.append(x)
        elif r == rank:
            out.append(batch_at(x, d, size, target))
        else:  # a scalar among arrays (batched, or one that decides the shape)
            spread = () if d is None else (target,)
            out.append(bind(P.broadcast_in_dim, (x,),
                            {"shape": shape, "broadcast_dimensions": spread}))
    return out, target


def _nary(prim: Primitive):
    def rule(args, dims, **params):
        args, d = align_elementwise(args, dims)
        return bind(prim, args, params), d

    return rule


for _name in ("add sub mul div rem max min pow atan2 nextafter fma and or xor shift_left "
              "shift_right_logical shift_right_arithmetic eq ne lt le gt ge").split():
    batching_rules[PRIMITIVES[_name]] = _nary(PRIMITIVES[_name])


# threefry2x32: elementwise with two results, both batched where the operands are aligned.
def _threefry_rule(args, dims):
    args, d = align_elementwise(args, dims, full=range(4))
    return bind(P.threefry2x32, args, {}), [d, d]


batching_rules[P.threefry2x32] = _threefry_rule


# select_n's cases decide the result's shape: a batched predicate over unbatched scalar
# cases needs the cases spread over the batch.
def _select_n_rule(args, dims):
    cases_batched = any(d is not None for d in dims[1:])
    args, d = align_elementwise(args, dims, () if cases_batched else range(1, len(args)))
    return bind(P.select_n, args, {}), d


batching_rules[P.select_n] = _select_n_rule


# clamp(lo, x, hi): x decides the shape.
def _clamp_rule(args, dims):
    args, d = align_elementwise(args, dims, full=(1,))
    return bind(P.clamp, args, {}), d


batching_rules[P.clamp] = _clamp_rule


# ---------------------------------------------------------------------------------------------
# Structural ops


# The batch axis goes right after the output dim that receives the operand dim before it,
# which keeps broadcast_dimensions increasing without moving the operand.
def _broadcast_in_dim_rule(args, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = args, dims
    bd = broadcast_dimensions
    out_d = bd[d - 1] + 1 if d > 0 else 0
    new_bd = tuple(b + (b >= out_d) for b in bd)
    params = {"shape": (*shape[:out_d], x.shape[d], *shape[out_d:]),
              "broadcast_dimensions": (*new_bd[:d], out_d, *new_bd[d:])}
    return bind(P.broadcast_in_dim, (x,), params), out_d


batching_rules[P.broadcast_in_dim] = _broadcast_in_dim_rule


# A row-major reshape of each example is a reshape of the batch with the batch axis first.
def _reshape_rule(args, dims, *, new_sizes, dimensions=None):
    (x,), (d,) = args, dims
    x = move_axis(x, d, 0)
    params = {"new_sizes": (x.shape[0], *new_sizes), "dimensions": dimensions}
    return bind(P.reshape, (x,), params), 0


batching_rules[P.reshape] = _reshape_rule


# The batch axis stays where it is; the example's axes are permuted around it.
def _transpose_rule(args, dims, *, permutation):
    (x,), (d,) = args, dims
    perm = list(shift_axes(permutation, d))
    perm.insert(d, d)
    return bind(P.transpose, (x,), {"permutation": tuple(perm)}), d


batching_rules[P.transpose] = _transpose_rule


def _squeeze_rule(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    dimensions = shift_axes(dimensions, d)
    return bind(P.squeeze, (x,), {"dimensions": dimensions}), d - sum(a < d for a in dimensions)


batching_rules[P.squeeze] = _squeeze_rule


def _rev_rule(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return bind(P.rev, (x,), {"dimensions": shift_axes(dimensions, d)}), d


batching_rules[P.rev] = _rev_rule


def _slice_rule(args, dims, *, start_indices, limit_indices, strides=None):
    (x,), (d,) = args, dims
    strides = strides or (1,) * len(start_indices)
    params = {"start_indices": (*start_indices[:d], 0, *start_indices[d:]),
              "limit_indices": (*limit_indices[:d], x.shape[d], *limit_indices[d:]),
              "strides": (*strides[:d], 1, *strides[d:])}
    return bind(P.slice, (x,), params), d


batching_rules[P.slice] = _slice_rule


def _concatenate_rule(args, dims, *, dimension):
    size = batch_size(args, dims)
    target = next(d for d in dims if d is not None)
    xs = [batch_at(x, d, size, target) for x, d in zip(args, dims)]
    return bind(P.concatenate, xs, {"dimension": shift_axes((dimension,), target)[0]}), target


batching_rules[P.concatenate] = _concatenate_rule


# A padding value that differs per example: pad with a constant, then select the value
# where a (per-example, unbatched) mask marks the padding.
def _pad_rule(args, dims, *, padding_config):
    (x, value), (xd, vd) = args, dims
    if vd is None:
        config = (*padding_config[:xd], (0, 0, 0), *padding_config[xd:])
        return bind(P.pad, (x, value), {"padding_config": config}), xd
    size = batch_size(args, dims)
    x = batch_at(x, xd, size, 0)
    padded = bind(P.pad, (x, scalar(0, x.dtype)),
                  {"padding_config": ((0, 0, 0), *padding_config)})
    inside = bind(P.broadcast_in_dim, (scalar(False, np.bool_),),
                  {"shape": x.shape[1:], "broadcast_dimensions": ()})
    mask = bind(P.pad, (inside, scalar(True, np.bool_)), {"padding_config": padding_config})
    fill = bind(P.broadcast_in_dim, (value,),
                {"shape": padded.shape, "broadcast_dimensions": (0,)})
    return bind(P.select_n, (broadcast_batched(mask, size, 0), padded, fill), {}), 0


batching_rules[P.pad] = _pad_rule

never_batched[P.iota] = "it has no operands, so its result is the same for every example"


# ---------------------------------------------------------------------------------------------
# Reductions and contractions


def _reduction(prim: Primitive):
    def rule(args, dims, *, axes, **params):
        (x,), (d,) = args, dims
        axes = shift_axes(axes, d)
        return bind(prim, (x,), dict(params, axes=axes)), d - sum(a < d for a in axes)

    return rule


for _name in "reduce_sum reduce_prod reduce_max reduce_min reduce_and reduce_or reduce_xor " \
             "argmax argmin".split():
    batching_rules[PRIMITIVES[_name]] = _reduction(PRIMITIVES[_name])


# sort: every operand batched at one dimension (unbatched ones broadcast there), the sorted
# dimension shifted past it.
def _sort_rule(args, dims, *, dimension, **params):
    size = batch_size(args, dims)
    target = next(d for d in dims if d is not None)
    args = [batch_at(x, d, size, target) for x, d in zip(args, dims)]
    dimension += dimension >= target
    return bind(P.sort, args, dict(params, dimension=dimension)), [target] * len(args)


batching_rules[P.sort] = _sort_rule


# Both operands batched: the batch axis becomes a dot_general batch dimension (output dim
# 0). One operand batched: its batch axis is one more free dimension of that operand, so
# a matrix times a batch of vectors is one matrix-matrix product, with no broadcast.
# (Swapping the operands is allowed when it keeps the example's output order.)
def _dot_general_rule(args, dims, *, dimension_numbers, **params):
    (lhs, rhs), (ld, rd) = args, dims
    (lc, rc), (lb, rb) = dimension_numbers
    lc, lb, rc, rb = shift_axes(lc, ld), shift_axes(lb, ld), shift_axes(rc, rd), shift_axes(rb, rd)
    if ld is not None and rd is not None:
        dn = ((lc, rc), ((ld, *lb), (rd, *rb)))
        out_d = 0
    elif ld is not None:
        dn = ((lc, rc), (lb, rb))
        lfree = [i for i in range(lhs.ndim) if i not in lc and i not in lb]
        out_d = len(lb) + lfree.index(ld)
    else:
        rfree = [i for i in range(rhs.ndim) if i not in rc and i not in rb]
        if rfree == [rd]:
            # The batch axis is rhs's only free dimension: with the operands swapped it
            # lands right after the batch dimensions, and the result needs no transpose.
            dn = ((rc, lc), (rb, lb))
            return bind(P.dot_general, (rhs, lhs), dict(params, dimension_numbers=dn)), len(lb)
        dn = ((lc, rc), (lb, rb))
        out_d = lhs.ndim - len(lc) + rfree.index(rd)
    return bind(P.dot_general, (lhs, rhs), dict(params, dimension_numbers=dn)), out_d


batching_rules[P.dot_general] = _dot_general_rule


# ---------------------------------------------------------------------------------------------
# Gathers, scatters and dynamic slices (XLA's batching dimensions do the work)


# Batched operand only: the batch axis is one more (whole) window dimension. Batched
# indices only: one more leading batch dimension of the indices. Both: a pair of
# operand/indices batching dimensions.
def _gather_rule(args, dims, *, dimension_numbers, slice_sizes, **params):
    (operand, indices), (od, idd) = args, dims
    dn = as_gather_dnums(dimension_numbers)
    if idd is None:
        operand = move_axis(operand, od, 0)
        dn = GatherDimensionNumbers(
            offset_dims=(0, *_inc(dn.offset_dims)),
            collapsed_slice_dims=_inc(dn.collapsed_slice_dims),
            start_index_map=_inc(dn.start_index_map),
            operand_batching_dims=_inc(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims)
        slice_sizes = (operand.shape[0], *slice_sizes)
    elif od is None:
        indices = move_axis(indices, idd, 0)
        dn = dn._replace(offset_dims=_inc(dn.offset_dims),
                         start_indices_batching_dims=_inc(dn.start_indices_batching_dims))
    else:
        operand, indices = move_axis(operand, od, 0), move_axis(indices, idd, 0)
        dn = GatherDimensionNumbers(
            offset_dims=_inc(dn.offset_dims),
            collapsed_slice_dims=_inc(dn.collapsed_slice_dims),
            start_index_map=_inc(dn.start_index_map),
            operand_batching_dims=(0, *_inc(dn.operand_batching_dims)),
            start_indices_batching_dims=(0, *_inc(dn.start_indices_batching_dims)))
        slice_sizes = (1, *slice_sizes)
    params = dict(params, dimension_numbers=dn, slice_sizes=tuple(slice_sizes))
    return bind(P.gather, (operand, indices), params), 0


batching_rules[P.gather] = _gather_rule


# The result is batched, so the operand is (broadcast if need be); the updates follow it.
def _scatter(prim: Primitive):
    def rule(args, dims, *, dimension_numbers, **params):
        (operand, indices, updates), (od, idd, ud) = args, dims
        dn = as_scatter_dnums(dimension_numbers)
        size = batch_size(args, dims)
        operand, updates = batch_at(operand, od, size, 0), batch_at(updates, ud, size, 0)
        if idd is None:
            dn = ScatterDimensionNumbers(
                update_window_dims=(0, *_inc(dn.update_window_dims)),
                inserted_window_dims=_inc(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_inc(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=_inc(dn.operand_batching_dims),
                scatter_indices_batching_dims=dn.scatter_indices_batching_dims)
        else:
            indices = move_axis(indices, idd, 0)
            dn = ScatterDimensionNumbers(
                update_window_dims=_inc(dn.update_window_dims),
                inserted_window_dims=_inc(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_inc(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0, *_inc(dn.operand_batching_dims)),
                scatter_indices_batching_dims=(0, *_inc(dn.scatter_indices_batching_dims)))
        return bind(prim, (operand, indices, updates), dict(params, dimension_numbers=dn)), 0

    return rule


for _prim in P.SCATTERS:
    batching_rules[_prim] = _scatter(_prim)


def _start_indices(starts: Sequence[Any], dims: Sequence[Dim], size: int) -> Any:
    """Scalar start indices, some batched, as one ``(size, len(starts))`` index array."""
    dtype = starts[0].dtype if len({s.dtype for s in starts}) == 1 else np.dtype(np.int32)
    cols = []
    for s, d in zip(starts, dims):
        if s.dtype != dtype:
            s = bind(P.convert_element_type, (s,), {"new_dtype": dtype, "weak_type": False})
        cols.append(bind(P.broadcast_in_dim, (s,), {
            "shape": (size, 1), "broadcast_dimensions": () if d is None else (0,)}))
    return cols[0] if len(cols) == 1 else bind(P.concatenate, cols, {"dimension": 1})


def _zero_start(starts: Sequence[Any]) -> Array:
    return scalar(0, starts[0].dtype if starts else np.int32)


# Unbatched starts: the batch axis is sliced whole. Batched starts: a gather whose
# operand (if batched) and indices share a batching dimension; both clamp the same way.
def _dynamic_slice_rule(args, dims, *, slice_sizes):
    (x, *starts), (xd, *sds) = args, dims
    if all(d is None for d in sds):
        starts.insert(xd, _zero_start(starts))
        sizes = (*slice_sizes[:xd], x.shape[xd], *slice_sizes[xd:])
        return bind(P.dynamic_slice, (x, *starts), {"slice_sizes": sizes}), xd
    size = batch_size(args, dims)
    indices = _start_indices(starts, sds, size)
    r = len(starts)
    window = tuple(range(1, r + 1))
    if xd is None:
        dn = GatherDimensionNumbers(offset_dims=window, collapsed_slice_dims=(),
                                    start_index_map=tuple(range(r)))
    else:
        x = move_axis(x, xd, 0)
        dn = GatherDimensionNumbers(offset_dims=window, collapsed_slice_dims=(),
                                    start_index_map=window, operand_batching_dims=(0,),
                                    start_indices_batching_dims=(0,))
        slice_sizes = (1, *slice_sizes)
    params = {"dimension_numbers": dn, "slice_sizes": tuple(slice_sizes),
              "mode": GatherScatterMode.CLIP, "fill_value": None,
              "indices_are_sorted": False, "unique_indices": False}
    return bind(P.gather, (x, indices), params), 0


batching_rules[P.dynamic_slice] = _dynamic_slice_rule


def _dynamic_update_slice_rule(args, dims):
    (x, update, *starts), (xd, ud, *sds) = args, dims
    size = batch_size(args, dims)
    if all(d is None for d in sds):
        target = xd if xd is not None else ud
        x, update = batch_at(x, xd, size, target), batch_at(update, ud, size, target)
        starts.insert(target, _zero_start(starts))
        return bind(P.dynamic_update_slice, (x, update, *starts), {}), target
    x, update = batch_at(x, xd, size, 0), batch_at(update, ud, size, 0)
    window = tuple(range(1, len(starts) + 1))
    dn = ScatterDimensionNumbers(update_window_dims=window, inserted_window_dims=(),
                                 scatter_dims_to_operand_dims=window,
                                 operand_batching_dims=(0,), scatter_indices_batching_dims=(0,))
    params = {"dimension_numbers": dn, "mode": GatherScatterMode.CLIP,
              "indices_are_sorted": True, "unique_indices": True}
    return bind(P.scatter, (x, _start_indices(starts, sds, size), update), params), 0


batching_rules[P.dynamic_update_slice] = _dynamic_update_slice_rule


# ---------------------------------------------------------------------------------------------
# Collectives: over the mapped axis they become reductions over the batch dimension; over
# other axes they stay, for the transformation that binds those.


def _collective(prim: Primitive, reduce: Primitive):
    def rule(axis: Axis, args, dims, *, axes):
        (x,), (d,) = args, dims
        if axis.name not in axes:
            return bind(prim, (x,), {"axes": axes}), d
        if d is not None:
            x = bind(reduce, (x,), {"axes": (d,)})
        elif prim is P.psum:  # the same value on every example: the sum is a product
            x = bind(P.mul, (x, scalar(axis.size, x.dtype, x.weak_type)), {})
        rest = tuple(a for a in axes if a != axis.name)
        return (bind(prim, (x,), {"axes": rest}) if rest else x), None

    return rule


axis_batching_rules[P.psum] = _collective(P.psum, P.reduce_sum)
axis_batching_rules[P.pmax] = _collective(P.pmax, P.reduce_max)
axis_batching_rules[P.pmin] = _collective(P.pmin, P.reduce_min)


# Only called for the mapped axis (it has no operands to be batched otherwise).
def _axis_index_rule(axis: Axis, args, dims, *, axis_name):
    params = {"dtype": np.dtype(np.int32), "shape": (axis.size,), "dimension": 0}
    return bind(P.iota, (), params), 0


axis_batching_rules[P.axis_index] = _axis_index_rule


# ---------------------------------------------------------------------------------------------
# Ops with regions


# A fused group is batched by batching its body.
def _fusion_rule(axis: Axis, args, dims, *, regions):
    body, out_dims = batch_function(regions[0], dims, axis.size, axis.name)
    return bind(P.fusion, args, {}, (body,)), out_dims


axis_batching_rules[P.fusion] = _fusion_rule


# ---------------------------------------------------------------------------------------------
# Ops with user rules (custom_jvp / custom_vjp): the function region is batched like a
# fusion's body, with every output batched at 0; the rules, traced per example on demand,
# are wrapped into rules on batched operands that agree with it.


def _user_rule(rule: Any, in_dims: Sequence[Dim] | None, axis: Axis,
               out_dims: Callable[[int], Sequence[Dim]]) -> Any:
    """``rule`` (traced on one example) as a rule on operands batched at ``in_dims`` (all
    at 0 if None). Output ``k`` is moved to ``out_dims(n)[k]``; None there means an
    unbatched result, which for a cotangent is the sum over the examples."""
    from llax.frontend.custom_derivatives import Rule
    from llax.transforms.staging import call_function

    def flat(*xs: Any) -> list[Any]:
        dims = [0] * len(xs) if in_dims is None else list(in_dims)
        example = [x.aval if d is None else x.aval.with_shape(x.shape[:d] + x.shape[d + 1:])
                   for x, d in zip(xs, dims)]
        fn, consts = rule.trace(example)
        batched, got = batch_function(fn, [None] * len(consts) + dims, axis.size, axis.name)
        outs = call_function(batched, [*consts, *xs])
        placed = []
        for o, d, want in zip(outs, got, out_dims(len(outs))):
            if want is not None:
                o = batch_at(o, d, axis.size, want)
            elif d is not None:
                o = bind(P.reduce_sum, (o,), {"axes": (d,)})
            placed.append(o)
        return placed

    return Rule(rule.name, flat)


def _at_front(n: int) -> list[int]:
    return [0] * n


def _batched_fun(axis: Axis, dims: Sequence[Dim], regions) -> Any:
    fun = regions[0]
    return batch_function(fun, dims, axis.size, axis.name, out_dims=_at_front(len(fun.results)))[0]


def _custom_jvp_call_rule(axis: Axis, args, dims, *, regions, jvp, num_consts):
    arg_dims = list(dims[num_consts:])
    params = {"jvp": _user_rule(jvp, arg_dims * 2, axis, _at_front), "num_consts": num_consts}
    outs = bind(P.custom_jvp_call, args, params, (_batched_fun(axis, dims, regions),))
    return outs, _at_front(len(outs))


axis_batching_rules[P.custom_jvp_call] = _custom_jvp_call_rule


# fwd's outputs and residuals are all batched at 0, so bwd takes everything at 0 and gives
# each argument its cotangent where the argument has its batch axis (summed if it has none).
def _custom_vjp_call_rule(axis: Axis, args, dims, *, regions, fwd, bwd, num_consts):
    arg_dims = list(dims[num_consts:])
    params = {"fwd": _user_rule(fwd, arg_dims, axis, _at_front),
              "bwd": _user_rule(bwd, None, axis, lambda n: arg_dims),
              "num_consts": num_consts}
    outs = bind(P.custom_vjp_call, args, params, (_batched_fun(axis, dims, regions),))
    return outs, _at_front(len(outs))


axis_batching_rules[P.custom_vjp_call] = _custom_vjp_call_rule


def _custom_lin_rule(axis: Axis, args, dims, *, bwd, num_res, out_types):
    res_dims, tangent_dims = list(dims[:num_res]), list(dims[num_res:])
    params = {"bwd": _user_rule(bwd, res_dims + _at_front(len(out_types)), axis,
                                lambda n: tangent_dims),
              "num_res": num_res,
              "out_types": tuple(t.with_shape((axis.size, *t.shape)) for t in out_types)}
    outs = bind(P.custom_lin, args, params)
    return outs, _at_front(len(outs))


axis_batching_rules[P.custom_lin] = _custom_lin_rule
