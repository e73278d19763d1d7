"""vecmath sin, cos, tan: ulp accuracy for every finite argument.

Beyond the usual sweep (every binade of both formats), the arguments that are
hardest for the range reduction: for every binade, the float closest to a
multiple of pi/2 (found from the continued fraction of 2^k 2/pi), checked
against mpmath at a precision that makes its own reduction exact.
"""

from __future__ import annotations

import re

import mpmath as mp
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax.codegen import vecmath
from llax.codegen.vecmath import payne_hanek, rare_lanes
from llax.codegen.vecmath.trig import (
    TRIG_LIMIT,
    huge_name,
    huge_runtime_module,
    load_huge_runtime,
)
from llax.config import config
from llax.tests.vecmath_util import (
    DTYPES,
    F32,
    F64,
    LD,
    Kernels,
    family_tests,
    kernels,
    log_uniform,
    reference,
    specials,
    ulp_errors,
    unary_samples,
    uniform,
)

# Asserted maximum error in ulps (float32, float64): trig.py's table rounded up.
MAX_ULP = {
    "sin": (1.5, 1.5),
    "cos": (1.5, 1.5),
    "tan": (2.0, 1.75),
}
OPS = list(MAX_ULP)
TRIG_EMITTERS = {op: vecmath.EMITTERS[op] for op in OPS}


def limit(dtype) -> float:
    return TRIG_LIMIT[32 if dtype == F32 else 64]


def near_multiples(rng, step: float, kmax: float, n: int, dtype) -> np.ndarray:
    """Floats within a few ulps of k * step."""
    k = np.floor(log_uniform(rng, 1.0, kmax, n, F64))
    ity = np.int32 if dtype == F32 else np.int64
    v = (k * step).astype(dtype).view(ity) + rng.integers(-3, 4, n).astype(ity)
    return v.view(dtype) * rng.choice([-1, 1], n).astype(dtype)


def samples(op: str, dtype, rng, n: int, per_binade: int) -> tuple[np.ndarray, ...]:
    lim = limit(dtype)
    x = unary_samples(rng, dtype, [(-10, 10), (-lim, lim), (-1000, 1000)], n, per_binade)
    big = float(np.finfo(dtype).max)
    return (np.concatenate([
        x,
        near_multiples(rng, np.pi / 2, lim / 2, n, dtype),  # the fast reduction's hard cases
        log_uniform(rng, lim / 4, lim * 4, n, dtype, signed=True),  # both sides of the switch
        log_uniform(rng, lim, big, n, dtype, signed=True),  # Payne-Hanek
    ]),)


test_accuracy, test_special_values, test_dense_sweep = family_tests(MAX_ULP, samples)


# ---------------------------------------------------------------------------
# The hardest arguments: closest to multiples of pi/2
# ---------------------------------------------------------------------------


