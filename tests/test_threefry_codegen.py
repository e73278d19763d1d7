"""threefry2x32 compiled: bit-exact against the NumPy reference (and JAX's primitive), fused
with the iota that makes its counters and the arithmetic that turns its bits into floats,
vectorised at the host's width and split across cores like other large loops.

Each jitted function binds the primitive directly (``bind(P.threefry2x32, ...)``), in the
patterns ``llax.random`` emits: counters from an iota, both words xor'ed, shifted and
converted to float; one word returned and the other consumed; both words stacked.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import llax
from llax.config import config
from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir import prims as P
from llax.ir.core import Function, Var, walk_ops
from llax.ir.interpreter import evaluate_function
from llax.ir.parser import parse_function
from llax.ir.primitive import FusionClass, fusion_class
from llax.ir.reference import _threefry2x32
from llax.passes import run_pipeline

U32 = np.uint32


def threefry(k0, k1, x0, x1):
    return bind(P.threefry2x32, (k0, k1, x0, x1), {})


def reference(k0, k1, x0, x1) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        return _threefry2x32(k0, k1, x0, x1)


def words(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(0, 1 << 32, shape, dtype=U32)


def assert_bits_equal(got, want) -> None:
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def counters(n: int):
    """A counter pair per element, as llax.random makes them: (i, i + n)."""
    x0 = lax.iota(U32, n)
    return x0, x0 + U32(n)


def to_unit_float(bits):
    """Bits -> float32 in [0, 1): the top 23 bits, scaled (llax.random's uniform)."""
    return lax.convert_element_type(bits >> U32(9), np.float32) * np.float32(2.0 ** -23)


def np_unit_float(bits: np.ndarray) -> np.ndarray:
    return (bits >> U32(9)).astype(np.float32) * np.float32(2.0 ** -23)


def np_counters(n: int) -> tuple[np.ndarray, np.ndarray]:
    x0 = np.arange(n, dtype=U32)
    return x0, x0 + U32(n)


KEY = (U32(0x2A), U32(0x1BD1))


def optimized(f, *args) -> Function:
    """``f``'s IR after llax's default pipeline."""
    return llax.jit(f).lower(*args).compile().optimized


def stage(f, name: str, *args) -> str:
    return llax.jit(f).lower(*args).as_text(name)


# --- the cipher itself ----------------------------------------------------------------------

# Known answers of Threefry-2x32 with 20 rounds (Random123's kat_vectors, also JAX's tests).
KNOWN = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("key, count, want", KNOWN, ids=["zeros", "ones", "pi"])
def test_known_answers(key, count, want) -> None:
    got = llax.jit(threefry)(*(U32(v) for v in (*key, *count)))
    assert [int(np.asarray(g)) for g in got] == list(want)


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (1023,), (3, 5, 7)], ids=str)
def test_elementwise_shapes(shape) -> None:
    rng = np.random.default_rng(len(shape) * 100 + sum(shape))
    args = [words(rng, shape) for _ in range(4)]
    got = llax.jit(threefry)(*args)
    for g, w in zip(got, reference(*args), strict=True):
        assert_bits_equal(g, w)


@pytest.mark.parametrize("ranks", [(0, 0, 1, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 1, 1, 0)],
                         ids=str)
def test_rank0_operands_broadcast(ranks) -> None:
    rng = np.random.default_rng(7)
    args = [words(rng, (33,) if r else ()) for r in ranks]
    got = llax.jit(threefry)(*args)
    for g, w in zip(got, reference(*args), strict=True):
        assert_bits_equal(g, w)


def test_matches_jax_primitive() -> None:
    from jax.extend.random import threefry2x32_p
    rng = np.random.default_rng(3)
    cases = [[words(rng, ()) for _ in range(4)],
             [words(rng, ()), words(rng, ()), words(rng, (1023,)), words(rng, (1023,))],
             [words(rng, (3, 5, 7)) for _ in range(4)]]
    for args in cases:
        got = llax.jit(threefry)(*args)
        want = threefry2x32_p.bind(*args)
        for g, w in zip(got, want, strict=True):
            assert_bits_equal(g, np.asarray(w))


