"""Autodiff of the control-flow primitives ``cond``, ``while`` and ``scan``.

Three rules per primitive, each right above its registration:

- JVP: the region(s) are differentiated with ``jvp_function`` and a new op of
  the same primitive carries the tangents next to the primals. For loops, a
  carry whose tangent starts as a symbolic zero may turn non-zero in the body;
  the rule finds the fixed point of which carries have tangents (as JAX does).
- Partial evaluation (``partial_eval_rules``): with the primals known and the
  tangents unknown, the op is split into a known op (the primal computation and
  the residuals) and a staged op linear in the tangents. Staging the op whole
  would put the non-linear primal loop on the linear side.
- Transposition: a ``scan`` transposes into a scan walking the other way whose
  body is the transposed body; a ``cond`` into a cond of the transposed
  branches. A ``while`` cannot be transposed (its trip count is not known ahead),
  which is JAX's error.

New regions are traced anew (``build_function`` over ``call_function``), so
they have their own variables; a partial-evaluation rule gives its staged op
regions that share no variable with its known op's (traced anew, or renamed):
the verifier wants every variable defined once in a tree, and ``linearize``
under ``jit`` puts both ops in one function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llax.frontend import lax
from llax.frontend.core import bind
from llax.frontend.jnp._coerce import convert
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Literal, Op, Params, Var, renamed
from llax.ir.primitive import infer_types
from llax.ir.types import TensorType
from llax.passes.dce import eliminate_dead_code, has_effects
from llax.transforms.jvp import has_tangent, instantiate, jvp_function, jvp_rules, zeros
from llax.transforms.partial_eval import partial_eval, partial_eval_rules, unknown_results
from llax.transforms.staging import build_function, call_function
from llax.transforms.transpose import is_linear, transpose_function, transpose_rules

# ---------------------------------------------------------------------------------------------
# Helpers


def _split(xs: Sequence[Any], *sizes: int) -> list[list[Any]]:
    """``xs`` cut into consecutive groups of the given sizes and the rest."""
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


def _pick(xs: Sequence[Any], flags: Sequence[bool], want: bool = True) -> list[Any]:
    return [x for x, f in zip(xs, flags, strict=True) if f == want]


def _unpick(xs: Sequence[Any], flags: Sequence[bool]) -> list[Any]:
    """The inverse of ``_pick``: ``xs`` in the flagged places, None in the others."""
    given = iter(xs)
    return [next(given) if f else None for f in flags]


def _cast(x: Any, type: TensorType) -> Any:
    """``x`` with exactly ``type`` (values of a dtype differ at most in weak type here)."""
    return convert(x, type.dtype, type.weak)


def _cast_all(xs: Sequence[Any], types: Sequence[TensorType]) -> list[Any]:
    """Operands of a region op cast to its region's parameter types: a value passed on by
    an enclosing transformation may differ from the type it was traced with in weak type
    only, which the region's types do not allow."""
    return [_cast(x, t) for x, t in zip(xs, types, strict=True)]


def _scan_operands(body: Function, num_consts: int, num_carry: int, length: int,
                   operands: Sequence[Any]) -> list[Any]:
    """``_cast_all`` for a scan: its xs operands are the body's slices stacked."""
    n = num_consts + num_carry
    return _cast_all(operands, [*body.in_types[:n],
                                *(t.with_shape((length, *t.shape)) for t in body.in_types[n:])])


def _region(body: Callable[..., Sequence[Any]], in_types: Sequence[TensorType],
            name: str) -> Function:
    """A region traced from ``body``, without dead ops (zeros made and not returned)."""
    return eliminate_dead_code(build_function(body, list(in_types), name))


def _is_zero(atom: Atom, producers: dict[Var, Op]) -> bool:
    """Whether ``atom`` is a constant zero: a zero literal or one broadcast (which is how
    ``jvp_function`` returns a symbolic-zero tangent)."""
    if isinstance(atom, Var):
        op = producers.get(atom)
        if op is None or op.prim is not P.broadcast_in_dim:
            return False
        atom = op.inputs[0]
    return isinstance(atom, Literal) and not atom.value.any()


