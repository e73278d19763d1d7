"""make_jaxpr's text is JAX's, and a nested jit is a ``jit`` equation that every
transformation and the compiler see through. JAX is the oracle throughout."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import jax
import jax.numpy as jnp  # noqa: E402
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.jaxpr_text import jaxpr_text
from llax.frontend.pretty import brk, concat, group, nest, text
from llax.ir.interpreter import evaluate_function
from llax.ir.parser import parse_function
from llax.ir.printer import print_function
from llax.ir.structure import structure_key
from llax.transforms.partial_eval import partial_eval
from llax.transforms.transpose import transpose_function

LLAX = SimpleNamespace(jit=llax.jit, np=lnp, lax=llax.lax, grad=llax.grad, vmap=llax.vmap,
                       custom_jvp=llax.custom_jvp, custom_vjp=llax.custom_vjp)
JAX = SimpleNamespace(jit=jax.jit, np=jnp, lax=jax.lax, grad=jax.grad, vmap=jax.vmap,
                      custom_jvp=jax.custom_jvp, custom_vjp=jax.custom_vjp)


# ---------------------------------------------------------------------------------------------
# Programs whose jaxprs JAX and llax trace alike: the texts must be equal, character for
# character. Each builder takes the namespace (llax's or JAX's) and returns the function.


def _literals(m):
    return lambda x: x * 0.1 + 1.0


def _float16_literal(m):
    return lambda x: x.astype(m.np.float16) * 0.1


def _literal_precision(m):
    return lambda x: (m.np.float32(1e20) * x, x > 1e-30, m.np.float32(3.3) * x + np.float32(1e-7))


def _convert(m):
    return lambda x: x.astype(m.np.int32) + 1


def _reductions(m):
    return lambda x: (m.np.sum(m.np.sin(x) ** 2, axis=0), m.np.argmax(x), m.np.max(x),
                      m.np.mean(x))


def _reshape(m):
    return lambda x: m.np.reshape(x, (-1,)).astype(m.np.float16)


def _broadcasts(m):
    return lambda x: (m.np.zeros(3), m.np.arange(3), m.np.expand_dims(x, 0))


def _dot(m):
    return lambda x: m.np.dot(x, x)


def _cond(m):
    return lambda x: m.lax.cond(x[0] > 0, lambda v: v + 1, lambda v: v - 1, x)


def _fori(m):
    return lambda x: m.lax.fori_loop(0, 3, lambda i, c: c * 2.0, x)


def _while(m):
    return lambda x: m.lax.while_loop(lambda c: c[0] < 10.0, lambda c: c * 2.0, x)


def _scan(m):
    return lambda x: m.lax.scan(lambda c, xi: (c + xi, c * xi), 0.0, x)


def _nested(m):
    g = m.jit(lambda y: m.np.sin(y) * 2.0)
    return lambda x: g(x) + 1


def _nested_two_args(m):
    @m.jit
    def inner(a, b):
        return a @ b
    return lambda x: inner(x[:, None], x[None, :])


def _nested_static(m):
    h = m.jit(lambda a, n: a * n, static_argnums=1)
    return lambda x: h(x, 3)


def _nested_outputs_named_like_the_call(m):
    return lambda x: m.jit(lambda a: (a, a * 2, 1.0))(x)


def _nested_shared(m):
    # The same jitted function twice: JAX prints its jaxpr once, as `let small = ... in`.
    small = m.jit(lambda y: y + 1.0)
    return lambda x: (small(x) + small(x), small(small(x)))


def _nested_large(m):
    # More than ten equations: printed once, before the top-level jaxpr.
    @m.jit
    def big(y):
        for _ in range(12):
            y = y * 2.0
        return y
    return lambda x: m.lax.cond(x[0] > 0, big, lambda v: v, x)


def _custom_jvp(m):
    @m.custom_jvp
    def cf(x):
        return m.np.sin(x)

    @cf.defjvp
    def cf_jvp(p, t):
        return cf(p[0]), t[0] * m.np.cos(p[0])

    return cf


def _custom_vjp(m):
    @m.custom_vjp
    def vf(x):
        return x * 2.0

    def vf_fwd(x):
        return vf(x), x

    def vf_bwd(r, g):
        return (g * 2.0,)

    vf.defvjp(vf_fwd, vf_bwd)
    return vf


def _long_params(m):
    # Params that do not fit on one line break one per line; short sub-jaxprs stay on one.
    def f(x):
        y = m.lax.dynamic_slice(x, (1,), (2,))
        return m.lax.scan(lambda c, xi: (c * xi + c * 2.0 + xi * 3.0, c), 1.0, y)
    return f


PROGRAMS: dict[str, Callable] = {f.__name__.lstrip("_"): f for f in (
    _literals, _float16_literal, _literal_precision, _convert, _reductions, _reshape,
    _broadcasts, _dot, _cond, _fori, _while, _scan, _nested, _nested_two_args, _nested_static,
    _nested_outputs_named_like_the_call, _nested_shared, _nested_large, _custom_jvp,
    _custom_vjp, _long_params)}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_text_is_jax_text(name: str) -> None:
    build = PROGRAMS[name]
    x = np.linspace(0.5, 1.5, 3).astype(np.float32)
    ours = str(llax.make_jaxpr(build(LLAX))(lnp.asarray(x)))
    theirs = str(jax.make_jaxpr(build(JAX))(jnp.asarray(x)))
    assert ours == theirs, f"llax:\n{ours}\nJAX:\n{theirs}"


def test_literal_is_the_float32_value_at_full_precision() -> None:
    text = str(llax.make_jaxpr(lambda x: x * 0.1)(np.float32(1)))
    assert "0.10000000149011612:f32[]" in text and "{weak}" not in text


@pytest.mark.parametrize("build", [
    lambda m: lambda x: x * 0.1,
    lambda m: lambda x: m.jit(lambda y: y * 0.1 - 1e-8)(x) + 2.5,
    lambda m: lambda x: m.np.sin(x) * 1e20 + 0.3,
])
def test_weak_literals_print_as_written(build) -> None:
    # With a Python float argument the literals stay weak: JAX prints them as written.
    ours = str(llax.make_jaxpr(build(LLAX))(1.0))
    theirs = str(jax.make_jaxpr(build(JAX))(1.0))
    assert ours == theirs, f"llax:\n{ours}\nJAX:\n{theirs}"


def test_dimension_numbers_print_by_field() -> None:
    def build(m):
        return lambda x, i: (x.at[i].add(1.0), x[i])
    x, i = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([0, 1], np.int32)
    ours = str(llax.make_jaxpr(build(LLAX))(x, i))
    theirs = str(jax.make_jaxpr(build(JAX))(x, i))
    for record in ("ScatterDimensionNumbers(", "GatherDimensionNumbers("):
        line = next(ln for ln in theirs.splitlines() if record in ln)
        assert line in ours.splitlines()


def test_dtype_params_are_spelled_as_jax() -> None:
    text = str(llax.make_jaxpr(lambda x: x.astype(lnp.int32))(np.float32(1)))
    assert "new_dtype=int32 weak_type=False" in text


def test_width_is_respected_by_pretty_print() -> None:
    jaxpr = llax.make_jaxpr(lambda x: x + 1.0)(np.float32(1))
    assert str(jaxpr) == "{ lambda ; a:f32[]. let b:f32[] = add a 1.0:f32[] in (b,) }"
    narrow = jaxpr.pretty_print(width=20)
    assert narrow.splitlines()[0] == "{ lambda ; a:f32[]. let"
    assert narrow == jax.make_jaxpr(lambda x: x + 1.0)(np.float32(1)).pretty_print(width=20)


def test_pretty_printer_groups_fit_or_break() -> None:
    doc = group(nest(2, concat([text("["), brk(""), text("a=1"), brk(), text("b=2")]))
                + concat([brk(""), text("]")]))
    assert doc.format(80) == "[a=1 b=2]"
    assert doc.format(5) == "[\n  a=1\n  b=2\n]"
    inner = group(concat([text("x"), brk(), text("y")]))
    outer = group(nest(2, concat([text("start"), brk(), inner, brk(), text("end")])))
    assert outer.format(80) == "start x y end"
    assert outer.format(8) == "start\n  x y\n  end"


def test_unused_outputs_print_as_underscore() -> None:
    f = PROGRAMS["fori"](LLAX)
    assert "_:i32[]" in str(llax.make_jaxpr(f)(np.ones(3, np.float32)))


def test_constvars_print_before_the_semicolon() -> None:
    fn = llax.make_jaxpr(lambda x: x + 1.0)(np.float32(1)).jaxpr.function
    expected = "{ lambda a:f32[]; . let b:f32[] = add a 1.0:f32[] in (b,) }"
    assert jaxpr_text(fn, n_consts=1) == expected


# ---------------------------------------------------------------------------------------------
# The nested jit equation


def _inner(m):
    return m.jit(lambda y, s: m.np.sin(y) * s + y)


def test_nested_jit_is_one_equation_with_a_sub_jaxpr() -> None:
    g = _inner(LLAX)
    jaxpr = llax.make_jaxpr(lambda x: g(x, 2.0) * 3.0)(np.ones(3, np.float32))
    eqn = jaxpr.eqns[0]
    assert [e.primitive.name for e in jaxpr.eqns] == ["jit", "mul"]
    assert eqn.params["name"] == "<lambda>"
    theirs = jax.make_jaxpr(lambda x: _inner(JAX)(x, 2.0) * 3.0)(np.ones(3, np.float32))
    assert theirs.eqns[0].primitive.name == "jit"
    assert [e.primitive.name for e in eqn.params["jaxpr"].eqns] == \
        [e.primitive.name for e in theirs.eqns[0].params["jaxpr"].eqns]
    assert str(jaxpr) == str(theirs)


def test_nested_jit_round_trips_through_the_ir_text() -> None:
    g = _inner(LLAX)
    fn = llax.make_jaxpr(lambda x: g(x, 2.0) + 1)(np.ones(3, np.float32)).jaxpr.function
    text = print_function(fn)
    assert "jit[" in text and "jaxpr={" in text
    back = parse_function(text)
    assert print_function(back) == text and structure_key(back) == structure_key(fn)


def test_nested_jit_traces_abstractly_even_under_eager_grad() -> None:
    # jit traces its function on abstract values: Python branching on them fails, as in JAX.
    def f(m):
        g = m.jit(lambda y: y if y > 0 else -y)
        return lambda x: g(x) * 2.0

    with pytest.raises(jax.errors.TracerBoolConversionError):
        jax.grad(f(JAX))(1.0)
    with pytest.raises(llax.errors.TracerBoolConversionError):
        llax.grad(f(LLAX))(1.0)


def _transformations(m):
    g = _inner(m)

    def f(x):
        return m.np.sum(g(x, 2.0) ** 2)

    def looped(x):
        def body(c, xi):
            y = g(xi, c)
            return c + y, y
        return m.lax.scan(body, 0.5, x)[0]

    def branched(x):
        return m.lax.cond(x[0] > 0, lambda v: g(v, 3.0), lambda v: v, x)

    return {
        "call": lambda x: g(x, 2.0),
        "jit": m.jit(lambda x: g(x, 2.0) + 1),
        "grad": m.grad(f),
        "jit(grad)": m.jit(m.grad(f)),
        "grad(grad)": lambda x: m.vmap(m.grad(m.grad(lambda v: g(v, 2.0))))(x),
        "vmap": m.vmap(lambda v: g(v, 2.0)),
        "vmap(grad)": m.vmap(m.grad(lambda v: g(v, v))),
        "jvp": lambda x: (jax.jvp if m is JAX else llax.jvp)(
            lambda v: g(v, 2.0), (x,), (m.np.ones_like(x),)),
        "vjp": lambda x: (jax.vjp if m is JAX else llax.vjp)(
            lambda v: g(v, 2.0), x)[1](m.np.ones_like(x)),
        "linearize": lambda x: (jax.linearize if m is JAX else llax.linearize)(
            lambda v: g(v, 2.0), x)[1](m.np.ones_like(x)),
        "grad(scan)": m.grad(looped),
        "vmap(scan)": m.vmap(looped, in_axes=1),
        "grad(cond)": m.grad(lambda x: m.np.sum(branched(x))),
        "vmap(cond)": m.vmap(branched, in_axes=1),
        "hessian": (jax.hessian if m is JAX else llax.hessian)(f),
    }


@pytest.mark.parametrize("name", list(_transformations(LLAX)))
def test_nested_jit_under_transformations(name: str) -> None:
    x = np.linspace(-1.0, 1.0, 6).astype(np.float32).reshape(2, 3)
    if name in ("grad(grad)", "vmap", "vmap(grad)", "jvp", "vjp", "linearize", "call", "jit",
                "grad", "jit(grad)", "hessian", "grad(cond)", "grad(scan)"):
        x = x[1]
    ours = _transformations(LLAX)[name](lnp.asarray(x))
    theirs = _transformations(JAX)[name](jnp.asarray(x))
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-6, atol=2e-6)


def test_partial_eval_splits_a_nested_jit() -> None:
    # The primal work of the region lands on the known side, the work on the unknown input
    # on the staged side, with residuals between them.
    g = LLAX.jit(lambda x, t: (LLAX.np.sin(x) * t, x, 2.0))
    fn = llax.make_jaxpr(lambda x, t: g(x, t))(np.float32(0.5), np.float32(3)).jaxpr.function
    split = partial_eval(fn, [False, True], [True, False, False])
    known_prims = {op.prim.name for op in split.known.ops}
    staged_prims = {op.prim.name for op in split.staged.ops}
    assert "sin" in known_prims and "sin" not in staged_prims and "mul" in staged_prims
    known = evaluate_function(split.known, [np.float32(0.5)])
    out = evaluate_function(split.staged, [*known[2:], np.float32(3)])
    np.testing.assert_allclose(out[0], np.sin(np.float32(0.5)) * 3, rtol=1e-6)
    np.testing.assert_allclose(known[0], 0.5)
    np.testing.assert_allclose(known[1], 2.0)


def test_transpose_of_a_linear_nested_jit() -> None:
    g = LLAX.jit(lambda t, c: (t * c + t, t))
    fn = llax.make_jaxpr(g)(np.ones(3, np.float32), np.float32(2)).jaxpr.function
    fn_t, consts = transpose_function(fn.replace(results=fn.results[:1]), [True, False])
    ct = np.arange(3, dtype=np.float32)
    (got,) = evaluate_function(fn_t, [*consts, np.float32(2), ct])
    np.testing.assert_allclose(got, 3 * ct)


def test_nested_jit_compiles_inlined() -> None:
    g = LLAX.jit(lambda y: y * 2.0)
    f = llax.jit(lambda x: g(x) + g(x + 1))
    x = np.arange(4, dtype=np.float32)
    np.testing.assert_allclose(f(x), x * 2 + (x + 1) * 2)
    text = f.lower(x).as_text("ir")
    assert "jit[" not in text
    assert "jit[" in f.lower(x).as_text("traced")
