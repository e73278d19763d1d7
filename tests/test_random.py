"""llax.random's keys and basic samplers against JAX 0.10.2 (threefry2x32, partitionable).

Oracles: values recorded from JAX (ANCHORS.md) and live JAX, bit for bit for the
key functions, bits, uniform, randint and bernoulli; within 2 ulp for normal,
which goes through erfinv. Then the typed-key array behaviour, transformations
(jit, vmap, grad, control flow), JAX's errors, and statistics.
"""

from __future__ import annotations

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
import scipy.stats

import llax
import llax.numpy as jnp
from llax import random
from llax.frontend.random.keys import KeyArray
from tests.jnp_oracle import x64_mode

SEEDS = [0, 1, 42, -1, 2**31 - 1, 2**32 + 7, 2**40 + 5, 2**63 - 1, -(2**63)]
SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 0, 3), (2, 3, 4)]


def data(k) -> np.ndarray:
    return np.asarray(random.key_data(k))


def jdata(k) -> np.ndarray:
    return np.asarray(jax.random.key_data(k))


def ulps(a: np.ndarray, b: np.ndarray) -> int:
    """The largest distance in units in the last place between two float arrays."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    if a.size == 0:
        return 0
    ints = {4: np.int32, 8: np.int64}[a.dtype.itemsize]

    def ordered(x: np.ndarray) -> np.ndarray:
        i = x.view(ints).astype(object)
        return np.where(i < 0, -(i & ((1 << (8 * a.dtype.itemsize - 1)) - 1)), i)

    return int(np.max(np.abs(ordered(a) - ordered(b))))


# ---------------------------------------------------------------------------------------------
# Recorded values (ANCHORS.md)


def test_recorded_values() -> None:
    np.testing.assert_array_equal(random.PRNGKey(0), np.array([0, 0], np.uint32))
    np.testing.assert_array_equal(
        random.split(random.PRNGKey(0)),
        np.array([[1797259609, 2579123966], [928981903, 3453687069]], np.uint32))
    np.testing.assert_array_equal(random.uniform(random.PRNGKey(0), (3,)),
                                  np.array([0.947667, 0.97857988, 0.33229148], np.float32))


# ---------------------------------------------------------------------------------------------
# Keys against live JAX


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
def test_seeds_map_as_jax(x64: bool) -> None:
    with x64_mode(x64):
        for seed in [*SEEDS, np.int8(-1), np.uint32(2**32 - 1), np.int32(-7)]:
            np.testing.assert_array_equal(data(random.key(seed)), jdata(jax.random.key(seed)),
                                          err_msg=f"seed {seed!r}")
            np.testing.assert_array_equal(random.PRNGKey(seed), jax.random.PRNGKey(seed))
        if x64:
            seed = np.uint64(2**64 - 1)
            np.testing.assert_array_equal(data(random.key(seed)), jdata(jax.random.key(seed)))


def test_traced_seed() -> None:
    for seed in (0, 5, -5, 2**31 - 1):
        np.testing.assert_array_equal(data(llax.jit(random.key)(seed)),
                                      jdata(jax.jit(jax.random.key)(seed)))
    keys = llax.vmap(random.key)(jnp.arange(4))
    np.testing.assert_array_equal(data(keys), jdata(jax.vmap(jax.random.key)(jjnp.arange(4))))


def test_seed_errors() -> None:
    with pytest.raises(OverflowError):
        random.key(2**64)
    with pytest.raises(TypeError, match="integer"):
        random.key(1.5)
    with pytest.raises(TypeError, match="scalar seed"):
        random.key(np.arange(2))
    with pytest.raises(TypeError, match="PRNG key"):
        random.key(random.key(0))


@pytest.mark.parametrize("num", [2, 3, 1, 0, (2, 3), (4, 1, 2), ()])
def test_split_matches_jax(num) -> None:
    for seed in (0, 7, 2**40 + 5):
        got = random.split(random.key(seed), num)
        want = jax.random.split(jax.random.key(seed), num)
        assert got.shape == want.shape
        np.testing.assert_array_equal(data(got), jdata(want))
        raw = random.split(random.PRNGKey(seed), num)
        np.testing.assert_array_equal(raw, jax.random.split(jax.random.PRNGKey(seed), num))


def test_fold_in_matches_jax() -> None:
    for seed in (0, 3):
        for d in (0, 1, 17, 2**31 - 1, 2**32 - 1, np.uint32(2**32 - 1), np.int32(-1)):
            got = random.fold_in(random.key(seed), d)
            np.testing.assert_array_equal(data(got), jdata(jax.random.fold_in(
                jax.random.key(seed), d)), err_msg=f"data {d}")
    with pytest.raises(OverflowError):
        random.fold_in(random.key(0), -1)
    traced = llax.jit(random.fold_in)(random.key(1), jnp.int32(99))
    np.testing.assert_array_equal(data(traced), jdata(jax.random.fold_in(jax.random.key(1), 99)))


def test_key_data_round_trip() -> None:
    k = random.split(random.key(3), (2, 2))
    again = random.wrap_key_data(random.key_data(k))
    assert isinstance(again, KeyArray) and again.shape == (2, 2)
    np.testing.assert_array_equal(data(again), data(k))
    assert random.key_impl(k) == "threefry2x32" == jax.random.key_impl(jax.random.key(0))
    assert random.clone(k) is k


# ---------------------------------------------------------------------------------------------
# Samplers against live JAX


@pytest.mark.parametrize("shape", SHAPES)
def test_bits_match_jax(shape) -> None:
    for dtype in (np.uint8, np.uint16, np.uint32):
        got = random.bits(random.key(11), shape, dtype)
        want = jax.random.bits(jax.random.key(11), shape, dtype)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_bits_64_under_x64() -> None:
    with x64_mode(True):
        for dtype in (None, np.uint64):
            got = random.bits(random.key(4), (5, 3), dtype)
            want = jax.random.bits(jax.random.key(4), (5, 3), dtype)
            assert got.dtype == want.dtype == np.uint64
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_matches_jax(shape) -> None:
    for seed in (0, 1, 99):
        got = random.uniform(random.key(seed), shape)
        want = jax.random.uniform(jax.random.key(seed), shape)
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_uniform_bounds_match_jax() -> None:
    lo = np.array([-3.7, 0.5, 1e6], np.float32)
    hi = np.array([2.9, 0.50001, 1e6 + 3], np.float32)
    for seed in (0, 5):
        for args in ((-3.7, 2.9), (lo, hi), (2.0, 2.0), (1.0, -1.0), (lo[:, None], 7.0)):
            shape = (3, 4) if np.ndim(args[0]) == 2 else (1000, 3)
            got = random.uniform(random.key(seed), shape, minval=args[0], maxval=args[1])
            want = jax.random.uniform(jax.random.key(seed), shape, minval=args[0], maxval=args[1])
            np.testing.assert_array_equal(got, want)


def test_uniform_float64_under_x64() -> None:
    with x64_mode(True):
        got = random.uniform(random.key(2), (1000,))
        want = jax.random.uniform(jax.random.key(2), (1000,))
        assert got.dtype == want.dtype == np.float64
        np.testing.assert_array_equal(got, want)
        got = random.uniform(random.key(2), (1000,), minval=-2.0, maxval=3.0)
        want = jax.random.uniform(jax.random.key(2), (1000,), minval=-2.0, maxval=3.0)
        assert ulps(got, want) <= 1  # float64's multiply-add rounds twice here (module doc)


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5)])
def test_normal_within_2_ulp_of_jax(shape) -> None:
    for seed in (0, 1, 123):
        got = random.normal(random.key(seed), shape)
        want = jax.random.normal(jax.random.key(seed), shape)
        assert got.dtype == want.dtype
        assert ulps(got, want) <= 2


def test_normal_large_draw_within_2_ulp_of_jax() -> None:
    # 2**20 values reach far into the tails, where erfinv is steepest.
    for seed in (0, 8):
        got = random.normal(random.key(seed), (1 << 20,))
        want = jax.random.normal(jax.random.key(seed), (1 << 20,))
        assert ulps(got, want) <= 2
        assert np.mean(np.asarray(got) == np.asarray(want)) > 0.99


def test_float16_draws_match_jax() -> None:
    # XLA computes each float16 op in float32 and rounds it (its erf_inv and log included),
    # and fuses no multiply-add there.
    for name in ("uniform", "normal", "exponential", "laplace", "cauchy"):
        got = getattr(random, name)(random.key(0), (4096,), jnp.float16)
        want = getattr(jax.random, name)(jax.random.key(0), (4096,), jjnp.float16)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, want, err_msg=name)
    got = random.uniform(random.key(0), (4096,), jnp.float16, minval=-3.0, maxval=2.5)
    want = jax.random.uniform(jax.random.key(0), (4096,), jjnp.float16, minval=-3.0, maxval=2.5)
    np.testing.assert_array_equal(got, want)


def test_normal_float64_under_x64() -> None:
    with x64_mode(True):
        got = random.normal(random.key(6), (1 << 16,))
        want = jax.random.normal(jax.random.key(6), (1 << 16,))
        assert got.dtype == np.float64
        assert ulps(got, want) <= 2


RANGES = [(0, 10), (-5, 5), (0, 256), (-(2**31), 2**31 - 1), (3, 3), (5, 2), (-1000, 70000)]


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32"])
def test_randint_matches_jax(dtype) -> None:
    for lo, hi in RANGES:
        got = random.randint(random.key(0), (257,), lo, hi, dtype)
        want = jax.random.randint(jax.random.key(0), (257,), lo, hi, dtype)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=f"[{lo}, {hi})")


def test_randint_array_bounds_and_64_bit() -> None:
    lo, hi = np.array([0, -10, 5]), np.array([[3], [100]])
    got = random.randint(random.key(1), (2, 3), lo, hi)
    np.testing.assert_array_equal(got, jax.random.randint(jax.random.key(1), (2, 3), lo, hi))
    with x64_mode(True):
        for dtype in ("int64", "uint64"):
            for lo, hi in [(0, 10), (-(2**62), 2**62), (0, 2**40)]:
                if dtype == "uint64" and lo < 0:
                    continue
                got = random.randint(random.key(2), (100,), lo, hi, dtype)
                want = jax.random.randint(jax.random.key(2), (100,), lo, hi, dtype)
                np.testing.assert_array_equal(got, want)


def test_bernoulli_matches_jax() -> None:
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0], np.float32)
    for seed in (0, 4):
        for args in ((0.3, (1000,)), (p, None), (p, (4, 5)), (0.5, ())):
            got = random.bernoulli(random.key(seed), *args)
            want = jax.random.bernoulli(jax.random.key(seed), *args)
            assert got.dtype == np.bool_
            np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# Typed key arrays


def test_typed_key_looks_like_jax() -> None:
    k = random.key(0)
    assert str(k.dtype) == "key<fry>" == str(jax.random.key(0).dtype)
    assert k.shape == () and k.ndim == 0 and k.size == 1
    assert repr(k) == repr(jax.random.key(0))
    ks = random.split(k, (2, 3))
    assert repr(ks) == repr(jax.random.split(jax.random.key(0), (2, 3)))
    jks = jax.random.split(jax.random.key(0), (2, 3))
    for idx in (0, (1, 2), slice(1, None), (..., 1), (Ellipsis,), (None, 0), np.array([1, 0])):
        assert ks[idx].shape == jks[idx].shape
        np.testing.assert_array_equal(data(ks[idx]), jdata(jks[idx]))
    assert len(ks) == 2 and [x.shape for x in ks] == [(3,), (3,)]
    assert ks.reshape(6).shape == (6,) and ks.T.shape == (3, 2) and ks.ravel().shape == (6,)
    np.testing.assert_array_equal(data(ks.T), jdata(jks.T))
    assert bool(ks[0, 1] == ks[0, 1]) and not bool(ks[0, 1] == ks[1, 1])


def test_keys_are_pytree_leaves() -> None:
    tree = {"a": random.key(0), "b": [random.split(random.key(1)), 3.0]}
    leaves = llax.tree_util.tree_leaves(tree)
    assert len(leaves) == 3 and isinstance(leaves[0], KeyArray)
    assert llax.tree.structure(tree).num_leaves == 3
    shapes = llax.tree_util.tree_map(lambda x: np.shape(x), tree)
    assert shapes == {"a": (), "b": [(2,), ()]}


def test_key_misuse_raises_jax_errors() -> None:
    k = random.key(0)
    for bad in (lambda: k + 1, lambda: 1 + k, lambda: k * k, lambda: -k, lambda: k < k):
        with pytest.raises(TypeError, match="key<fry>"):
            bad()
    with pytest.raises(TypeError, match="PRNGKey dtype cannot be converted"):
        np.asarray(k)
    with pytest.raises(TypeError, match="uint32"):
        random.split(jnp.zeros(2, jnp.float32))
    with pytest.raises(TypeError, match="end with"):
        random.normal(jnp.zeros(3, jnp.uint32))
    with pytest.raises(ValueError, match="single key"):
        random.normal(random.split(k), (2,))
    with pytest.raises(ValueError, match="single key"):
        random.split(random.split(k))
    with pytest.raises(TypeError, match="wrap_key_data"):
        random.wrap_key_data(k)
    with pytest.raises(TypeError, match="but got key<fry>"):
        llax.grad(lambda p: p["w"] * random.normal(p["k"]))({"k": k, "w": 1.0})
    with pytest.raises(TypeError, match="PRNG key type"):
        random.uniform([0, 0])
    with pytest.raises(ValueError, match="float dtype"):
        random.uniform(k, (2,), jnp.int32)
    with pytest.raises(TypeError, match="integer dtypes"):
        random.randint(k, (2,), 0, 3, jnp.float32)
    with pytest.raises(ValueError, match="Incompatible shapes"):
        random.randint(k, (2,), np.zeros(3, np.int32), 5)
    with pytest.raises(ValueError, match="broadcast-compatible"):
        random.randint(k, (2,), np.zeros((3, 2), np.int32), 5)


# ---------------------------------------------------------------------------------------------
# Statelessness and transformations


def test_same_key_same_numbers_eager_or_jitted() -> None:
    k = random.key(42)
    eager = random.normal(k, (5,))
    np.testing.assert_array_equal(eager, random.normal(k, (5,)))
    np.testing.assert_array_equal(eager, llax.jit(lambda k: random.normal(k, (5,)))(k))
    # The tutorial's point: split, then draw, is not drawing twice from one key.
    k1, k2 = random.split(k)
    assert not np.array_equal(random.normal(k1, (5,)), eager)
    assert not np.array_equal(random.normal(k1, (5,)), random.normal(k2, (5,)))
    np.testing.assert_array_equal(random.normal(k1, (5,)),
                                  jax.random.normal(jax.random.split(jax.random.key(42))[0], (5,)))


def test_jit_takes_and_returns_keys() -> None:
    @llax.jit
    def step(k):
        k, sub = random.split(k)
        return k, random.uniform(sub, (3,))

    k, x = step(random.key(0))
    jk, jx = jax.jit(lambda k: (jax.random.split(k)[0],
                                jax.random.uniform(jax.random.split(k)[1], (3,))))(
        jax.random.key(0))
    assert isinstance(k, KeyArray)
    np.testing.assert_array_equal(data(k), jdata(jk))
    np.testing.assert_array_equal(x, jx)


def test_vmap_over_keys_matches_jax() -> None:
    keys, jkeys = random.split(random.key(5), 4), jax.random.split(jax.random.key(5), 4)
    for fn, jfn in ((lambda k: random.uniform(k, (3,)), lambda k: jax.random.uniform(k, (3,))),
                    (lambda k: random.randint(k, (2,), 0, 9), lambda k: jax.random.randint(
                        k, (2,), 0, 9)),
                    (random.split, jax.random.split)):
        got, want = llax.vmap(fn)(keys), jax.vmap(jfn)(jkeys)
        if isinstance(got, KeyArray):
            got, want = data(got), jdata(want)
        np.testing.assert_array_equal(got, want)
    got = llax.vmap(lambda k: random.normal(k, (3,)))(keys)
    assert ulps(got, jax.vmap(lambda k: jax.random.normal(k, (3,)))(jkeys)) <= 2
    # Negative axes count in the key shape, not in the uint32 data behind it.
    grid, jgrid = random.split(random.key(0), (3, 2)), jax.random.split(jax.random.key(0), (3, 2))
    np.testing.assert_array_equal(
        llax.vmap(lambda k: random.uniform(k[1]), in_axes=-1)(grid),
        jax.vmap(lambda k: jax.random.uniform(k[1]), in_axes=-1)(jgrid))
    got = llax.vmap(random.split, out_axes=-1)(grid[:, 0])
    want = jax.vmap(jax.random.split, out_axes=-1)(jgrid[:, 0])
    assert got.shape == want.shape == (2, 3)
    np.testing.assert_array_equal(data(got), jdata(want))
    folded = llax.vmap(random.fold_in, in_axes=(None, 0))(random.key(1), jnp.arange(3))
    want = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(jax.random.key(1), jjnp.arange(3))
    np.testing.assert_array_equal(data(folded), jdata(want))


def test_grad_through_a_draw() -> None:
    k = random.key(3)

    def loss(w):
        noise = random.normal(k, (4,))
        return jnp.sum((w * noise) ** 2)

    w = jnp.arange(4.0)
    noise = np.asarray(random.normal(k, (4,)))
    np.testing.assert_allclose(llax.grad(loss)(w), 2 * np.asarray(w) * noise**2, rtol=1e-6)
    np.testing.assert_allclose(llax.jit(llax.grad(loss))(w), 2 * np.asarray(w) * noise**2,
                               rtol=1e-6)


def test_keys_carried_through_control_flow() -> None:
    def body(i, carry):
        k, total = carry
        k, sub = random.split(k)
        return k, total + random.uniform(sub)

    def jbody(i, carry):
        k, total = carry
        k, sub = jax.random.split(k)
        return k, total + jax.random.uniform(sub)

    k, total = llax.lax.fori_loop(0, 5, body, (random.key(0), 0.0))
    jk, jtotal = jax.lax.fori_loop(0, 5, jbody, (jax.random.key(0), 0.0))
    np.testing.assert_array_equal(data(k), jdata(jk))
    np.testing.assert_allclose(total, jtotal, rtol=1e-6)

    def scan_step(k, _):
        k, sub = random.split(k)
        return k, random.normal(sub, (2,))

    r = llax.lax.cond(True, lambda k: random.split(k)[0], lambda k: k, random.key(1))
    jr = jax.lax.cond(True, lambda k: jax.random.split(k)[0], lambda k: k, jax.random.key(1))
    np.testing.assert_array_equal(data(r), jdata(jr))
    w = llax.lax.while_loop(lambda c: c[1] < 3, lambda c: (random.split(c[0])[0], c[1] + 1),
                            (random.key(1), 0))
    jw = jax.lax.while_loop(lambda c: c[1] < 3, lambda c: (jax.random.split(c[0])[0], c[1] + 1),
                            (jax.random.key(1), 0))
    np.testing.assert_array_equal(data(w[0]), jdata(jw[0]))
    # Keys as scanned-over xs: one key per step.
    per_step = llax.lax.scan(lambda c, k: (c, random.uniform(k)), 0.0,
                             random.split(random.key(1), 4))[1]
    jper_step = jax.lax.scan(lambda c, k: (c, jax.random.uniform(k)), 0.0,
                             jax.random.split(jax.random.key(1), 4))[1]
    np.testing.assert_array_equal(per_step, jper_step)

    _, ys = llax.lax.scan(scan_step, random.key(9), None, length=3)
    _, jys = jax.lax.scan(lambda k, _: (jax.random.split(k)[0], jax.random.normal(
        jax.random.split(k)[1], (2,))), jax.random.key(9), None, length=3)
    assert ulps(ys, jys) <= 2


def _prng_tutorial(jx, random) -> list:
    """The programs of JAX's "Pseudorandom numbers" tutorial, written once for either library."""
    out = []
    key = random.key(42)
    out += [random.normal(key), random.normal(key)]  # the same number twice
    for _ in range(3):
        new_key, subkey = random.split(key)
        del key
        out.append(random.normal(subkey))
        del subkey
        key = new_key
    key, subkey = random.split(key)
    key, *forty_two_subkeys = random.split(key, num=43)
    out += [random.uniform(k) for k in forty_two_subkeys[::10]]
    out.append(jx.vmap(lambda k: random.normal(k, (2,)))(random.split(key, 5)))
    out.append(random.normal(random.fold_in(key, 7), (3,)))
    out.append(jx.jit(lambda k: random.uniform(k, (3,), minval=-1.0, maxval=1.0))(key))
    out.append(random.randint(key, (4,), 0, 10))
    return out


