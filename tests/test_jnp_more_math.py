"""More math of ``llax.numpy`` against JAX: gcd/lcm, float decomposition, logaddexp2, i0,
infinity tests, nan_to_num, unwrap, bit packing, geomspace/logspace, vector products,
NumPy's printing and I/O helpers; eager and jitted, gradients and vmap."""

from __future__ import annotations

import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, check, check_many, sample


def _fn(make):
    return (lambda x: make(lnp, x)), (lambda x: make(jnp, x))


def _call(name, *args, **kwargs):
    return lambda m, x: getattr(m, name)(x, *args, **kwargs)


UNARY_FLOAT = {
    "frexp": _call("frexp"),
    "modf": _call("modf"),
    "spacing": _call("spacing"),
    "i0": _call("i0"),
    "isposinf": _call("isposinf"),
    "isneginf": _call("isneginf"),
    "nan_to_num": _call("nan_to_num"),
    "nan_to_num values": _call("nan_to_num", nan=1.5, posinf=9.0, neginf=-9.0),
    "ldexp": lambda m, x: m.ldexp(x, np.arange(13, dtype=np.int32) - 6),
    "ldexp big": lambda m, x: m.ldexp(x, np.int32(120)),
    "logaddexp2": lambda m, x: m.logaddexp2(x, x[::-1]),
    "logaddexp2 scalar": lambda m, x: m.logaddexp2(x, 1.0),
    "divmod": lambda m, x: m.divmod(x, np.float32(-1.5)),
    "bitwise_count": _call("bitwise_count"),
    "gcd": lambda m, x: m.gcd(x, x[::-1] * 3),
    "lcm": lambda m, x: m.lcm(x, x[::-1] + 2),
    "unwrap": _call("unwrap"),
    "unwrap period": _call("unwrap", period=5.0, discont=1.0),
    "array_equiv": lambda m, x: m.array_equiv(x, x),
    "astype": lambda m, x: m.astype(x, np.int32),
}


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_elementwise_functions_match_jax(dtype):
    x = sample(dtype, (13,))
    check_many({n: _fn(f) for n, f in UNARY_FLOAT.items()}, x, jit=dtype == "float32")


def test_gcd_lcm_on_integers():
    a = np.array([12, -18, 0, 7, 0, 100, -35, 1], np.int32)
    b = np.array([8, 27, 5, 0, 0, 75, 14, -1], np.int32)
    for name in ("gcd", "lcm"):
        check(getattr(lnp, name), getattr(jnp, name), a, b)
        check(getattr(lnp, name), getattr(jnp, name), a[:, None], b[None, :])
        check(getattr(lnp, name), getattr(jnp, name), np.uint8(12), np.uint8(18))
    assert_same(llax.vmap(lnp.gcd)(a, b), jax.vmap(jnp.gcd)(a, b))
    with pytest.raises(ValueError):
        lnp.gcd(np.float32(2), np.float32(4))


def test_frexp_and_ldexp_round_trip_and_subnormals():
    x = np.array([1e-40, -3e-42, 1.5e-45, 6e-39], np.float32)  # subnormal: NumPy's answer
    m, e = lnp.frexp(x)
    want_m, want_e = np.frexp(x)
    np.testing.assert_array_equal(np.asarray(m), want_m)
    np.testing.assert_array_equal(np.asarray(e), want_e)
    y = sample("float32", (13,))
    assert_same(lnp.ldexp(*lnp.frexp(y)), jnp.ldexp(*jnp.frexp(y)))
    check(lnp.ldexp, jnp.ldexp, np.float32(1e-30), np.int32(150))
    check(lnp.ldexp, jnp.ldexp, np.float32(3e38), np.int32(-260))
    with pytest.raises(ValueError):
        lnp.ldexp(np.float32(1), np.float32(2))


def test_bit_packing():
    bits = sample("bool", (3, 11))
    ints = sample("int32", (2, 9))
    cases = {
        "packbits": _call("packbits"),
        "packbits axis0": _call("packbits", axis=0),
        "packbits axis1 little": _call("packbits", axis=1, bitorder="little"),
    }
    check_many({n: _fn(f) for n, f in cases.items()}, bits)
    check_many({n: _fn(f) for n, f in cases.items()}, ints)
    u = sample("uint8", (2, 3))
    cases = {
        "unpackbits": _call("unpackbits"),
        "unpackbits axis": _call("unpackbits", axis=1),
        "unpackbits count": _call("unpackbits", axis=0, count=11),
        "unpackbits short": _call("unpackbits", axis=1, count=5, bitorder="little"),
        "round trip": lambda m, x: m.packbits(m.unpackbits(x, axis=1), axis=1),
    }
    check_many({n: _fn(f) for n, f in cases.items()}, u)
    with pytest.raises(TypeError):
        lnp.unpackbits(ints)
    with pytest.raises(TypeError):
        lnp.packbits(sample("float32", (4,)))
    with pytest.raises(ValueError):
        lnp.packbits(bits, bitorder="middle")


