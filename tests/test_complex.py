"""Complex dtypes against JAX: names, promotion and weak types, printing, the complex
primitives and jnp functions, elementwise math, reductions and contractions, eagerly and
under jit (which runs complex functions through the interpreter), in both x64 modes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.core import Array
from llax.tests.jnp_oracle import x64, x64_mode  # noqa: F401 - x64 is a fixture

# ruff: noqa: F811 - tests take the imported x64 fixture as a parameter

RTOL = {np.dtype("complex64"): 2e-5, np.dtype("complex128"): 1e-12,
        np.dtype("float32"): 2e-5, np.dtype("float64"): 1e-12}


def same(got, want, *, rtol: float | None = None, weak: bool = True, what: str = "") -> None:
    """Equal shape, dtype, weak type and (to a tolerance for inexact dtypes) values, leaf by
    leaf of tuples."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{what}: {got!r}"
        for g, w in zip(got, want):
            same(g, w, rtol=rtol, weak=weak, what=what)
        return
    assert isinstance(got, Array), f"{what}: {got!r} is not an llax Array"
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype} != {w.dtype}"
    if weak:
        assert got.weak_type == want.weak_type, f"{what}: weak {got.weak_type}"
    if g.dtype.kind in "fc":
        np.testing.assert_allclose(g, w, rtol=rtol or RTOL[g.dtype], atol=1e-6,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(g, w, err_msg=what)


def both(fn_of_module, *args, jit: bool = True, rtol: float | None = None,
         weak: bool = True) -> None:
    """``fn_of_module(m)(*args)`` for m = llax and jax, eager and (llax) jitted; NumPy
    array arguments are made arrays of each library first (so methods are theirs)."""
    def to(m, a):
        return m.numpy.asarray(a) if isinstance(a, np.ndarray) else a

    want = fn_of_module(jax)(*(to(jax, a) for a in args))
    got = fn_of_module(llax)(*(to(llax, a) for a in args))
    same(got, want, rtol=rtol, weak=weak, what="eager")
    if jit:
        want_jit = jax.jit(fn_of_module(jax))(*args)
        same(llax.jit(fn_of_module(llax))(*args), want_jit, rtol=rtol, weak=weak, what="jit")


def rand_complex(shape, dtype=np.complex64, seed=0):
    r = np.random.default_rng(seed)
    return (r.normal(size=shape) + 1j * r.normal(size=shape)).astype(dtype)


# --- names, promotion, printing ------------------------------------------------------------

def test_scalar_type_names():
    for name in ("complex64", "complex128", "complex_", "csingle", "cdouble"):
        assert np.dtype(getattr(lnp, name)) == np.dtype(getattr(jnp, name)), name
    assert lnp.issubdtype(lnp.complex64, lnp.complexfloating)
    assert lnp.issubdtype(lnp.complex64, lnp.inexact)
    assert not lnp.issubdtype(lnp.float32, lnp.complexfloating)


DTYPES = ["bool", "int8", "uint8", "int32", "uint32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"]


def test_promote_types_as_jax(x64):
    for a in DTYPES:
        for b in ("complex64", "complex128"):
            assert lnp.promote_types(a, b) == jnp.promote_types(a, b), (a, b)
            assert lnp.promote_types(b, a) == jnp.promote_types(b, a), (b, a)


def test_result_type_with_weak_complex_as_jax(x64):
    for a in DTYPES:
        x = np.zeros(2, a)
        got, want = lnp.result_type(x, 1j), jnp.result_type(x, 1j)
        assert got == want, a
        same(lnp.asarray(x) + 1j, jnp.asarray(x) + 1j, what=a)
        same(lnp.asarray(x) * (2 + 0j), jnp.asarray(x) * (2 + 0j), what=a)
    for s in (1, 2.5, True):
        same(lnp.asarray(1j) + s, jnp.asarray(1j) + s, what=repr(s))
    same(lnp.asarray(1j), jnp.asarray(1j))
    same(lnp.array([1, 2.5, 1j]), jnp.array([1, 2.5, 1j]))


def test_repr_and_numpy_round_trip(x64):
    for value in (1 + 2j, [1 + 2j, 3.5 - 1j], [[1j, 2], [0, -1]]):
        assert repr(lnp.array(value)) == repr(jnp.array(value)), value
        assert str(lnp.array(value)) == str(jnp.array(value)), value
    for dt in (np.complex64, np.complex128):
        x = rand_complex((2, 3), dt)
        same(lnp.asarray(x), jnp.asarray(x))
        np.testing.assert_array_equal(np.asarray(lnp.asarray(x)), np.asarray(jnp.asarray(x)))
        assert repr(lnp.asarray(x, dtype=dt)) == repr(jnp.asarray(x, dtype=dt))
    assert complex(lnp.asarray(1 + 2j)) == 1 + 2j


def test_narrowing_without_x64():
    with x64_mode(False):
        with pytest.warns(UserWarning, match="truncated to dtype complex64"):
            x = lnp.zeros(2, lnp.complex128)
        assert x.dtype == np.complex64


# --- the complex primitives and jnp's complex functions ------------------------------------

@pytest.mark.parametrize("name", ["real", "imag", "conj", "conjugate", "angle", "iscomplex",
                                  "isreal", "sort_complex"])
def test_complex_functions(name, x64):
    z = rand_complex((5,))
    for arg in (z, z[0], np.arange(4, dtype=np.int32), np.float32(-2.0), 2.5, 1j, 3):
        if name == "sort_complex" and np.ndim(arg) == 0:
            continue
        both(lambda m, name=name: getattr(m.numpy, name), arg)
    both(lambda m: lambda x: m.numpy.angle(x, deg=True), z)
    assert lnp.iscomplexobj(z) and not lnp.iscomplexobj(np.float32(1))
    assert lnp.isrealobj(2.0) and not lnp.isrealobj(1j)


def test_sort_complex_breaks_ties_by_imaginary_part():
    z = np.array([1 + 2j, 1 - 1j, 0.5, -1 + 0j, 1 + 0j], np.complex64)
    both(lambda m: m.numpy.sort_complex, z)


def test_lax_complex_real_imag_conj(x64):
    x, y = np.float32([1, -2, 0]), np.float32([0.5, 3, -0.0])
    both(lambda m: m.lax.complex, x, y)
    both(lambda m: m.lax.complex, np.float32(2), y)
    z = rand_complex((3,))
    for name in ("real", "imag", "conj"):
        both(lambda m, name=name: getattr(m.lax, name), z)
    both(lambda m: m.lax.conj, np.float32([1, 2]))


def test_array_attributes():
    z = rand_complex((2, 2))
    both(lambda m: lambda a: (a.real, a.imag, a.conj(), a.conjugate()), z)


def test_make_jaxpr_names_as_jax():
    def f(m):
        return lambda z: m.numpy.conj(m.numpy.real(z) + z.imag * 1j)

    assert str(llax.make_jaxpr(f(llax))(1j)) == str(jax.make_jaxpr(f(jax))(1j))


# --- elementwise, reductions, contractions -------------------------------------------------

UNARY = ["negative", "abs", "sign", "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh",
         "cosh", "square", "reciprocal", "log1p", "expm1", "arcsinh", "arctan", "exp2",
         "isfinite", "isnan"]


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    for dt, on in ((np.complex64, False), (np.complex128, True)):
        with x64_mode(on):
            z = rand_complex((4,), dt)
            both(lambda m, name=name: getattr(m.numpy, name), z)


BINARY = ["add", "subtract", "multiply", "divide", "power", "equal", "not_equal"]


@pytest.mark.parametrize("name", BINARY)
def test_binary(name, x64):
    z, w = rand_complex((3, 4)), rand_complex((4,), seed=1)
    both(lambda m, name=name: getattr(m.numpy, name), z, w)
    both(lambda m, name=name: getattr(m.numpy, name), z, np.float32(2.0))
    both(lambda m, name=name: getattr(m.numpy, name), np.arange(4, dtype=np.int32), w)
    both(lambda m, name=name: lambda a: getattr(m.numpy, name)(a, 2 - 1j), z)


def test_integer_powers_and_where(x64):
    z = rand_complex((5,))
    both(lambda m: lambda a: (a ** 2, a ** 3, a ** -1), z)
    both(lambda m: lambda a: m.numpy.where(m.numpy.real(a) > 0, a, 1j), z)
    both(lambda m: lambda a: a.astype(m.numpy.float32), z, weak=False)
    both(lambda m: lambda a: m.numpy.asarray(a, m.numpy.complex64), np.float32([1, -2]))


@pytest.mark.parametrize("call", [lambda m, z: m.lax.lt(z, z), lambda m, z: m.lax.rem(z, z),
                                  lambda m, z: m.lax.floor(z), lambda m, z: m.lax.erf(z)])
def test_real_only_lax_ops_refuse_complex_as_jax(call):
    z = rand_complex((3,))
    for m in (jax, llax):
        with pytest.raises(TypeError):
            call(m, m.numpy.asarray(z))


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "var", "std"])
def test_reductions(name, x64):
    z = rand_complex((3, 4))
    both(lambda m, name=name: getattr(m.numpy, name), z)
    both(lambda m, name=name: lambda a: getattr(m.numpy, name)(a, axis=0), z)
    both(lambda m, name=name: lambda a: getattr(m.numpy, name)(a, axis=1, keepdims=True), z)