def test_emitted_once_per_element_for_both_words() -> None:
    """y0 ^ y1 reads both outputs: the loop body holds one cipher (20 rotations), not two.
    Checked before LLVM's optimisation, which could otherwise merge a duplicate."""
    def f(k0, k1, x0, x1):
        y0, y1 = threefry(k0, k1, x0, x1)
        return y0 ^ y1

    args = [words(np.random.default_rng(0), (64,)) for _ in range(4)]
    llvm = stage(f, "llvm", *args)
    assert len(re.findall(r"call i32 @\"?llvm\.fshl\.i32", llvm)) == 20
    y0, y1 = reference(*args)
    assert_bits_equal(llax.jit(f)(*args), y0 ^ y1)


# --- fused with its producers and consumers -------------------------------------------------

def uniform(n: int):
    def f(k0, k1):
        y0, y1 = threefry(k0, k1, *counters(n))
        return to_unit_float(y0 ^ y1)

    return f


def np_uniform(n: int, k0, k1) -> np.ndarray:
    y0, y1 = reference(k0, k1, *np_counters(n))
    return np_unit_float(y0 ^ y1)


def top_fusions(fn: Function):
    return [op for op in fn.ops if op.prim is P.fusion]


def check_contract(fn: Function) -> None:
    """The fusion contract (llax.passes.fuse), multi-output ops and exports included."""
    for op in walk_ops(fn):
        if op.prim is not P.fusion:
            continue
        (region,) = op.regions
        assert len(region.ops) >= 2 and len(region.results) == len(op.outputs) >= 1
        assert all(fusion_class[o.prim] is not FusionClass.OPAQUE and not o.regions
                   for o in region.ops)
        reductions = [o for o in region.ops if fusion_class[o.prim] is FusionClass.REDUCTION]
        if reductions:
            assert region.results == reductions[0].outputs
        else:  # one loop writes every result
            assert len({r.type.shape for r in region.results}) == 1
        defined = {v for o in region.ops for v in o.outputs}
        assert all(r in defined for r in region.results)


@pytest.mark.parametrize("n", [1, 7, 1023, 4099], ids=str)
def test_uniform_bits_fused_into_one_loop(n: int) -> None:
    f = uniform(n)
    assert_bits_equal(llax.jit(f)(*KEY), np_uniform(n, *KEY))
    fn = optimized(f, *KEY)
    check_contract(fn)
    (fusion,) = fn.ops
    assert fusion.prim is P.fusion
    prims = {op.prim for op in fusion.regions[0].ops}
    assert {P.threefry2x32, P.xor, P.shift_right_logical, P.convert_element_type,
            P.mul} <= prims
    if n > 16:  # (simplify folds a short iota into a literal)
        assert P.iota in prims


def test_one_word_returned_the_other_consumed() -> None:
    n = 1000

    def f(k0, k1):
        y0, y1 = threefry(k0, k1, *counters(n))
        return y0, to_unit_float(y1)

    got0, got1 = llax.jit(f)(*KEY)
    y0, y1 = reference(*KEY, *np_counters(n))
    assert_bits_equal(got0, y0)
    assert_bits_equal(got1, np_unit_float(y1))
    fn = optimized(f, *KEY)
    check_contract(fn)
    (fusion,) = fn.ops  # one loop writes the word and the floats
    assert fusion.prim is P.fusion and len(fusion.outputs) == 2
    assert sum(op.prim is P.threefry2x32 for op in walk_ops(fn)) == 1


def test_both_words_returned_and_consumed() -> None:
    n = 777

    def f(k0, k1):
        y0, y1 = threefry(k0, k1, *counters(n))
        return y1, to_unit_float(y0 ^ y1), y0

    got = llax.jit(f)(*KEY)
    y0, y1 = reference(*KEY, *np_counters(n))
    for g, w in zip(got, (y1, np_unit_float(y0 ^ y1), y0), strict=True):
        assert_bits_equal(g, w)
    fn = optimized(f, *KEY)
    check_contract(fn)
    (fusion,) = fn.ops
    assert fusion.prim is P.fusion and len(fusion.outputs) == 3


def test_dead_word_is_not_written() -> None:
    n = 500

    def f(k0, k1):
        y0, _ = threefry(k0, k1, *counters(n))
        return y0

    assert_bits_equal(llax.jit(f)(*KEY), reference(*KEY, *np_counters(n))[0])
    (fusion,) = optimized(f, *KEY).ops
    assert fusion.prim is P.fusion and len(fusion.outputs) == 1


