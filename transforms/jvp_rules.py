"""JVP rules, one per primitive, each right above its registration.

A rule gets the primal operands and their tangents (``None`` for zero) and
returns the primal output(s) and tangent output(s). Tangents are linear in the
input tangents: every coefficient is computed from primal values. Elementwise
operands may mix rank 0 with a shape, so tangents are broadcast to the output
shape before they are combined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import aval_of, bind
from llax.frontend.jnp._coerce import convert
from llax.frontend.jnp._take import gather_along_axis
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.primitive import Primitive
from llax.ir.prims.indexing import as_scatter_dnums
from llax.ir.types import TensorType
from llax.transforms.jvp import JvpRule, add_any, instantiate, jvp_rules, zero_tangent, zeros
from llax.transforms.staging import call_function
from llax.transforms.transpose_rules import gather_params_for_scatter

# ---------------------------------------------------------------------------------------------
# Helpers


def bcast(t: Any, shape: tuple[int, ...]) -> Any:
    """A (possibly rank-0) tangent broadcast to an elementwise op's output shape."""
    if t is None or tuple(t.shape) == tuple(shape):
        return t
    return lax.broadcast_in_dim(t, shape, ())


def add_tangents(*ts: Any) -> Any:
    """The sum of the non-zero tangents (None if all are zero), with JAX's weak flag: that
    of the first term (``add_any``)."""
    total = None
    for t in ts:
        if t is not None:
            total = t if total is None else add_any(total, t)
    return total


def scale(t: Any, coef: Any, shape: tuple[int, ...]) -> Any:
    """``t * coef`` broadcast to ``shape``; None stays None."""
    if t is None:
        return None
    return lax.mul(bcast(t, shape), bcast(coef, shape) if hasattr(coef, "shape") else coef)


def _out(prim: Primitive, primals: Sequence[Any], params: dict) -> Any:
    return bind(prim, primals, params)


def defjvp_unary(prim: Primitive, deriv: Callable[[Any, Any], Any]) -> None:
    """Register ``t * deriv(x, y)`` for a unary op ``y = prim(x)``."""

    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        y = _out(prim, primals, params)
        return y, lax.mul(t, deriv(x, y))

    jvp_rules[prim] = rule


def linear_jvp(prim: Primitive, positions: tuple[int, ...] | None = None,
               **tangent_params: Any) -> JvpRule:
    """The rule of an op linear in its operands at ``positions`` jointly (all if None): the
    tangent is the same op on their tangents, the other operands (indices, start positions)
    passed as they are. ``tangent_params`` override params of the tangent op."""

    def rule(primals, tangents, **params):
        y = _out(prim, primals, params)
        linear = range(len(primals)) if positions is None else positions
        if all(tangents[i] is None for i in linear):
            return y, None
        args = [instantiate(t, x.aval) if i in linear else x
                for i, (x, t) in enumerate(zip(primals, tangents))]
        return y, bind(prim, args, dict(params, **tangent_params) if tangent_params else params)

    return rule


# ---------------------------------------------------------------------------------------------
# Zero derivatives: piecewise-constant or integer-valued results (as in JAX)

_PIECEWISE = "piecewise constant: the derivative is zero wherever it exists"
_BOOLEAN = "boolean or integer result: no tangent"
for _p in (P.sign, P.floor, P.ceil, P.round):
    zero_tangent[_p] = _PIECEWISE
for _p in (P.eq, P.ne, P.lt, P.le, P.gt, P.ge, P.is_finite, P.not_, P.and_, P.or_, P.xor,
           P.population_count, P.clz, P.shift_left, P.shift_right_logical, P.shift_right_arithmetic,
           P.argmax, P.argmin, P.iota, P.axis_index, P.reduce_and, P.reduce_or, P.reduce_xor,
           P.threefry2x32):
    zero_tangent[_p] = _BOOLEAN
zero_tangent[P.bitcast_convert_type] = "reinterpreted bits: no derivative (JAX's zero)"
zero_tangent[P.stop_gradient] = "what stop_gradient is for: its output is a constant"
# No entry for nextafter: it follows x within an ulp, so a zero tangent would be wrong; JAX
# defines no derivative for it (nor for pmax/pmin), and differentiating it raises.