def _jvp_region(fn: Function, nonzero: Sequence[bool]) -> tuple[Function, list[Any], list[bool]]:
    """``jvp_function(fn, nonzero)`` and which result tangents are not identically zero.

    ``jvp_function`` instantiates every result tangent; those that come out as a constant
    zero are symbolic zeros that the control-flow op need not carry.
    """
    jfn, consts = jvp_function(fn, nonzero)
    producers = {v: op for op in jfn.ops for v in op.outputs}
    n = len(fn.results)
    out_nz = [has_tangent(r.type) and not _is_zero(t, producers)
              for r, t in zip(fn.results, jfn.results[n:])]
    return jfn, consts, out_nz


def _loop_jvp(body: Function, num_consts: int, num_carry: int, nonzero: Sequence[bool]
              ) -> tuple[list[bool], Function, list[Any], list[bool]]:
    """The carries of a loop ``body: (consts, carry, xs) -> (carry, ys)`` that need tangents:
    the fixed point from those with non-zero initial tangents (a carry whose tangent starts
    zero turns non-zero when the body makes it depend on a non-zero tangent). Returns
    ``(carry_nz, jvp body, its consts, nonzero result tangents)``."""
    consts_nz, carry_nz, xs_nz = _split(nonzero, num_consts, num_carry)
    while True:
        jfn, jconsts, out_nz = _jvp_region(body, consts_nz + carry_nz + xs_nz)
        grown = [a or b for a, b in zip(carry_nz, out_nz[:num_carry])]
        if grown == carry_nz:
            return carry_nz, jfn, jconsts, out_nz
        carry_nz = grown


def _loop_jvp_body(body: Function, jfn: Function, num_jconsts: int, num_consts: int,
                   num_carry: int, in_nz: Sequence[bool], out_nz: Sequence[bool],
                   name: str) -> Function:
    """The body of the JVP loop from ``jfn = jvp_function(body)``: params
    ``(jconsts, consts, const tangents) (carry, carry tangents) (xs, x tangents)``, results
    ``(carry, carry tangents) (ys, y tangents)``, tangents only where flagged non-zero.
    (For a ``while`` there are no xs and ys.)"""
    nk = num_carry
    consts, carry, xs = _split(body.in_types, num_consts, nk)
    c_nz, k_nz, x_nz = _split(in_nz, num_consts, nk)
    groups = [list(jfn.in_types[:num_jconsts]), consts, _pick(consts, c_nz), carry,
              _pick(carry, k_nz), xs, _pick(xs, x_nz)]
    out_types = body.out_types
    n = len(out_types)

    def run(*args: Any) -> list[Any]:
        jc, c, tc, k, tk, x, tx = _split(args, *(len(g) for g in groups[:-1]))
        outs = call_function(jfn, [*jc, *c, *k, *x, *tc, *tk, *tx])
        prim, tans = outs[:n], [_cast(t, ty) for t, ty in zip(outs[n:], out_types)]
        return [*prim[:nk], *_pick(tans[:nk], out_nz[:nk]),
                *prim[nk:], *_pick(tans[nk:], out_nz[nk:])]

    return _region(run, [t for g in groups for t in g], name)


def _new_op(prim, inputs: Sequence[Atom], params: dict, regions: Sequence[Function],
            outputs: Sequence[Var | None] | None = None) -> Op:
    """An op (IR level) with inferred output types; ``outputs`` reuses given variables
    (``None`` entries get fresh ones)."""
    types = infer_types(prim, tuple(a.type for a in inputs), params, tuple(regions))
    outputs = outputs if outputs is not None else [None] * len(types)
    outs = tuple(Var(t) if v is None else v for v, t in zip(outputs, types, strict=True))
    for v, t in zip(outs, types):
        if v.type != t:
            raise AssertionError(f"{prim.name}: output of type {v.type} where {t} is inferred")
    return Op(prim, tuple(inputs), outs, Params(params), tuple(regions))


def _inline(fn: Function, args: Sequence[Atom]) -> tuple[list[Op], list[Atom]]:
    """``fn``'s ops applied to ``args`` (IR level, fresh output variables) and its results."""
    env: dict[Var, Atom] = dict(zip(fn.params, args, strict=True))

    def sub(a: Atom) -> Atom:
        return env[a] if isinstance(a, Var) else a

    ops = []
    for op in fn.ops:
        fresh = tuple(Var(v.type) for v in op.outputs)
        ops.append(op.replace(inputs=tuple(sub(a) for a in op.inputs), outputs=fresh))
        env.update(zip(op.outputs, fresh))
    return ops, [sub(r) for r in fn.results]


