"""``vmap`` of ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan`` and ``map``.

Oracles: the definition of vmap (the unbatched function run by the interpreter
on each example in a Python loop, the results stacked), JAX (values, dtypes and
weak types), and hand-derived values where a loop has a closed form (Collatz
lengths, sums). The batched programs run eagerly and under ``jit`` (native
code). Each rule under every mapping pattern of its operands is in
test_vmap_rules.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax import lax
from llax.ir.core import walk_ops
from llax.tests.jnp_oracle import jax
from llax.tests.test_vmap import assert_tree_same
from llax.tests.test_vmap_rules import assert_close

jnp = jax.numpy
rng = np.random.default_rng(9)
F = rng.uniform(-2, 2, (6,)).astype(np.float32)
M = rng.uniform(-2, 2, (6, 4)).astype(np.float32)
XS = rng.uniform(-2, 2, (6, 5, 3)).astype(np.float32)  # 6 examples of 5 steps of 3 values
W = rng.uniform(-1, 1, (3, 3)).astype(np.float32)
PRED = np.array([True, False, False, True, True, False])
INDEX = np.array([-3, 0, 1, 2, 3, 7], np.int32)  # out of range: switch clamps
STARTS = np.array([1, 2, 3, 6, 7, 9, 27, 97], np.int32)


def ops_of(fn) -> list[str]:
    return [op.prim.name for op in walk_ops(fn)]


def traced(f, *args):
    return llax.make_jaxpr(f)(*args).jaxpr.function


def stacked(f, in_axes, args):
    """vmap by definition: ``f`` on each example (interpreted), the results stacked."""
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    f = llax.jit(f, backend="interpreter")
    outs = [f(*[a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes)])
            for b in range(size)]
    return llax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


def assert_tree_close(got, want, what: str, rtol: float = 1e-6, atol: float = 1e-6) -> None:
    got_leaves, got_tree = llax.tree_util.tree_flatten(got)
    want_leaves, want_tree = llax.tree_util.tree_flatten(want)
    assert got_tree == want_tree, f"{what}: {got_tree} != {want_tree}"
    for g, w in zip(got_leaves, want_leaves):
        assert_close(np.asarray(g), np.asarray(w), what, rtol, atol)


# ---------------------------------------------------------------------------------------------
# Each case: make(lax, numpy) -> the per-example function, its in_axes, its arguments.


def _collatz(lax_, np_):
    def length(n):
        def step(c):
            k, steps = c
            return np_.where(k % 2 == 0, k // 2, 3 * k + 1), steps + 1
        return lax_.while_loop(lambda c: c[0] != 1, step, (n, 0))[1]
    return length


def _newton_sqrt(lax_, np_):
    # Lanes converge after different numbers of iterations; the count is a carry.
    def f(a):
        def body(c):
            x, k = c
            return 0.5 * (x + a / x), k + 1
        return lax_.while_loop(lambda c: (np_.abs(c[0] * c[0] - a) > 1e-4 * a) & (c[1] < 50),
                               body, (a, 0))
    return f


def _branch_nan(lax_, np_):
    # The branch not taken would give NaN on the lanes it does not own.
    return lambda x: lax_.cond(x > 0, np_.log, lambda y: y * y, x)


def _square_carry(lax_, np_):
    # W @ C batches C's per-example product at dim 1: the carry is moved back to 0.
    def f(c0):
        return lax_.fori_loop(0, 3, lambda i, c: np_.tanh(W @ c), c0)
    return f


CASES = {
    # cond
    "cond, batched predicate and operand": (
        lambda lax_, np_: lambda p, x: lax_.cond(p, np_.sin, lambda y: y - 1, x),
        (0, 0), (PRED, F)),
    "cond, batched predicate, unbatched operand": (
        lambda lax_, np_: lambda p, x: lax_.cond(p, lambda y: y * 2, lambda y: y - 1, x),
        (0, None), (PRED, M[0])),
    "cond, unbatched predicate, batched operand": (
        lambda lax_, np_: lambda p, x: lax_.cond(p, lambda y: y * 2, np_.cos, x),
        (None, 0), (True, M)),
    "cond, predicate from the operand": (
        lambda lax_, np_: lambda x: lax_.cond(x.sum() > 0, lambda y: y @ W, lambda y: -y, x),
        (0,), (XS[:, 0],)),
    "cond, a branch returns an unbatched constant": (
        lambda lax_, np_: lambda p, x: lax_.cond(p, lambda y: (y, 1.0), lambda y: (y * 3, 2.0),
                                                 x),
        (None, 1), (False, M)),
    "cond, branch not taken gives NaN": (_branch_nan, (0,), (F,)),
    "cond, no operands": (
        lambda lax_, np_: lambda p: lax_.cond(p, lambda: 1.0, lambda: 2.0), (0,), (PRED,)),
    "cond, pytree operands, in_axes 1": (
        lambda lax_, np_: lambda p, t: lax_.cond(
            p, lambda d: {"a": d["a"] + d["b"], "b": d["b"]},
            lambda d: {"a": d["a"], "b": d["b"] * d["a"].sum()}, t),
        (0, {"a": 1, "b": None}), (PRED, {"a": M.T, "b": np.float32(1.5)})),
    "nested cond": (
        lambda lax_, np_: lambda p, q, x: lax_.cond(
            p, lambda y: lax_.cond(q, np_.exp, np_.sin, y), lambda y: y, x),
        (0, 0, 0), (PRED, PRED[::-1].copy(), F)),
    "cond with integer predicate": (
        lambda lax_, np_: lambda k, x: lax_.cond(k, lambda y: y + 1, lambda y: y - 1, x),
        (0, 0), (INDEX, F)),
    # switch
    "switch, batched index with out-of-range values": (
        lambda lax_, np_: lambda i, x: lax_.switch(
            i, [lambda y: y * 2, np_.sin, lambda y: y - 10.0], x),
        (0, 0), (INDEX, F)),
    "switch, batched index, unbatched operand": (
        lambda lax_, np_: lambda i, x: lax_.switch(
            i, [lambda y: y.sum(), lambda y: y.max(), lambda y: y[0] * 1.0], x),
        (0, None), (INDEX, M[0])),
    "switch, unbatched index": (
        lambda lax_, np_: lambda i, x: lax_.switch(i, [np_.sin, np_.cos, np_.tanh], x),
        (None, 0), (np.int32(5), M)),
    "switch, pytree outputs": (
        lambda lax_, np_: lambda i, x: lax_.switch(
            i, [lambda y: (y, np_.int32(0)), lambda y: (-y, np_.int32(1)),
                lambda y: (y * y, np_.int32(2))], x),
        (0, -1), (INDEX, M.T)),
    # while_loop
    "while, batched predicate: Collatz lengths": (_collatz, (0,), (STARTS,)),
    "while, batched predicate: Newton square roots": (
        _newton_sqrt, (0,), (np.array([0.25, 1.0, 2.0, 9.0, 1e4, 3e6], np.float32),)),
    "while, predicate from a batched cond const": (
        lambda lax_, np_: lambda n: lax_.while_loop(lambda c: c < n, lambda c: c + 2, 0),
        (0,), (np.array([0, 1, 5, 8], np.int32),)),
    "while, unbatched predicate, batched carry": (
        lambda lax_, np_: lambda x: lax_.while_loop(
            lambda c: c[0] < 4, lambda c: (c[0] + 1, np_.sin(c[1]) + c[1]), (0, x)),
        (0,), (M,)),
    "while, carry batched by the body": (
        lambda lax_, np_: lambda a: lax_.while_loop(
            lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 0.5 + a, c[2]), (0, 0.0, 7)),
        (0,), (F,)),
    "while, batched predicate, an unbatched carry": (
        lambda lax_, np_: lambda n, x: lax_.while_loop(
            lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.5), (0, x)),
        (0, None), (np.array([0, 1, 4], np.int32), M[0])),
    "while, batched predicate, the body returns a weak constant": (
        lambda lax_, np_: lambda n: lax_.while_loop(
            lambda c: c[0] < n, lambda c: (c[0] + 1, 2.0), (0, np.float32(1))),
        (0,), (np.array([0, 2, 3], np.int32),)),
    # fori_loop
    "fori_loop, concrete bounds": (
        lambda lax_, np_: lambda x: lax_.fori_loop(0, 5, lambda i, c: c * x + i, 1.0),
        (0,), (F,)),
    "fori_loop, batched upper bound": (
        lambda lax_, np_: lambda n, x: lax_.fori_loop(0, n, lambda i, c: c + i * x, 0.0),
        (0, 0), (np.array([0, 3, 1, 6, 2, 4], np.int32), F)),
    "fori_loop, carry moved back to dim 0": (_square_carry, (0,), (XS[:, :3],)),
    # scan
    "scan, batched xs only": (
        lambda lax_, np_: lambda xs: lax_.scan(lambda c, x: (c + x, c * x), np_.zeros(3), xs),
        (0,), (XS,)),
    "scan, batched init only": (
        lambda lax_, np_: lambda c0: lax_.scan(lambda c, x: (np_.sin(c) + x, c.sum()), c0,
                                               XS[0]),
        (0,), (M[:, :3],)),
    "scan, batched consts only": (
        lambda lax_, np_: lambda a: lax_.scan(lambda c, x: (c + 1, x * a), 0, XS[0]),
        (0,), (F,)),
    "scan, xs mapped on axis 1": (
        lambda lax_, np_: lambda xs: lax_.scan(lambda c, x: (c @ W + x, c), np_.ones(3), xs),
        (1,), (XS.transpose(1, 0, 2),)),
    "scan, xs mapped on the last axis": (
        lambda lax_, np_: lambda xs: lax_.scan(lambda c, x: (c + x, x[::-1] * c), np_.zeros(3),
                                               xs),
        (-1,), (XS.transpose(1, 2, 0),)),
    "scan, pytrees": (
        lambda lax_, np_: lambda t, xs: lax_.scan(
            lambda c, x: ({"s": c["s"] + x[0], "n": c["n"] + 1}, (x[1] * c["s"], c["n"])),
            t, xs),
        ({"s": 0, "n": None}, (1, 0)), ({"s": M[:, :3], "n": np.int32(0)},
                                       (XS.transpose(1, 0, 2), XS))),
    "scan, reverse": (
        lambda lax_, np_: lambda c0, xs: lax_.scan(lambda c, x: (c * 0.5 + x, c), c0, xs,
                                                   reverse=True),
        (0, 0), (M[:, :3], XS)),
    "scan, a batched carry the body makes constant": (
        lambda lax_, np_: lambda a: lax_.scan(lambda c, x: ((c[1], 1.0), c[0] + x), (a, a),
                                              XS[0, :, 0]),
        (0,), (F,)),
    "scan, nothing to scan over": (
        lambda lax_, np_: lambda a: lax_.scan(lambda c, x: (c * a, c + x), 1.0,
                                              np_.zeros((0,), np_.float32)),
        (0,), (F,)),
    "map": (lambda lax_, np_: lambda xs: lax_.map(lambda x: x @ W, xs), (0,), (XS,)),
    "map with batch_size (a vmap inside a scan)": (
        lambda lax_, np_: lambda xs: lax_.map(lambda x: np_.sin(x).sum(), xs, batch_size=2),
        (0,), (XS,)),
    # mixed
    "cond inside scan, batched predicate": (
        lambda lax_, np_: lambda xs: lax_.scan(
            lambda c, x: (lax_.cond(x.sum() > c.sum(), lambda: c + x, lambda: c * 0.5), c),
            np_.zeros(3), xs),
        (0,), (XS,)),
    "while inside scan, batched predicate": (
        lambda lax_, np_: lambda xs: lax_.scan(
            lambda c, x: (c + lax_.while_loop(lambda k: k * k < x, lambda k: k + 1, 0), c),
            0, xs),
        (0,), ((XS[:, :, 0] * 20).astype(np.int32),)),
    "scan inside while, batched predicate": (
        lambda lax_, np_: lambda n, x: lax_.while_loop(
            lambda c: c[0] < n,
            lambda c: (c[0] + 1, lax_.scan(lambda s, y: (s * 0.9 + y, None), c[1], x)[0]),
            (0, 0.0)),
        (0, 0), (np.array([0, 1, 2, 3, 4, 5], np.int32), XS[:, :, 0])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_vmap_equals_stacked_examples_and_jax(name: str) -> None:
    make, in_axes, args = CASES[name]
    f = make(lax, lnp)
    got = llax.vmap(f, in_axes=in_axes)(*args)
    assert_tree_close(got, _stacked_tree(f, in_axes, args), f"{name}: vs stacked examples")
    assert_tree_same(got, jax.vmap(make(jax.lax, jnp), in_axes=in_axes)(*args),
                     f"{name}: vs JAX", rtol=1e-5, atol=1e-5)
    assert_tree_close(llax.jit(llax.vmap(f, in_axes=in_axes))(*args), got,
                      f"{name}: jit")


def _leaf_axes(spec, value) -> list:
    """One axis per leaf of ``value``, of which the in_axes entry ``spec`` is a prefix."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(llax.tree_util.tree_leaves(value))
    if isinstance(spec, dict):
        return [a for k in sorted(spec) for a in _leaf_axes(spec[k], value[k])]
    return [a for s, v in zip(spec, value, strict=True) for a in _leaf_axes(s, v)]