def test_contractions(x64):
    for dt in (np.complex64, np.complex128):
        a, b = rand_complex((3, 4), dt), rand_complex((4, 2), dt, seed=1)
        both(lambda m: m.numpy.matmul, a, b, rtol=1e-5)
        both(lambda m: m.numpy.dot, a, b, rtol=1e-5)
        both(lambda m: m.numpy.vdot, a, a, rtol=1e-5)
        both(lambda m: lambda x: m.lax.max(x, x[::-1]), a)
    both(lambda m: lambda x, y: m.numpy.einsum("ij,jk->ik", x, y), a, b, rtol=1e-5)
    both(lambda m: m.numpy.matmul, np.float32(np.ones((2, 3))), rand_complex((3, 2)))


def test_jit_of_complex_ops_without_a_native_lowering_is_the_interpreter_not_wrong_numbers():
    from llax.codegen.complex_math import check_native

    z = rand_complex((4,))
    check_native(llax.make_jaxpr(lambda a: a * a)(z).jaxpr.function)  # native
    fn = llax.make_jaxpr(lambda a: lnp.sort(a))(z).jaxpr.function
    with pytest.raises(NotImplementedError, match="complex"):
        check_native(fn)
    np.testing.assert_array_equal(np.asarray(llax.jit(lnp.sort)(z)), np.sort(z))
    f = llax.jit(lambda a: lnp.sum(a * a) + 1)
    np.testing.assert_allclose(np.asarray(f(z)), np.sum(z * z) + 1, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(f(z)), np.sum(z * z) + 1, rtol=1e-5)  # cached