# ---------------------------------------------------------------------------------------------
# Elementwise unary: d/dx as a function of the input x and the output y

defjvp_unary(P.exp, lambda x, y: y)
defjvp_unary(P.exp2, lambda x, y: lax.mul(y, math.log(2.0)))
defjvp_unary(P.log, lambda x, y: lax.div(1.0, x))
defjvp_unary(P.log1p, lambda x, y: lax.div(1.0, lax.add(x, 1.0)))
defjvp_unary(P.expm1, lambda x, y: lax.add(y, 1.0))
defjvp_unary(P.tanh, lambda x, y: lax.sub(1.0, lax.mul(y, y)))
defjvp_unary(P.logistic, lambda x, y: lax.mul(y, lax.sub(1.0, y)))
defjvp_unary(P.sin, lambda x, y: lax.cos(x))
defjvp_unary(P.cos, lambda x, y: lax.neg(lax.sin(x)))
defjvp_unary(P.tan, lambda x, y: lax.add(1.0, lax.mul(y, y)))
defjvp_unary(P.asin, lambda x, y: lax.rsqrt(lax.sub(1.0, lax.mul(x, x))))
defjvp_unary(P.acos, lambda x, y: lax.neg(lax.rsqrt(lax.sub(1.0, lax.mul(x, x)))))
defjvp_unary(P.atan, lambda x, y: lax.div(1.0, lax.add(1.0, lax.mul(x, x))))
defjvp_unary(P.sinh, lambda x, y: lax.cosh(x))
defjvp_unary(P.cosh, lambda x, y: lax.sinh(x))
defjvp_unary(P.asinh, lambda x, y: lax.rsqrt(lax.add(lax.mul(x, x), 1.0)))
# (x - 1)(x + 1) rather than x^2 - 1: exact near |x| = 1.
defjvp_unary(P.acosh, lambda x, y: lax.rsqrt(lax.mul(lax.sub(x, 1.0), lax.add(x, 1.0))))
defjvp_unary(P.atanh, lambda x, y: lax.div(1.0, lax.mul(lax.sub(1.0, x), lax.add(1.0, x))))
defjvp_unary(P.sqrt, lambda x, y: lax.div(0.5, y))
defjvp_unary(P.rsqrt, lambda x, y: lax.mul(lax.div(y, x), -0.5))
defjvp_unary(P.cbrt, lambda x, y: lax.div(1.0, lax.mul(lax.mul(y, y), 3.0)))
defjvp_unary(P.square, lambda x, y: lax.mul(x, 2.0))
defjvp_unary(P.erf, lambda x, y: lax.mul(lax.exp(lax.neg(lax.mul(x, x))), 2.0 / math.sqrt(math.pi)))
defjvp_unary(P.erfc, lambda x, y: lax.mul(lax.exp(lax.neg(lax.mul(x, x))),
                                          -2.0 / math.sqrt(math.pi)))
defjvp_unary(P.erf_inv, lambda x, y: lax.mul(lax.exp(lax.mul(y, y)), math.sqrt(math.pi) / 2.0))
# As JAX: the derivative of |x| at 0 is taken as 1.
defjvp_unary(P.abs, lambda x, y: lax.select(lax.ge(x, 0.0), lax.full_like(x, 1.0),
                                            lax.full_like(x, -1.0)))


def _integer_pow_deriv(x: Any, n: int) -> Any:
    """d/dx x**n = n * x**(n-1), without emitting x**0 or x**1."""
    if n == 0:
        return lax.full_like(x, 0.0)
    if n == 1:
        return lax.full_like(x, 1.0)
    return lax.mul(x if n == 2 else lax.integer_pow(x, n - 1), float(n))


def _integer_pow_jvp(primals, tangents, *, y):
    (x,), (t,) = primals, tangents
    return lax.integer_pow(x, y), lax.mul(t, _integer_pow_deriv(x, y))


jvp_rules[P.integer_pow] = _integer_pow_jvp
jvp_rules[P.neg] = linear_jvp(P.neg)
# Linear as JAX takes it: the tangent is rounded the same way (a straight-through estimate).
jvp_rules[P.reduce_precision] = linear_jvp(P.reduce_precision)