def _stacked_tree(f, in_axes, args):
    """``stacked`` for pytree arguments."""
    leaves, tree = llax.tree_util.tree_flatten(args)

    def flat(*xs):
        return f(*llax.tree_util.tree_unflatten(tree, list(xs)))

    return stacked(flat, _leaf_axes(in_axes, args), leaves)


# ---------------------------------------------------------------------------------------------
# Hand-derived results


def _collatz_length(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def test_collatz_lengths_lanes_finish_apart() -> None:
    want = [_collatz_length(int(n)) for n in STARTS]
    assert len(set(want)) == len(want)  # every lane stops at another iteration
    for run in (llax.vmap(_collatz(lax, lnp)), llax.jit(llax.vmap(_collatz(lax, lnp)))):
        got = run(STARTS)
        assert np.asarray(got).tolist() == want


def test_psum_inside_a_scan_body() -> None:
    # Each step adds the sum over the batch of that step's x: every lane gets the same
    # running totals (the cumulative sum of the per-step batch sums).
    def f(lax_, np_):
        return lambda xs: lax_.scan(lambda c, x: (c + lax_.psum(x, "i"), c), np_.zeros(3), xs)

    xs = XS.astype(np.float64)
    totals = np.cumsum(xs.sum(0), axis=0)
    got = llax.vmap(f(lax, lnp), axis_name="i")(XS)
    np.testing.assert_allclose(np.asarray(got[0]), np.broadcast_to(totals[-1], (6, 3)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(got[1][:, 1:]),
                               np.broadcast_to(totals[:-1], (6, 4, 3)), rtol=1e-5, atol=1e-6)
    assert_tree_same(got, jax.vmap(f(jax.lax, jnp), axis_name="i")(XS), "psum in scan",
                     rtol=1e-5, atol=1e-5)


COLLECTIVE_CASES = {
    # The scan's operands are all unbatched: the rule runs because the body names the axis.
    "psum of an unbatched value in a scan": (
        lambda lax_, np_: lambda a, xs: lax_.scan(
            lambda c, x: (c + lax_.psum(x, "i"), c * a), 0.0, xs),
        (0, None), (F, XS[0, :, 0])),
    "axis_index in a while body": (
        lambda lax_, np_: lambda n: lax_.while_loop(
            lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] + lax_.axis_index("i")), (0, 0)),
        (0,), (np.array([3, 0, 2, 5, 1, 4], np.int32),)),
    "pmax in a branch, batched index": (
        lambda lax_, np_: lambda p, x: lax_.cond(p, lambda y: lax_.pmax(y, "i"), np_.sin, x),
        (0, 0), (PRED, F)),
    "psum in a branch, unbatched index": (
        lambda lax_, np_: lambda p, x: lax_.cond(p, lambda y: lax_.psum(y, "i"), np_.sin, x),
        (None, 0), (True, M)),
    "psum in a while predicate": (
        lambda lax_, np_: lambda x: lax_.while_loop(
            lambda c: lax_.psum(c, "i") < 100.0, lambda c: c * 2.0 + 1.0, x),
        (0,), (np.abs(F),)),
}