# ---------------------------------------------------------------------------------------------
# cond


def _cond_jvp(primals, tangents, *, regions):
    # Every branch is differentiated for the same non-zero operand tangents; an output has a
    # tangent if it has one in any branch (the others return zeros for it). Consts that the
    # differentiated branches capture are operands, each branch ignoring the others'.
    index, *operands = primals
    op_tangents = tangents[1:]
    nz = [t is not None for t in op_tangents]
    jvps = [_jvp_region(b, nz) for b in regions]
    out_nz = [any(col) for col in zip(*(out for _, _, out in jvps))]
    all_consts = [c for _, consts, _ in jvps for c in consts]
    const_types = [j.in_types[:len(consts)] for j, consts, _ in jvps]
    out_types = regions[0].out_types
    n = len(out_types)
    op_types = list(regions[0].in_types)
    in_types = [t for ts in const_types for t in ts] + op_types + _pick(op_types, nz)

    def branch(k: int) -> Function:
        jfn = jvps[k][0]
        before = sum(len(ts) for ts in const_types[:k])

        def run(*args: Any) -> list[Any]:
            own = args[before:before + len(const_types[k])]
            rest = args[len(all_consts):]
            outs = call_function(jfn, [*own, *rest])
            tans = [_cast(t, ty) for t, ty in zip(outs[n:], out_types)]
            return [*outs[:n], *_pick(tans, out_nz)]

        return _region(run, in_types, f"{regions[k].name}_jvp")

    branches = tuple(branch(k) for k in range(len(regions)))
    outs = bind(P.cond, [index, *_cast_all([*all_consts, *operands, *_pick(op_tangents, nz)],
                                           branches[0].in_types)], {}, branches)
    return outs[:n], _unpick(outs[n:], out_nz)


jvp_rules[P.cond] = _cond_jvp


def _cond_partial_eval(op: Op, unknown: list[bool]) -> tuple[list[Op], list[Op]]:
    # Each branch is split for the same unknown operands and outputs (unknown if so in any
    # branch). The known cond returns the known outputs and the residuals of every branch,
    # one list: a branch returns zeros for the others' residuals (as JAX does). The staged
    # cond, on the same index, gives each branch its own residuals.
    if unknown[0]:  # a branch index computed from unknowns: nothing to split
        return [], [op]
    index, *operands = op.inputs
    op_uk = unknown[1:]
    out_uk = [any(col) for col in zip(*(unknown_results(b, op_uk) for b in op.regions))]
    splits = [partial_eval(b, op_uk, out_uk) for b in op.regions]
    res_types = [[v.type for v in s.staged.params[:s.num_residuals]] for s in splits]
    flat_res = [t for ts in res_types for t in ts]
    num_known_out = len(out_uk) - sum(out_uk)

    def known_branch(k: int) -> Function:
        known = splits[k].known

        def run(*args: Any) -> list[Any]:
            outs = call_function(known, args)
            before = [_cast(zeros(t), t) for ts in res_types[:k] for t in ts]
            after = [_cast(zeros(t), t) for ts in res_types[k + 1:] for t in ts]
            return [*outs[:num_known_out], *before, *outs[num_known_out:], *after]

        return _region(run, known.in_types, f"{op.regions[k].name}_known")

    known_op = _new_op(P.cond, [index, *_pick(operands, op_uk, False)], {},
                       [known_branch(k) for k in range(len(splits))],
                       [*_pick(op.outputs, out_uk, False), *[None] * len(flat_res)])
    if not any(out_uk):
        return [known_op], []
    res_vars = known_op.outputs[num_known_out:]

    def staged_branch(k: int) -> Function:
        staged = splits[k].staged
        before = sum(len(ts) for ts in res_types[:k])

        def run(*args: Any) -> list[Any]:
            own = args[before:before + len(res_types[k])]
            return call_function(staged, [*own, *args[len(flat_res):]])

        return _region(run, flat_res + _pick([a.type for a in operands], op_uk),
                       f"{op.regions[k].name}_staged")

    staged_op = _new_op(P.cond, [index, *res_vars, *_pick(operands, op_uk)], {},
                        [staged_branch(k) for k in range(len(splits))],
                        _pick(op.outputs, out_uk))
    return [known_op], [staged_op]