# ---------------------------------------------------------------------------------------------
# Elementwise binary


# add and sub combine their tangents with themselves (weak only if both are), not add_any.
def _add_jvp(primals, tangents):
    y = _out(P.add, primals, {})
    tx, ty = (bcast(t, y.shape) for t in tangents)
    return y, tx if ty is None else ty if tx is None else lax.add(tx, ty)


jvp_rules[P.add] = _add_jvp


def _sub_jvp(primals, tangents):
    y = _out(P.sub, primals, {})
    tx, ty = (bcast(t, y.shape) for t in tangents)
    return y, tx if ty is None else lax.neg(ty) if tx is None else lax.sub(tx, ty)


jvp_rules[P.sub] = _sub_jvp


def _mul_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = _out(P.mul, primals, {})
    return out, add_tangents(scale(tx, y, out.shape), scale(ty, x, out.shape))


jvp_rules[P.mul] = _mul_jvp


def _fma_jvp(primals, tangents):
    (x, y, _), (tx, ty, tz) = primals, tangents
    out = _out(P.fma, primals, {})
    return out, add_tangents(scale(tx, y, out.shape), scale(ty, x, out.shape),
                             bcast(tz, out.shape))


jvp_rules[P.fma] = _fma_jvp


def _div_jvp(primals, tangents):
    # d(x/y) = tx / y - ty * (x/y) / y; tx / y stays a division so it transposes as one.
    (_, y), (tx, ty) = primals, tangents
    out = _out(P.div, primals, {})
    dx = None if tx is None else lax.div(bcast(tx, out.shape), bcast(y, out.shape))
    return out, add_tangents(dx, scale(ty, lax.neg(lax.div(out, y)), out.shape))


jvp_rules[P.div] = _div_jvp


def _minmax_jvp(prim: Primitive):
    # As JAX: an operand gets the tangent where it equals the result, half of it where both
    # do, none where neither does (a NaN result).
    def rule(primals, tangents):
        out = _out(prim, primals, {})
        xb, yb = (bcast(v, out.shape) for v in primals)
        x_is, y_is = lax.eq(xb, out), lax.eq(yb, out)
        one, half, zero = (lax.full_like(out, v) for v in (1.0, 0.5, 0.0))

        def share(mine, other):
            return lax.select(mine, lax.select(other, half, one), zero)

        tx, ty = tangents
        return out, add_tangents(scale(tx, share(x_is, y_is), out.shape),
                                 scale(ty, share(y_is, x_is), out.shape))

    return rule


jvp_rules[P.max] = _minmax_jvp(P.max)
jvp_rules[P.min] = _minmax_jvp(P.min)


def _pow_jvp(primals, tangents):
    # As JAX for an integer exponent (which llax's pow sees converted to float): d/dx is 0
    # where y == 0, even at x == 0 (JAX's rule for a float exponent gives 0 * inf = nan
    # there). d/dy uses log(x) with x == 0 replaced by 1, so 0 ** y has a zero y-derivative
    # rather than nan.
    # As JAX's, the derivatives are computed from x and y made strong, so they are strong
    # (``grad(lambda x: x ** 2.5)(2.)`` is a strong float32).
    (x, y), (tx, ty) = primals, tangents
    out = _out(P.pow, primals, {})
    xb, yb = (convert(bcast(v, out.shape), out.dtype, False) for v in (x, y))
    dx = dy = None
    if tx is not None:
        coef = lax.select(lax.eq(yb, 0.0), lax.full_like(xb, 0.0),
                          lax.mul(yb, lax.pow(xb, lax.sub(yb, 1.0))))
        dx = scale(tx, coef, out.shape)
    if ty is not None:
        safe_x = lax.select(lax.eq(xb, 0.0), lax.full_like(xb, 1.0), xb)
        dy = scale(ty, lax.mul(lax.log(safe_x), out), out.shape)
        dy = convert(dy, out.dtype, False)
    return out, add_tangents(dx, dy)


jvp_rules[P.pow] = _pow_jvp


