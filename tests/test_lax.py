"""``llax.lax`` against ``jax.lax``: elementwise ops (no promotion), structural ops,
creation, reductions and contractions; eager and under jit."""

from __future__ import annotations

import jax.lax as jlax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
from llax import lax
from llax.tests.jnp_oracle import (
    assert_same,
    check,
    check_many,
    primitive_names,
    sample,
)

UNARY_FLOAT = """exp exp2 log log1p expm1 tanh logistic sin cos tan asin acos atan sinh cosh
    asinh acosh atanh sqrt rsqrt cbrt floor ceil erf erfc erf_inv is_finite""".split()
UNARY_NUMERIC = "neg sign abs square".split()
UNARY_INTEGRAL = "bitwise_not population_count".split()
BINARY_NUMERIC = "add sub mul div rem max min eq ne lt le gt ge".split()
BINARY_FLOAT = "pow atan2 nextafter".split()
BINARY_INTEGRAL = "bitwise_and bitwise_or bitwise_xor".split()
SHIFTS = "shift_left shift_right_logical shift_right_arithmetic".split()


def _ops(names: list[str], *extra) -> dict:
    return {n: (lambda *a, n=n: getattr(lax, n)(*a, *extra),
                lambda *a, n=n: getattr(jlax, n)(*a, *extra)) for n in names}


def _float_input(name: str) -> np.ndarray:
    return sample("float32", (13,), special=False, low=-0.9, high=0.9)


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "uint8"])
def test_unary(dtype: str) -> None:
    x = sample(dtype, (13,))
    if dtype == "float32":
        # Inside every domain (acosh gets 1 + |x|) so float32 results agree to a few ulps.
        check_many({n: (lambda a, n=n: getattr(lax, n)(a if n != "acosh" else 1 + abs(a)),
                        lambda a, n=n: getattr(jlax, n)(a if n != "acosh" else 1 + abs(a)))
                    for n in UNARY_FLOAT}, _float_input("x"))
    check_many(_ops(UNARY_NUMERIC + UNARY_INTEGRAL), x)


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "uint8", "int8"])
def test_binary(dtype: str) -> None:
    x = sample(dtype, (13,))
    y = np.roll(sample(dtype, (13,), seed=1), 3)
    check_many(_ops(BINARY_NUMERIC + BINARY_FLOAT + BINARY_INTEGRAL), x, y)
    if dtype in ("int32", "uint8", "int8"):
        shifts = [s for s in SHIFTS if not (s == "shift_right_arithmetic" and dtype == "uint8")]
        check_many(_ops(shifts), x, np.abs(y) % 10)


def test_shift_right_arithmetic_of_unsigned() -> None:
    x = np.array([200, 7, 255], np.uint8)
    check(lax.shift_right_arithmetic, jlax.shift_right_arithmetic, x,
          np.array([7, 1, 9], np.uint8))


def test_python_scalars_take_the_array_dtype() -> None:
    x = sample("float32", (5,))
    i = sample("int32", (5,))
    check_many({"f+2.0": (lambda a: lax.add(a, 2.0), lambda a: jlax.add(a, 2.0)),
                "2.0*f": (lambda a: lax.mul(2.0, a), lambda a: jlax.mul(2.0, a)),
                "f<1.5": (lambda a: lax.lt(a, 1.5), lambda a: jlax.lt(a, 1.5)),
                "pow": (lambda a: lax.pow(a, 2.0), lambda a: jlax.pow(a, 2.0)),
                "max": (lambda a: lax.max(a, 0.0), lambda a: jlax.max(a, 0.0))}, x)
    check_many({"i+1": (lambda a: lax.add(a, 1), lambda a: jlax.add(a, 1)),
                "i<<2": (lambda a: lax.shift_left(a, 2), lambda a: jlax.shift_left(a, 2))}, i)
    for a, b in ((1, 2), (1.5, 2.5), (True, False)):
        assert_same(lax.add(a, b) if not isinstance(a, bool) else lax.bitwise_or(a, b),
                    jlax.add(a, b) if not isinstance(a, bool) else jlax.bitwise_or(a, b))
    # Wider than JAX: an int scalar also fits a narrower int or a float array.
    assert lax.add(np.ones(3, np.int8), 1).dtype == np.int8
    assert lax.add(np.ones(3, np.float32), 1).dtype == np.float32