partial_eval_rules[P.cond] = _cond_partial_eval


def _cond_transpose(cts, index, *operands, regions):
    # A cond of the transposed branches, on the same index. Each branch maps the non-linear
    # operands and the output cotangents to the cotangents of the linear operands.
    assert not is_linear(index), "the branch index of a linear cond is not linear"
    lin = [is_linear(x) for x in operands]
    out_types = regions[0].out_types
    cts = [instantiate(ct, t) for ct, t in zip(cts, out_types)]
    op_types = list(regions[0].in_types)
    lin_types = _pick(op_types, lin)
    transposed = [transpose_function(b, lin) for b in regions]
    all_consts = [c for _, consts in transposed for c in consts]
    const_types = [fn_t.in_types[:len(consts)] for fn_t, consts in transposed]
    in_types = [t for ts in const_types for t in ts] + _pick(op_types, lin, False) + \
        list(out_types)

    def branch(k: int, out_types: Sequence[TensorType]) -> Function:
        fn_t = transposed[k][0]
        before = sum(len(ts) for ts in const_types[:k])

        def run(*args: Any) -> list[Any]:
            own = args[before:before + len(const_types[k])]
            outs = call_function(fn_t, [*own, *args[len(all_consts):]])
            return [_cast(c, t) for c, t in zip(outs, out_types)]

        return _region(run, in_types, f"{regions[k].name}_transpose")

    # A cotangent is weak as the branches compute it (as in JAX; a weak operand's is strong
    # when a strong value multiplied it), and the branches must agree: weak if all are.
    fn_ts = [fn_t for fn_t, _ in transposed]
    lin_types = [t.with_dtype(t.dtype, all(f.out_types[i].weak for f in fn_ts))
                 for i, t in enumerate(lin_types)]
    branches = tuple(branch(k, lin_types) for k in range(len(regions)))
    outs = bind(P.cond, [index, *_cast_all([*all_consts, *_pick(operands, lin, False), *cts],
                                           in_types)], {}, branches)
    return [None, *_unpick(outs, lin)]


transpose_rules[P.cond] = _cond_transpose


# ---------------------------------------------------------------------------------------------
# while


def _while_jvp(primals, tangents, *, cond_nconsts, body_nconsts, regions):
    # The body carries the tangents of the carries that need them (the fixed point); the
    # condition reads the primal carries only, and ignores the tangents.
    cond_fn, body = regions
    nc, nb = cond_nconsts, body_nconsts
    cond_consts, body_consts, init = _split(primals, nc, nb)
    _, bc_tangents, init_tangents = _split(tangents, nc, nb)
    nk = len(init)
    carry_nz, jfn, jconsts, out_nz = _loop_jvp(
        body, nb, nk, [t is not None for t in bc_tangents + init_tangents])
    bc_nz = [t is not None for t in bc_tangents]
    new_body = _loop_jvp_body(body, jfn, len(jconsts), nb, nk, bc_nz + carry_nz,
                              carry_nz, f"{body.name}_jvp")
    carry_types = list(body.in_types[nb:])
    tan_types = _pick(carry_types, carry_nz)

    def run_cond(*args: Any) -> list[Any]:
        return call_function(cond_fn, args[:len(args) - len(tan_types)])

    new_cond = _region(run_cond, list(cond_fn.in_types) + tan_types, f"{cond_fn.name}_jvp")
    bc_t = _pick(bc_tangents, bc_nz)
    init_t = [instantiate(t, ty) for t, ty in zip(_pick(init_tangents, carry_nz), tan_types)]
    outs = bind(P.while_loop,
                [*_cast_all(cond_consts, cond_fn.in_types[:nc]),
                 *_cast_all([*jconsts, *body_consts, *bc_t, *init, *init_t], new_body.in_types)],
                {"cond_nconsts": nc, "body_nconsts": len(jconsts) + nb + len(bc_t)},
                (new_cond, new_body))
    return outs[:nk], _unpick(outs[nk:], carry_nz)