def _atan2_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = _out(P.atan2, primals, {})
    xb, yb = bcast(x, out.shape), bcast(y, out.shape)
    denom = lax.add(lax.mul(xb, xb), lax.mul(yb, yb))
    return out, add_tangents(scale(tx, lax.div(yb, denom), out.shape),
                             scale(ty, lax.neg(lax.div(xb, denom)), out.shape))


jvp_rules[P.atan2] = _atan2_jvp


def _rem_jvp(primals, tangents):
    # rem(x, y) = x - y * trunc(x / y)
    (x, y), (tx, ty) = primals, tangents
    out = _out(P.rem, primals, {})
    q = lax.div(bcast(x, out.shape), bcast(y, out.shape))
    trunc = lax.mul(lax.sign(q), lax.floor(lax.abs(q)))
    return out, add_tangents(bcast(tx, out.shape), scale(ty, lax.neg(trunc), out.shape))


jvp_rules[P.rem] = _rem_jvp


# The IR lets rank-0 cases stand beside shaped ones (vmap leaves an unbatched scalar case as
# it is), so every case's tangent is spread to the result's shape: lax.select_n, like JAX's,
# would reject the mix.
def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = _out(P.select_n, primals, {})
    case_ts = tangents[1:]
    if all(t is None for t in case_ts):
        return out, None
    # Zero tangents are zeros like the first nonzero one (weak if it is), as in JAX.
    first = next(t for t in case_ts if t is not None)
    zero = zeros(TensorType(out.shape, out.dtype, aval_of(first).weak))
    ts = [zero if t is None else bcast(t, out.shape) for t in case_ts]
    return out, bind(P.select_n, (which, *ts), {})


jvp_rules[P.select_n] = _select_n_jvp


def _clamp_jvp(primals, tangents):
    lo, x, hi = primals
    tlo, tx, thi = tangents
    out = _out(P.clamp, primals, {})
    shape = out.shape
    lob, xb, hib = bcast(lo, shape), bcast(x, shape), bcast(hi, shape)
    zero = lax.full_like(xb, 0.0)

    def masked(t, mask):
        return None if t is None else lax.select(mask, bcast(t, shape), zero)

    return out, add_tangents(
        masked(tlo, lax.bitwise_and(lax.gt(lob, xb), lax.lt(lob, hib))),
        masked(tx, lax.bitwise_and(lax.gt(xb, lob), lax.lt(xb, hib))),
        masked(thi, lax.lt(hib, xb)))


jvp_rules[P.clamp] = _clamp_jvp


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (t,) = tangents
    out = _out(P.convert_element_type, primals,
               {"new_dtype": new_dtype, "weak_type": weak_type})
    if not dtypes.is_inexact(new_dtype):
        return out, None
    return out, bind(P.convert_element_type, (t,), {"new_dtype": new_dtype,
                                                     "weak_type": weak_type})


jvp_rules[P.convert_element_type] = _convert_jvp


# ---------------------------------------------------------------------------------------------
# Shape ops and indexing: linear in the array operands

for _p in (P.broadcast_in_dim, P.reshape, P.transpose, P.squeeze, P.rev, P.slice,
           P.reduce_sum, P.pad, P.concatenate):
    jvp_rules[_p] = linear_jvp(_p)
jvp_rules[P.dynamic_slice] = linear_jvp(P.dynamic_slice, (0,))
# The start indices stay the primal ones (made into zero tangents they would move the update
# to the origin).
jvp_rules[P.dynamic_update_slice] = linear_jvp(P.dynamic_update_slice, (0, 1))
# Out-of-bound windows of a FILL_OR_DROP gather hold the fill value, a constant: their
# tangent is 0 (as in JAX), not the fill value again.
jvp_rules[P.gather] = linear_jvp(P.gather, (0,), fill_value=0)


# scatter-add, scatter-sub, and scatter with unique indices: linear in (operand, updates)
# jointly; the indices carry no tangent.
for _p in (P.scatter_add, P.scatter_sub):
    jvp_rules[_p] = linear_jvp(_p, (0, 2))

_scatter_unique_jvp = linear_jvp(P.scatter, (0, 2))