@pytest.mark.parametrize("name", list(COLLECTIVE_CASES))
def test_collectives_in_regions_like_jax(name: str) -> None:
    make, in_axes, args = COLLECTIVE_CASES[name]
    got = llax.vmap(make(lax, lnp), in_axes=in_axes, axis_name="i")(*args)
    want = jax.vmap(make(jax.lax, jnp), in_axes=in_axes, axis_name="i")(*args)
    assert_tree_same(got, want, name, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Compositions that need only batching (autodiff of control flow is tested elsewhere)


NESTED = {
    "vmap of vmap of scan": (
        lambda vmap, jit, lax_, np_: vmap(vmap(lambda x: lax_.scan(
            lambda c, y: (c * y + 1.0, c), 0.0, x)), in_axes=1)(XS)),
    "vmap of vmap of while, predicate batched by the inner axis": (
        lambda vmap, jit, lax_, np_: vmap(vmap(lambda n, x: lax_.while_loop(
            lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * x), (0, 1.0)),
            in_axes=(0, None)), in_axes=(None, 0))(np.array([0, 2, 5], np.int32), F)),
    "vmap of vmap of switch, both axes in the index": (
        lambda vmap, jit, lax_, np_: vmap(vmap(lambda i, j, x: lax_.switch(
            i + j, [np_.sin, np_.cos, np_.exp], x), in_axes=(0, None, 0)),
            in_axes=(None, 0, 0))(np.array([0, 1, 2], np.int32), np.array([0, 1], np.int32),
                                  M[:2, :3])),
    "vmap of scan of vmap": (
        lambda vmap, jit, lax_, np_: vmap(lambda xs: lax_.scan(
            lambda c, x: (c + vmap(np_.tanh)(x), c), np_.zeros(3), xs))(XS)),
    "scan of vmap of while": (
        lambda vmap, jit, lax_, np_: lax_.scan(lambda c, n: (c + vmap(lambda m: lax_.while_loop(
            lambda k: k * k < m, lambda k: k + 1, 0))(n), c), np_.zeros(4, np_.int32),
            np.arange(20, dtype=np.int32).reshape(5, 4))),
    "vmap of jit of scan": (
        lambda vmap, jit, lax_, np_: vmap(jit(lambda x: lax_.scan(
            lambda c, y: (c * y + 1.0, c), 0.0, x)))(XS[:, :, 0])),
    "vmap of map of vmap": (
        lambda vmap, jit, lax_, np_: vmap(lambda xs: lax_.map(vmap(lambda x: x * x - 1.0),
                                                              xs))(XS)),
    "vmap with out_axes 1 and a pytree of loops": (
        lambda vmap, jit, lax_, np_: vmap(lambda x: {"w": lax_.fori_loop(
            0, 4, lambda i, c: c + x, x), "c": lax_.cond(x.sum() > 0, lambda: x, lambda: -x)},
            out_axes=1)(M)),
}


