"""Type promotion against JAX, used as an oracle, with x64 both off and on."""

from __future__ import annotations

import contextlib
import enum
import itertools
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from llax.config import config
from llax.ir import dtypes
from llax.ir.promotion import dtype_of_value, promote_types, python_scalar_dtype, result_type

# NumPy's own dtypes; ml_dtypes' (bfloat16, float8..., int4...) are LOW_PRECISION.
ALL = sorted(dtypes.SUPPORTED - dtypes.LOW_PRECISION, key=lambda d: (d.kind, d.itemsize))
LOW_PRECISION = sorted(dtypes.LOW_PRECISION, key=lambda d: (dtypes.kind(d), d.name))


@contextlib.contextmanager
def _jax_x64(on: bool) -> Iterator[None]:
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", on)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Run the test with both JAX's and llax's x64 flag set, restoring both afterwards."""
    with _jax_x64(request.param), config.override("jax_enable_x64", request.param):
        yield request.param


def _canonical() -> list[np.dtype]:
    return sorted({dtypes.canonicalize(d) for d in ALL}, key=ALL.index)


def _jax_result(*values: object) -> tuple[np.dtype, bool]:
    dt, weak = jax.dtypes.result_type(*values, return_weak_type_flag=True)
    return np.dtype(dt), bool(weak)


def test_promote_types_matches_jax(x64: bool) -> None:
    for a, b in itertools.product(ALL, repeat=2):
        assert promote_types(a, b) == jnp.promote_types(a, b), (a, b)


@pytest.mark.parametrize("a, b, x32, x64_", [
    ("int8", "uint8", "int16", "int16"),
    ("int32", "float16", "float16", "float16"),
    ("bool", "uint16", "uint16", "uint16"),
    # With x64 off the lattice itself changes: u32 and a signed int meet at i32.
    ("uint32", "int32", "int32", "int64"),
    ("uint32", "int8", "int32", "int64"),
    # No integer holds both ranges; promote_types does not narrow the float64.
    ("uint64", "int64", "float64", "float64"),
    ("uint64", "int8", "float64", "float64"),
    ("int64", "int8", "int64", "int64"),
])
def test_promote_types_examples(a: str, b: str, x32: str, x64_: str) -> None:
    # Alternating modes in one process also checks that the cache is keyed on the flag.
    for on, want in ((False, x32), (True, x64_), (False, x32)):
        with config.override("jax_enable_x64", on):
            assert promote_types(a, b) == np.dtype(want)
            assert promote_types(b, a) == np.dtype(want)


def _values() -> list[object]:
    arrays = [np.zeros(2, d) for d in ALL]
    scalars = [np.bool_(True), np.int64(1), np.uint8(1), np.float16(1), np.float64(1)]
    return [*arrays, *scalars, True, 1, 1.0]


def test_result_type_of_values_matches_jax(x64: bool) -> None:
    values = _values()
    for n in (1, 2, 3):
        for combo in itertools.product(values, repeat=n):
            got = result_type(*(dtype_of_value(v) for v in combo))
            assert got == _jax_result(*combo), combo


def test_result_type_of_weak_operands_matches_jax(x64: bool) -> None:
    """Every (dtype, weak) pair, including weak types of non-default width.

    JAX only shows such operands as traced values, so they are made with eval_shape.
    """
    operands = [(d, w) for d in _canonical() for w in (False, True)]
    expected: dict[tuple[tuple[np.dtype, bool], ...], tuple[np.dtype, bool]] = {}

    def trace(*xs: object) -> None:
        index = range(len(xs))
        for n in (1, 2, 3):
            for combo in itertools.product(index, repeat=n):
                key = tuple(operands[i] for i in combo)
                expected[key] = _jax_result(*(xs[i] for i in combo))

    jax.eval_shape(trace, *(jax.ShapeDtypeStruct((), d, weak_type=w) for d, w in operands))
    assert len(expected) == sum(len(operands) ** n for n in (1, 2, 3))
    for key, want in expected.items():
        assert result_type(*key) == want, key


@pytest.mark.parametrize("scalar", [True, 1, 1.0], ids=["bool", "int", "float"])
def test_result_type_matches_jax_arithmetic(x64: bool, scalar: object) -> None:
    """The weak flag is what a real op leaves on its result, not only what result_type says."""
    for d in _canonical():
        out = jax.eval_shape(jnp.add, np.zeros(2, d), scalar)
        got = result_type(dtype_of_value(np.zeros(2, d)), python_scalar_dtype(scalar))
        assert got == (np.dtype(out.dtype), bool(out.weak_type)), d


@pytest.mark.parametrize("operands, x32, x64_", [
    ([("int8", False), ("int32", True)], ("int8", False), ("int8", False)),
    ([("float16", False), ("float32", True)], ("float16", False), ("float16", False)),
    # An int array plus a Python float is a *weak* float.
    ([("int32", False), ("float32", True)], ("float32", True), ("float64", True)),
    ([("int32", True), ("float32", True)], ("float32", True), ("float64", True)),
    ([("bool", False), ("int32", True)], ("int32", True), ("int64", True)),
    # Under x64, int64 with uint64 lands on the weak float node.
    ([("int64", False), ("uint64", False)], ("int32", False), ("float64", True)),
    # All weak: the kind comes from the fixed-width join, so unsigned survives.
    ([("uint16", True), ("uint8", True)], ("uint32", True), ("uint64", True)),
    ([("uint16", True), ("uint8", False)], ("uint8", False), ("uint8", False)),
    ([("float16", True)], ("float32", True), ("float64", True)),
    ([("bool", True)], ("bool", False), ("bool", False)),
])
def test_result_type_examples(operands: list[tuple[str, bool]],
                              x32: tuple[str, bool], x64_: tuple[str, bool]) -> None:
    ops = [(np.dtype(d), w) for d, w in operands]
    for on, (want, weak) in ((False, x32), (True, x64_)):
        with config.override("jax_enable_x64", on):
            assert result_type(*ops) == (np.dtype(want), weak)