@pytest.mark.parametrize("how", ["stack", "concatenate"])
def test_stacked_words_computed_once(how: str) -> None:
    """random.split's pattern: a stack (or concatenation) reads the two words at different
    indices, so fused into it the cipher would run twice per element. The cipher is the
    root of its own loop (with its counters), writing both words; the stack reads them."""
    import llax.numpy as jnp

    n = 600

    def f(k0, k1):
        y0, y1 = threefry(k0, k1, *counters(n))
        return jnp.stack([y0, y1], axis=1) if how == "stack" else jnp.concatenate([y0, y1])

    y0, y1 = reference(*KEY, *np_counters(n))
    want = np.stack([y0, y1], axis=1) if how == "stack" else np.concatenate([y0, y1])
    assert_bits_equal(llax.jit(f)(*KEY), want)
    fn = optimized(f, *KEY)
    check_contract(fn)
    cipher = [op for op in fn.ops if op.prim is P.fusion
              and any(o.prim is P.threefry2x32 for o in op.regions[0].ops)]
    assert len(cipher) == 1 and len(cipher[0].outputs) == 2
    assert {o.prim for o in cipher[0].regions[0].ops} == {P.iota, P.add, P.threefry2x32}
    assert sum(op.prim is P.threefry2x32 for op in walk_ops(fn)) == 1


@pytest.mark.parametrize("consumer", ["erf_inv", "max", "sum"])
def test_float_consumers(consumer: str) -> None:
    """Normal-like samples through erf_inv, a clamp through max, and a whole sum."""
    n = 2048

    def f(k0, k1):
        u = uniform(n)(k0, k1)
        if consumer == "erf_inv":
            return lax.erf_inv(u * np.float32(2.0) - np.float32(1.0))
        if consumer == "max":
            return lax.max(u, np.float32(0.25))
        return lax.reduce_sum(u, (0,))

    got = np.asarray(llax.jit(f)(*KEY))
    u = np_uniform(n, *KEY)
    if consumer == "erf_inv":
        from scipy.special import erfinv

        want = erfinv((u * np.float32(2) - np.float32(1)).astype(np.float64))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    elif consumer == "max":
        assert_bits_equal(got, np.maximum(u, np.float32(0.25)))
    else:
        np.testing.assert_allclose(got, u.astype(np.float64).sum(), rtol=1e-5)
    fn = optimized(f, *KEY)
    check_contract(fn)
    (fusion,) = fn.ops  # counters, cipher, conversion and consumer in one loop
    assert P.threefry2x32 in {o.prim for o in fusion.regions[0].ops}


def test_word_read_by_a_reduction_and_an_elementwise_group() -> None:
    """A reduction's loop writes nothing but its result: the cipher feeding one through y0
    while y1 goes elsewhere is materialised once, whatever the op order."""
    fn = parse_function("""
    { lambda ; a:u32[] b:u32[]. let
        c:u32[64] = iota[dimension=0 dtype=u32 shape=(64,)]
        d:u32[64] = add c 64:u32[]
        e:u32[64] f:u32[64] = threefry2x32 a b c d
        g:u32[] = reduce_max[axes=(0,)] e
        h:u32[64] = broadcast_in_dim[broadcast_dimensions=() shape=(64,)] g
        i:u32[64] = xor f h
      in (i,) }""")
    with config.override("llax_verify", True):
        out = run_pipeline(fn, "fuse")
    check_contract(out)
    assert sum(op.prim is P.threefry2x32 for op in walk_ops(out)) == 1
    args = [U32(5), U32(9)]
    for got, want in zip(evaluate_function(out, args), evaluate_function(fn, args), strict=True):
        assert_bits_equal(got, want)


def test_export_needs_its_readers_after_the_root() -> None:
    """The group ending in ``l`` reads y1 (``f``); y0 (``e``) is read by ``g``, before that
    group's fusion op, which therefore cannot write y0 out. The group rooted at ``g`` can:
    it owns the cipher and writes y1 out for the later group, so the cipher runs once."""
    fn = parse_function("""
    { lambda ; a:u32[] b:u32[] x:u32[64]. let
        c:u32[64] = iota[dimension=0 dtype=u32 shape=(64,)]
        e:u32[64] f:u32[64] = threefry2x32 a b c x
        g:f32[64] = convert_element_type[new_dtype=f32 weak_type=False] e
        h:f32[] = dot_general[dimension_numbers=(((0,), (0,)), ((), ()))] g g
        j:f32[64] = convert_element_type[new_dtype=f32 weak_type=False] f
        k:f32[64] = broadcast_in_dim[broadcast_dimensions=() shape=(64,)] h
        l:f32[64] = mul j k
      in (l,) }""")
    with config.override("llax_verify", True):
        out = run_pipeline(fn, "fuse")
    check_contract(out)
    assert sum(op.prim is P.threefry2x32 for op in walk_ops(out)) == 1
    (cipher,) = [op for op in out.ops if op.prim is P.fusion
                 and P.threefry2x32 in {o.prim for o in op.regions[0].ops}]
    assert [str(v.type.dtype) for v in cipher.outputs] == ["float32", "uint32"]
    args = [U32(5), U32(9), np.arange(64, dtype=U32) * U32(77)]
    for got, want in zip(evaluate_function(out, args), evaluate_function(fn, args), strict=True):
        np.testing.assert_array_equal(got, want)