def test_spacings():
    for args, kwargs in [((1.0, 1000.0, 4), {}), ((-1.0, -1000.0, 5), {"endpoint": False}),
                         ((2, 64, 6), {}), ((0.0, 3.0, 4), {}),
                         ((np.array([1.0, 2.0], np.float32), np.array([10.0, 20.0], np.float32),
                           3), {"axis": 1})]:
        assert_same(lnp.geomspace(*args, **kwargs), jnp.geomspace(*args, **kwargs),
                    rtol=1e-5)
    for args, kwargs in [((0.0, 3.0, 4), {}), ((0, 3, 4), {"base": 2.0, "dtype": np.int32}),
                         ((1.0, -2.0, 5), {"endpoint": False, "base": 3.0}),
                         ((np.zeros(2, np.float32), np.ones(2, np.float32), 3), {"axis": -1})]:
        assert_same(lnp.logspace(*args, **kwargs), jnp.logspace(*args, **kwargs), rtol=1e-5)


def test_vector_products():
    a = sample("float32", (2, 3, 4), special=False)
    b = sample("float32", (3, 4), seed=1, special=False)
    v = sample("float32", (3,), seed=2, special=False)
    check(lnp.vecdot, jnp.vecdot, a, b, rtol=1e-5)
    check(lambda x, y: lnp.vecdot(x, y, axis=0), lambda x, y: jnp.vecdot(x, y, axis=0), a, a,
          rtol=1e-5)
    check(lnp.matvec, jnp.matvec, a, b[0], rtol=1e-5)
    check(lnp.vecmat, jnp.vecmat, v, a, rtol=1e-5)
    i = sample("int32", (3, 4))
    check(lnp.vecdot, jnp.vecdot, i, i)
    with pytest.raises(ValueError):
        lnp.vecdot(a, v)


def test_array_equiv_broadcasts():
    x = sample("float32", (3,))
    assert bool(lnp.array_equiv(x, np.stack([x, x]))) == bool(jnp.array_equiv(x, np.stack([x, x])))
    assert not bool(lnp.array_equiv(x, x + 1))
    assert not bool(lnp.array_equiv(x, np.ones(4, np.float32)))  # NumPy's answer


def test_numpy_helpers_are_numpys():
    assert lnp.array_repr is np.array_repr and lnp.array_str is np.array_str
    assert lnp.get_printoptions is np.get_printoptions and lnp.iterable is np.iterable
    assert lnp.save is np.save and lnp.savez is np.savez
    with lnp.printoptions(precision=2):
        assert lnp.get_printoptions()["precision"] == 2
    x = lnp.asarray(np.array([1.5, 2.25], np.float32))
    assert lnp.array_str(x) == np.array_str(np.asarray(x))
    assert lnp.iterable(x) and not lnp.iterable(2.0)


def test_buffers_and_files():
    raw = np.arange(6, dtype=np.int32).tobytes()
    assert_same(lnp.frombuffer(raw, dtype=np.int32), jnp.frombuffer(raw, dtype=np.int32))
    assert_same(lnp.frombuffer(raw, dtype=np.uint8, count=4, offset=4),
                jnp.frombuffer(raw, dtype=np.uint8, count=4, offset=4))
    assert_same(lnp.fromstring("1 2 3.5", sep=" "), jnp.fromstring("1 2 3.5", sep=" "))
    for name in ("fromfile", "fromiter"):
        with pytest.raises(NotImplementedError):
            getattr(lnp, name)(iter([1, 2]))
    buf = io.BytesIO()
    lnp.save(buf, np.arange(4, dtype=np.float32))
    buf.seek(0)
    loaded = lnp.load(buf)
    assert isinstance(loaded, llax.Array)
    np.testing.assert_array_equal(np.asarray(loaded), np.arange(4, dtype=np.float32))


def test_scalars_keep_weak_types():
    for make in [_call("modf"), _call("frexp"), _call("spacing"), _call("nan_to_num"),
                 _call("i0"), lambda m, x: m.logaddexp2(x, 2.0), _call("isposinf")]:
        check(*_fn(make), 1.5, jit=False)
        check(*_fn(make), np.float32(1.5))


GRADS = {
    "i0": lambda m, x: m.sum(m.i0(x)),
    "frexp": lambda m, x: m.sum(m.frexp(x)[0]),
    "ldexp": lambda m, x: m.sum(m.ldexp(x, np.int32(3))),
    "modf": lambda m, x: m.sum(m.modf(x)[0] * 2 + m.modf(x)[1]),
    "logaddexp2": lambda m, x: m.sum(m.logaddexp2(x, x[::-1] * 0.5)),
    "nan_to_num": lambda m, x: m.sum(m.nan_to_num(x * x)),
    "unwrap": lambda m, x: m.sum(m.unwrap(x * 3) ** 2),
    "vecdot": lambda m, x: m.vecdot(x, x[::-1]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_match_jax(name):
    x = np.array([0.3, -1.7, 2.2, 0.9, -4.1, 5.5], np.float32)
    make = GRADS[name]
    want = jax.grad(lambda x: make(jnp, x))(x)
    assert_same(llax.grad(lambda x: make(lnp, x))(x), want, rtol=1e-4, atol=1e-6)


def test_vmap_matches_a_loop():
    x = sample("float32", (4, 6), special=False) * 3
    for make in [lambda m, v: m.unwrap(v), lambda m, v: m.frexp(v)[0],
                 lambda m, v: m.i0(v), lambda m, v: m.packbits(v > 0)]:
        f = lambda v, make=make: make(lnp, v)  # noqa: E731
        got = llax.vmap(f)(x)
        assert_same(got, lnp.stack([f(v) for v in x]))
        assert_same(got, jax.vmap(lambda v, make=make: make(jnp, v))(x), rtol=1e-5)
