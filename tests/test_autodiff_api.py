"""The differentiation API against JAX: grad, value_and_grad, jvp, vjp, linearize, errors,
pytrees, composition, Python control flow, custom rules, and the shape of gradient IR.

Per-primitive rules are checked in test_autodiff_prims.py; here the functions are
composite programs, each run eagerly and under jit and compared with JAX.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax import lax
from llax.ir.printer import print_function
from llax.ir.verifier import verify

RNG = np.random.default_rng(0)
GOLDEN = Path(__file__).parent / "golden" / "autodiff"


def rand(*shape, dtype=np.float32):
    return RNG.normal(size=shape).astype(dtype)


def close(a, b, rtol=2e-5, atol=2e-6):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def same_structure(a, b):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)


# ---------------------------------------------------------------------------------------------
# A table of functions, written once against a numpy-like module ``m`` so the same code runs
# on llax.numpy and jax.numpy.


def mlp_loss(m, params, x, labels):
    h = x
    for w, b in params[:-1]:
        h = m.tanh(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    shifted = logits - m.max(logits, axis=1, keepdims=True)
    logp = shifted - m.log(m.sum(m.exp(shifted), axis=1, keepdims=True))
    return -m.mean(m.sum(logp * labels, axis=1))


def linreg_loss(m, p, x, y):
    return m.mean((p["w"] * x + p["b"] - y) ** 2)


def logsumexp(m, x):
    mx = m.max(x)
    return mx + m.log(m.sum(m.exp(x - mx)))


def index_concat(m, x):
    y = m.concatenate([x[1:3] * 2.0, x[::2], m.sin(x[m.array([0, 3, 3])])])
    return m.sum(y ** 2) + x[-1] * y[0]


def where_clip(m, x):
    return m.sum(m.where(x > 0, m.sqrt(m.abs(x) + 1.0), m.clip(x, -0.5, 0.5) ** 2))


def reductions(m, x):
    return m.prod(x[:3] + 2.0) + m.max(x) * m.min(x) + m.var(x)


def broadcasting(m, x, v):
    return m.sum((x * v[None, :] - v) ** 2 / (1.0 + x.T @ x).sum())


MLP_PARAMS = [(rand(6, 8), rand(8)), (rand(8, 3), rand(3))]
CASES = {
    "mlp": (mlp_loss, (MLP_PARAMS, rand(5, 6), np.eye(3, dtype=np.float32)[[0, 2, 1, 1, 0]])),
    "linreg": (linreg_loss, ({"w": np.float32(0.5), "b": np.float32(-0.2)}, rand(20), rand(20))),
    "logsumexp": (logsumexp, (rand(7) * 10,)),
    "index_concat": (index_concat, (rand(6),)),
    "where_clip": (where_clip, (rand(9),)),
    "reductions": (reductions, (rand(6),)),
    "broadcasting": (broadcasting, (rand(4, 3), rand(3))),
}


def fn_pair(name):
    f, args = CASES[name]
    return (lambda *a: f(jnp, *a)), (lambda *a: f(jjnp, *a)), args


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_grad_matches_jax(name, jit):
    lf, jf, args = fn_pair(name)
    argnums = tuple(range(len(args)))
    ours = llax.grad(lf, argnums=argnums)
    if jit:
        ours = llax.jit(ours)
    got = ours(*args)
    want = jax.grad(jf, argnums=argnums)(*args)
    same_structure(got, want)
    close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_value_and_grad_jvp_vjp_linearize_match_jax(name):
    lf, jf, args = fn_pair(name)
    value, g = llax.value_and_grad(lf)(*args)
    jvalue, jg = jax.value_and_grad(jf)(*args)
    close(value, jvalue, rtol=1e-5)
    close(g, jg, rtol=1e-4, atol=1e-5)
    tangents = jax.tree_util.tree_map(lambda a: rand(*np.shape(a)), args)
    out, tout = llax.jvp(lf, args, tangents)
    jout, jtout = jax.jvp(jf, args, tangents)
    close(out, jout, rtol=1e-5)
    close(tout, jtout, rtol=1e-4, atol=1e-5)
    out, f_vjp = llax.vjp(lf, *args)
    cts = f_vjp(np.float32(1.5))
    _, jf_vjp = jax.vjp(jf, *args)
    close(cts, jf_vjp(np.float32(1.5)), rtol=1e-4, atol=1e-5)
    out, f_lin = llax.linearize(lf, *args)
    close(f_lin(*tangents), jtout, rtol=1e-4, atol=1e-5)


def _numerical_directional(f, args, tangents, eps=1e-6):
    plus = jax.tree_util.tree_map(lambda a, t: a + eps * t, args, tangents)
    minus = jax.tree_util.tree_map(lambda a, t: a - eps * t, args, tangents)
    return (np.asarray(f(*plus), np.float64) - np.asarray(f(*minus), np.float64)) / (2 * eps)


@pytest.mark.parametrize("name", sorted(CASES))
def test_composites_against_finite_differences_and_inner_product(name, x64):
    lf, _, args = fn_pair(name)
    args = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), args)
    tangents = jax.tree_util.tree_map(lambda a: rand(*np.shape(a), dtype=np.float64), args)
    _, tout = llax.jvp(lf, args, tangents)
    np.testing.assert_allclose(np.asarray(tout), _numerical_directional(lf, args, tangents),
                               rtol=1e-6, atol=1e-8)
    # <vjp(ct), t> == <ct, jvp(t)>
    _, f_vjp = llax.vjp(lf, *args)
    ct = np.float64(0.7)
    lhs = sum(float(np.sum(np.asarray(c) * t)) for c, t in zip(
        jax.tree_util.tree_leaves(f_vjp(ct)), jax.tree_util.tree_leaves(tangents)))
    np.testing.assert_allclose(lhs, float(ct * np.asarray(tout)), rtol=1e-10)


@pytest.fixture
def x64():
    llax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        llax.config.update("jax_enable_x64", False)


# ---------------------------------------------------------------------------------------------
# Pytrees, argnums, has_aux, weak types


def test_grad_of_pytrees_and_argnums():
    params = {"a": [np.float32(1.5), rand(3)], "b": (rand(2, 3),)}

    def f(m):
        def loss(p, x, scale):
            return m.sum(m.tanh(p["b"][0] @ (p["a"][1] * x))) * p["a"][0] * scale
        return loss

    x = rand(3)
    for argnums in (0, (0, 1), (2,), (1, 2)):
        got = llax.grad(f(jnp), argnums=argnums)(params, x, 2.0)
        want = jax.grad(f(jjnp), argnums=argnums)(params, x, 2.0)
        same_structure(got, want)
        close(got, want)


def test_has_aux_and_value_and_grad_with_aux():
    def f(m):
        return lambda x: (m.sum(x ** 2), {"mean": m.mean(x), "n": x.shape[0]})

    x = rand(4)
    (v, aux), g = llax.value_and_grad(f(jnp), has_aux=True)(x)
    (jv, jaux), jg = jax.value_and_grad(f(jjnp), has_aux=True)(x)
    close((v, g, aux["mean"]), (jv, jg, jaux["mean"]))
    assert aux["n"] == 4
    g2, aux2 = llax.grad(f(jnp), has_aux=True)(x)
    close((g2, aux2["mean"]), (jg, jaux["mean"]))


def test_weak_types_and_dtypes_follow_jax():
    for x in (2.0, np.float32(2.0), np.float64(2.0)):
        got = llax.grad(lambda x: x * 3.0)(x)
        want = jax.grad(lambda x: x * 3.0)(x)
        assert got.dtype == want.dtype and got.weak_type == want.weak_type
        close(got, want)


def test_vjp_of_integer_input_gives_float0():
    _, f_vjp = llax.vjp(lambda x, i: x * i, rand(3), 2)
    ct_x, ct_i = f_vjp(np.ones(3, np.float32))
    close(ct_x, np.full(3, 2.0))
    assert ct_i.dtype == jax.dtypes.float0 and ct_i.shape == ()


def test_vjp_accepts_float0_cotangents_for_integer_outputs():
    _, f_vjp = llax.vjp(lambda x: (x * 2, x > 0), rand(3))
    (ct,) = f_vjp((np.ones(3, np.float32), np.zeros(3, jax.dtypes.float0)))
    close(ct, np.full(3, 2.0))


def test_jvp_with_integer_output_gives_float0_tangent():
    (out, flag), (tout, tflag) = llax.jvp(lambda x: (x * 2, x > 1), (1.5,), (1.0,))
    assert float(tout) == 2.0 and tflag.dtype == jax.dtypes.float0


# ---------------------------------------------------------------------------------------------
# Composition


def test_higher_order_and_jit_composition():
    def f(m):
        return lambda x: m.sin(x) * x ** 3

    x = 0.7
    for transform in (lambda g: g, llax.jit):
        got = transform(llax.grad(llax.grad(llax.grad(f(jnp)))))(x)
        want = jax.grad(jax.grad(jax.grad(f(jjnp))))(x)
        close(got, want, rtol=1e-5)
    close(llax.grad(llax.jit(f(jnp)))(x), jax.grad(f(jjnp))(x))
    close(llax.jit(llax.grad(llax.jit(llax.grad(f(jnp)))))(x),
          jax.grad(jax.grad(f(jjnp)))(x), rtol=1e-5)


def test_grad_of_closure_over_outer_tracer():
    # The inner gradient treats the closed-over x as a constant; the outer one sees it all.
    def f(m, grad):
        return lambda x: grad(lambda y: m.sin(x * y) * y)(2.0 * x)

    close(llax.grad(f(jnp, llax.grad))(0.3), jax.grad(f(jjnp, jax.grad))(0.3))
    close(llax.jit(llax.grad(f(jnp, llax.grad)))(0.3), jax.grad(f(jjnp, jax.grad))(0.3))


def test_jvp_of_grad_and_grad_of_jvp():
    def f(m):
        return lambda x: m.sum(m.exp(-x ** 2))

    x, t = rand(3), rand(3)
    got = llax.jvp(llax.grad(f(jnp)), (x,), (t,))
    want = jax.jvp(jax.grad(f(jjnp)), (x,), (t,))
    close(got, want)
    got = llax.grad(lambda x: llax.jvp(f(jnp), (x,), (t,))[1])(x)
    want = jax.grad(lambda x: jax.jvp(f(jjnp), (x,), (t,))[1])(x)
    close(got, want)


# ---------------------------------------------------------------------------------------------
# Python control flow (JAX's control-flow tutorial)


def piecewise(x):
    if x < 3:
        return 3.0 * x ** 2
    return -4 * x


def doubling(x):
    y = x
    while y < 100.0:
        y = y * 2
    return y


def test_python_control_flow_on_values_outside_jit():
    for x in (2.0, 4.0):
        close(llax.grad(piecewise)(x), jax.grad(piecewise)(x))
    close(llax.grad(doubling)(3.0), jax.grad(doubling)(3.0))
    close(llax.grad(llax.grad(piecewise))(2.0), jax.grad(jax.grad(piecewise))(2.0))


def test_python_control_flow_under_jit_raises_the_tracer_error():
    with pytest.raises(llax.errors.TracerBoolConversionError, match="piecewise"):
        llax.jit(llax.grad(piecewise))(2.0)


def test_grad_retraces_every_call_outside_jit():
    calls = []

    def f(x):
        calls.append(1)
        return x * x

    g = llax.grad(f)
    for _ in range(3):
        g(1.0)
    assert len(calls) == 3
    jg = llax.jit(g)
    for _ in range(3):
        jg(1.0)
    assert len(calls) == 4


def test_a_tracer_leaked_from_grad_is_an_error():
    leaked = []

    def f(x):
        leaked.append(x * 2)
        return x * x

    llax.grad(f)(3.0)
    with pytest.raises(llax.errors.UnexpectedTracerError):
        float(leaked[0])
    with pytest.raises(llax.errors.UnexpectedTracerError):
        jnp.sin(leaked[0])


def test_inputs_are_not_mutated():
    x = rand(5)
    before = x.copy()
    llax.grad(lambda x: jnp.sum(jnp.sin(x)))(x)
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------------------------------------
# Errors, as JAX gives them


def test_error_non_scalar_output():
    with pytest.raises(TypeError, match=r"Gradient only defined for scalar-output functions. "
                                        r"Output had shape: \(3,\)"):
        llax.grad(lambda x: x * 2)(rand(3))


def test_error_output_in_a_container():
    with pytest.raises(TypeError, match="Gradient only defined for scalar-output functions"):
        llax.grad(lambda x: (jnp.sum(x ** 2),))(rand(3))
    with pytest.raises(TypeError, match="Gradient only defined for scalar-output functions"):
        llax.grad(lambda x: {"loss": jnp.sum(x)})(rand(3))


def test_jvp_takes_float0_tangents_for_integer_primals():
    for f in (llax.jvp, jax.jvp):
        out, tout = f(lambda x, n: x * n, (np.ones(2, np.float32), np.arange(2, dtype=np.int32)),
                      (np.ones(2, np.float32), np.zeros(2, jax.dtypes.float0)))
        close(tout, np.arange(2))
        with pytest.raises(TypeError, match=r"expected tangent dtype \[\('float0', 'V'\)\]"):
            f(lambda x, n: x * n, (np.ones(2, np.float32), np.arange(2, dtype=np.int32)),
              (np.ones(2, np.float32), np.ones(2, np.float32)))


def test_error_integer_input_and_output():
    with pytest.raises(TypeError, match="grad requires real- or complex-valued inputs.*int32"):
        llax.grad(lambda x: x * 2)(1)
    with pytest.raises(TypeError, match="grad requires real-valued outputs.*int32"):
        llax.grad(lambda x: (x > 2).astype(jnp.int32))(1.0)


def test_error_argnums_and_has_aux():
    with pytest.raises(TypeError, match="argnums=1 requires at least 2 positional arguments"):
        llax.grad(lambda x: x * 2, argnums=1)(1.0)
    with pytest.raises(ValueError, match="got value -2 for len\\(args\\) == 1"):
        llax.grad(lambda x: x * 2, argnums=-2)(1.0)
    with pytest.raises(TypeError, match="two-element tuple"):
        llax.grad(lambda x: x * 2, has_aux=True)(1.0)
    with pytest.raises(TypeError, match="two-element tuple"):
        llax.grad(lambda x: (x, 1, 2), has_aux=True)(1.0)


def test_error_vjp_and_jvp_mismatches():
    _, f_vjp = llax.vjp(lambda x: x * 2, rand(3))
    with pytest.raises(ValueError, match=r"got float32\[2\], but expected float32\[3\]"):
        f_vjp(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="tree structure"):
        f_vjp((np.ones(3, np.float32),))
    with pytest.raises(ValueError, match="different primal and tangent shapes"):
        llax.jvp(lambda x: x, (rand(3),), (rand(2),))
    with pytest.raises(TypeError, match="dtypes must be equal"):
        llax.jvp(lambda x: x, (rand(3),), (np.ones(3, np.int32),))
    with pytest.raises(TypeError, match="must be tuples or lists"):
        llax.jvp(lambda x: x, rand(3), rand(3))


def test_error_bad_argument_type():
    with pytest.raises(TypeError, match="not a valid JAX type"):
        llax.grad(lambda x: x)("a")


# ---------------------------------------------------------------------------------------------
# stop_gradient and custom rules


def test_stop_gradient():
    close(llax.grad(lambda x: x * lax.stop_gradient(x))(3.0), 3.0)
    tree = lax.stop_gradient({"a": np.float32(1.0), "i": np.int32(2)})
    assert tree["i"].dtype == np.int32
    g = llax.grad(lambda p: p["w"] * lax.stop_gradient(p)["w"] ** 2)({"w": 2.0})
    close(g["w"], 4.0)


@llax.custom_jvp
def log1pexp(x):
    return jnp.log(1.0 + jnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), (1 - 1 / (1 + jnp.exp(x))) * t


def test_custom_jvp_log1pexp_is_stable():
    # The naive derivative is nan at 100 (inf / inf); the rule gives 1.
    assert float(llax.grad(lambda x: jnp.log(1.0 + jnp.exp(x)))(100.0)) != 1.0
    for transform in (lambda f: f, llax.jit):
        assert float(transform(llax.grad(log1pexp))(100.0)) == 1.0
        close(transform(log1pexp)(3.0), np.log1p(np.exp(3.0)))
    # Second order goes through the rule's own derivative: sigmoid'(1).
    s = 1 / (1 + np.exp(-1.0))
    close(llax.grad(llax.grad(log1pexp))(1.0), s * (1 - s))
    close(llax.jvp(log1pexp, (2.0,), (3.0,))[1], 3.0 / (1 + np.exp(-2.0)))


def test_custom_jvp_nondiff_argnums_and_defjvps():
    from functools import partial

    @partial(llax.custom_jvp, nondiff_argnums=(0,))
    def app(f, x):
        return f(x)

    @app.defjvp
    def _app_jvp(f, primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 2.0 * t  # deliberately not f's derivative

    assert float(llax.grad(lambda x: app(jnp.sin, x))(0.3)) == 2.0

    @llax.custom_jvp
    def mul(x, y):
        return x * y

    mul.defjvps(lambda t, ans, x, y: t * y * 10, lambda t, ans, x, y: t * x)
    close(llax.grad(mul, argnums=(0, 1))(2.0, 3.0), (30.0, 2.0))


@llax.custom_vjp
def clip_gradient(lo, hi, x):
    return x


def _clip_fwd(lo, hi, x):
    return x, (lo, hi)


def _clip_bwd(res, g):
    lo, hi = res
    return (None, None, jnp.clip(g, lo, hi))


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


def test_custom_vjp_clip_gradient():
    f = lambda x: 3.0 * clip_gradient(-0.75, 0.75, x)  # noqa: E731
    for transform in (lambda f: f, llax.jit):
        assert float(transform(llax.grad(f))(0.1)) == 0.75
        close(transform(f)(0.1), 0.3)
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        llax.jvp(f, (0.1,), (1.0,))


def test_custom_vjp_with_pytree_residuals_matches_jax():
    def make(m, custom_vjp):
        @custom_vjp
        def f(x, y):
            return m.sin(x) * y

        def fwd(x, y):
            return f(x, y), {"c": m.cos(x), "s": m.sin(x), "y": y}

        def bwd(res, g):
            return (res["c"] * g * res["y"], res["s"] * g)

        f.defvjp(fwd, bwd)
        return f

    f, jf = make(jnp, llax.custom_vjp), make(jjnp, jax.custom_vjp)
    x, y = rand(3), rand(3)
    close(llax.grad(lambda x, y: jnp.sum(f(x, y)), argnums=(0, 1))(x, y),
          jax.grad(lambda x, y: jjnp.sum(jf(x, y)), argnums=(0, 1))(x, y))


# ---------------------------------------------------------------------------------------------
# Gradient IR: golden text, verification, and the cheap-gradient principle


def _traced(f, *args):
    return llax.make_jaxpr(f)(*args).jaxpr.function


def test_golden_gradient_ir():
    from llax.passes.manager import run_pipeline

    def loss(w, x):
        return jnp.sum(jnp.tanh(x @ w) ** 2)

    fn = _traced(loss, np.zeros((4, 3), np.float32), np.zeros((2, 4), np.float32))
    out = run_pipeline(fn, "grad,simplify,cse,dce")
    verify(out)
    text = print_function(out) + "\n"
    golden = GOLDEN / "tanh_matmul_grad.ir"
    assert text == golden.read_text()
    # The matmul's gradients are matmuls with no transpose op.
    assert "transpose" not in text and text.count("dot_general") == 3


def _op_count(fn) -> int:
    return len(fn.ops)


def test_cheap_gradient_principle_on_an_mlp_loss():
    from llax.passes.manager import run_pipeline

    args = CASES["mlp"][1]
    fn = _traced(lambda p, x, y: mlp_loss(jnp, p, x, y), *args)
    primal = run_pipeline(fn, "simplify,cse,dce")
    grad = run_pipeline(fn, "grad,simplify,cse,dce")
    verify(grad)
    ratio = _op_count(grad) / _op_count(primal)
    assert ratio <= 4.0, f"gradient has {_op_count(grad)} ops for {_op_count(primal)} primal"
    # No primal value is computed that the gradient does not need: the loss itself (the
    # final mean and negation) is gone.
    assert len(grad.results) == len(fn.params)


def test_transformed_functions_verify():
    from llax.frontend.autodiff import grad_program, linear_program

    args = CASES["broadcasting"][1]
    fn = _traced(lambda x, v: broadcasting(jnp, x, v), *args)
    prog = linear_program(fn, [True, True], 1)
    for f in (prog.known, prog.staged, prog.transposed()[0], grad_program(fn, [True, True])[0].fn):
        verify(f)


def test_grad_ir_dump_tool(tmp_path, capsys):
    from llax.tools.dump import main

    src = tmp_path / "m.py"
    src.write_text("import llax.numpy as jnp\n\ndef f(x):\n    return jnp.sum(jnp.sin(x))\n")
    assert main([f"{src}:f", "--arg", "f32[3]", "--grad"]) == 0
    out = capsys.readouterr().out
    assert "# grad f" in out and "cos" in out


# ---------------------------------------------------------------------------------------------
# Jacobians and Hessians (vmap of jvp / vjp)


def _vector_fn(m):
    return lambda x, y: {"s": m.sin(x) * m.sum(y ** 2), "t": (m.tanh(x[:2] * y[0]),)}


@pytest.mark.parametrize("jacobian", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_jacobians_match_jax(jacobian, argnums):
    x, y = rand(3), rand(2)
    ours = getattr(llax, jacobian)(_vector_fn(jnp), argnums=argnums)
    theirs = getattr(jax, jacobian)(_vector_fn(jjnp), argnums=argnums)
    want = theirs(x, y)
    for transform in (lambda f: f, llax.jit):
        got = transform(ours)(x, y)
        same_structure(got, want)
        close(got, want, rtol=1e-5, atol=1e-6)


def test_jacobian_of_pytree_input_and_has_aux():
    p = {"w": rand(3), "v": rand(3)}
    f = lambda m: lambda p: (p["w"] * m.sum(p["v"]), {"aux": m.max(p["w"])})  # noqa: E731
    for name in ("jacfwd", "jacrev"):
        got, aux = getattr(llax, name)(f(jnp), has_aux=True)(p)
        want, jaux = getattr(jax, name)(f(jjnp), has_aux=True)(p)
        same_structure(got, want)
        close((got, aux), (want, jaux))


def test_hessian_and_forward_over_reverse():
    f = lambda m: lambda x: m.sum(m.sin(x) ** 2 * x[::-1])  # noqa: E731
    x = rand(4)
    close(llax.hessian(f(jnp))(x), jax.hessian(f(jjnp))(x), rtol=1e-5, atol=1e-6)
    close(llax.jit(llax.jacfwd(llax.jacrev(f(jnp))))(x), jax.jacfwd(jax.jacrev(f(jjnp)))(x),
          rtol=1e-5, atol=1e-6)
    close(llax.jacrev(llax.jacfwd(f(jnp)))(x), jax.jacrev(jax.jacfwd(f(jjnp)))(x),
          rtol=1e-5, atol=1e-6)


def test_jacobian_errors():
    with pytest.raises(TypeError, match="jacfwd requires real-valued inputs.*int32"):
        llax.jacfwd(lambda x: x)(np.arange(3))
    with pytest.raises(TypeError, match="jacrev requires real- or complex-valued inputs.*int32"):
        llax.jacrev(lambda x: x)(np.arange(3))
    for jacobian in (llax.jacfwd, llax.jacrev, llax.hessian):
        with pytest.raises(ValueError, match="got value 1 for len\\(args\\) == 1"):
            jacobian(lambda x: x, argnums=1)(rand(2))


# ---------------------------------------------------------------------------------------------
# Eager gradient programs: reused by structure, compiled once hot


def test_gradient_programs_are_reused_and_compiled_when_hot():
    from llax.frontend.autodiff import grad_program
    from llax.frontend.compile import HotFunction

    def f(m):
        return lambda x: m.sum(m.tanh(x) ** 2 * 1.25)

    x = rand(5)
    want = jax.grad(f(jjnp))(x)
    for _ in range(HotFunction.COMPILE_AFTER + 2):
        close(llax.grad(f(jnp))(x), want)
    program, _ = grad_program(_traced(f(jnp), x), [True])
    assert program.compiled is not None and program.calls >= HotFunction.COMPILE_AFTER


def test_gradient_program_that_cannot_compile_keeps_interpreting(monkeypatch):
    import llax.frontend.compile as compile_module
    from llax.frontend.autodiff import grad_program

    def refuse(fn, **kwargs):
        raise RuntimeError("no code generation today")

    monkeypatch.setattr(compile_module, "compile_function", refuse)

    def f(m):
        return lambda x: m.sum(m.sin(x) * x * 0.75)

    x = rand(4)
    want = jax.grad(f(jjnp))(x)
    for _ in range(5):
        close(llax.grad(f(jnp))(x), want)
    program, _ = grad_program(_traced(f(jnp), x), [True])
    assert program.compiled is None and program.interpret_only


def test_custom_rules_may_use_constant_arrays():
    w = np.array([1.0, 2.0, 3.0], np.float32)

    @llax.custom_vjp
    def f(x):
        return x * w

    f.defvjp(lambda x: (f(x), None), lambda res, g: (g * jnp.asarray(w) * 2.0,))

    @llax.custom_jvp
    def h(x):
        return x * w

    h.defjvp(lambda p, t: (h(p[0]), t[0] * jnp.asarray(w) * 3.0))
    for transform in (lambda f: f, llax.jit):
        close(transform(llax.grad(lambda x: jnp.sum(f(x))))(np.ones(3, np.float32)), 2 * w)
        close(transform(llax.grad(lambda x: jnp.sum(h(x))))(np.ones(3, np.float32)), 3 * w)
    close(llax.vmap(llax.grad(lambda x: jnp.sum(f(x))))(np.ones((2, 3), np.float32)),
          np.stack([2 * w, 2 * w]))


def test_custom_rule_outputs_are_checked():
    @llax.custom_jvp
    def f(x):
        return jnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), jnp.ones(2)))
    with pytest.raises(TypeError, match="corresponding shapes and dtypes"):
        llax.grad(f)(1.0)

    @llax.custom_vjp
    def g(x):
        return x * 2

    g.defvjp(lambda x: (g(x), None), lambda res, ct: (jnp.ones(3),))
    with pytest.raises(TypeError, match="shapes and dtypes of the args tuple"):
        llax.grad(g)(1.0)


def test_custom_functions_reuse_the_cached_gradient_program():
    from llax.frontend import autodiff

    x = rand(7)
    before = len(autodiff._GRAD_PROGRAMS)
    for _ in range(4):
        llax.grad(lambda x: jnp.sum(llax.nn.relu(x) ** 2))(x)
    assert len(autodiff._GRAD_PROGRAMS) <= before + 1


@pytest.mark.parametrize("name", ["fmax", "fmin", "maximum", "minimum"])
def test_ties_share_or_pick_the_gradient_as_jax_does(name):
    x = np.array([1.0, 2.0, np.nan, 3.0], np.float32)
    y = np.array([1.0, 1.0, 0.5, np.nan], np.float32)
    got = llax.grad(lambda x, y: jnp.sum(getattr(jnp, name)(x, y)), argnums=(0, 1))(x, y)
    want = jax.grad(lambda x, y: jjnp.sum(getattr(jjnp, name)(x, y)), argnums=(0, 1))(x, y)
    close(got, want)