def _scatter_jvp(primals, tangents, **params):
    # With repeated indices, which update lands is the implementation's choice, and the
    # tangent must follow the same choice (a `scatter` of the tangents would, but its
    # transpose could not tell the winners). JAX's scheme: scatter a distinct positive id
    # per update window the same way, gather them back to see which update landed where (0:
    # the operand stayed), and scatter-add the tangents masked by that; all of it is
    # computed from the indices only.
    if params.get("unique_indices"):
        return _scatter_unique_jvp(primals, tangents, **params)
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = _out(P.scatter, primals, params)
    if t_op is None and t_up is None:
        return out, None
    dn = as_scatter_dnums(params["dimension_numbers"])
    ids_shape = tuple(1 if d in dn.update_window_dims else n
                      for d, n in enumerate(updates.shape))
    ids = lax.add(lax.reshape(lax.iota(np.int32, math.prod(ids_shape)), ids_shape), 1)
    ids = lax.broadcast_in_dim(ids, updates.shape, tuple(range(len(ids_shape))))
    landed = bind(P.scatter, (lax.full(operand.shape, 0, np.int32), indices, ids), params)
    gparams = gather_params_for_scatter(operand.shape, updates.shape, params)
    won = lax.eq(bind(P.gather, (landed, indices), gparams), ids)
    kept = lax.eq(landed, 0)
    t_op = lax.select(kept, instantiate(t_op, operand.aval), lax.full_like(operand, 0.0))
    t_up = lax.select(won, instantiate(t_up, updates.aval), lax.full_like(updates, 0.0))
    return out, bind(P.scatter_add, (t_op, indices, t_up), params)


jvp_rules[P.scatter] = _scatter_jvp


def _scatter_mul_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    out = _out(P.scatter_mul, primals, params)
    if t_up is not None and not params.get("unique_indices"):
        raise NotImplementedError("scatter_mul gradients are only implemented if "
                                  "`unique_indices=True`")
    d_op = None if t_op is None else bind(P.scatter_mul, (t_op, indices, updates), params)
    d_up = None
    if t_up is not None:
        # out = operand * u at the scattered positions: d out = operand * t_u there.
        placed = bind(P.scatter, (lax.full_like(operand, 0.0), indices, t_up), params)
        d_up = lax.mul(placed, operand)
    return out, add_tangents(d_op, d_up)


jvp_rules[P.scatter_mul] = _scatter_mul_jvp


def _scatter_extremum_jvp(prim: Primitive):
    # The result at each position is the operand or one of the updates scattered there; the
    # tangent is the mean of the tangents of those that attain it (ties share, as in JAX).
    def rule(primals, tangents, **params):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = _out(prim, primals, params)
        gparams = gather_params_for_scatter(operand.shape, updates.shape, params)
        at_update = lax.eq(bind(P.gather, (out, indices), gparams), updates)
        op_wins = lax.eq(operand, out)
        zeros_op = lax.full_like(operand, 0.0)
        one, zero_u = lax.full_like(updates, 1.0), lax.full_like(updates, 0.0)
        add_params = dict(params)
        count = lax.add(lax.select(op_wins, lax.full_like(operand, 1.0), zeros_op),
                        bind(P.scatter_add, (zeros_op, indices,
                                             lax.select(at_update, one, zero_u)), add_params))
        d_op = None if t_op is None else lax.select(op_wins, t_op, zeros_op)
        d_up = None if t_up is None else bind(
            P.scatter_add, (zeros_op, indices, lax.select(at_update, t_up, zero_u)), add_params)
        total = add_tangents(d_op, d_up)
        return out, lax.div(total, lax.max(count, lax.full_like(count, 1.0)))

    return rule


jvp_rules[P.scatter_max] = _scatter_extremum_jvp(P.scatter_max)
jvp_rules[P.scatter_min] = _scatter_extremum_jvp(P.scatter_min)


# ---------------------------------------------------------------------------------------------
# Reductions and contractions