def test_dtype_mismatches_raise() -> None:
    with pytest.raises(TypeError, match=r"lax.add requires arguments to have the same dtypes, "
                                        r"got int32, float32"):
        lax.add(np.arange(3, dtype=np.int32), 1.5)
    with pytest.raises(TypeError, match="float32, int32"):
        lax.mul(np.ones(3, np.float32), np.ones(3, np.int32))
    with pytest.raises(TypeError, match="same dtypes"):
        lax.add(1, 2.0)
    with pytest.raises(TypeError):
        lax.exp(np.arange(3))
    with pytest.raises(TypeError, match="incompatible shapes"):
        lax.add(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="same number of dimensions"):
        lax.add(np.ones(3), np.ones((2, 3)))


def test_size_one_broadcasting_and_rank_zero() -> None:
    a, b = sample("float32", (1, 3)), sample("float32", (2, 3), seed=1)
    check(lax.add, jlax.add, a, b)
    check(lax.mul, jlax.mul, np.float32(2) * np.ones((), np.float32), b)


def test_round() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.2, -2.7], np.float32)
    check_many({"default": (lax.round, jlax.round),
                "even": (lambda a: lax.round(a, lax.RoundingMethod.TO_NEAREST_EVEN),
                         lambda a: jlax.round(a, jlax.RoundingMethod.TO_NEAREST_EVEN)),
                "int": (lambda a: lax.round(a, 1), lambda a: jlax.round(a, 1))}, x)


def test_integer_pow_select_clamp_convert() -> None:
    x = sample("float32", (6,))
    p = sample("bool", (6,), seed=4)
    check_many({
        "integer_pow 3": (lambda a: lax.integer_pow(a, 3), lambda a: jlax.integer_pow(a, 3)),
        "integer_pow -2": (lambda a: lax.integer_pow(a, -2), lambda a: jlax.integer_pow(a, -2)),
        "select": (lambda a: lax.select(p, a, -a), lambda a: jlax.select(p, a, -a)),
        "select scalar": (lambda a: lax.select(True, a, -a), lambda a: jlax.select(True, a, -a)),
        "select_n int": (lambda a: lax.select_n(p.astype(np.int32), a, -a, ),
                         lambda a: jlax.select_n(p.astype(np.int32), a, -a)),
        "clamp": (lambda a: lax.clamp(0.0, a, 1.0), lambda a: jlax.clamp(0.0, a, 1.0)),
        "clamp arrays": (lambda a: lax.clamp(a * 0 - 1, a, a * 0 + 1),
                         lambda a: jlax.clamp(a * 0 - 1, a, a * 0 + 1)),
        "convert int": (lambda a: lax.convert_element_type(a, np.int32),
                        lambda a: jlax.convert_element_type(a, np.int32)),
        "convert bool": (lambda a: lax.convert_element_type(a, bool),
                         lambda a: jlax.convert_element_type(a, bool)),
        "convert u8": (lambda a: lax.convert_element_type(a, np.uint8),
                       lambda a: jlax.convert_element_type(a, np.uint8)),
    }, x)
    assert_same(lax.convert_element_type(1.5, np.float32),
                jlax.convert_element_type(1.5, np.float32))
    assert_same(lax.integer_pow(3, 2), jlax.integer_pow(3, 2))
    with pytest.raises(TypeError, match="same shapes"):
        lax.select(p, x, 0.0)


def test_bitcast_convert_type() -> None:
    # Every bit pattern class: signed zeros, subnormals, infinities, NaNs of both signs.
    x = np.array([0.0, -0.0, 1.5, -2.25, 1e-45, -1e-40, np.inf, -np.inf, np.nan, -np.nan,
                  3.4e38], np.float32)
    check_many({"f32->i32": (lambda a: lax.bitcast_convert_type(a, np.int32),
                             lambda a: jlax.bitcast_convert_type(a, np.int32)),
                "f32->u32": (lambda a: lax.bitcast_convert_type(a, np.uint32),
                             lambda a: jlax.bitcast_convert_type(a, np.uint32)),
                "f32->i32->f32 sign": (
                    lambda a: lax.lt(lax.bitcast_convert_type(a, np.int32), 0),
                    lambda a: jlax.lt(jlax.bitcast_convert_type(a, np.int32), 0))}, x)
    ints = np.array([0, 1, -1, 2**31 - 1, -(2**31), 0x7FC00000, 0x3F800000], np.int32)
    check_many({"i32->f32": (lambda a: lax.bitcast_convert_type(a, np.float32),
                             lambda a: jlax.bitcast_convert_type(a, np.float32))}, ints)
    with pytest.raises(NotImplementedError, match="equal width"):
        lax.bitcast_convert_type(x, np.int16)