@pytest.mark.parametrize("name", list(NESTED))
def test_nested_like_jax(name: str) -> None:
    make = NESTED[name]
    want = make(jax.vmap, jax.jit, jax.lax, jnp)
    assert_tree_same(make(llax.vmap, llax.jit, lax, lnp), want, name, rtol=1e-5, atol=1e-5)
    assert_tree_same(llax.jit(lambda: make(llax.vmap, llax.jit, lax, lnp))(), want,
                     f"jit: {name}", rtol=1e-5, atol=1e-5)


def test_fori_loop_traced_unbatched_bounds() -> None:
    # Under jit the bounds are traced, so fori_loop is a while; with them unbatched every
    # example stops together and the while stays one loop over a batched carry.
    def f(lax_, np_, vmap):
        return lambda lo, hi, x: vmap(lambda y: lax_.fori_loop(lo, hi, lambda i, c: c * y + i,
                                                               1.0))(x)

    run = llax.jit(f(lax, lnp, llax.vmap))
    got = run(np.int32(1), np.int32(5), F)
    assert_tree_same(got, jax.jit(f(jax.lax, jnp, jax.vmap))(np.int32(1), np.int32(5), F),
                     "traced bounds", rtol=1e-5, atol=1e-5)
    want = np.ones(6)
    for i in range(1, 5):
        want = want * F.astype(np.float64) + i
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    fn = traced(f(lax, lnp, llax.vmap), np.int32(1), np.int32(5), F)
    assert ops_of(fn).count("while") == 1 and "reduce_or" not in ops_of(fn)