jvp_rules[P.while_loop] = _while_jvp


def _while_partial_eval(op: Op, unknown: list[bool]) -> tuple[list[Op], list[Op]]:
    # A while cannot be split into a known and a linear loop: the linear one would need the
    # primal carries of every iteration, whose number is not known ahead (so reverse mode
    # fails on it, see _while_transpose). The carries that do not depend on unknowns are
    # computed by a known while of their own, so the primal outputs stay known; the whole
    # loop is staged for the others (recomputing the known carries).
    p = op.rule_params
    nc, nb = p["cond_nconsts"], p["body_nconsts"]
    cond_fn, body = op.regions
    cond_consts, body_consts, init = _split(op.inputs, nc, nb)
    cc_uk, bc_uk, carry_uk = _split(unknown, nc, nb)
    while True:
        grown = [a or b for a, b in zip(carry_uk, unknown_results(body, bc_uk + carry_uk))]
        if grown == carry_uk:
            break
        carry_uk = grown
    if all(carry_uk) or unknown_results(cond_fn, cc_uk + carry_uk)[0]:
        return [], [op]
    n_known = len(carry_uk) - sum(carry_uk)
    known_body = partial_eval(body, bc_uk + carry_uk, carry_uk).known
    known_body = eliminate_dead_code(known_body.replace(results=known_body.results[:n_known]))
    known_cond = partial_eval(cond_fn, cc_uk + carry_uk, [False]).known
    known_cond = eliminate_dead_code(known_cond.replace(results=known_cond.results[:1]))
    known_bc = _pick(body_consts, bc_uk, False)
    known_op = _new_op(P.while_loop, [*_pick(cond_consts, cc_uk, False), *known_bc,
                                      *_pick(init, carry_uk, False)],
                       {"cond_nconsts": nc - sum(cc_uk), "body_nconsts": len(known_bc)},
                       # (the staged op keeps the original regions, these get new variables)
                       [renamed(known_cond), renamed(known_body)],
                       _pick(op.outputs, carry_uk, False))
    staged_op = op.replace(outputs=tuple(v if uk else Var(v.type)
                                         for v, uk in zip(op.outputs, carry_uk)))
    return [known_op], [staged_op]


partial_eval_rules[P.while_loop] = _while_partial_eval


def _while_transpose(cts, *args, cond_nconsts, body_nconsts, regions):
    raise ValueError(
        "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with "
        "dynamic start/stop values. Try using lax.scan, or using fori_loop with static "
        "start/stop.")


transpose_rules[P.while_loop] = _while_transpose


# ---------------------------------------------------------------------------------------------
# scan


def _scan_jvp(primals, tangents, *, length, num_consts, num_carry, reverse, unroll, regions):
    # A scan over (primals, tangents): tangents of the consts are consts, of the carries
    # carries (where the fixed point needs them), of the xs xs; the ys get tangents where
    # the body gives them.
    (body,) = regions
    nc, nk = num_consts, num_carry
    nonzero = [t is not None for t in tangents]
    carry_nz, jfn, jconsts, out_nz = _loop_jvp(body, nc, nk, nonzero)
    c_nz, _, x_nz = _split(nonzero, nc, nk)
    new_body = _loop_jvp_body(body, jfn, len(jconsts), nc, nk, c_nz + carry_nz + x_nz,
                              out_nz, f"{body.name}_jvp")
    consts, init, xs = _split(primals, nc, nk)
    c_t, init_t, x_t = _split(tangents, nc, nk)
    carry_types = list(body.in_types[nc:nc + nk])
    init_t = [instantiate(t, ty) for t, ty in zip(_pick(init_t, carry_nz),
                                                  _pick(carry_types, carry_nz))]
    n_ct = sum(carry_nz)
    n_consts = len(jconsts) + nc + sum(c_nz)
    operands = [*jconsts, *consts, *_pick(c_t, c_nz), *init, *init_t, *xs, *_pick(x_t, x_nz)]
    outs = bind(P.scan, _scan_operands(new_body, n_consts, nk + n_ct, length, operands),
                {"length": length, "num_consts": n_consts, "num_carry": nk + n_ct,
                 "reverse": reverse, "unroll": unroll}, (new_body,))
    carry, carry_t, ys, ys_t = _split(outs, nk, n_ct, len(out_nz) - nk)
    return [*carry, *ys], _unpick(carry_t + ys_t, carry_nz + out_nz[nk:])