def test_vmap(x64):
    z = rand_complex((3, 4))
    both(lambda m: m.vmap(lambda a: m.numpy.sum(m.numpy.abs(a) * m.numpy.conj(a))), z,
         jit=False)
    both(lambda m: m.vmap(m.lax.complex, in_axes=(0, None)), np.float32(np.ones((3, 2))),
         np.float32(np.ones(2)), jit=False)


def test_ordering_comparisons_and_rounding_as_jax():
    z = np.array([1.55 + 2.45j, 1 + 1j, 1 + 3j, 0.5j], np.complex64)
    w = np.array([1 + 2j, 1 + 1j, 1 + 2j, 1j], np.complex64)
    for name in ("less", "less_equal", "greater", "greater_equal", "maximum", "minimum"):
        both(lambda m, name=name: getattr(m.numpy, name), z, w)
    both(lambda m: lambda a: (m.numpy.round(a, 1), m.numpy.rint(a), m.numpy.round(a)), z)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "fabs", "signbit", "hypot",
                                  "copysign"])
def test_real_only_functions_refuse_complex(name):
    z = np.array([1 + 2j], np.complex64)
    args = (z, z) if name in ("hypot", "copysign") else (z,)
    for m in (jax, llax):
        with pytest.raises((TypeError, ValueError)):
            getattr(m.numpy, name)(*(m.numpy.asarray(a) for a in args))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_refuse_complex_as_jax(name):
    z = np.array([1 + 2j, 3j], np.complex64)
    for m in (jax, llax):
        with pytest.raises(TypeError):
            getattr(m.numpy, name)(m.numpy.asarray(z))


@pytest.mark.parametrize("name", ["correlate", "cov", "corrcoef"])
def test_statistics_of_complex_values_conjugate_as_jax(name):
    a = np.array([1 + 2j, 3 - 1j, 0.5 + 0.5j, 2j], np.complex64)
    v = np.array([1 - 1j, 2 + 0.5j], np.complex64)
    m = np.array([[1 + 1j, 2, 3 - 2j, 0.5j], [2j, 1, -1 + 1j, 3]], np.complex64)
    call = {"correlate": lambda n: n.correlate(a, v, "full"), "cov": lambda n: n.cov(m),
            "corrcoef": lambda n: n.corrcoef(m)}[name]
    ours, theirs = np.asarray(call(lnp)), np.asarray(call(jnp))
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args", [(None, None), (2, None), (None, (0, 1)), ("fro", (0, 1))])
def test_norm_of_complex_values_as_jax(args):
    x = np.array([[1 + 2j, 3 - 1j], [0.5j, 2]], np.complex64)
    ord_, axis = args
    if axis is None and ord_ is not None:
        x = x[0]
    ours = lnp.linalg.norm(x, ord_, axis)
    theirs = jnp.linalg.norm(x, ord_, axis)
    assert np.asarray(ours).dtype == np.asarray(theirs).dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