def test_python_scalar_dtype_matches_jax(x64: bool) -> None:
    class Colour(enum.IntEnum):
        RED = 1

    class Real(float):
        pass

    numpy_scalars = [np.dtype(d).type(1) for d in ALL]
    for x in [True, False, 0, 2**40, 1.5, Colour.RED, Real(2.0), *numpy_scalars]:
        assert python_scalar_dtype(x) == _jax_result(x), repr(x)
        assert dtype_of_value(x) == _jax_result(x), repr(x)


def test_dtype_of_value_arrays(x64: bool) -> None:
    for d in ALL:
        for x in (np.zeros((2, 3), d), np.zeros((), d)):
            assert dtype_of_value(x) == (dtypes.canonicalize(d), False)
            assert dtype_of_value(x) == _jax_result(x)


@pytest.mark.parametrize("call, match", [
    (lambda: dtype_of_value(np.array([object()])), "object"),
    (lambda: dtype_of_value(np.array(["a"])), "<U1"),
    (lambda: dtype_of_value("a"), "str"),
    (lambda: dtype_of_value([1, 2]), "list"),
    (lambda: promote_types(np.dtype("S3"), "float32"), "S3"),
    (lambda: promote_types("int8", "not-a-dtype"), "not-a-dtype"),
    # np.dtype(int) is int64 but JAX reads Python int as weak: refused, not guessed.
    (lambda: promote_types(int, "int8"), "Python type int"),
    (lambda: result_type((np.dtype("O"), False)), "object"),
])
def test_unsupported_dtypes_raise(call, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        call()


def _outcome(fn, *args) -> object:
    """``fn(*args)``, or the name of the exception it raises (TypePromotionError...)."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - the type is compared with JAX's
        return type(e).__name__


def test_low_precision_lattice_matches_jax(x64: bool) -> None:
    """bfloat16 beside float16, the narrow floats/ints promoting to nothing but themselves,
    and the TypePromotionError (a ValueError) where JAX has no promotion path."""
    every = ALL + LOW_PRECISION
    for a, b in itertools.product(every, repeat=2):
        if a in LOW_PRECISION or b in LOW_PRECISION:
            want = _outcome(jnp.promote_types, a, b)
            assert _outcome(promote_types, a, b) == want, (a, b)


@pytest.mark.parametrize("a, b, want", [
    ("bfloat16", "float16", "float32"), ("bfloat16", "int32", "bfloat16"),
    ("bfloat16", "uint8", "bfloat16"), ("bfloat16", "bool", "bfloat16"),
    ("bfloat16", "float32", "float32"), ("bfloat16", "complex64", "complex64"),
    ("float8_e4m3fn", "int8", "float8_e4m3fn"), ("int4", "bool", "int4"),
])
def test_low_precision_promotion_examples(a: str, b: str, want: str) -> None:
    assert promote_types(a, b) == np.dtype(want) == promote_types(b, a)


@pytest.mark.parametrize("a, b", [
    ("float8_e4m3fn", "float32"), ("float8_e4m3fn", "float8_e5m2"), ("int4", "int8"),
    ("uint4", "int4"), ("float4_e2m1fn", "bfloat16"),
])
def test_low_precision_promotion_errors(a: str, b: str) -> None:
    from llax.ir.promotion import TypePromotionError

    with pytest.raises(TypePromotionError, match="no available implicit dtype promotion"):
        promote_types(a, b)
    assert issubclass(TypePromotionError, ValueError)


def test_low_precision_weak_operands_match_jax(x64: bool) -> None:
    """Every low-precision dtype, weak or not, with every (dtype, weak) operand: JAX's
    result or its error (pairs; triples would be slow with so many dtypes)."""
    # (A weak int4 & co. is left out: JAX itself fails on one, with a KeyError.)
    operands = [(d, w) for d in _canonical() + LOW_PRECISION for w in (False, True)
                if not (w and d in dtypes.NARROW_INTS.values())]
    expected: dict[tuple[tuple[np.dtype, bool], ...], object] = {}

    def trace(*xs: object) -> None:
        for i, j in itertools.product(range(len(xs)), repeat=2):
            key = (operands[i], operands[j])
            if key[0][0] in LOW_PRECISION or key[1][0] in LOW_PRECISION:
                expected[key] = _outcome(_jax_result, xs[i], xs[j])
        for i in range(len(xs)):
            expected[(operands[i],)] = _jax_result(xs[i])

    jax.eval_shape(trace, *(jax.ShapeDtypeStruct((), d, weak_type=w) for d, w in operands))
    for key, want in expected.items():
        assert _outcome(result_type, *key) == want, key


@pytest.mark.parametrize("scalar", [True, 1, 1.0, 1j], ids=["bool", "int", "float", "complex"])
def test_low_precision_with_python_scalars_matches_jax(x64: bool, scalar: object) -> None:
    for d in LOW_PRECISION:
        want = _outcome(lambda d=d: jax.eval_shape(jnp.add, np.zeros(2, d), scalar))
        got = _outcome(result_type, dtype_of_value(np.zeros(2, d)), python_scalar_dtype(scalar))
        if isinstance(want, str):
            assert got == want, d
        else:
            assert got == (np.dtype(want.dtype), bool(want.weak_type)), d


def test_result_type_needs_an_operand() -> None:
    with pytest.raises(ValueError, match="at least one"):
        result_type()