# --- native code: vectorised, split across cores ------------------------------------------

def host_i32_lanes() -> int:
    """i32 lanes of the host's SIMD registers, as a lower bound: 256-bit on AVX hosts (LLVM
    may choose 256 or 512 bits on AVX-512 ones), 128-bit otherwise."""
    from llax.codegen import target

    return (256 if target.host().has_feature("avx") else 128) // 32


def test_loop_is_vectorised_at_host_width() -> None:
    opt = stage(uniform(1 << 14), "llvm-opt", *KEY)
    lanes = [int(n) for n in re.findall(r"<(\d+) x i32>", opt)]
    assert lanes and max(lanes) >= host_i32_lanes(), sorted(set(lanes))
    # The rotations stay vector operations (fshl on vectors: vprold on AVX-512).
    rotations = [int(n) for n in re.findall(r"@llvm\.fshl\.v(\d+)i32", opt)]
    assert rotations and min(rotations) >= host_i32_lanes()


def test_large_loops_split_across_cores_with_both_words() -> None:
    from llax.codegen import parallel

    n = 1 << 20

    def f(k0, k1):
        y0, y1 = threefry(k0, k1, *counters(n))
        return y0, to_unit_float(y0 ^ y1), y1

    got = llax.jit(f)(*KEY)
    y0, y1 = reference(*KEY, *np_counters(n))
    for g, w in zip(got, (y0, np_unit_float(y0 ^ y1), y1), strict=True):
        assert_bits_equal(g, w)
    if parallel.threads() > 1:  # a one-core host runs every nest serially
        assert "@llax_parallel_for" in stage(f, "llvm-opt", *KEY)


def test_under_vmap() -> None:
    rng = np.random.default_rng(11)
    keys0, keys1 = words(rng, (5,)), words(rng, (5,))
    x0, x1 = words(rng, (5, 9)), words(rng, (9,))

    got = llax.jit(llax.vmap(threefry, in_axes=(0, 0, 0, None)))(keys0, keys1, x0, x1)
    want = [np.stack(w) for w in zip(*(reference(keys0[i], keys1[i], x0[i], x1)
                                       for i in range(5)))]
    for g, w in zip(got, want, strict=True):
        assert_bits_equal(g, w)

    def bits_for_key(k0, k1):
        y0, y1 = threefry(k0, k1, *counters(257))
        return to_unit_float(y0 ^ y1)

    got = llax.jit(llax.vmap(bits_for_key))(keys0, keys1)
    for i in range(5):
        assert_bits_equal(got[i], np_uniform(257, keys0[i], keys1[i]))


def test_in_a_loop_body() -> None:
    """Random words per iteration of a fori_loop: the cipher lowered inside control flow."""
    n = 64

    def f(k0, k1):
        def body(i, acc):
            y0, y1 = threefry(k0, k1 + lax.convert_element_type(i, U32), *counters(n))
            return acc ^ y0 ^ y1

        return lax.fori_loop(0, 3, body, lax.full((n,), U32(0), U32))

    want = np.zeros(n, U32)
    for i in range(3):
        y0, y1 = reference(KEY[0], U32(KEY[1] + i), *np_counters(n))
        want ^= y0 ^ y1
    assert_bits_equal(llax.jit(f)(*KEY), want)


def test_function_results_are_the_words_of_a_lone_op() -> None:
    """Unfused (parameters in, both words out): the lone op stores both outputs."""
    fn = optimized(threefry, *[np.zeros(5, U32)] * 4)
    assert [op.prim for op in fn.ops] == [P.threefry2x32]
    assert all(isinstance(r, Var) for r in fn.results)