def closest_to_multiples(p: int, exponents: range) -> list[tuple[int, int]]:
    """For each binade 2^e <= x < 2^(e+1) of a p-bit format, (M, k) with x = M 2^k the
    float nearest a multiple of pi/2, i.e. M 2^k 2/pi nearest an integer.

    With alpha = 2^k 2/pi mod 1 (to 256 bits, from mpmath), ||M alpha|| is smallest
    for multiples of the denominators of alpha's continued-fraction convergents that
    fall in [2^(p-1), 2^p).  (This finds the known worst double, 6381956970095103
    2^797, whose distance to a multiple of pi/2 is ~2^-61.)
    """
    frac_bits = 256
    top = max(exponents) - p + 1
    with mp.workprec(top + frac_bits + 64):
        scaled = int(mp.floor(mp.ldexp(2 / mp.pi, top + frac_bits)))  # 2/pi 2^(top + frac_bits)
    lo, hi, den = 1 << (p - 1), 1 << p, 1 << frac_bits
    out = []
    for e in exponents:
        k = e - p + 1
        num = (scaled >> (top - k)) % den  # alpha = num / den
        best = (den, lo)
        q_prev, q = 1, 0
        a_num, a_den = num, den
        while a_den and q < hi:
            a, (a_num, a_den) = a_num // a_den, (a_den, a_num % a_den)
            q_prev, q = q, a * q + q_prev
            for d in (q, q_prev):
                if 0 < d < hi:
                    for m in (-(-lo // d), -(-lo // d) + 1):
                        r = (m * d * num) % den
                        if lo <= m * d < hi and min(r, den - r) < best[0]:
                            best = (min(r, den - r), m * d)
        out.append((best[1], k))
    return out


def mpmath_reference(op: str, xs: list[tuple[int, int]]) -> np.ndarray:
    """op(M 2^k) as long double, from mpmath with enough bits for an exact reduction."""
    fn = {"sin": mp.sin, "cos": mp.cos, "tan": mp.tan}[op]
    out = []
    for m, k in xs:
        with mp.workprec(max(k, 0) + 53 + 256):
            out.append(LD(mp.nstr(fn(mp.ldexp(m, k)), 30)))
    return np.array(out, dtype=LD)


def test_closest_to_multiples_finds_the_known_worst_double():
    ((m, k),) = closest_to_multiples(53, range(849, 850))
    assert (m, k) == (6381956970095103, 797)
    with mp.workprec(1200):
        x = mp.ldexp(m, k)
        assert abs(x - mp.nint(x / (mp.pi / 2)) * mp.pi / 2) < mp.mpf(2) ** -60


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_closest_to_multiples_of_pi_over_2(op: str, dtype):
    p, emax = (24, 127) if dtype == F32 else (53, 1023)
    cases = closest_to_multiples(p, range(0, emax + 1))  # every binade from 1 up
    x = np.array([np.ldexp(float(m), k) for m, k in cases], dtype=dtype)
    x = np.concatenate([x, -x])
    ref = mpmath_reference(op, cases)
    ref = np.concatenate([ref, -ref if op != "cos" else ref])
    res = kernels(dtype)(op, x)
    err = ulp_errors(res, ref.astype(F64) if dtype == F32 else ref, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[op][0 if dtype == F32 else 1], (
        f"{op}({x[worst]!r}): {err[worst]:.3g} ulp, got {res[worst]!r} want {ref[worst]!r}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_named_huge_arguments(op: str, dtype):
    info = np.finfo(dtype)
    lim = limit(dtype)
    named = [1e7, 1e22, 3.4e38, float(info.max), lim, np.nextafter(dtype(lim), dtype(0)),
             np.nextafter(dtype(lim), dtype(np.inf)), 2.0**23, 2.0**52]
    if dtype == F64:
        named += [1.7e308, 1e300, 2.0**1000]
    x = np.array(named, dtype=dtype)
    x = np.concatenate([x, -x])
    res = kernels(dtype)(op, x)
    err = ulp_errors(res, reference(op, dtype, x), dtype)
    assert err.max() <= MAX_ULP[op][0 if dtype == F32 else 1], list(zip(x, err, strict=True))


def test_sin_of_1e7_float32():
    # The case that was wrong before Payne-Hanek (-0.907).
    y = kernels(F32)("sin", np.array([1e7], dtype=F32))
    assert abs(float(y[0]) - float(mp.sin(mp.mpf(float(np.float32(1e7)))))) < 3e-8


def test_two_over_pi_table_matches_mpmath():
    words = payne_hanek.TWO_OVER_PI_WORDS
    nbits = 64 * len(words)
    value = 0
    for w in words:
        value = (value << 64) | w
    with mp.workprec(nbits + 64):
        want = int(mp.floor(mp.ldexp(2 / mp.pi, nbits - 64)))  # 64 leading zero bits
    assert value == want


@pytest.mark.parametrize("width", [4, 3])  # a width with a vector variant, one without
@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_operands_with_huge_lanes(dtype, width: int):
    """<W x T> operands with some lanes on the Payne-Hanek path: bitwise the loop's."""
    rng = np.random.default_rng(3)
    lim = limit(dtype)
    x = np.concatenate([uniform(rng, -3, 3, 40, dtype),
                        log_uniform(rng, lim, 1e30, 40, dtype, signed=True), specials(dtype)])
    x = rng.permutation(x)[:80 // width * width]
    k = kernels(dtype) if width == 4 else Kernels(dtype, TRIG_EMITTERS, vector_width=width)
    assert (width in rare_lanes.VARIANT_WIDTHS) == (width == 4)
    for op in OPS:
        assert np.array_equal(k(op, x), k.vector(op, x), equal_nan=True), op


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_path_is_a_masked_call_per_vector(dtype):
    """In the vectorised loop the huge path is one masked call per vector (which
    returns at once when no lane is huge), not a scalar call per element."""
    name = "float" if dtype == F32 else "double"
    huge = re.escape(huge_name(32 if dtype == F32 else 64))
    for op in OPS:
        body = kernels(dtype).kernel_ir(op)
        vector_body = body[body.index("vector.body:"):]
        vector_body = vector_body[:vector_body.index("\n\n")]
        variant_call = rf'call preserve_allcc <\d+ x {name}> @"?{huge}\.m\d+"?\('
        assert re.search(variant_call, vector_body), op
        assert not re.search(rf'call [^\n]*{name} @"?{huge}"?\(', vector_body), op


# ---------------------------------------------------------------------------
# The huge path is a runtime, compiled once per process: kernels only declare it
# ---------------------------------------------------------------------------


def signatures(text: str, kind: str) -> dict[str, str]:
    """{function name: its line with argument names dropped} for ``kind`` (define or
    declare) lines of LLVM IR text that name a huge-path function."""
    out = {}
    for line in text.splitlines():
        m = re.match(rf'{kind} (.*?)@"?(llax\.vecmath\.trig\.huge[^"(]*)"?\((.*?)\)', line)
        if m:
            params = re.sub(r' %"?[^,"]*"?', "", m.group(3))
            out[m.group(2)] = f"{m.group(1)}({params})"
    return out


def jit_texts(fn, x: np.ndarray) -> tuple[str, str]:
    """(LLVM IR as lowered, as optimised) of llax.jit(fn) on x."""
    compiled = llax.jit(fn).lower(x).compile()
    return compiled.stages["llvm"], compiled.as_text()


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_declare_the_huge_path_that_the_runtime_defines(dtype):
    bits = 32 if dtype == F32 else 64
    runtime_text = str(huge_runtime_module(bits))
    defined = {name: signature for name, signature in signatures(runtime_text, "define").items()
               if not signature.startswith("internal")}
    assert set(defined) == set(rare_lanes.exported_names(huge_name(bits)))
    with config.override("jax_enable_x64", dtype == F64):
        texts = [*jit_texts(lambda x: jnp.sin(x) + jnp.cos(x) * jnp.tan(x),
                            np.ones(1000, dtype)), kernels(dtype).optimized_ir]
    for text in texts:
        assert not re.search(r"^define[^\n]*@\"?llax\.vecmath\.trig", text, re.M)
        assert "two_over_pi" not in text  # Payne-Hanek's table: the runtime's alone
        declared = signatures(text, "declare")
        assert declared, "the kernel declares the huge path"
        for name, signature in declared.items():
            # Same types and calling convention (preserve_allcc for the variants) as
            # the definition the kernel links against.
            assert signature == defined[name], name
    variants = [n for n in defined if n != huge_name(bits)]
    assert all(defined[n].startswith("preserve_allcc") for n in variants)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_jit_huge_arguments_through_the_runtime(op: str, dtype):
    """llax.jit kernels (vectorised loops over arrays, straight-line code for scalars)
    give accurate results for huge arguments, ordinary ones around them."""
    rng = np.random.default_rng(5)
    lim = limit(dtype)
    big = float(np.finfo(dtype).max)
    # Large enough that llax compiles the loop for speed (small ones are optsize: not
    # vectorised).
    x = rng.permutation(np.concatenate([
        log_uniform(rng, lim, big, 4000, dtype, signed=True),
        uniform(rng, -10, 10, 12000, dtype), specials(dtype)]))
    bound = MAX_ULP[op][0 if dtype == F32 else 1]
    fn = getattr(jnp, op)
    with config.override("jax_enable_x64", dtype == F64):
        vectorised = np.asarray(llax.jit(fn)(x))
        scalar = llax.jit(fn)
        scalars = np.array([scalar(v) for v in x[:60]], dtype=dtype)
        loop_ir, straight_ir = (jit_texts(fn, v)[1] for v in (x, x[0]))
    assert vectorised.dtype == dtype
    huge = re.escape(huge_name(32 if dtype == F32 else 64))
    assert re.search(rf'call preserve_allcc <\d+ x \w+> @"?{huge}\.m\d+"?\(', loop_ir)
    assert re.search(rf'call \w+ @"?{huge}"?\(', straight_ir)
    ref = reference(op, dtype, x)
    assert ulp_errors(vectorised, ref, dtype).max() <= bound
    assert ulp_errors(scalars, ref[:60], dtype).max() <= bound
    assert np.abs(x[:60]).max() >= lim  # the scalar kernels met huge arguments too


def test_runtime_compiled_once_per_format():
    assert load_huge_runtime(32) is load_huge_runtime(32)
    assert load_huge_runtime(32) is not load_huge_runtime(64)
