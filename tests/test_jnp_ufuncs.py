"""Elementwise ``llax.numpy`` functions against JAX (and NumPy): values, dtypes, weak types,
eager and under jit, in both x64 modes, with broadcasting.

Functions are checked in batches (one jit per batch, see ``check_many``): a test
covers every unary or binary function for one combination of input dtypes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import (
    as_jax,
    assert_same,
    check,
    check_many,
    primitive_names,
    sample,
    x64_mode,
)

UNARY = """negative positive abs absolute sign exp exp2 expm1 log log2 log10 log1p sqrt cbrt
    square reciprocal sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh
    floor ceil trunc rint round around isnan isinf isfinite signbit logical_not bitwise_not
    invert deg2rad rad2deg sinc fabs conjugate conj real""".split()
BINARY = """add subtract multiply divide true_divide floor_divide power float_power mod remainder
    fmod maximum minimum fmax fmin hypot arctan2 logical_and logical_or logical_xor
    bitwise_and bitwise_or bitwise_xor left_shift right_shift equal not_equal less less_equal
    greater greater_equal heaviside copysign nextafter""".split()
# Weak flags that come from the insides of JAX's implementations rather than from its
# promotion rules (e.g. hypot of an int array and a Python float is strong in JAX, while
# the same function of two weak values is weak). llax follows the rules.
WEAK_QUIRKS = frozenset({"hypot", "heaviside"})


def _domain(name: str, module):
    """Keep inputs inside the domain where float32 implementations agree to a few ulps."""
    def pre(x):
        if x.dtype.kind != "f":
            return x
        if name in ("arcsin", "arccos", "arctanh"):
            return x * 0.2
        if name == "arccosh":
            return module.abs(x) + 1.5
        return x
    return pre


def _unary_cases(dtype: str) -> dict:
    cases = {}
    for name in UNARY:
        lf, jf = getattr(lnp, name), getattr(jnp, name)
        lpre, jpre = _domain(name, lnp), _domain(name, jnp)
        cases[name] = (lambda x, f=lf, p=lpre: f(p(x)), lambda x, f=jf, p=jpre: f(p(x)))
    return cases


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8", "bool", "int8"])
def test_unary_x32(dtype: str) -> None:
    check_many(_unary_cases(dtype), sample(dtype, (13,)))


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_unary_x64(dtype: str) -> None:
    with x64_mode(True):
        x = sample(dtype, (13,))
        check_many(_unary_cases(dtype), x)
        if dtype == "float64":  # and the same values as NumPy
            for name in UNARY:
                if hasattr(np, name) and name not in ("round", "around", "bitwise_not",
                                                      "invert"):
                    with np.errstate(all="ignore"):
                        want = getattr(np, name)(x)
                    np.testing.assert_allclose(np.asarray(getattr(lnp, name)(x)), want,
                                               rtol=1e-12, equal_nan=True, err_msg=name)


def _of_constant(name: str, value: object) -> tuple:
    lf, jf = getattr(lnp, name), getattr(jnp, name)
    return (lambda _: lf(value)), (lambda _: jf(value))


@pytest.mark.parametrize("value, x64", [(2, False), (0.5, False), (True, False), (2, True),
                                        (0.5, True)], ids=str)
def test_unary_python_scalars(value: object, x64: bool) -> None:
    with x64_mode(x64):
        cases = {n: _of_constant(n, value) for n in UNARY}
        check_many(cases, np.zeros(()), jit=False)


def _binary_cases(dtypes: tuple[str, ...], scalar: object = None, scalar_first: bool = False
                  ) -> dict:
    cases = {}
    for name in BINARY:
        if name == "fmod" and "bool" in dtypes:
            continue  # JAX's fmod of bools by False gives the dividend: a quirk we skip
        if name == "multiply" and "bool" in dtypes and scalar is None and \
                any(np.dtype(d).kind == "f" for d in dtypes):
            # XLA simplifies mul(convert(bool), x) to a select, so False * inf is 0 in JAX
            # (the jaxpr is a plain mul, as ours; IEEE says nan).
            continue
        lf, jf = getattr(lnp, name), getattr(jnp, name)
        if scalar is None:
            cases[name] = (lf, jf)
        elif scalar_first:
            cases[name] = (lambda x, f=lf: f(scalar, x), lambda x, f=jf: f(scalar, x))
        else:
            cases[name] = (lambda x, f=lf: f(x, scalar), lambda x, f=jf: f(x, scalar))
    return cases


def _binary_inputs(dx: str, dy: str) -> tuple[np.ndarray, np.ndarray]:
    x = sample(dx, (13,), seed=0)
    y = np.roll(sample(dy, (13,), seed=1), 3)
    if np.dtype(dx).kind in "iub" and np.dtype(dy).kind in "iub":
        # Integer powers: JAX only rejects negative exponents it can see; keep them small.
        y = np.abs(y) % 5 if dy != "bool" else y
    return x, y


@pytest.mark.parametrize("dx, dy", [
    ("float32", "float32"), ("int32", "int32"), ("uint8", "uint8"), ("bool", "bool"),
    ("int32", "float32"), ("uint8", "int32"), ("bool", "float32"), ("int8", "uint8"),
    ("float16", "float32")])
def test_binary_x32(dx: str, dy: str) -> None:
    check_many(_binary_cases((dx, dy)), *_binary_inputs(dx, dy), weak_exempt=WEAK_QUIRKS)


@pytest.mark.parametrize("dx, dy", [("float64", "float64"), ("int64", "int64"),
                                    ("int32", "float32"), ("int64", "float32"),
                                    ("uint32", "int32")])
def test_binary_x64(dx: str, dy: str) -> None:
    with x64_mode(True):
        check_many(_binary_cases((dx, dy)), *_binary_inputs(dx, dy), weak_exempt=WEAK_QUIRKS)


SCALAR_CASES = [(d, s, first) for d in ("float32", "int32", "bool") for s in (3, -2.5)
                for first in (False, True)] + [("float32", True, False), ("int32", True, True)]


@pytest.mark.parametrize("dtype, scalar, scalar_first", SCALAR_CASES, ids=str)
def test_binary_with_python_scalar(dtype: str, scalar: object, scalar_first: bool) -> None:
    kinds = (dtype, "float32") if isinstance(scalar, float) else (dtype,)
    cases = _binary_cases(kinds, scalar, scalar_first)
    check_many(cases, sample(dtype, (13,)), weak_exempt=WEAK_QUIRKS)


def test_binary_with_python_scalar_x64() -> None:
    with x64_mode(True):
        for scalar in (3, -2.5):
            for dtype in ("float32", "int32"):
                check_many(_binary_cases((dtype, "float64"), scalar), sample(dtype, (13,)),
                           jit=False, weak_exempt=WEAK_QUIRKS)


@settings(max_examples=15, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(["add", "multiply", "maximum", "arctan2", "less", "subtract"]))
def test_broadcasting(shapes, name: str) -> None:
    (sx, sy), _ = shapes
    x, y = sample("float32", sx, seed=2), sample("float32", sy, seed=3)
    check(getattr(lnp, name), getattr(jnp, name), x, y, jit=False)


def test_broadcasting_under_jit() -> None:
    x, y = sample("float32", (2, 1, 3)), sample("float32", (4, 1))
    check(lambda a, b: lnp.asarray(a) * b + 1.0, lambda a, b: jnp.asarray(a) * b + 1.0, x, y)
    check(lnp.subtract, jnp.subtract, sample("int32", (0, 3)), sample("int32", (3,)))


def test_empty_and_scalar_shapes() -> None:
    for shape in [(), (0,), (2, 0)]:
        x = sample("float32", shape)
        check_many({"sin": (lnp.sin, jnp.sin), "add": (lambda a: lnp.add(a, a),
                                                       lambda a: jnp.add(a, a)),
                    "less": (lambda a: lnp.less(a, 1.0), lambda a: jnp.less(a, 1.0))}, x)


def test_incompatible_shapes() -> None:
    with pytest.raises(ValueError, match=r"add got incompatible shapes for broadcasting: "
                                        r"\(3,\), \(4,\)"):
        lnp.add(lnp.ones(3), lnp.ones(4))


@pytest.mark.parametrize("bad", [[1.0, 2.0], (1, 2), None, "a"])
def test_non_arrays_are_rejected(bad: object) -> None:
    with pytest.raises(TypeError, match="exp requires ndarray or scalar arguments"):
        lnp.exp(bad)
    with pytest.raises(TypeError, match="at position 1"):
        lnp.add(lnp.ones(2), bad)


def test_unsupported_dtypes_are_rejected() -> None:
    with pytest.raises(TypeError, match="<U1"):
        lnp.add(np.array(["a"]), 1)
    with pytest.raises(TypeError, match="object"):
        lnp.exp(np.array([object()]))


def test_scalar_results_of_scalars() -> None:
    check(lnp.add, jnp.add, 1, 2, jit=False)
    check(lnp.add, jnp.add, 1, 2.0, jit=False)
    check(lnp.exp, jnp.exp, 1, jit=False)
    check(lnp.add, jnp.add, np.float32(1), 2, jit=False)
    check(lnp.multiply, jnp.multiply, np.int8(3), 300, jit=False)  # wraps, as in JAX
    check(lnp.add, jnp.add, sample("uint8", (3,)), -1, jit=False)


def test_python_int_overflow() -> None:
    with pytest.raises(OverflowError):
        lnp.add(lnp.arange(3), 2**40)


def test_power_with_static_exponents() -> None:
    x = sample("float32", (13,))
    cases = {f"y={y!r}": (lambda a, y=y: lnp.power(a, y), lambda a, y=y: jnp.power(a, y))
             for y in (2, 3, -2, 0, True, np.int32(2))}
    cases["int ** 2"] = (lambda a: lnp.asarray(a).astype(int) ** 2,
                         lambda a: jnp.asarray(a).astype(int) ** 2)
    cases["2 ** int"] = (lambda a: 2 ** lnp.abs(lnp.asarray(a).astype(int)),
                         lambda a: 2 ** jnp.abs(jnp.asarray(a).astype(int)))
    check_many(cases, x)
    # Exponent arrays use the low six bits, as in JAX (so 0 ** 64 is 0, 3 ** 64 is 1).
    check(lnp.power, jnp.power, np.array([3, 2, 1, 0, -1, 5], np.int32),
          np.array([64, 64, 64, 64, -3, -2], np.int32))
    with pytest.raises(TypeError):
        lnp.power(lnp.arange(3), -1)


def test_round_decimals() -> None:
    x = np.array([1.25, 1.35, -2.5, 1234.5, 0.5, 1.5], np.float32)
    check_many({f"decimals={d}": (lambda a, d=d: lnp.round(a, d),
                                  lambda a, d=d: jnp.round(a, d)) for d in (0, 1, 2, -2)}, x)
    check(lambda a: lnp.round(a, 1), lambda a: jnp.round(a, 1), np.arange(5, dtype=np.int32))
    # NumPy's integer rounding to tens (JAX raises NotImplementedError here).
    np.testing.assert_array_equal(lnp.round(np.array([1234, 1250, 1350, -1250]), -2),
                                  np.round(np.array([1234, 1250, 1350, -1250]), -2))


def test_round_rejects_bool() -> None:
    with pytest.raises((TypeError, ValueError)):
        lnp.round(np.array([True]))


# ---------------------------------------------------------------------------------------------
# Traced IR: the same primitives as JAX


@pytest.mark.parametrize("fn", [
    lambda x: x * 2.0, lambda x: x + 1, lambda x: x ** 2, lambda x: x ** 2.0,
    lambda x: lnp.exp(x), lambda x: lnp.tanh(x) - x, lambda x: lnp.maximum(x, 0),
    lambda x: -x, lambda x: lnp.sqrt(x) / 2, lambda x: x == 2, lambda x: lnp.abs(x),
    lambda x: lnp.arctan2(x, x), lambda x: lnp.reciprocal(x), lambda x: lnp.log2(x),
    lambda x: lnp.logical_not(x), lambda x: lnp.square(x),
])
def test_primitive_names_match_jax(fn) -> None:
    x = np.ones(3, np.float32)
    assert primitive_names(fn, x) == primitive_names(as_jax(fn), x, use_jax=True)


def test_promoted_literals_match_jax() -> None:
    for fn, x in ((lambda a: a * 2.0, np.ones(3, np.float32)),
                  (lambda a: a * 2, np.ones(3, np.int8))):
        (eqn,) = llax.make_jaxpr(fn)(x).jaxpr.eqns
        (jeqn,) = jax.make_jaxpr(fn)(x).jaxpr.eqns
        literal, jliteral = eqn.invars[1], jeqn.invars[1]
        # Promoted to the array's (strong) type, as JAX does: ``2.0:f32[]``.
        assert literal.type.shape == jliteral.aval.shape == ()
        assert literal.type.dtype == jliteral.aval.dtype
        assert literal.type.weak == jliteral.aval.weak_type


def test_int_to_float_promotion_traces_a_convert() -> None:
    x = np.arange(3, dtype=np.int32)
    names = primitive_names(lambda a: a + 1.0, x)
    assert names == primitive_names(lambda a: a + 1.0, x, use_jax=True) == [
        "convert_element_type", "add"]


def test_hypot_weak_type_matches_jax() -> None:
    """JAX's hypot is weak only for a scalar result of weak operands."""
    for a, b in [(np.int32(3), 4.0), (3, 4.0), (3, 4), (np.arange(3), 4.0), (np.arange(3), 2),
                 (np.arange(3.0, dtype=np.float32), 4.0), (np.float16(3), 4.0), (True, 2.0),
                 (np.arange(3, dtype=np.int8), 2.5), (np.array([np.inf, 3, np.nan]), 2.0)]:
        check(lnp.hypot, jnp.hypot, a, b)