def test_grad_of_vmap_of_cond_ignores_the_branch_not_taken() -> None:
    # A batched predicate turns the cond into selects, so this needs no autodiff rule of
    # cond. sqrt has an infinite derivative at 0, where its branch is not taken: the
    # gradient there is the other branch's 3, not 0 * inf = NaN.
    x = np.array([0.0, 1.0, 4.0, -2.0, 0.0, 0.25], np.float32)

    def make(lax_, np_, vmap, grad):
        return grad(lambda v: vmap(lambda y: lax_.cond(y > 0, np_.sqrt,
                                                       lambda z: z * 3.0, y))(v).sum())

    got = make(lax, lnp, llax.vmap, llax.grad)(x)
    want = np.where(x > 0, 0.5 / np.sqrt(np.maximum(x, 1e-30)), 3.0)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    assert_tree_same(got, make(jax.lax, jnp, jax.vmap, jax.grad)(x), "grad of vmap of cond")

# ---------------------------------------------------------------------------------------------
# The batched IR: only what differs per example is batched


def _top(fn, name: str):
    (op,) = [op for op in fn.ops if op.prim.name == name]
    return op


def test_unbatched_index_keeps_one_cond() -> None:
    # Outputs no branch batches stay unbatched; the operand is not moved for the branches.
    fn = traced(llax.vmap(lambda p, x: lax.cond(p, lambda y: (y * 2, 1.0),
                                                lambda y: (y, 2.0), x), in_axes=(None, 1)),
                True, M)
    cond = _top(fn, "cond")
    assert [o.type.shape for o in cond.outputs] == [(4, 6), ()]
    assert "transpose" not in ops_of(fn)[:ops_of(fn).index("cond")]
    assert "select_n" not in ops_of(fn)


