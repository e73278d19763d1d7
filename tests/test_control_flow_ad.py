"""Autodiff through control flow: cond, switch, while_loop, fori_loop, scan and map.

In float64: JVPs against central finite differences and against JAX; VJPs by the
inner-product test (<J t, c> == <t, J^T c>) and against JAX; gradients of nested loops,
of closed-over values, of second order; JAX's error for reverse mode of a while loop;
the IR of reverse mode (loop-invariant residuals are consts of the linear scan, not
stacked per step); JAX's custom_vjp fixed-point example. The per-primitive cases (and
the transformations under the IR verifier) are in test_autodiff_prims.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import jax
import numpy as np
import pytest

import llax
from llax.frontend.autodiff import linear_program
from llax.ir import prims as P
from llax.ir.core import Function, walk_ops
from llax.ir.types import TensorType
from llax.passes.dce import EFFECTFUL
from llax.transforms.jvp import jvp_function
from llax.transforms.staging import build_closed_function, call_function
from tests.jnp_oracle import x64_mode

F64 = np.dtype(np.float64)
WHILE_ERROR = ("Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop "
               "with dynamic start/stop values. Try using lax.scan, or using fori_loop with "
               "static start/stop.")


@pytest.fixture(autouse=True)
def _x64() -> Iterator[None]:
    with x64_mode(True):
        yield


_rng = np.random.default_rng(7)


def u(*shape: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return _rng.uniform(lo, hi, shape)


def leaves(x: Any) -> list[np.ndarray]:
    return [np.asarray(v, F64) for v in jax.tree_util.tree_leaves(x)]


def close(got: Any, want: Any, rtol: float, what: str) -> None:
    got, want = leaves(got), leaves(want)
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        scale = 1.0 + float(np.max(np.abs(w), initial=0.0))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale, err_msg=what)


def inner(xs: Any, ys: Any) -> float:
    return float(sum(np.sum(x * y) for x, y in zip(leaves(xs), leaves(ys))))


def finite_differences(f: Callable, args: Sequence[np.ndarray], ts: Sequence[np.ndarray],
                       eps: float = 1e-6) -> list[np.ndarray]:
    plus = leaves(f(*(a + eps * t for a, t in zip(args, ts))))
    minus = leaves(f(*(a - eps * t for a, t in zip(args, ts))))
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


# ---------------------------------------------------------------------------------------------
# Programs, each written against a namespace ``m`` (llax or jax)


def cond_closed_over(m: Any) -> Callable:
    # y is read by the branches without being an operand: a const of the cond.
    def f(x, y):
        return m.lax.cond(m.numpy.sum(x) > 0, lambda a: m.numpy.sin(a) * y,
                          lambda a: m.numpy.exp(a) - y, x)

    return f


def switch_three(m: Any) -> Callable:
    def f(x, y):
        index = m.numpy.argmax(x)  # an integer index computed from the input
        return m.lax.switch(index, [lambda a, b: a * b, lambda a, b: m.numpy.cos(a) + b,
                                    lambda a, b: m.numpy.tanh(a * b)], x, y)

    return f


def while_newton(m: Any) -> Callable:
    # Fixed number of steps decided by an integer carry; forward mode only.
    def f(a, x):
        def body(c):
            i, x = c
            return i + 1, 0.5 * (x + a / x)

        return m.lax.while_loop(lambda c: c[0] < 6, body, (0, x))[1]

    return f


def fori_concrete(m: Any) -> Callable:
    def f(x, y):
        def body(i, c):
            return m.numpy.sin(c) * y + m.lax.convert_element_type(i, np.float64) * c

        return m.lax.fori_loop(1, 5, body, x)

    return f


def scan_pytree_consts(m: Any, reverse: bool) -> Callable:
    # A pytree carry (a dict of a vector and a scalar), consts (w), two xs, two ys.
    def f(w, v, xs, zs):
        def step(c, inp):
            x, z = inp
            v, s = c["v"], c["s"]
            v = m.numpy.tanh(w @ v + x * s)
            return {"v": v, "s": s * z + m.numpy.sum(v)}, (v * z, s)

        carry, ys = m.lax.scan(step, {"v": v, "s": m.numpy.float64(1.0)}, (xs, zs),
                               reverse=reverse)
        return carry, ys

    return f


def map_exp(m: Any) -> Callable:
    return lambda xs, y: m.lax.map(lambda x: m.numpy.exp(x * y) * m.numpy.sum(x), xs)


def nested_fori(m: Any) -> Callable:
    def f(x, y):
        def outer(i, c):
            return m.lax.fori_loop(0, 3, lambda j, d: m.numpy.sin(d) * y + c * 0.5, c)

        return m.numpy.sum(m.lax.fori_loop(0, 4, outer, x))

    return f


PROGRAMS: dict[str, tuple[Callable[[Any], Callable], tuple[np.ndarray, ...]]] = {
    "cond true": (cond_closed_over, (u(3, lo=0.1), u(3))),
    "cond false": (cond_closed_over, (u(3, hi=-0.1), u(3))),
    "switch": (switch_three, (np.array([0.1, -0.3, 0.7]), u(3))),
    "switch first": (switch_three, (np.array([0.9, -0.3, 0.7]), u(3))),
    "fori_loop": (fori_concrete, (u(2), u(2))),
    "scan": (lambda m: scan_pytree_consts(m, False), (u(3, 3) * 0.5, u(3), u(5, 3), u(5))),
    "scan reverse": (lambda m: scan_pytree_consts(m, True), (u(3, 3) * 0.5, u(3), u(5, 3),
                                                              u(5))),
    "map": (map_exp, (u(4, 2), u(2))),
    "nested fori_loop": (nested_fori, (u(3), u(3))),
}
FORWARD_ONLY = {"while_loop": (while_newton, (np.array([2.0, 3.0]), np.array([1.0, 1.5])))}


def directions(args: Sequence[np.ndarray], seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(np.shape(a)) for a in args)


@pytest.mark.parametrize("name", [*PROGRAMS, *FORWARD_ONLY])
def test_jvp_against_finite_differences_and_jax(name: str):
    build, args = {**PROGRAMS, **FORWARD_ONLY}[name]
    f = build(llax)
    ts = directions(args, 1)
    out, tan = llax.jvp(f, args, ts)
    close(tan, finite_differences(f, args, ts), 1e-6, f"{name}: JVP vs finite differences")
    want_out, want_tan = jax.jvp(build(jax), args, ts)
    close(out, want_out, 1e-12, f"{name}: primal vs JAX")
    close(tan, want_tan, 1e-12, f"{name}: JVP vs JAX")


@pytest.mark.parametrize("name", PROGRAMS)
def test_vjp_is_the_transpose_of_the_jvp_and_matches_jax(name: str):
    build, args = PROGRAMS[name]
    f = build(llax)
    ts = directions(args, 2)
    _, tan = llax.jvp(f, args, ts)
    out, pullback = llax.vjp(f, *args)
    cts = jax.tree_util.tree_map(lambda o: np.random.default_rng(3).standard_normal(
        np.shape(o)), jax.tree_util.tree_map(np.asarray, out))
    cts_in = pullback(cts)
    lhs, rhs = inner(cts_in, ts), inner(cts, tan)
    assert abs(lhs - rhs) <= 1e-10 * (1 + abs(lhs)), f"{name}: {lhs} != {rhs}"
    _, jax_pullback = jax.vjp(build(jax), *args)
    close(cts_in, jax_pullback(cts), 1e-12, f"{name}: VJP vs JAX")


@pytest.mark.parametrize("name", PROGRAMS)
def test_grad_matches_jax_eagerly_and_under_jit(name: str):
    build, args = PROGRAMS[name]

    def loss(m: Any) -> Callable:
        f = build(m)
        return lambda *a: sum(m.numpy.sum(m.numpy.sin(y)) for y in m.tree_util.tree_leaves(
            f(*a)))

    argnums = tuple(range(len(args)))
    want = jax.grad(loss(jax), argnums)(*args)
    close(llax.grad(loss(llax), argnums)(*args), want, 1e-12, f"{name}: grad vs JAX")
    jitted = llax.jit(llax.grad(loss(llax), argnums))
    close(jitted(*args), want, 1e-12, f"{name}: jit(grad) vs JAX")


# ---------------------------------------------------------------------------------------------
# Particular cases


def test_grad_of_nested_fori_loops_by_hand():
    # d/dx of sum(fori 0..2 of (c -> fori 0..1 of (d -> d * c))) = 4 x^3 for x^4 per element.
    def f(x):
        def outer(i, c):
            return llax.lax.fori_loop(0, 1, lambda j, d: d * c, c)

        return llax.numpy.sum(llax.lax.fori_loop(0, 2, outer, x))

    x = u(4)
    close(llax.grad(f)(x), 4 * x ** 3, 1e-13, "grad of x^4 through nested fori_loops")


def test_grad_through_cond_of_a_closed_over_value():
    def make(m):
        def f(x, y):
            return m.lax.cond(x > 0, lambda: m.numpy.sin(y) * x, lambda: y * y)

        return f

    for x in (0.7, -0.7):
        y = 1.3
        want = (np.sin(y), np.cos(y) * x) if x > 0 else (0.0, 2 * y)
        got = llax.grad(make(llax), (0, 1))(x, y)
        close(got, want, 1e-14, f"grad at x={x} by hand")
        close(got, jax.grad(make(jax), (0, 1))(x, y), 1e-14, f"grad at x={x} vs JAX")


@pytest.mark.parametrize("api", ["grad", "vjp", "jit(grad)"])
def test_reverse_mode_of_while_loop_raises_jax_error(api: str):
    f = while_newton(llax)
    args = (np.array([2.0, 3.0]), np.array([1.0, 1.5]))

    def loss(a, x):
        return llax.numpy.sum(f(a, x))

    run = {"grad": lambda: llax.grad(loss)(*args),
           "vjp": lambda: llax.vjp(f, *args)[1](np.ones(2)),
           "jit(grad)": lambda: llax.jit(llax.grad(loss))(*args)}[api]
    with pytest.raises(ValueError) as e:
        run()
    assert str(e.value) == WHILE_ERROR
    with pytest.raises(ValueError) as e:  # the oracle's message
        jax.grad(lambda a, x: jax.numpy.sum(while_newton(jax)(a, x)))(*args)
    assert str(e.value) == WHILE_ERROR


def test_fori_loop_with_traced_bounds_is_a_while_forward_only():
    def make(m):
        def f(x, n):
            return m.lax.fori_loop(0, n, lambda i, c: m.numpy.sin(c) * 1.5 + 0.1, x)

        return f

    x, t, n = u(3), u(3), np.int32(4)
    jvp = llax.jit(lambda x, t, n: llax.jvp(lambda x: make(llax)(x, n), (x,), (t,)))
    out, tan = jvp(x, t, n)
    want = jax.jit(lambda x, t, n: jax.jvp(lambda x: make(jax)(x, n), (x,), (t,)))(x, t, n)
    close((out, tan), want, 1e-12, "JVP of fori_loop with traced bounds vs JAX")
    fd = finite_differences(lambda x: make(llax)(x, 4), (x,), (t,))
    close(tan, fd, 1e-6, "vs finite differences")
    grad = llax.jit(llax.grad(lambda x, n: llax.numpy.sum(make(llax)(x, n))))
    with pytest.raises(ValueError) as e:
        grad(x, n)
    assert str(e.value) == WHILE_ERROR


def test_second_order_through_scan():
    def make(m):
        def f(x):
            c, ys = m.lax.scan(lambda c, a: (m.numpy.sin(c) * a + c * c, c), x,
                               np.array([0.5, -1.0, 2.0]))
            return c + m.numpy.sum(ys * ys)

        return f

    for x in (0.3, -0.8):
        want = jax.grad(jax.grad(make(jax)))(x)
        close(llax.grad(llax.grad(make(llax)))(x), want, 1e-12, f"grad(grad) at {x}")
        hess = llax.jit(llax.grad(llax.grad(make(llax))))
        close(hess(x), want, 1e-12, f"jit(grad(grad)) at {x}")
        close(llax.jacfwd(llax.grad(make(llax)))(x), want, 1e-12, f"jacfwd(grad) at {x}")


def test_linearize_under_jit_puts_known_and_linear_loops_in_one_function():
    # The known and the staged ops (and their regions) meet in one traced function: each
    # variable must still be defined once (the verifier is on in the tests).
    cases = {"scan": PROGRAMS["scan"], "cond": PROGRAMS["cond true"], "while": FORWARD_ONLY[
        "while_loop"]}
    for name, (build, args) in cases.items():
        ts = directions(args, 4)

        def lin(args, ts, build=build):
            return llax.linearize(build(llax), *args)[1](*ts)

        want = jax.jvp(build(jax), args, ts)[1]
        close(llax.jit(lin)(args, ts), want, 1e-12, f"{name}")
        close(lin(args, ts), want, 1e-12, f"{name} eagerly")


# ---------------------------------------------------------------------------------------------
# The IR of the transformations


def _abstract(f: Callable, *types: TensorType) -> Function:
    fn, consts = build_closed_function(lambda *a: [f(*a)], types, "f")
    assert not consts
    return fn


def _scans(fn: Function) -> list:
    return [op for op in walk_ops(fn) if op.prim is P.scan]


def test_jvp_of_fori_loop_carries_no_tangent_for_the_counter():
    t = TensorType((3,), F64)
    fn = _abstract(lambda x: llax.lax.fori_loop(0, 5, lambda i, c: llax.numpy.sin(c), x), t)
    jfn, _ = jvp_function(fn, [True])
    (scan,) = _scans(jfn)
    # (counter, x, x's tangent): the integer counter has no tangent carry.
    assert scan.params["num_carry"] == 3
    assert [v.type.dtype.kind for v in scan.outputs] == ["i", "f", "f"]


def test_a_carry_whose_tangent_starts_zero_gets_one():
    # The carry starts at the constant 1.0 (zero tangent) but the body multiplies it by x.
    def f(x):
        return llax.lax.scan(lambda c, a: (c * a, None), np.ones(3), x)[0]

    x, t = u(4, 3), u(4, 3)
    _, tan = llax.jvp(f, (x,), (t,))
    want = np.prod(x, 0) * np.sum(t / x, 0)
    close(tan, want, 1e-12, "product rule over the steps")


@pytest.mark.parametrize("computed", [False, True])
def test_rnn_reverse_mode_reads_the_weights_once_not_per_step(computed: bool):
    # h = tanh(W @ h + U @ x_t) with W of 64x64 and 1000 steps. The linear scan reads W (or
    # 2 W computed from it in the body, hoisted out of the loop) as a const: nothing of shape
    # (T, H, H) is stacked.
    steps, hidden, inputs = 1000, 64, 8

    def rnn(w, u_mat, h, xs):
        def step(h, x):
            weights = w * 2.0 if computed else w
            return llax.numpy.tanh(weights @ h + u_mat @ x), None

        return llax.numpy.sum(llax.lax.scan(step, h, xs)[0])

    types = (TensorType((hidden, hidden), F64), TensorType((hidden, inputs), F64),
             TensorType((hidden,), F64), TensorType((steps, inputs), F64))
    prog = linear_program(_abstract(rnn, *types), [True] * 4, 1)
    for part in (prog.known, prog.staged):
        for op in walk_ops(part):
            for v in (*op.inputs, *op.outputs):
                assert v.type.shape != (steps, hidden, hidden), f"stacked weights: {op.prim}"
    (staged_scan,) = _scans(prog.staged)
    nc = staged_scan.params["num_consts"]
    const_shapes = [a.type.shape for a in staged_scan.inputs[:nc]]
    assert const_shapes.count((hidden, hidden)) >= 2, const_shapes  # W (or 2 W) and dW
    if not computed:  # W itself is the residual: the known part hands its parameter over
        assert prog.known.params[0] in prog.known.results
    (known_scan,) = _scans(prog.known)
    # Per step the linear scan needs h and tanh's derivative; x_t is read from xs itself.
    ys = [v.type.shape for v in known_scan.outputs[known_scan.params["num_carry"]:]]
    assert ys == [(steps, hidden)] * 2, ys


def test_ops_with_effects_are_not_hoisted_out_of_the_loop():
    # sin(w) depends on the consts only, but an op with effects must run at every step.
    def make(m):
        def f(w, xs):
            step = lambda h, x: (m.numpy.sin(w) * h + x, None)  # noqa: E731
            return m.numpy.sum(m.lax.scan(step, m.numpy.ones(2), xs)[0])

        return f

    w, xs = u(2), u(3, 2)
    want = jax.grad(make(jax), (0, 1))(w, xs)
    fn = _abstract(make(llax), TensorType((2,), F64), TensorType((3, 2), F64))
    for effectful in (False, True):
        if effectful:
            EFFECTFUL.add(P.sin)
        try:
            prog = linear_program(fn, [True, True], 1)
            bwd, bwd_consts = prog.transposed()
        finally:
            EFFECTFUL.discard(P.sin)
        (known_scan,) = _scans(prog.known)
        in_loop = P.sin in [op.prim for op in known_scan.regions[0].ops]
        assert in_loop == effectful
        assert (P.sin in [op.prim for op in prog.known.ops]) == (not effectful)
        known = call_function(prog.known, [w, xs])
        grads = call_function(bwd, [*bwd_consts, *known[1:], np.float64(1.0)])
        close(grads, want, 1e-13, f"gradient (sin effectful: {effectful}) vs JAX")


def test_rnn_gradient_matches_jax():
    def make(m):
        def loss(w, u_mat, h, xs):
            def step(h, x):
                return m.numpy.tanh(w @ h + u_mat @ x), m.numpy.sum(h)

            h, ys = m.lax.scan(step, h, xs)
            return m.numpy.sum(h) + m.numpy.sum(ys * ys)

        return loss

    args = (u(16, 16) * 0.3, u(16, 4), u(16), u(50, 4))
    want = jax.grad(make(jax), (0, 1, 2, 3))(*args)
    close(llax.grad(make(llax), (0, 1, 2, 3))(*args), want, 1e-11, "RNN gradient vs JAX")


# ---------------------------------------------------------------------------------------------
# JAX's custom_vjp fixed-point example (the custom-derivatives tutorial)


def fixed_point_sqrt(m: Any) -> Callable:
    @partial(m.custom_vjp, nondiff_argnums=(0,))
    def fixed_point(f, a, x_guess):
        def cond_fun(carry):
            x_prev, x = carry
            return m.numpy.abs(x_prev - x) > 1e-6

        def body_fun(carry):
            _, x = carry
            return x, f(a, x)

        _, x_star = m.lax.while_loop(cond_fun, body_fun, (x_guess, f(a, x_guess)))
        return x_star

    def fixed_point_fwd(f, a, x_init):
        x_star = fixed_point(f, a, x_init)
        return x_star, (a, x_star)

    def fixed_point_rev(f, res, x_star_bar):
        a, x_star = res
        _, vjp_a = m.vjp(lambda a: f(a, x_star), a)
        a_bar, = vjp_a(fixed_point(partial(rev_iter, f), (a, x_star, x_star_bar), x_star_bar))
        return a_bar, m.numpy.zeros_like(x_star)

    def rev_iter(f, packed, u):
        a, x_star, x_star_bar = packed
        _, vjp_x = m.vjp(lambda x: f(a, x), x_star)
        return x_star_bar + vjp_x(u)[0]

    fixed_point.defvjp(fixed_point_fwd, fixed_point_rev)

    def newton_sqrt(a):
        update = lambda a, x: 0.5 * (x + a / x)  # noqa: E731 - the tutorial's code
        return fixed_point(update, a, a)

    return newton_sqrt


def test_custom_vjp_fixed_point_example():
    ours, theirs = fixed_point_sqrt(llax), fixed_point_sqrt(jax)
    for a in (2.0, 9.0, 0.25):
        close(ours(a), theirs(a), 1e-15, f"sqrt({a})")
        g = llax.grad(ours)(a)
        close(g, jax.grad(theirs)(a), 1e-15, f"grad at {a} vs JAX")
        close(g, 0.5 / np.sqrt(a), 1e-9, f"grad at {a} vs 1 / (2 sqrt(a))")
        close(llax.grad(llax.grad(ours))(a), jax.grad(jax.grad(theirs))(a), 1e-12,
              f"second derivative at {a} vs JAX")
        close(llax.jit(llax.grad(ours))(a), jax.grad(theirs)(a), 1e-15,
              f"jit(grad) at {a}")