def test_log10_constant_and_geomspace_integers_match_jax() -> None:
    """log10 multiplies by JAX's rounded 1/ln(10), so geomspace to integers truncates the
    same values as JAX's."""
    for args in [(1, 256, 9), (1, 1000, 4), (2, 1e6, 7), (3, 300, 5)]:
        assert_same(lnp.geomspace(*args, dtype=lnp.int32), jnp.geomspace(*args, dtype=jnp.int32))
    assert_same(lnp.log10(np.float32(256)), jnp.log10(np.float32(256)))
    z = np.complex64(3 + 4j)
    assert_same(lnp.log10(z), jnp.log10(z))
    assert_same(lnp.log2(z), jnp.log2(z))


@pytest.mark.parametrize("name", ["arctan2", "atan2", "logaddexp", "logaddexp2"])
def test_complex_binary_functions_match_jax(name: str):
    # Complex operands (and a complex meeting a float32) are promoted and computed, as JAX
    # does: arctan2 continued to complex, logaddexp/2 with the phase wrapped.
    z = np.array([0.5 + 1j, -2 + 0.25j, 3 - 4j], np.complex64)
    w = np.array([1.5 - 0.5j, 0.75 + 2j, -1 - 1j], np.complex64)
    for x, y in [(z, w), (z, np.float32(1.5)), (np.complex64(0.5 + 1j), np.complex64(1.5 - 0.5j))]:
        ours, theirs = getattr(lnp, name)(x, y), getattr(jnp, name)(x, y)
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=2e-5, atol=2e-6)


def test_fmod_of_bools_divides_as_int32_without_the_zero_fix():
    x, y = np.array([True, False, True]), np.array([False, False, True])
    assert_same(lnp.fmod(x, y), jnp.fmod(x, y))
    ints = np.array([5, -5], np.int32), np.array([0, 0], np.int32)
    assert_same(lnp.fmod(*ints), jnp.fmod(*ints))


def test_isfinite_of_complex_checks_both_parts_and_keeps_weak_type():
    z = np.array([1 + 2j, complex(np.nan, 1), complex(1, np.inf)], np.complex64)
    assert_same(lnp.isfinite(z), jnp.isfinite(z))
    assert_same(lnp.isfinite(1 + 2j), jnp.isfinite(1 + 2j))


@pytest.mark.parametrize("name", ["isnan", "isinf"])
def test_isnan_and_isinf_of_complex_look_at_both_parts(name: str):
    z = np.array([1 + 2j, complex(np.nan, 1), complex(1, np.inf), complex(-np.inf, 0)],
                 np.complex64)
    assert_same(getattr(lnp, name)(z), getattr(jnp, name)(z))
    assert_same(getattr(lnp, name)(1j), getattr(jnp, name)(1j))