def test_batched_index_becomes_selects() -> None:
    fn = traced(llax.vmap(lambda i, x: lax.switch(i, [lnp.sin, lnp.cos, lnp.exp], x)),
                INDEX, F)
    assert "cond" not in ops_of(fn)
    assert {"sin", "cos", "exp"} <= set(ops_of(fn))


def test_unbatched_predicate_keeps_one_while() -> None:
    fn = traced(llax.vmap(lambda x: lax.while_loop(lambda c: c[0] < 3,
                                                   lambda c: (c[0] + 1, c[1] * 2.0), (0, x))), F)
    loop = _top(fn, "while")
    assert [o.type.shape for o in loop.outputs] == [(), (6,)]  # the counter stays a scalar
    assert "reduce_or" not in ops_of(fn) and "select_n" not in ops_of(fn)


def test_batched_predicate_loops_while_any_runs() -> None:
    fn = traced(llax.vmap(_collatz(lax, lnp)), STARTS)
    cond, body = _top(fn, "while").regions
    assert ops_of(cond)[-1] == "reduce_or"
    assert ops_of(body)[-2:] == ["select_n", "select_n"]  # finished lanes keep their carry


def test_scan_batch_axes_stay_where_they_are() -> None:
    # xs batched at 1 are scanned as they are, the ys come out batched at 1: no transposes.
    fn = traced(llax.vmap(lambda xs: lax.scan(lambda c, x: (c + x, x * 2.0), 0.0, xs),
                          in_axes=1, out_axes=(0, 1)), XS[:, :, 0].T)
    assert ops_of(fn).count("transpose") == 0
    scan = _top(fn, "scan")
    assert [o.type.shape for o in scan.outputs] == [(6,), (5, 6)]


def test_scan_unbatched_carry_stays_unbatched() -> None:
    fn = traced(llax.vmap(lambda a: lax.scan(lambda c, x: (c + 1, x * a), 0, XS[0])), F)
    scan = _top(fn, "scan")
    assert [o.type.shape for o in scan.outputs] == [(), (5, 6, 3)]
