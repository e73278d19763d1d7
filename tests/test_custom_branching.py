"""custom_jvp / custom_vjp functions and rules that branch on primal values in Python
(JAX's custom-derivatives tutorial): eager grad/jvp/vjp work, jit raises. JAX is the
oracle."""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp  # noqa: E402
import numpy as np
import pytest

import llax
import llax.numpy as lnp

LLAX = SimpleNamespace(api=llax, np=lnp, errors=llax.errors)
JAX = SimpleNamespace(api=jax, np=jnp, errors=jax.errors)


def branching_jvp(m):
    @m.api.custom_jvp
    def f(x):
        if x > 0:
            return m.np.sin(x)
        else:
            return m.np.cos(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        ans = f(x)
        if x > 0:
            return ans, 2 * x_dot
        else:
            return ans, 3 * x_dot

    return f


def branching_vjp(m):
    @m.api.custom_vjp
    def f(x):
        if x > 0:
            return m.np.sin(x)
        else:
            return m.np.cos(x)

    def f_fwd(x):
        return f(x), x

    def f_bwd(x, g):
        if x > 0:
            return (2 * g,)
        else:
            return (3 * g,)

    f.defvjp(f_fwd, f_bwd)
    return f


def rule_only_jvp(m):
    # The function needs no values; only its rule branches.
    @m.api.custom_jvp
    def f(x):
        return m.np.where(x > 0, x, 0.0)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), (t if x > 0 else 0.5 * t)

    return f


def clip_gradient(m):
    @m.api.custom_vjp
    def clip(lo, hi, x):
        return x

    def clip_fwd(lo, hi, x):
        return x, (lo, hi)

    def clip_bwd(res, g):
        lo, hi = res
        return (None, None, m.np.clip(g, lo, hi))

    clip.defvjp(clip_fwd, clip_bwd)
    return lambda x: clip(-0.75, 0.75, m.np.sin(x)) * 3.0


BUILDERS = {f.__name__: f for f in (branching_jvp, branching_vjp, rule_only_jvp)}
POINTS = [1.0, -1.0, 2.5, -0.5, 1.0]  # both branches, then the first again (cached programs)


def _same(ours, theirs) -> None:
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
        if not isinstance(b, float):  # (JAX hands back a rule's Python float as it is)
            assert np.asarray(a).dtype == np.asarray(b).dtype


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_eager_transformations_take_the_branch_of_the_values(name: str) -> None:
    ours, theirs = BUILDERS[name](LLAX), BUILDERS[name](JAX)
    for x in POINTS:
        _same(llax.grad(ours)(x), jax.grad(theirs)(x))
        _same(llax.value_and_grad(ours)(x), jax.value_and_grad(theirs)(x))
        _same(llax.vjp(ours, x)[1](1.5), jax.vjp(theirs, x)[1](1.5))
        _same(llax.grad(lambda v: ours(v) * v)(x), jax.grad(lambda v: theirs(v) * v)(x))
        if name != "branching_vjp":  # forward mode of a custom_vjp is an error in JAX
            _same(llax.jvp(ours, (x,), (2.0,)), jax.jvp(theirs, (x,), (2.0,)))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_jit_raises_the_traced_value_error(name: str) -> None:
    ours, theirs = BUILDERS[name](LLAX), BUILDERS[name](JAX)
    llax.grad(ours)(1.0)  # an eager call first: its cached program must not serve jit
    with pytest.raises(jax.errors.TracerBoolConversionError):
        jax.jit(jax.grad(theirs))(1.0)
    with pytest.raises(llax.errors.TracerBoolConversionError):
        llax.jit(llax.grad(ours))(1.0)
    assert issubclass(llax.errors.TracerBoolConversionError, llax.ConcretizationTypeError)


def test_function_branching_fails_under_jit_without_derivatives() -> None:
    ours = branching_jvp(LLAX)
    assert float(ours(1.0)) == pytest.approx(np.sin(1.0))  # no trace: plain Python
    with pytest.raises(llax.errors.TracerBoolConversionError):
        llax.jit(ours)(1.0)
    with pytest.raises(llax.errors.TracerBoolConversionError):
        llax.make_jaxpr(ours)(1.0)


def test_second_derivative_through_a_branching_rule() -> None:
    ours, theirs = rule_only_jvp(LLAX), rule_only_jvp(JAX)
    for x in (3.0, -3.0):
        _same(llax.grad(llax.grad(lambda v: ours(v) * v))(x),
              jax.grad(jax.grad(lambda v: theirs(v) * v))(x))


def test_clip_gradient_tutorial() -> None:
    ours, theirs = clip_gradient(LLAX), clip_gradient(JAX)
    for x in (0.1, 2.0, -2.0):
        _same(llax.grad(ours)(x), jax.grad(theirs)(x))
    xs = np.linspace(-3, 3, 7).astype(np.float32)
    _same(llax.vmap(llax.grad(ours))(xs), jax.vmap(jax.grad(theirs))(xs))
    _same(llax.jit(llax.grad(ours))(2.0), jax.jit(jax.grad(theirs))(2.0))


def test_branching_on_array_values_with_python_any() -> None:
    def build(m):
        @m.api.custom_jvp
        def f(x):
            return m.np.sum(x ** 2)

        @f.defjvp
        def f_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            scale = 1.0 if bool(m.np.all(x > 0)) else -1.0
            return f(x), scale * m.np.sum(2 * x * t)

        return f

    ours, theirs = build(LLAX), build(JAX)
    for x in (np.array([1.0, 2.0], np.float32), np.array([-1.0, 2.0], np.float32)):
        _same(llax.grad(ours)(x), jax.grad(theirs)(x))