STRUCTURAL = {
    "broadcast": lambda m, x: m.broadcast(x, (2,)),
    "broadcast_in_dim": lambda m, x: m.broadcast_in_dim(x, (2, 3, 5, 4), (0, 1, 3)),
    "broadcast_to_rank": lambda m, x: m.broadcast_to_rank(x, 5),
    "reshape": lambda m, x: m.reshape(x, (4, 6)),
    "reshape dims": lambda m, x: m.reshape(x, (4, 6), (2, 1, 0)),
    "transpose": lambda m, x: m.transpose(x, (2, 0, 1)),
    "squeeze": lambda m, x: m.squeeze(m.expand_dims(x, (0, 3)), (0, -2)),
    "expand_dims": lambda m, x: m.expand_dims(x, (1, -1)),
    "rev": lambda m, x: m.rev(x, (0, 2)),
    "slice": lambda m, x: m.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 2)),
    "slice no strides": lambda m, x: m.slice(x, (1, 0, 1), (2, 2, 3)),
    "slice_in_dim": lambda m, x: m.slice_in_dim(x, 1, 4, 2, axis=2),
    "slice_in_dim negative": lambda m, x: m.slice_in_dim(x, -2, None, axis=1),
    "index_in_dim": lambda m, x: m.index_in_dim(x, 1, axis=1),
    "index_in_dim drop": lambda m, x: m.index_in_dim(x, -1, axis=2, keepdims=False),
    "dynamic_slice": lambda m, x: m.dynamic_slice(x, (1, 1, 2), (1, 2, 2)),
    "dynamic_slice clamped": lambda m, x: m.dynamic_slice(x, (1, 2, 3), (2, 2, 2)),
    "dynamic_slice negative": lambda m, x: m.dynamic_slice(x, (0, -2, -1), (2, 1, 1)),
    "dynamic_slice_in_dim": lambda m, x: m.dynamic_slice_in_dim(x, 1, 2, axis=2),
    "dynamic_index_in_dim": lambda m, x: m.dynamic_index_in_dim(x, -1, axis=1, keepdims=False),
    "dynamic_update_slice": lambda m, x: m.dynamic_update_slice(x, x[:1, :2, :2] * 0, (1, 2, 3)),
    "dynamic_update_slice_in_dim": lambda m, x: m.dynamic_update_slice_in_dim(
        x, x[:, :1] * 0, 2, axis=1),
    "dynamic_update_index_in_dim": lambda m, x: m.dynamic_update_index_in_dim(
        x, x[0] * 0, 1, axis=0),
    "concatenate": lambda m, x: m.concatenate([x, x[:, :1]], 1),
    "concatenate one": lambda m, x: m.concatenate([x], 0),
    "pad": lambda m, x: m.pad(x, x[0, 0, 0] * 0, ((1, 2, 0), (0, 0, 1), (-1, 1, 0))),
}


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_structural(dtype: str) -> None:
    x = sample(dtype, (2, 3, 4))
    cases = {n: (lambda a, f=f: f(lax, llax.numpy.asarray(a)),
                 lambda a, f=f: f(jlax, jnp.asarray(a))) for n, f in STRUCTURAL.items()}
    if dtype == "bool":  # x * 0 is not defined on bools
        cases = {n: c for n, c in cases.items() if "update" not in n and n != "pad"}
    check_many(cases, x)


def test_dynamic_indices_traced() -> None:
    x = np.arange(10, dtype=np.float32)
    for i in (np.int32(3), np.int32(-2), np.int32(9), np.uint32(4), np.int8(-1)):
        check(lambda a, j: lax.dynamic_slice(a, (j,), (3,)),
              lambda a, j: jlax.dynamic_slice(a, (j,), (3,)), x, i)
        check(lambda a, j: lax.dynamic_index_in_dim(a, j, keepdims=False),
              lambda a, j: jlax.dynamic_index_in_dim(a, j, keepdims=False), x, i)
        check(lambda a, j: lax.dynamic_update_slice(a, a[:2] * 0, (j,)),
              lambda a, j: jlax.dynamic_update_slice(a, a[:2] * 0, (j,)), x, i)
    with pytest.raises(TypeError, match="integer"):
        lax.dynamic_slice(x, (1.5,), (2,))


def test_creation() -> None:
    for dtype in (np.int32, np.float32, int, "uint8"):
        assert_same(lax.iota(dtype, 4), jlax.iota(dtype, 4))
        assert_same(lax.broadcasted_iota(dtype, (2, 3), 1), jlax.broadcasted_iota(dtype, (2, 3), 1))
    for fill, dtype in ((3, None), (3, np.float32), (2.5, None), (True, None), (np.int8(2), None)):
        assert_same(lax.full((2, 3), fill, dtype), jlax.full((2, 3), fill, dtype))
    for proto, jproto in ((np.ones(3, np.float32), np.ones(3, np.float32)),
                          (llax.numpy.asarray(1.0), jnp.asarray(1.0))):
        assert_same(lax.full_like(proto, 3), jlax.full_like(jproto, 3))
        assert_same(lax.full_like(proto, 3, np.int32), jlax.full_like(jproto, 3, np.int32))
        assert_same(lax.full_like(proto, 3, shape=(2,)), jlax.full_like(jproto, 3, shape=(2,)))
        assert_same(lax.zeros_like_array(proto), jlax.full_like(jproto, 0))
    with pytest.raises(TypeError, match="scalar fill_value"):
        lax.full((2,), np.ones(2))
    check(lambda x: lax.full((2,), x), lambda x: jlax.full((2,), x), 1.5)


