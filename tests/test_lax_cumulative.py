"""lax.cumsum/cumprod/cummax/cummin/cumlogsumexp: the primitives through every path.

The NumPy reference against NumPy's ``accumulate`` and JAX as the oracle; native code
against the reference (exact for integers and for the float operations whose order the
loop keeps); JVP and VJP against finite differences and JAX; vmap against a loop; the IR
text round trip and the verifier; JAX's errors.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.test_util import check_grads
from llax.ir import prims as P
from llax.ir.parser import parse_function
from llax.ir.printer import print_function
from llax.ir.verifier import verify
from llax.tests.codegen_util import assert_vectorised, run, single, tt
from llax.tests.jnp_oracle import x64_mode

NAMES = ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")
UFUNC = {"cumsum": np.add, "cumprod": np.multiply, "cummax": np.maximum,
         "cummin": np.minimum, "cumlogsumexp": np.logaddexp}
SHAPES_AXES = [((7,), 0), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), 1), ((2, 3, 4), 2),
               ((2, 3, 4), 0), ((0, 3), 0), ((3, 0), 1), ((4, 0), 0), ((1, 6), 0), ((6, 1), 1)]


def sample(dtype: Any, shape: tuple[int, ...], seed: int = 0, name: str = "") -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        lo, hi = (1, 4) if name == "cumprod" else (-50 if dt.kind == "i" else 0, 50)
        return rng.integers(lo, hi, shape).astype(dt)
    x = rng.uniform(0.5, 1.5, shape) if name == "cumprod" else rng.normal(size=shape)
    if dt.kind == "c":
        x = x + 1j * (rng.uniform(0.5, 1.5, shape) if name == "cumprod"
                      else rng.normal(size=shape))
    return x.astype(dt)


def numpy_cumulative(name: str, x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    v = np.flip(x, axis) if reverse else x
    out = UFUNC[name].accumulate(v, axis=axis, dtype=x.dtype)
    return np.flip(out, axis) if reverse else out


def assert_close(got: Any, want: Any, what: str = "", exact: bool = False) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if exact or got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        tol = {2: 2e-3, 4: 2e-5, 8: 1e-12, 16: 1e-12}[got.dtype.itemsize] \
            if got.dtype.kind == "f" else {8: 2e-5, 16: 1e-12}[got.dtype.itemsize]
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)


def dtypes_of(name: str) -> list[str]:
    if name == "cumlogsumexp":
        return ["float32", "float16"]
    if name in ("cumsum", "cumprod"):
        return ["float32", "int32", "uint8", "complex64", "float16"]
    return ["float32", "int32", "uint8", "int8"]


CASES = [(n, d, s, a, r) for n in NAMES for d in dtypes_of(n) for s, a in SHAPES_AXES
         for r in (False, True)]


# --- reference vs NumPy and JAX ----------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_reference_vs_numpy_and_jax(name: str) -> None:
    for i, (_, dtype, shape, axis, reverse) in enumerate(c for c in CASES if c[0] == name):
        x = sample(dtype, shape, name=name)
        what = f"{name} {dtype}{list(shape)} axis={axis} reverse={reverse}"
        got = getattr(llax.lax, name)(x, axis, reverse)
        assert_close(got, numpy_cumulative(name, x, axis, reverse), what)
        if i % 3:  # JAX compiles every case: a third of them keeps the test fast
            continue
        want = getattr(jax.lax, name)(x, axis=axis, reverse=reverse)
        assert_close(got, want, what + " vs JAX")


def test_float64_under_x64() -> None:
    with x64_mode(True):
        x = sample("float64", (4, 6), name="cumsum")
        for name in NAMES:
            got = getattr(llax.lax, name)(x, 1, True)
            assert_close(got, getattr(jax.lax, name)(x, axis=1, reverse=True), name)
            op = getattr(llax.lax, name)
            jitted = llax.jit(lambda v, f=op: f(v, 0))(x)
            assert_close(jitted, numpy_cumulative(name, x, 0, False), f"jit {name}")


def test_special_values() -> None:
    x = np.array([1.0, np.nan, 2.0, -np.inf, np.inf, -0.0], np.float32)
    y = np.array([-np.inf, -np.inf, 0.0, np.inf, np.inf, np.nan], np.float32)
    for name in NAMES:
        for v in (x, y):
            for reverse in (False, True):
                what = f"{name} {v} reverse={reverse}"
                eager = getattr(llax.lax, name)(v, 0, reverse)
                assert_close(eager, getattr(jax.lax, name)(v, axis=0, reverse=reverse), what)
                op = getattr(llax.lax, name)
                compiled = llax.jit(lambda a, f=op, r=reverse: f(a, 0, r))(v)
                assert_close(compiled, eager, "compiled " + what)


def test_integers_wrap() -> None:
    x = np.array([100, 100, 100, -128, -1], np.int8)
    for name in ("cumsum", "cumprod"):
        want = getattr(jax.lax, name)(x)
        assert_close(getattr(llax.lax, name)(x), want, name, exact=True)
        assert_close(llax.jit(getattr(llax.lax, name))(x), want, "jit " + name, exact=True)


def test_weak_type_is_kept() -> None:
    def f(m):
        return m.lax.cumsum(m.numpy.ones(3) * 2.0)

    assert llax.make_jaxpr(lambda: f(llax))().jaxpr.function.results[0].type.weak is False
    x = llax.lax.cumsum(llax.lax.full((3,), 1.0, None))
    assert x.weak_type == jax.lax.cumsum(jax.lax.full((3,), 1.0, None)).weak_type


# --- native code vs the reference --------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_compiled_vs_reference(name: str) -> None:
    for i, (_, dtype, shape, axis, reverse) in enumerate(c for c in CASES if c[0] == name):
        if i % 2 and 0 not in shape:  # every empty case, half the others (compiling costs)
            continue
        x = sample(dtype, shape, seed=1, name=name)
        fn = single(getattr(P, name), [tt(shape, dtype)], axis=axis, reverse=reverse)
        verify(fn)
        (got,), (want,) = run(fn, [x])
        # The loop keeps NumPy's order: exact, except logaddexp's polynomial exp/log1p and
        # complex products (NumPy's formula rounds differently).
        inexact = name == "cumlogsumexp" or (name == "cumprod" and dtype == "complex64")
        assert_close(got, want, f"{name} {dtype}{list(shape)} axis={axis} reverse={reverse}",
                     exact=not inexact)


@pytest.mark.parametrize("shape,axis", [((300, 257), 0), ((257, 300), 1), ((4, 300, 65), 1),
                                        ((5000,), 0)])
def test_compiled_large(shape: tuple[int, ...], axis: int) -> None:
    # Large enough to be split across cores (blocks) and vectorised (columns).
    x = sample("float32", shape, seed=2)
    for name in ("cumsum", "cummax", "cumlogsumexp"):
        for reverse in (False, True):
            fn = single(getattr(P, name), [tt(shape, "float32")], axis=axis, reverse=reverse)
            (got,), (want,) = run(fn, [x])
            assert_close(got, want, f"{name} {shape} {axis} {reverse}",
                         exact=name != "cumlogsumexp")


@pytest.mark.parametrize("name", ["cumsum", "cummax", "cumprod"])
def test_leading_axis_is_vectorised(name: str) -> None:
    x = sample("float32", (64, 512), name=name)
    c = llax.jit(lambda v: getattr(llax.lax, name)(v, 0)).lower(x).compile()
    assert_vectorised(c.stages["llvm-opt"], what=f"{name} along axis 0 (rows)")


# --- IR text and the verifier -----------------------------------------------------------------

def test_text_round_trip_and_verifier() -> None:
    def f(x):
        return (llax.lax.cumsum(x, 1, True), llax.lax.cumprod(x, 0), llax.lax.cummax(x, 1),
                llax.lax.cummin(x, 0, True), llax.lax.cumlogsumexp(x, 1))

    fn = llax.make_jaxpr(f)(np.ones((2, 3), np.float32)).jaxpr.function
    verify(fn)
    text = print_function(fn)
    assert "cumsum[axis=1 reverse=True]" in text
    assert "cumlogsumexp[axis=1 reverse=False]" in text
    again = parse_function(text)
    verify(again)
    assert print_function(again) == text
    assert again.ops[0].params["reverse"] is True and again.ops[0].params["axis"] == 1


def test_jnp_cumsum_binds_the_primitive_as_jax() -> None:
    x = np.ones((2, 3), np.float32)
    for name in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
        ours_fn, jax_fn = getattr(lnp, name), getattr(jax.numpy, name)
        ours = {e.primitive.name for e in llax.make_jaxpr(
            lambda v, f=ours_fn: f(v, 1))(x).jaxpr.eqns}
        prim = "cumprod" if "prod" in name else "cumsum"
        assert prim in ours, (name, ours)
        assert jax.make_jaxpr(lambda v, f=jax_fn: f(v, 1))(x).eqns
    eqns = llax.make_jaxpr(lambda v: lnp.cumulative_sum(v, axis=0))(x).jaxpr.eqns
    assert "cumsum" in {e.primitive.name for e in eqns}


# --- derivatives -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_grads_by_finite_differences(name: str) -> None:
    with x64_mode(True):
        x = sample("float64", (3, 4), seed=3, name=name)
        for axis, reverse in ((0, False), (1, True), (1, False)):
            f = lambda v, a=axis, r=reverse: getattr(llax.lax, name)(v, a, r)  # noqa: E731
            check_grads(f, (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_vs_jax(name: str) -> None:
    x = sample("float32", (3, 5), seed=4, name=name)
    if name in ("cummax", "cummin"):
        x[1, 2] = x[1, 1]  # a tie: the derivative is split as lax.max's
        x[0, 3] = x[0, 0]
    t = sample("float32", (3, 5), seed=5)
    for axis, reverse in ((0, False), (1, True)):
        def make(m, a=axis, r=reverse):
            return lambda v: getattr(m.lax, name)(v, a, r)

        lout, ltan = llax.jvp(make(llax), (x,), (t,))
        jout, jtan = jax.jvp(make(jax), (x,), (t,))
        assert_close(lout, jout, "primal")
        assert_close(ltan, jtan, f"jvp {name} axis={axis} reverse={reverse}")
        ct = sample("float32", (3, 5), seed=6)
        (lct,) = llax.vjp(make(llax), x)[1](ct)
        (jct,) = jax.vjp(make(jax), x)[1](ct)
        assert_close(lct, jct, f"vjp {name} axis={axis} reverse={reverse}")
        ours, theirs = make(llax), make(jax)
        assert_close(llax.jit(llax.grad(lambda v, f=ours: f(v).sum()))(x),
                     jax.grad(lambda v, f=theirs: f(v).sum())(x), "jit(grad)")


def test_cumprod_derivative_through_zeros() -> None:
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0], np.float32)
    g = llax.grad(lambda v: llax.lax.cumprod(v).sum())(x)
    assert_close(g, jax.grad(lambda v: jax.lax.cumprod(v).sum())(x), "grad")


def test_cumsum_transpose_is_reverse_cumsum() -> None:
    # The inner-product test: <ct, cumsum(x)> == <cumsum^T(ct), x>.
    with x64_mode(True):
        x, ct = sample("float64", (4, 5), 7), sample("float64", (4, 5), 8)
        for axis in (0, 1):
            for reverse in (False, True):
                out, back = llax.vjp(lambda v, a=axis, r=reverse: llax.lax.cumsum(v, a, r), x)
                (xt,) = back(ct)
                np.testing.assert_allclose(np.vdot(ct, np.asarray(out)),
                                           np.vdot(np.asarray(xt), x), rtol=1e-12)
                jaxpr = llax.make_jaxpr(lambda c, a=axis, r=reverse: llax.vjp(
                    lambda v: llax.lax.cumsum(v, a, r), x)[1](c))(ct)
                ops = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "cumsum"]
                # The last one is the transpose (the first, the forward pass vjp traced).
                assert dict(ops[-1].params) == {"axis": axis, "reverse": not reverse}, jaxpr


# --- vmap ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_vmap_vs_loop(name: str) -> None:
    x = sample("float32", (3, 4, 5), seed=9, name=name)
    for in_axis in (0, 1, 2):
        for axis in (0, 1):
            for reverse in (False, True):
                def f(v, a=axis, r=reverse):
                    return getattr(llax.lax, name)(v, a, r)

                got = llax.vmap(f, in_axes=in_axis)(x)
                want = np.stack([np.asarray(f(np.take(x, i, in_axis)))
                                 for i in range(x.shape[in_axis])])
                assert_close(got, want, f"vmap {name} in_axes={in_axis} axis={axis}",
                             exact=True)
                jitted = llax.jit(llax.vmap(f, in_axes=in_axis))(x)
                assert_close(jitted, want, "jit(vmap)", exact=name != "cumlogsumexp")


def test_vmap_of_grad() -> None:
    x = sample("float32", (3, 6), seed=10, name="cumprod")
    for name in ("cumsum", "cummax", "cumlogsumexp"):
        def g(m, name=name):
            return m.vmap(m.grad(lambda v: getattr(m.lax, name)(v, 0, True).sum()))

        assert_close(g(llax)(x), g(jax)(x), f"vmap(grad({name}))")


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("x,kw", [
    (np.ones(3, bool), {}), (np.float32(1), {}), (np.ones(3, np.float32), {"axis": -1}),
    (np.ones((2, 3), np.float32), {"axis": 2}),
])
def test_errors_as_jax(name: str, x: np.ndarray, kw: dict) -> None:
    with pytest.raises(Exception) as want:
        getattr(jax.lax, name)(x, **kw)
    with pytest.raises(type(want.value)) as got:
        getattr(llax.lax, name)(x, **kw)
    assert str(got.value) == str(want.value)


def test_cumlogsumexp_refuses_integers() -> None:
    with pytest.raises(TypeError, match="cumlogsumexp does not accept dtype int32"):
        llax.lax.cumlogsumexp(np.arange(3, dtype=np.int32))


def test_signatures_are_jax_s() -> None:
    import inspect

    def params(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]

    for name in NAMES:
        assert params(getattr(llax.lax, name)) == params(getattr(jax.lax, name)), name
