"""Array creation and dtype utilities of ``llax.numpy`` against JAX."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.core import ConcretizationTypeError
from llax.tests.jnp_oracle import assert_same, check, check_many, x64_mode
from llax.tests.jnp_oracle import x64 as x64  # noqa: F401 - fixture


@pytest.fixture(autouse=True)
def _quiet_truncation_warnings():
    # Both JAX and llax warn when x64 is off and a 64-bit dtype is requested.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def same(make) -> None:
    """``make(module)`` gives the same result (or the same kind of error) for both."""
    try:
        want = make(jnp)
    except (TypeError, ValueError, OverflowError) as e:
        with pytest.raises(type(e)):
            make(lnp)
        return
    assert_same(make(lnp), want, what="creation")


ARRAY_INPUTS = [
    1.0, 1, True, np.float32(2), np.float64(2), np.int8(3), [1, 2.0], [1, True], [],
    [[1, 2], [3, 4]], (1.5, 2), np.arange(3), np.arange(3.0), np.array(2.5),
    np.array([True, False]), [np.float32(1), 2.0], [np.int8(1), 2], np.ones((2, 0)),
]


@pytest.mark.parametrize("value", ARRAY_INPUTS, ids=repr)
@pytest.mark.parametrize("fn", ["array", "asarray"])
def test_array_from_values(fn: str, value: object, x64: bool) -> None:
    same(lambda m: getattr(m, fn)(value))
    same(lambda m: getattr(m, fn)(value, dtype=m.float32))
    same(lambda m: getattr(m, fn)(value, dtype=int))
    same(lambda m: getattr(m, fn)(value, dtype="bool"))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # JAX casting NaN to int
def test_array_from_arrays() -> None:
    w = lnp.asarray(2.0)
    assert lnp.asarray(w) is w
    assert lnp.array(w).weak_type
    x = lnp.ones(3)
    assert_same(lnp.array([x, x]), jnp.array([jnp.ones(3), jnp.ones(3)]))
    assert_same(lnp.array([w, 1]), jnp.array([jnp.asarray(2.0), 1]))
    assert_same(lnp.array(x, ndmin=3), jnp.array(jnp.ones(3), ndmin=3))
    assert_same(lnp.asarray(x, dtype=lnp.int32), jnp.asarray(jnp.ones(3), dtype=jnp.int32))
    same(lambda m: m.array(np.array([1.7, -2.5, np.nan, 1e10]), dtype=m.int32))


def test_array_of_tracers() -> None:
    def f(m, x, y):
        return m.array([x, y, 2.0]), m.array([[x, y], [y, x]])

    check(lambda a, b: f(lnp, a, b), lambda a, b: f(jnp, a, b),
          np.float32(1.5) * np.ones((), np.float32), np.float32(-2) * np.ones((), np.float32))


@pytest.mark.parametrize("bad", ["abc", [1, "a"], None, [[1, 2], [3]], 2**40, [2**40],
                                 {"a": 1}])
def test_array_errors(bad: object) -> None:
    with pytest.raises((TypeError, ValueError, OverflowError)):
        lnp.array(bad)


def test_scalar_types(x64: bool) -> None:
    for name in ("float32", "int32", "int8", "uint8", "bool_", "float16", "uint32", "int16",
                 "float64", "int64"):
        lt, jt = getattr(lnp, name), getattr(jnp, name)
        assert np.dtype(lt) == np.dtype(jt)
        assert lnp.dtype(lt) == jnp.dtype(jt)
        assert lt == jt.dtype.type
        assert lnp.zeros(2, lt).dtype == jnp.zeros(2, jt).dtype
        for value in (3, 2.7, True, [1, 2], np.arange(2)):
            same(lambda m, name=name, value=value: getattr(m, name)(value))
        same(lambda m, name=name: getattr(m, name)(m.ones(2)))
    assert not isinstance(lnp.float32(1), lnp.float32)
    assert lnp.issubdtype(lnp.float32, lnp.floating)
    assert not lnp.issubdtype(lnp.int32, lnp.floating)
    assert lnp.issubdtype(lnp.ones(2).dtype, lnp.inexact)


def test_dtype_utilities(x64: bool) -> None:
    values = [lnp.ones(2), 1, 2.0, True, lnp.arange(2), np.int8(1), lnp.float16, "uint8", float,
              int, np.float64, lnp.asarray(1.0)]
    jvalues = [jnp.ones(2), 1, 2.0, True, jnp.arange(2), np.int8(1), jnp.float16, "uint8", float,
               int, np.float64, jnp.asarray(1.0)]
    for i, (a, ja) in enumerate(zip(values, jvalues)):
        assert lnp.result_type(a) == jnp.result_type(ja), a
        for b, jb in zip(values[i:], jvalues[i:]):
            assert lnp.result_type(a, b) == jnp.result_type(ja, jb), (a, b)
    for a in ("int8", "uint8", "float16", "uint32", "int64", "float64", "bool"):
        for b in ("int32", "uint64", "float32", "bool"):
            assert lnp.promote_types(a, b) == jnp.promote_types(a, b)
            assert lnp.can_cast(a, b) == jnp.can_cast(a, b)
    assert lnp.iinfo(lnp.int32).max == jnp.iinfo(jnp.int32).max
    assert lnp.iinfo(lnp.arange(2)).min == jnp.iinfo(jnp.arange(2)).min
    assert lnp.finfo(lnp.float32).eps == jnp.finfo(jnp.float32).eps
    assert lnp.finfo(lnp.ones(2).dtype).max == jnp.finfo(jnp.ones(2).dtype).max
    assert lnp.dtype(float) == jnp.dtype(float) and lnp.dtype(int) == jnp.dtype(int)
    assert (lnp.shape([[1, 2]]), lnp.ndim(1.0), lnp.size(lnp.ones((2, 3))),
            lnp.size(lnp.ones((2, 3)), 1)) == ((1, 2), 0, 6, 3)
    with pytest.raises(TypeError):
        lnp.can_cast(1.0, lnp.int32)


def test_constants() -> None:
    assert (lnp.pi, lnp.e, lnp.inf, lnp.newaxis) == (jnp.pi, jnp.e, jnp.inf, jnp.newaxis)
    assert np.isnan(lnp.nan)
    assert lnp.ndarray is llax.Array
    assert isinstance(lnp.ones(2), lnp.ndarray)


SHAPES = [3, (2, 3), (), (0,), (2, 0), np.int64(2), [2]]


@pytest.mark.parametrize("shape", SHAPES, ids=repr)
def test_filled(shape: object, x64: bool) -> None:
    for dtype in (None, int, "float32", bool, np.float64, lnp.uint8):
        jdtype = jnp.uint8 if dtype is lnp.uint8 else dtype
        for name in ("zeros", "ones", "empty"):
            got, want = getattr(lnp, name)(shape, dtype), getattr(jnp, name)(shape, jdtype)
            if name == "empty":
                assert got.shape == want.shape and got.dtype == want.dtype
            else:
                assert_same(got, want)
        for fill in (1, 2.5, True, np.float32(3)):
            assert_same(lnp.full(shape, fill, dtype), jnp.full(shape, fill, jdtype))


def test_filled_errors() -> None:
    for bad in (3.0, -1, (2, -1), "a"):
        with pytest.raises((TypeError, ValueError)):
            lnp.zeros(bad)
    # A traced shape is a TypeError, not a ConcretizationTypeError, as in JAX.
    with pytest.raises(TypeError, match="(?i)shapes must be 1D sequences") as info:
        llax.jit(lambda n: lnp.zeros(n))(3)
    assert not isinstance(info.value, ConcretizationTypeError)


def test_full_with_array_fill() -> None:
    same(lambda m: m.full((2, 3), m.arange(3)))
    same(lambda m: m.full((2, 3), m.arange(3), dtype=m.float32))
    same(lambda m: m.full((2, 3), m.arange(2)))


@pytest.mark.parametrize("proto", [np.ones((2, 3), np.float32), np.arange(3, dtype=np.int32),
                                   np.float32(2.0) * np.ones((), np.float32)], ids=repr)
def test_like(proto: np.ndarray, x64: bool) -> None:
    for lproto, jproto in ((lnp.asarray(proto), jnp.asarray(proto)),
                           (lnp.asarray(2.0), jnp.asarray(2.0))):
        for dtype in (None, int, "float32", bool):
            for name in ("zeros_like", "ones_like"):
                assert_same(getattr(lnp, name)(lproto, dtype), getattr(jnp, name)(jproto, dtype))
            for fill in (2, 2.5, True):
                assert_same(lnp.full_like(lproto, fill, dtype), jnp.full_like(jproto, fill, dtype))
            e = lnp.empty_like(lproto, dtype)
            assert e.shape == lproto.shape and e.dtype == jnp.empty_like(jproto, dtype).dtype
        assert_same(lnp.zeros_like(lproto, shape=(4,)), jnp.zeros_like(jproto, shape=(4,)))
    with pytest.raises(TypeError, match="zeros_like requires ndarray or scalar arguments"):
        lnp.zeros_like([1, 2])
    check(lambda a: lnp.zeros_like(a) + lnp.full_like(a, 3),
          lambda a: jnp.zeros_like(a) + jnp.full_like(a, 3), proto)


ARANGES = [(5,), (0,), (-2,), (2.5,), (1, 10, 3), (10, 1, -3), (0, 1, 0.1), (1, 2, 0.25),
           (np.int64(3),), (0.5, 4), (-1.5, 1.5, 0.5)]


@pytest.mark.parametrize("args", ARANGES, ids=repr)
def test_arange(args: tuple, x64: bool) -> None:
    same(lambda m: m.arange(*args))
    for dtype in (float, int, "float32", lnp.uint8):
        if dtype is lnp.uint8 and any(a < 0 for a in args):
            continue
        jdtype = jnp.uint8 if dtype is lnp.uint8 else dtype
        assert_same(lnp.arange(*args, dtype=dtype), jnp.arange(*args, dtype=jdtype))


def test_arange_special() -> None:
    assert_same(lnp.arange(lnp.asarray(4)), jnp.arange(jnp.asarray(4)))
    with pytest.raises(ZeroDivisionError):
        lnp.arange(1, 2, 0)
    with pytest.raises(ConcretizationTypeError):
        llax.jit(lambda n: lnp.arange(n))(3)
    check(lambda x: x + lnp.arange(3), lambda x: x + jnp.arange(3), np.ones(3, np.float32))


LINSPACES = [dict(start=0, stop=1, num=5), dict(start=0, stop=1, num=5, endpoint=False),
             dict(start=0, stop=1, num=0), dict(start=0, stop=1, num=1),
             dict(start=0, stop=10, num=4, dtype=int), dict(start=-1.5, stop=2.5, num=7),
             dict(start=0.1, stop=0.7, num=7), dict(start=3, stop=-2, num=11, endpoint=False),
             dict(start=0, stop=1, num=5, retstep=True), dict(start=1, stop=2, num=2)]


@pytest.mark.parametrize("kwargs", LINSPACES, ids=repr)
def test_linspace(kwargs: dict, x64: bool) -> None:
    same(lambda m: m.linspace(**kwargs))


def test_linspace_arrays_and_tracers() -> None:
    lo, hi = np.zeros(2, np.float32), np.array([1.0, 4.0], np.float32)
    for axis in (0, 1, -1):
        check(lambda a, b, ax=axis: lnp.linspace(a, b, 4, axis=ax),
              lambda a, b, ax=axis: jnp.linspace(a, b, 4, axis=ax), lo, hi)
    with pytest.raises(ValueError):
        lnp.linspace(0, 1, -1)


@pytest.mark.parametrize("args", [(3,), (2, 3), (3, 2, 1), (3, 3, -1), (2, 4, 5), (0,),
                                  (3, None, 0)], ids=repr)
def test_eye_identity(args: tuple, x64: bool) -> None:
    for dtype in (None, int, bool):
        assert_same(lnp.eye(*args, dtype=dtype), jnp.eye(*args, dtype=dtype))
    assert_same(lnp.identity(args[0]), jnp.identity(args[0]))


def test_creation_under_jit() -> None:
    def f(m, x):
        return (m.zeros(3) + x, m.ones((2, 3), int), m.full((3,), 2.5) * x, m.eye(3) @ x,
                m.linspace(0, 1, 3) + x, m.arange(3) * x, m.zeros_like(x), m.array([1, 2, 3]))

    check(lambda x: f(lnp, x), lambda x: f(jnp, x), np.arange(3, dtype=np.float32))
    check_many({"zeros": (lambda x: lnp.zeros(3), lambda x: jnp.zeros(3)),
                "full": (lambda x: lnp.full((2,), x), lambda x: jnp.full((2,), x))},
               np.float32(1.5) * np.ones((), np.float32))


def test_requested_64_bit_dtype_warns_without_x64() -> None:
    with x64_mode(False), pytest.warns(UserWarning, match="float64"):
        warnings.simplefilter("always")
        lnp.zeros(3, np.float64)


def test_linspace_interior_points_follow_jax() -> None:
    """JAX's formula, start * (1 - t) + stop * t: within two ulps of JAX's values (XLA may
    fuse the multiply-adds), where the old start + i * step was further off."""
    rng = np.random.default_rng(1)
    for _ in range(40):
        lo, hi = rng.uniform(-50, 50, 2).astype(np.float32)
        num, endpoint = int(rng.integers(2, 80)), bool(rng.integers(0, 2))
        want = np.asarray(jnp.linspace(lo, hi, num, endpoint=endpoint))
        got = np.asarray(lnp.linspace(lo, hi, num, endpoint=endpoint))
        ulp = np.spacing(max(abs(lo), abs(hi)))
        assert np.max(np.abs(got - want)) <= 2 * ulp
        assert got[0] == want[0] and (not endpoint or got[-1] == want[-1])
    # Exact where the arithmetic is exact.
    assert_same(lnp.linspace(0.0, 1.0, 9), jnp.linspace(0.0, 1.0, 9))
    assert_same(lnp.linspace(1 + 2j, 3 - 1j, 5), jnp.linspace(1 + 2j, 3 - 1j, 5))
    assert_same(lnp.linspace(0, 100, 33, dtype=lnp.int32), jnp.linspace(0, 100, 33,
                                                                         dtype=jnp.int32))