def test_prng_tutorial_prints_jax_numbers() -> None:
    got, want = _prng_tutorial(llax, random), _prng_tutorial(jax, jax.random)
    assert len(got) == len(want)
    np.testing.assert_array_equal(got[0], got[1])
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        if np.asarray(w).dtype.kind == "f":
            assert ulps(g, w) <= 2
        else:
            np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------------------------------------
# Statistics (fixed keys: deterministic)


def test_uniform_and_normal_statistics() -> None:
    u = np.asarray(random.uniform(random.key(0), (200_000,)), np.float64)
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert u.min() >= 0 and u.max() < 1
    assert scipy.stats.kstest(u, "uniform").pvalue > 1e-3
    n = np.asarray(random.normal(random.key(1), (200_000,)), np.float64)
    assert abs(n.mean()) < 0.01 and abs(n.var() - 1) < 0.02
    assert scipy.stats.kstest(n, "norm").pvalue > 1e-3


def test_randint_and_bernoulli_statistics() -> None:
    r = np.asarray(random.randint(random.key(2), (100_000,), -3, 7))
    assert r.min() == -3 and r.max() == 6
    counts = np.bincount(r + 3)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    b = np.asarray(random.bernoulli(random.key(3), 0.25, (100_000,)))
    assert abs(b.mean() - 0.25) < 0.01