def test_reductions_and_contractions() -> None:
    x = sample("float32", (2, 3, 4), special=False)
    b = sample("bool", (2, 3, 4))
    check_many({f"{n} {axes}": (lambda a, n=n, axes=axes: getattr(lax, n)(a, axes),
                                lambda a, n=n, axes=axes: getattr(jlax, n)(a, axes))
                for n in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod")
                for axes in ((0,), (1, 2), (), (0, 1, 2))}, x)
    check_many({f"{n} {axes}": (lambda a, n=n, axes=axes: getattr(lax, n)(a, axes),
                                lambda a, n=n, axes=axes: getattr(jlax, n)(a, axes))
                for n in ("reduce_and", "reduce_or", "reduce_xor") for axes in ((0,), (1, 2))}, b)
    check_many({"argmax": (lambda a: lax.argmax(a, 1, np.int32),
                           lambda a: jlax.argmax(a, 1, np.int32)),
                "argmin": (lambda a: lax.argmin(a, 2, np.int32),
                           lambda a: jlax.argmin(a, 2, np.int32))}, x)
    y = sample("float32", (4, 3, 5), seed=1, special=False)
    check_many({
        "dot_general": (lambda a, c: lax.dot_general(a, c, (((2, 1), (0, 1)), ((), ()))),
                        lambda a, c: jlax.dot_general(a, c, (((2, 1), (0, 1)), ((), ())))),
        "dot": (lambda a, c: lax.dot(a[0], c[:, 0]), lambda a, c: jlax.dot(a[0], c[:, 0])),
        "dot mv": (lambda a, c: lax.dot(a[0], c[:, 0, 0]), lambda a, c: jlax.dot(a[0], c[:, 0, 0])),
        "batch_matmul": (lambda a, c: lax.batch_matmul(a, c[:2, :, :4].transpose(0, 2, 1)),
                         lambda a, c: jlax.batch_matmul(a, c[:2, :, :4].transpose(0, 2, 1))),
        "preferred": (lambda a, c: lax.dot_general(a.astype(np.int8), c.astype(np.int8),
                                                   (((2,), (0,)), ((), ())),
                                                   preferred_element_type=np.int32),
                      lambda a, c: jlax.dot_general(a.astype(np.int8), c.astype(np.int8),
                                                    (((2,), (0,)), ((), ())),
                                                    preferred_element_type=np.int32)),
    }, x, y)
    with pytest.raises(ValueError, match="dimension_numbers"):
        lax.dot(np.ones((2, 3, 4)), np.ones(4))


@pytest.mark.parametrize("fn", [
    lambda m, x: m.add(x, 1.0), lambda m, x: m.expand_dims(x, (0,)),
    lambda m, x: m.broadcast(x, (2,)),
    lambda m, x: m.squeeze(m.expand_dims(x, (0,)), (0,)), lambda m, x: m.full_like(x, 2),
    lambda m, x: m.slice_in_dim(x, 1, 3), lambda m, x: m.index_in_dim(x, 1),
    lambda m, x: m.dynamic_slice(x, (1,), (2,)), lambda m, x: m.clamp(0.0, x, 1.0),
    lambda m, x: m.select(x > 0, x, x), lambda m, x: m.dot(x, x),
    lambda m, x: m.iota(np.int32, 3), lambda m, x: m.pad(x, 0.0, ((1, 1, 0),)),
    lambda m, x: m.reduce_sum(x, (0,)), lambda m, x: m.transpose(x[None], (1, 0)),
])
def test_primitive_names_match_jax(fn) -> None:
    x = np.ones(5, np.float32)
    assert primitive_names(lambda a: fn(lax, a), x) == \
        primitive_names(lambda a: fn(jlax, a), x, use_jax=True)


def test_rounding_method_enum() -> None:
    assert int(lax.RoundingMethod.AWAY_FROM_ZERO) == int(jlax.RoundingMethod.AWAY_FROM_ZERO)
    assert int(lax.RoundingMethod.TO_NEAREST_EVEN) == int(jlax.RoundingMethod.TO_NEAREST_EVEN)