def _reduce_extremum_jvp(prim: Primitive):
    # As JAX: the tangent is the mean of the tangents at the positions attaining the extremum.
    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        out = _out(prim, primals, {"axes": axes})
        kept = tuple(d for d in range(x.ndim) if d not in axes)
        at = lax.eq(x, lax.broadcast_in_dim(out, x.shape, kept))
        mask = lax.select(at, lax.full_like(x, 1.0), lax.full_like(x, 0.0))
        count = lax.reduce_sum(mask, axes)
        return out, lax.div(lax.reduce_sum(lax.mul(t, mask), axes), count)

    return rule


jvp_rules[P.reduce_max] = _reduce_extremum_jvp(P.reduce_max)
jvp_rules[P.reduce_min] = _reduce_extremum_jvp(P.reduce_min)


def _reduce_prod_jvp(primals, tangents, *, axes):
    # d prod = sum_i t_i * prod_{j != i} x_j. The product of the others is out / x_i when no
    # element is zero; with exactly one zero it is the product of the non-zeros at that
    # zero and 0 elsewhere; with two or more zeros it is 0 everywhere.
    (x,), (t,) = primals, tangents
    out = _out(P.reduce_prod, primals, {"axes": axes})
    kept = tuple(d for d in range(x.ndim) if d not in axes)

    def spread(v):
        return lax.broadcast_in_dim(v, x.shape, kept)

    one, zero = lax.full_like(x, 1.0), lax.full_like(x, 0.0)
    is_zero = lax.eq(x, 0.0)
    zeros = spread(lax.reduce_sum(lax.select(is_zero, one, zero), axes))
    nonzero_prod = spread(lax.reduce_prod(lax.select(is_zero, one, x), axes))
    safe_x = lax.select(is_zero, one, x)
    others = lax.select(lax.eq(zeros, 0.0), lax.div(spread(out), safe_x),
                        lax.select(lax.bitwise_and(lax.eq(zeros, 1.0), is_zero),
                                   nonzero_prod, zero))
    return out, lax.reduce_sum(lax.mul(t, others), axes)


jvp_rules[P.reduce_prod] = _reduce_prod_jvp


def _dot_general_jvp(primals, tangents, **params):
    (x, y), (tx, ty) = primals, tangents
    out = _out(P.dot_general, primals, params)
    dx = None if tx is None else bind(P.dot_general, (tx, y), params)
    dy = None if ty is None else bind(P.dot_general, (x, ty), params)
    return out, add_tangents(dx, dy)


jvp_rules[P.dot_general] = _dot_general_jvp


# sort: the primals are sorted along with their positions (an iota), and the tangents follow
# the permutation those positions record: a gather, linear in the tangents.
def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    shape = primals[0].shape
    if math.prod(shape) == 0:  # nothing to permute
        return bind(P.sort, primals, {"dimension": dimension, "is_stable": is_stable,
                                      "num_keys": num_keys}), list(tangents)
    index_dtype = np.int32 if shape[dimension] <= np.iinfo(np.int32).max else np.int64
    positions = lax.broadcasted_iota(index_dtype, shape, dimension)
    *outs, perm = bind(P.sort, (*primals, positions),
                       {"dimension": dimension, "is_stable": is_stable, "num_keys": num_keys})
    return outs, [None if t is None else gather_along_axis(t, perm, dimension)
                  for t in tangents]


jvp_rules[P.sort] = _sort_jvp


# ---------------------------------------------------------------------------------------------
# Collectives

# psum is linear: the tangent is the psum of the tangents.
jvp_rules[P.psum] = linear_jvp(P.psum)


# ---------------------------------------------------------------------------------------------
# Ops with regions


def _fusion_jvp(primals, tangents, *, regions):
    # A fused group is differentiated through its body, which is inlined (un-fused).
    from llax.transforms.jvp import jvp_function

    (body,) = regions
    nonzero = [t is not None for t in tangents]
    jvp_body, consts = jvp_function(body, nonzero)
    outs = call_function(jvp_body, [*consts, *primals, *(t for t in tangents if t is not None)])
    n = len(body.results)
    return outs[:n], outs[n:]


jvp_rules[P.fusion] = _fusion_jvp

# The complex primitives' rules, and abs's on complex operands (which wraps the one above).
import llax.transforms.complex_rules  # noqa: E402,F401
