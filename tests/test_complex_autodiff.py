"""Autodiff of complex functions against JAX: grad of real-valued functions of complex inputs
(JAX's conjugate convention), holomorphic=True for grad/jacfwd/jacrev/hessian, jvp/vjp
through the complex primitives, JAX's errors, and vmap of gradients."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import llax
from llax.tests.test_complex import rand_complex, same


def _both(make, *args, rtol: float = 2e-5) -> None:
    """``make(m)(*args)`` for m = llax and jax, eagerly and jitted, leaf by leaf."""
    want = make(jax)(*args)
    for got in (make(llax)(*args), llax.jit(make(llax))(*args)):
        same(got, want, rtol=rtol, weak=False)


# Real-valued functions of a complex input: grad is JAX's conjugate-convention gradient.
REAL_VALUED = {
    "abs2": lambda m: lambda z: m.numpy.sum(m.numpy.abs(z) ** 2),
    "abs": lambda m: lambda z: m.numpy.sum(m.numpy.abs(z)),
    "real_exp": lambda m: lambda z: m.numpy.sum(m.numpy.real(m.numpy.exp(z) * m.numpy.conj(z))),
    "imag_sin": lambda m: lambda z: m.numpy.sum(m.numpy.imag(m.numpy.sin(z) * z)),
    "angle": lambda m: lambda z: m.numpy.sum(m.numpy.angle(z)),
    "log_abs": lambda m: lambda z: m.numpy.sum(m.numpy.log(m.numpy.abs(m.numpy.sqrt(z)))),
    "matmul": lambda m: lambda z: m.numpy.sum(m.numpy.abs(z @ z.T)),
    "div_pow": lambda m: lambda z: m.numpy.sum(m.numpy.real((z / (1 + z)) ** 2)),
}


@pytest.mark.parametrize("name", REAL_VALUED)
def test_grad_of_real_valued_functions(name):
    z = rand_complex((3, 3))
    _both(lambda m: m.grad(REAL_VALUED[name](m)), z)
    _both(lambda m: m.jacrev(REAL_VALUED[name](m)), z)


def test_grad_of_real_function_of_real_inputs_through_complex():
    def f(m):
        return lambda x, y: m.numpy.abs(m.lax.complex(x, y)) + m.numpy.angle(x + 1j * y)

    _both(lambda m: m.grad(f(m), argnums=(0, 1)), np.float32(3.0), np.float32(-4.0))


HOLOMORPHIC = {
    "cube": lambda m: lambda z: z ** 3,
    "exp_sin": lambda m: lambda z: m.numpy.exp(m.numpy.sin(z)),
    "rational": lambda m: lambda z: (z + 1) / (z * z + 2j),
    "log_sqrt": lambda m: lambda z: m.numpy.log(z) + m.numpy.sqrt(z) * m.numpy.tanh(z),
}


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_holomorphic(name):
    f = HOLOMORPHIC[name]
    z = np.complex64(0.7 - 0.4j)
    for transform in ("grad", "jacfwd", "jacrev"):
        _both(lambda m, t=transform: getattr(m, t)(f(m), holomorphic=True), z)
    zs = rand_complex((3,)) + 2
    _both(lambda m: m.jacfwd(f(m), holomorphic=True), zs)
    _both(lambda m: m.jacrev(f(m), holomorphic=True), zs)
    _both(lambda m: m.hessian(lambda z: f(m)(z), holomorphic=True), z, rtol=1e-4)


def test_jvp_and_vjp_of_complex_functions():
    z, t = rand_complex((4,)), rand_complex((4,), seed=3)

    def f(m):
        return lambda z: m.numpy.conj(z) * m.numpy.exp(z) + m.numpy.real(z)

    _both(lambda m: lambda z, t: m.jvp(f(m), (z,), (t,)), z, t)
    _both(lambda m: lambda z, t: m.vjp(f(m), z)[1](t), z, t)
    # A real input to a complex output: the tangent is complex, forward mode only.
    _both(lambda m: m.jacfwd(lambda x: x * (1 + 2j) + m.numpy.exp(1j * x)), np.float32(0.3))


def test_vmap_of_grad():
    z = rand_complex((5, 3))
    _both(lambda m: m.vmap(m.grad(REAL_VALUED["real_exp"](m))), z)


ERRORS = [
    ("grad", lambda m: (lambda z: z * z), 1 + 2j, {}),
    ("grad", lambda m: (lambda z: z.real), 1 + 2j, {"holomorphic": True}),
    ("grad", lambda m: (lambda z: z * 2), 1.5, {"holomorphic": True}),
    ("grad", lambda m: (lambda z: z * 2), 1, {"holomorphic": True}),
    ("grad", lambda m: (lambda x: x * 1j), 1.5, {}),
    ("jacfwd", lambda m: (lambda z: z * z), 1 + 2j, {}),
    ("jacfwd", lambda m: (lambda z: z.real), 1 + 2j, {"holomorphic": True}),
    ("jacfwd", lambda m: (lambda z: z * 2), 1.5, {"holomorphic": True}),
    ("jacrev", lambda m: (lambda z: z * z), 1 + 2j, {}),
    ("jacrev", lambda m: (lambda z: z.real), 1 + 2j, {"holomorphic": True}),
    ("jacrev", lambda m: (lambda x: x * 1j), 1.5, {}),
    ("value_and_grad", lambda m: (lambda z: z * 2), 1.5, {"holomorphic": True}),
]


@pytest.mark.parametrize("case", ERRORS, ids=[f"{c[0]}{i}" for i, c in enumerate(ERRORS)])
def test_errors_as_jax(case):
    transform, make, x, kwargs = case
    messages = []
    for m in (jax, llax):
        with pytest.raises(TypeError) as info:
            getattr(m, transform)(make(m), **kwargs)(x)
        messages.append(str(info.value))
    assert messages[1] == messages[0]


def test_value_and_grad_holomorphic_value():
    _both(lambda m: m.value_and_grad(lambda z: z * z + 1j, holomorphic=True),
          np.complex64(1 - 1j))


# --- the complex primitives' rules, for the registry walks of the autodiff and vmap tests ---

def _prim_case(name: str):
    def f(m):
        numpy = m.numpy
        return {
            "complex": lambda x: numpy.abs(m.lax.complex(x, 2 * x)) + numpy.sum(
                numpy.real(m.lax.complex(x, numpy.float32(1)) ** 2)),
            "real": lambda z: numpy.sum(numpy.real(z * z)),
            "imag": lambda z: numpy.sum(numpy.imag(z * z)),
            "conj": lambda z: numpy.sum(numpy.real(numpy.conj(z) * z * (1 + 1j))),
        }[name]

    arg = np.float32([0.5, -1.5]) if name == "complex" else rand_complex((2,))
    return f, arg


def check_complex_primitive(name: str) -> None:
    """grad, jvp, jit(grad) and vmap(grad) through ``name`` vs JAX."""
    f, arg = _prim_case(name)
    if name == "complex":
        _both(lambda m: m.grad(lambda x: m.numpy.sum(f(m)(x))), arg)
    else:
        _both(lambda m: m.grad(f(m)), arg)
    _both(lambda m: lambda x: m.jvp(f(m), (x,), (x * 0.5,)), arg)
    batch = np.stack([arg, arg * 2, arg - 1])
    _both(lambda m: m.vmap(m.grad(lambda x: m.numpy.sum(f(m)(x)))), batch)


@pytest.mark.parametrize("name", ["complex", "real", "imag", "conj"])
def test_complex_primitive_rules(name):
    check_complex_primitive(name)