jvp_rules[P.scan] = _scan_jvp


def _scan_partial_eval(op: Op, unknown: list[bool]) -> tuple[list[Op], list[Op]]:
    # The body is split for the unknown consts, carries (a fixed point: a carry is unknown
    # if the body makes it so) and xs. The known scan computes the known carries and ys and
    # returns the residuals that change with the iteration as extra ys; the staged scan reads
    # them as xs. Residuals that depend on the known consts only are loop-invariant: they
    # are computed once, before the loop, and the staged scan reads them as consts (an RNN's
    # weight matrix is read by every step; stacking it per step would cost length copies).
    # A residual that is an xs slice itself is read from that xs, not copied.
    p = op.rule_params
    nc, nk = p["num_consts"], p["num_carry"]
    (body,) = op.regions
    consts, init, xs = _split(op.inputs, nc, nk)
    c_uk, carry_uk, x_uk = _split(unknown, nc, nk)
    while True:
        out_uk = unknown_results(body, c_uk + carry_uk + x_uk)
        grown = [a or b for a, b in zip(carry_uk, out_uk[:nk])]
        if grown == carry_uk:
            break
        carry_uk = grown
    if all(c_uk + carry_uk + x_uk):
        return [], [op]
    y_uk = out_uk[nk:]
    split = partial_eval(body, c_uk + carry_uk + x_uk, carry_uk + y_uk)
    known = split.known  # (known consts, carry, xs) -> (known carry, known ys, residuals)
    n_kc, n_kk, n_kx = nc - sum(c_uk), nk - sum(carry_uk), len(x_uk) - sum(x_uk)
    n_kout = n_kk + len(y_uk) - sum(y_uk)

    # Hoist what depends on the known consts only out of the loop (unless that would move
    # an op with effects: those must run at every step).
    per_step = [False] * n_kc + [True] * (n_kk + n_kx)
    variant = unknown_results(known, per_step)[n_kout:]
    hoist = partial_eval(known, per_step, [True] * n_kout + variant)
    hoist_args, kept_consts = _pick(consts, c_uk, False), []
    if any(has_effects(o) for o in hoist.known.ops):
        variant = [True] * len(variant)
        hoist = partial_eval(known, [True] * len(per_step), [True] * len(known.results))
        hoist_args, kept_consts = [], hoist_args
    hoist_ops, hoisted = _inline(hoist.known, hoist_args)
    invariant_vals = hoisted[:len(variant) - sum(variant)]
    loop_consts = [*hoisted[len(invariant_vals):], *kept_consts]
    known_body = hoist.staged  # (loop consts, known carry, known xs) -> (..., variant res)
    known_xs = _pick(xs, x_uk, False)
    xs_params = known_body.params[len(loop_consts) + n_kk:]
    from_xs = dict(zip(xs_params, known_xs))
    variant_res = known_body.results[n_kout:]
    stacked = [r for r in variant_res if r not in from_xs]
    known_body = known_body.replace(results=known_body.results[:n_kout] + tuple(stacked))
    known_op = _new_op(
        P.scan, [*loop_consts, *_pick(init, carry_uk, False), *known_xs],
        dict(p, num_consts=len(loop_consts), num_carry=n_kk), [known_body],
        [*_pick(op.outputs[:nk], carry_uk, False), *_pick(op.outputs[nk:], y_uk, False),
         *[None] * len(stacked)])
    stacked_of = dict(zip(stacked, known_op.outputs[n_kout:]))
    if not any(carry_uk + y_uk):
        return hoist_ops + [known_op], []

    # The staged body reads the residuals in the order (invariant..., variant...).
    staged = split.staged  # (residuals, unknown consts, carry, xs) -> (unknown carry, ys)
    n_res = split.num_residuals
    res_params = staged.params[:n_res]
    uk_c, uk_k, uk_x = _split(staged.params[n_res:], sum(c_uk), sum(carry_uk))
    inv_params = _pick(res_params, variant, False)
    var_params = _pick(res_params, variant)
    var_vals = [from_xs[r] if r in from_xs else stacked_of[r] for r in variant_res]
    order = [*inv_params, *uk_c, *uk_k, *var_params, *uk_x]
    position = {v: i for i, v in enumerate(order)}

    def run(*args: Any) -> list[Any]:
        return call_function(staged, [args[position[v]] for v in staged.params])

    staged_body = _region(run, [v.type for v in order], f"{body.name}_staged")
    staged_op = _new_op(
        P.scan, [*invariant_vals, *_pick(consts, c_uk), *_pick(init, carry_uk), *var_vals,
                 *_pick(xs, x_uk)],
        dict(p, num_consts=len(inv_params) + len(uk_c), num_carry=len(uk_k)), [staged_body],
        [*_pick(op.outputs[:nk], carry_uk), *_pick(op.outputs[nk:], y_uk)])
    return hoist_ops + [known_op], [staged_op]


