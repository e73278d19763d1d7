"""More of JAX's lax: clz and reduce_precision (primitives through every path), lax.reduce
(monoids to the reduce primitives, a general fold otherwise), Precision and dot_general's
precision, broadcast_shapes, lax.dtype, gather/scatter and their dimension-number types.

JAX is the oracle; native code is checked against the NumPy reference bit for bit.
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import numpy as np
import pytest

import llax
from llax.frontend.test_util import check_grads
from llax.ir import prims as P
from llax.ir.parser import parse_function
from llax.ir.printer import print_function
from llax.ir.verifier import verify
from llax.tests.codegen_util import run, single, tt
from llax.tests.jnp_oracle import x64_mode


def same_bits(got: Any, want: Any, what: str = "") -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, \
        (what, got.shape, got.dtype, want.shape, want.dtype)
    if got.dtype.kind == "f":
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(got), nan, err_msg=what)
        got, want = got[~nan], want[~nan]
        np.testing.assert_array_equal(got.view(f"u{got.dtype.itemsize}"),
                                      want.view(f"u{want.dtype.itemsize}"), err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def raises_as_jax(ours: Any, theirs: Any) -> None:
    with pytest.raises(Exception) as want:
        theirs()
    with pytest.raises(type(want.value)) as got:
        ours()
    assert str(got.value) == str(want.value)


# --- clz ----------------------------------------------------------------------------------------

INT_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]


def int_sample(dtype: str, shape=(5, 7)) -> np.ndarray:
    info = np.iinfo(dtype)
    x = np.random.default_rng(0).integers(info.min, info.max, shape, dtype=dtype,
                                          endpoint=True)
    x.flat[:4] = [0, 1, info.max, info.min][:4]
    return x


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_clz_vs_jax_and_compiled(dtype: str) -> None:
    x = int_sample(dtype)
    want = jax.lax.clz(x)
    same_bits(llax.lax.clz(x), want, "reference")
    (got,), (ref,) = run(single(P.clz, [tt(x.shape, dtype)]), [x])
    same_bits(got, ref, "compiled")
    same_bits(llax.jit(llax.lax.clz)(x), want, "jit")


def test_clz_64_bit_and_scalars() -> None:
    with x64_mode(True):
        x = int_sample("int64")
        same_bits(llax.jit(llax.lax.clz)(x), jax.lax.clz(x))
        same_bits(llax.lax.clz(np.uint64(1)), jax.lax.clz(np.uint64(1)))
    same_bits(llax.lax.clz(np.zeros((0, 3), np.int32)), jax.lax.clz(np.zeros((0, 3), np.int32)))


@pytest.mark.parametrize("x", [np.ones(3, bool), np.ones(3, np.float32)])
def test_clz_errors_as_jax(x: np.ndarray) -> None:
    raises_as_jax(lambda: llax.lax.clz(x), lambda: jax.lax.clz(x))


def test_clz_vmap_and_no_tangent() -> None:
    x = int_sample("int32", (4, 6))
    same_bits(llax.vmap(llax.lax.clz, in_axes=1)(x), jax.vmap(jax.lax.clz, in_axes=1)(x))

    def f(m, v):
        return (v * m.lax.convert_element_type(m.lax.clz(m.lax.convert_element_type(v, "int32")),
                                               "float32")).sum()

    v = np.array([1.5, 7.0, 300.0], np.float32)
    same_bits(llax.grad(lambda a: f(llax, a))(v), jax.grad(lambda a: f(jax, a))(v))


# --- reduce_precision ---------------------------------------------------------------------------

FORMATS = [(5, 10), (8, 7), (8, 0), (2, 1), (4, 3), (5, 2), (11, 52), (8, 23), (1, 0), (3, 30)]


def float_sample(dtype: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    info = np.finfo(dtype)
    x = np.concatenate([
        rng.normal(size=40) * np.float64(10.0) ** rng.integers(-8, 8, 40),
        [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, float(info.max), -float(info.max),
         float(info.tiny), float(info.tiny) / 3, -float(info.tiny) / 7, 65504.0, 65520.0,
         1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 3.14159, 1e5, 1e-5, 6e-8],
    ]).astype(dtype)
    bits = x.view(f"u{x.itemsize}")
    bits[-1] = bits[-1] | 1  # an odd mantissa at the last place
    return x


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_reduce_precision_vs_jax_and_compiled(dtype: str) -> None:
    x = float_sample(dtype)
    for e, m in FORMATS:
        what = f"{dtype} exponent_bits={e} mantissa_bits={m}"
        want = jax.lax.reduce_precision(x, e, m)
        same_bits(llax.lax.reduce_precision(x, e, m), want, what)
        fn = single(P.reduce_precision, [tt(x.shape, dtype)], exponent_bits=e, mantissa_bits=m)
        verify(fn)
        (got,), (ref,) = run(fn, [x])
        same_bits(got, ref, "compiled " + what)


def test_reduce_precision_nan_payloads_and_float64() -> None:
    x = np.array([0x7F800001, 0xFF812345, 0x7FC00000], np.uint32).view(np.float32)
    for e, m in ((8, 3), (5, 10), (8, 0)):
        want = np.asarray(jax.lax.reduce_precision(x, e, m))
        got = llax.jit(lambda v, e=e, m=m: llax.lax.reduce_precision(v, e, m))(x)
        np.testing.assert_array_equal(np.asarray(got).view(np.uint32), want.view(np.uint32))
    with x64_mode(True):
        y = float_sample("float64")
        for e, m in ((8, 23), (5, 10), (11, 20)):
            want = jax.lax.reduce_precision(y, e, m)
            same_bits(llax.lax.reduce_precision(y, e, m), want)
            same_bits(llax.jit(lambda v, e=e, m=m: llax.lax.reduce_precision(v, e, m))(y), want)


def test_reduce_precision_derivatives_and_vmap() -> None:
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    t = np.random.default_rng(3).normal(size=(3, 4)).astype(np.float32)

    def f(m):
        return lambda v: m.lax.reduce_precision(v * v, 5, 4)

    lo, lt = llax.jvp(f(llax), (x,), (t,))
    jo, jt = jax.jvp(f(jax), (x,), (t,))
    same_bits(lo, jo, "primal")
    np.testing.assert_allclose(lt, jt, rtol=1e-6)
    (lct,) = llax.vjp(f(llax), x)[1](t)
    (jct,) = jax.vjp(f(jax), x)[1](t)
    np.testing.assert_allclose(lct, jct, rtol=1e-6)
    with x64_mode(True):
        # No rounding at all (the float64 format itself): the identity, checked numerically.
        check_grads(lambda v: llax.lax.reduce_precision(v * v, 11, 52),
                    (x.astype(np.float64),), order=2, modes=("fwd", "rev"))
    same_bits(llax.vmap(f(llax), in_axes=1)(x), jax.vmap(f(jax), in_axes=1)(x))


@pytest.mark.parametrize("args", [(np.ones(2, np.int32), 5, 10), (np.ones(2, np.float32), 0, 3),
                                  (np.ones(2, np.float32), 5, -1)])
def test_reduce_precision_errors_as_jax(args: tuple) -> None:
    raises_as_jax(lambda: llax.lax.reduce_precision(*args),
                  lambda: jax.lax.reduce_precision(*args))


def test_text_round_trip() -> None:
    def f(x, i):
        return llax.lax.reduce_precision(x, 5, 10), llax.lax.clz(i)

    fn = llax.make_jaxpr(f)(np.ones(3, np.float32), np.ones(3, np.int32)).jaxpr.function
    verify(fn)
    text = print_function(fn)
    assert "reduce_precision[exponent_bits=5 mantissa_bits=10]" in text and "clz" in text
    again = parse_function(text)
    verify(again)
    assert print_function(again) == text
    want = jax.make_jaxpr(lambda x: jax.lax.reduce_precision(x, 5, 10))(np.ones(3, np.float32))
    assert "reduce_precision[exponent_bits=5 mantissa_bits=10]" in str(want)


# --- lax.reduce ---------------------------------------------------------------------------------

@pytest.mark.parametrize("op,init,prim", [
    ("add", 0.0, "reduce_sum"), ("mul", 1.0, "reduce_prod"), ("max", -np.inf, "reduce_max"),
    ("min", np.inf, "reduce_min"),
])
def test_reduce_monoids_are_reduce_primitives(op: str, init: float, prim: str) -> None:
    x = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)

    def f(m):
        return lambda v: m.lax.reduce(v, init, getattr(m.lax, op), (1,))

    eqns = llax.make_jaxpr(f(llax))(x).jaxpr.eqns
    assert [e.primitive.name for e in eqns] == [prim]
    assert [e.primitive.name for e in jax.make_jaxpr(f(jax))(x).eqns] == [prim]
    np.testing.assert_allclose(f(llax)(x), f(jax)(x), rtol=1e-6)
    np.testing.assert_allclose(llax.jit(f(llax))(x), f(jax)(x), rtol=1e-6)


@pytest.mark.parametrize("dtype,op,init,prim", [
    ("int32", "bitwise_or", 0, "reduce_or"), ("int32", "bitwise_and", -1, "reduce_and"),
    ("bool", "bitwise_xor", False, "reduce_xor"), ("int32", "max", np.iinfo(np.int32).min,
                                                   "reduce_max"),
    ("uint8", "min", 255, "reduce_min"), ("int32", "add", 0, "reduce_sum"),
])
def test_reduce_integer_monoids(dtype: str, op: str, init: Any, prim: str) -> None:
    x = np.random.default_rng(5).integers(0, 100, (4, 5)).astype(dtype)

    def f(m):
        return lambda v: m.lax.reduce(v, np.array(init, dtype), getattr(m.lax, op), (0,))

    assert [e.primitive.name for e in llax.make_jaxpr(f(llax))(x).jaxpr.eqns] == [prim]
    same_bits(f(llax)(x), f(jax)(x))


def test_reduce_of_a_non_identity_init_folds() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)

    def f(m):
        return lambda v: m.lax.reduce(v, np.float32(10.0), m.lax.add, (0,))

    assert "reduce_sum" not in {e.primitive.name for e in llax.make_jaxpr(f(llax))(x).jaxpr.eqns}
    np.testing.assert_allclose(f(llax)(x), f(jax)(x))


def _pair_computation(m):
    # (running sum, running max): associative and commutative, so any order is right.
    return lambda a, b: (m.lax.add(a[0], b[0]), m.lax.max(a[1], b[1]))


@pytest.mark.parametrize("dims", [(0,), (1,), (0, 2), (), (0, 1, 2)])
def test_variadic_reduce_vs_jax(dims: tuple[int, ...]) -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    y = rng.integers(-9, 9, (3, 4, 5)).astype(np.int32)

    def f(m):
        return lambda a, b: m.lax.reduce((a, b), (np.float32(0), np.int32(-100)),
                                         _pair_computation(m), dims)

    want = f(jax)(x, y)
    for got in (f(llax)(x, y), llax.jit(f(llax))(x, y)):
        assert isinstance(got, tuple) and len(got) == 2
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
        same_bits(got[1], want[1])


def test_variadic_reduce_derivatives_and_vmap() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 5)).astype(np.float32)

    def f(m):
        def g(v):
            zero, low = np.zeros((), v.dtype), np.array(-np.inf, v.dtype)
            s, mx = m.lax.reduce((v * v, v), (zero, low), _pair_computation(m), (1,))
            return (s * mx).sum()
        return g

    np.testing.assert_allclose(llax.grad(f(llax))(x), jax.grad(f(jax))(x), rtol=1e-5)
    np.testing.assert_allclose(llax.jit(llax.grad(f(llax)))(x), jax.grad(f(jax))(x), rtol=1e-5)
    with x64_mode(True):
        check_grads(f(llax), (x.astype(np.float64),), order=1, modes=("fwd", "rev"))

    def h(m):
        return lambda v: m.lax.reduce((v, v), (np.float32(0), np.float32(-np.inf)),
                                      _pair_computation(m), (0,))

    got, want = llax.vmap(h(llax), in_axes=1)(x), jax.vmap(h(jax), in_axes=1)(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5)


def test_reduce_of_an_empty_axis_is_the_init() -> None:
    x = np.zeros((0, 3), np.float32)

    def f(m):
        return lambda v: m.lax.reduce((v, v), (np.float32(1), np.float32(2)),
                                      _pair_computation(m), (0,))

    for g, w in zip(f(llax)(x), f(jax)(x)):
        same_bits(g, w)


def test_reduce_errors_as_jax() -> None:
    x = np.ones((2, 3), np.float32)
    raises_as_jax(lambda: llax.lax.reduce(x, 0, lambda a, b: a + b, (0,)),
                  lambda: jax.lax.reduce(x, 0, lambda a, b: a + b, (0,)))
    raises_as_jax(lambda: llax.lax.reduce((x, x), (np.float32(0),), llax.lax.add, (0,)),
                  lambda: jax.lax.reduce((x, x), (np.float32(0),), jax.lax.add, (0,)))


# --- dot_general precision, Precision, shapes and dtypes ---------------------------------------

def test_precision_enum_as_jax() -> None:
    for name in ("highest", "float32", "high", "tensorfloat32", "default", "bfloat16",
                 "fastest", "bfloat16_3x"):
        assert llax.lax.Precision(name).name == jax.lax.Precision(name).name
    assert [p.name for p in llax.lax.Precision] == [p.name for p in jax.lax.Precision]
    assert repr(llax.lax.Precision.HIGH) == repr(jax.lax.Precision.HIGH)
    assert str(llax.lax.Precision.HIGHEST) == str(jax.lax.Precision.HIGHEST)


@pytest.mark.parametrize("precision", [None, "highest", ("high", "default"),
                                       "HIGHEST_PLACEHOLDER", "PAIR_PLACEHOLDER"])
def test_dot_general_accepts_precision(precision: Any) -> None:
    x = np.random.default_rng(8).normal(size=(3, 4)).astype(np.float32)
    dn = (((1,), (1,)), ((), ()))

    def prec(m):
        if precision == "HIGHEST_PLACEHOLDER":
            return m.lax.Precision.HIGHEST
        if precision == "PAIR_PLACEHOLDER":
            return (m.lax.Precision.DEFAULT, m.lax.Precision.HIGH)
        return precision

    got = llax.lax.dot_general(x, x, dn, precision=prec(llax))
    np.testing.assert_allclose(got, jax.lax.dot_general(x, x, dn, precision=prec(jax)),
                               rtol=1e-5)
    got = llax.numpy.dot(x, x.T, precision=prec(llax))
    np.testing.assert_allclose(got, x @ x.T, rtol=1e-5)


def test_dot_general_precision_errors_and_element_types() -> None:
    x = np.ones((2, 2), np.float32)
    dn = (((1,), (0,)), ((), ()))
    raises_as_jax(lambda: llax.lax.dot_general(x, x, dn, precision="foo"),
                  lambda: jax.lax.dot_general(x, x, dn, precision="foo"))
    i = np.full((2, 2), 100, np.int8)
    for a, b, pet in ((i, i, np.int32), (x, x.astype(np.float16), np.float32)):
        got = llax.lax.dot_general(a, b, dn, preferred_element_type=pet)
        want = jax.lax.dot_general(a, b, dn, preferred_element_type=pet)
        same_bits(got, want)


def test_broadcast_shapes_as_jax() -> None:
    for shapes in [((2, 1), (3,)), ((2,),), ((1, 4), (5, 1, 1)), ((0, 1), (1, 3))]:
        assert llax.lax.broadcast_shapes(*shapes) == jax.lax.broadcast_shapes(*shapes)
    for shapes in [((2,), (3,)), ((2,), (-3,)), ((2, 3), (1, 3, 3))]:
        raises_as_jax(lambda s=shapes: llax.lax.broadcast_shapes(*s),
                      lambda s=shapes: jax.lax.broadcast_shapes(*s))


@pytest.mark.parametrize("x64", [False, True])
def test_lax_dtype_as_jax(x64: bool) -> None:
    import warnings

    with x64_mode(x64), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about narrowed dtypes
        for v in (1.0, 1, True, 1j, np.float16(1), "float32", np.int8, np.ones(2),
                  np.ones(2, np.uint16), "int64"):
            assert llax.lax.dtype(v) == jax.lax.dtype(v), v
        assert llax.lax.dtype(llax.numpy.ones(2)) == jax.lax.dtype(jax.numpy.ones(2))
    raises_as_jax(lambda: llax.lax.dtype(None), lambda: jax.lax.dtype(None))


# --- gather and scatter --------------------------------------------------------------------------

def test_gather_and_scatter_as_jax() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    idx = np.array([[2], [0], [5]], np.int32)

    def g(m, mode):
        dn = m.lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                          start_index_map=(0,))
        mode = m.lax.GatherScatterMode.FILL_OR_DROP if mode == "enum" else mode
        return m.lax.gather(x, idx, dn, (1, 4), mode=mode)

    for mode in ("clip", "fill", "enum"):
        same_bits(g(llax, mode), g(jax, mode), mode)
    upd = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    for name in ("scatter", "scatter_add", "scatter_sub", "scatter_mul", "scatter_min",
                 "scatter_max"):
        def s(m, name=name):
            dn = m.lax.ScatterDimensionNumbers(update_window_dims=(1,),
                                               inserted_window_dims=(0,),
                                               scatter_dims_to_operand_dims=(0,))
            return getattr(m.lax, name)(x, idx, upd, dn, mode="drop")

        same_bits(s(llax), s(jax), name)
        same_bits(llax.jit(lambda s=s: s(llax))(), s(jax), "jit " + name)


# --- the names ----------------------------------------------------------------------------------

ISSUE_NAMES = ["reduce", "reduce_precision", "sort", "sort_key_val", "top_k", "cumsum",
               "cumprod", "cummax", "cummin", "cumlogsumexp", "clz", "population_count",
               "nextafter", "dot_general", "Precision", "DotDimensionNumbers",
               "GatherDimensionNumbers", "ScatterDimensionNumbers", "GatherScatterMode",
               "broadcast_shapes", "dtype", "gather", "scatter", "scatter_add", "reciprocal"]


@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_names_exist_with_jax_signatures(name: str) -> None:
    ours, theirs = getattr(llax.lax, name), getattr(jax.lax, name)
    if not inspect.isfunction(theirs):  # enums, NamedTuples, type aliases
        assert ours is not None
        return

    def params(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()
                if p.name not in ("out_sharding", "algorithm", "transpose_algorithm")]

    assert params(ours) == params(theirs)


def test_reciprocal_as_jax() -> None:
    x = np.array([0.5, -2.0, 0.0, np.inf], np.float32)
    same_bits(llax.lax.reciprocal(x), jax.lax.reciprocal(x))


# --- splitting, stacking, special functions, primitives by name -----------------------------

def test_split_stack_unstack_collapse_broadcast_like_as_jax() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for m_args in [("split", ([1, 3], 2)), ("split", ([0, 2], 0)), ("unstack", (1,)),
                   ("unstack", (-1,)), ("collapse", (1,)), ("collapse", (0, 2)),
                   ("collapse", (-2, None))]:
        name, args = m_args
        got, want = getattr(llax.lax, name)(x, *args), getattr(jax.lax, name)(x, *args)
        if isinstance(want, (list, tuple)):
            assert type(got) is type(want) or name == "split", (name, type(got))
            assert len(got) == len(want)
            for g, w in zip(got, want):
                same_bits(g, w, name)
        else:
            same_bits(got, want, name)
    for axis in (0, 2, -1):
        same_bits(llax.lax.stack([x, x + 1], axis), jax.lax.stack([x, x + 1], axis))
    for arr, like in ((np.arange(4, dtype=np.float32), x), (np.ones((3, 1), np.int32), x)):
        same_bits(llax.lax.broadcast_like(arr, like), jax.lax.broadcast_like(arr, like))
    same_bits(llax.jit(lambda v: llax.lax.stack(llax.lax.split(v, [2, 2], 2), 0))(x),
              jax.lax.stack(jax.lax.split(x, [2, 2], 2), 0))


@pytest.mark.parametrize("call", [
    lambda m, x: m.lax.split(x, [1, 1], 1), lambda m, x: m.lax.split(x, [4, -1], 1),
    lambda m, x: m.lax.split(x, [1, 2], 5), lambda m, x: m.lax.stack([x, x[:1]]),
    lambda m, x: m.lax.collapse(x, 2, 1), lambda m, x: m.lax.unstack(x, 2),
    lambda m, x: m.lax.broadcast_like(np.ones(3, np.float32), np.ones((2, 4), np.float32)),
])
def test_shape_helper_errors_as_jax(call: Any) -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    raises_as_jax(lambda: call(llax, x), lambda: call(jax, x))


def test_special_functions_as_jax() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.uniform(0.5, 4, 6).astype(np.float32), rng.uniform(0.5, 4, 6).astype(np.float32)
    x = rng.uniform(0.05, 0.95, 6).astype(np.float32)
    cases = [("zeta", (a + 1.5, b)), ("polygamma", (np.float32([0, 1, 2, 1.5, -1, 3]), a)),
             ("bessel_i0e", (a - 2,)), ("bessel_i1e", (a - 2,)), ("betainc", (a, b, x))]
    for name, args in cases:
        np.testing.assert_allclose(getattr(llax.lax, name)(*args),
                                   getattr(jax.lax, name)(*args), rtol=2e-5, atol=1e-6,
                                   err_msg=name)
    raises_as_jax(lambda: llax.lax.bessel_i0e(np.int32(2)), lambda: jax.lax.bessel_i0e(np.int32(2)))


def test_optimization_barrier_passes_values() -> None:
    def f(m, v):
        a, b = m.lax.optimization_barrier((v, v * 2))
        return a + b

    v = np.float32(1.5)
    same_bits(llax.jit(lambda t: f(llax, t))(v), jax.jit(lambda t: f(jax, t))(v))


def test_primitives_under_jax_names() -> None:
    x = np.ones((2, 3), np.float32)
    eqns = llax.make_jaxpr(lambda v: llax.lax.cumsum(llax.lax.sin(v) + v, 1))(x).jaxpr.eqns
    assert [e.primitive for e in eqns] == [llax.lax.sin_p, llax.lax.add_p, llax.lax.cumsum_p]
    for name in ("add_p", "mul_p", "reduce_sum_p", "scatter_add_p", "clz_p",
                 "reduce_precision_p", "cummax_p", "sort_p", "while_p", "cond_p"):
        assert name in dir(jax.lax) and hasattr(llax.lax, name), name
    same_bits(llax.lax.mul_p.bind(x, x), x * x)


def test_dot_general_records_precision_as_jax() -> None:
    x = np.ones((2, 3), np.float32)
    dn = (((1,), (1,)), ((), ()))

    def f(m):
        return lambda a: m.lax.dot_general(a, a, dn, precision=("high", "highest"))

    (ours,) = llax.make_jaxpr(f(llax))(x).jaxpr.function.ops
    (theirs,) = jax.make_jaxpr(f(jax))(x).eqns
    assert [p.name for p in ours.params["precision"]] == \
        [p.name for p in theirs.params["precision"]] == ["HIGH", "HIGHEST"]
    fn = llax.make_jaxpr(f(llax))(x).jaxpr.function
    text = print_function(fn)
    again = parse_function(text)
    verify(again)
    assert print_function(again) == text
    assert again.ops[0].params["precision"] == (llax.lax.Precision.HIGH,
                                                 llax.lax.Precision.HIGHEST)
    assert llax.make_jaxpr(lambda a: llax.lax.dot_general(a, a, dn))(x).jaxpr.function.ops[
        0].params["precision"] is None