partial_eval_rules[P.scan] = _scan_partial_eval


def _scan_transpose(cts, *args, length, num_consts, num_carry, reverse, unroll, regions):
    # The transposed scan walks the other way. Its carries are the cotangent accumulators of
    # the linear consts (their cotangents add up over the steps) and the carry cotangents;
    # its consts and xs are the non-linear (residual) consts and xs, its xs also the ys
    # cotangents; its ys are the cotangents of the linear xs. Every carry is linear: a
    # carry that starts from a known value starts from zeros (the JVP instantiated them).
    (body,) = regions
    nc, nk = num_consts, num_carry
    consts, init, xs = _split(args, nc, nk)
    c_lin, x_lin = [is_linear(c) for c in consts], [is_linear(x) for x in xs]
    c_types, k_types, x_types = _split(body.in_types, nc, nk)
    out_types = body.out_types
    ct_carry = [instantiate(ct, t) for ct, t in zip(cts[:nk], k_types)]
    ct_ys = [instantiate(ct, t.with_shape((length, *t.shape)))
             for ct, t in zip(cts[nk:], out_types[nk:])]
    fn_t, t_consts = transpose_function(body, c_lin + [True] * nk + x_lin)
    n_tc, n_rc = len(t_consts), nc - sum(c_lin)
    acc_types = _pick(c_types, c_lin)
    res_x_types = _pick(x_types, x_lin, False)
    groups = [list(fn_t.in_types[:n_tc]), _pick(c_types, c_lin, False), acc_types, k_types,
              res_x_types, list(out_types[nk:])]

    def run(*a: Any) -> list[Any]:
        tc, rc, acc, ctk, rx, cty = _split(a, *(len(g) for g in groups[:-1]))
        # ct_k has the carry params' types; fn_t takes the carry results' cotangents.
        ct_out = [_cast(c, t) for c, t in zip(ctk, out_types[:nk])]
        ct_c, ct_k, ct_x = _split(call_function(fn_t, [*tc, *rc, *rx, *ct_out, *cty]),
                                  len(acc), nk)
        return [*(_cast(lax.add(s, c), t) for s, c, t in zip(acc, ct_c, acc_types)),
                *(_cast(c, t) for c, t in zip(ct_k, k_types)),
                *(_cast(c, t) for c, t in zip(ct_x, _pick(x_types, x_lin)))]

    t_body = _region(run, [t for g in groups for t in g], f"{body.name}_transpose")
    n_acc = len(acc_types)
    operands = [*t_consts, *_pick(consts, c_lin, False), *map(zeros, acc_types), *ct_carry,
                *_pick(xs, x_lin, False), *ct_ys]
    outs = bind(P.scan, _scan_operands(t_body, n_tc + n_rc, n_acc + nk, length, operands),
                {"length": length, "num_consts": n_tc + n_rc, "num_carry": n_acc + nk,
                 "reverse": not reverse, "unroll": unroll}, (t_body,))
    ct_consts, ct_init, ct_xs = _split(outs, n_acc, nk)
    # (An init that is not linear, a known zero, gets no cotangent.)
    ct_init = [ct if is_linear(x) else None for ct, x in zip(ct_init, init)]
    return [*_unpick(ct_consts, c_lin), *ct_init, *_unpick(ct_xs, x_lin)]


transpose_rules[P.scan] = _scan_transpose
