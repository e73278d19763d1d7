"""vecmath exp, exp2, expm1, log, log1p: ulp accuracy over every binade, special values.

float64 log and log1p are correctly rounded but for rare cases (the table method
of exp_log._log_core_table): checked against a correctly rounded oracle (long
double, with mpmath deciding the cases near a rounding boundary), and against
numpy, whose log (glibc's on most hosts) is what JAX's float64 log computes.
"""

from __future__ import annotations

import re

import mpmath as mp
import numpy as np
import pytest

from llax.codegen.vecmath import log_table
from llax.tests.vecmath_util import (
    F32,
    F64,
    HAVE_LONG_DOUBLE,
    LD,
    every_binade,
    family_tests,
    kernels,
    log_uniform,
    near_one,
    random_bits,
    ulp_errors,
    unary_samples,
)

# Asserted maximum error in ulps (float32, float64): exp_log.py's table rounded up
# (the float64 references resolve about 2^-11 ulp).
MAX_ULP = {
    "exp": (1.0, 1.0),
    "exp2": (1.0, 1.0),
    "expm1": (1.5, 1.5),
    "log": (1.0, 0.501),
    "log1p": (1.0, 0.501),
}


def samples(op: str, dtype, rng, n: int, per_binade: int) -> tuple[np.ndarray, ...]:
    f32 = dtype == F32
    intervals = {
        "exp": [(-105.0 if f32 else -750.0, 90.0 if f32 else 711.0), (-2, 2)],
        "exp2": [(-155, 130) if f32 else (-1080, 1030), (-2, 2)],
        "expm1": [(-20, 89) if f32 else (-40, 710), (-1, 1), (-1e-3, 1e-3)],
        "log": [(0, 4), (0.5, 2)],
        "log1p": [(-1, 1), (-1e-3, 1e-3), (0, 1e6), (-2e-6, 2e-6)],
    }[op]
    x = unary_samples(rng, dtype, intervals, n, per_binade)
    if op != "exp2":  # tiny arguments, subnormals included
        tiny = float(np.finfo(dtype).smallest_subnormal)
        x = np.concatenate([x, log_uniform(rng, tiny, 1.0, n, dtype, signed=op != "log")])
    if op in ("log", "log1p"):  # every binade of positive arguments, log's whole domain
        x = np.concatenate([x, np.abs(every_binade(rng, dtype, per_binade))])
    return (x,)


test_accuracy, test_special_values, test_dense_sweep = family_tests(MAX_ULP, samples)


# ---------------------------------------------------------------------------
# float64 log and log1p: correctly rounded but for rare cases
# ---------------------------------------------------------------------------

POWERS_OF_TWO = np.ldexp(1.0, np.arange(-1074, 1024))


def whole_range(rng, n: int) -> np.ndarray:
    """Positive doubles over log's whole domain, denser where log is hard: random bit
    patterns, every binade, [0.3, 3] (where |log x| < 1.2), near 1 on both sides down
    to one ulp away, subnormals, huge values and every power of two."""
    x = np.concatenate([
        np.abs(random_bits(rng, F64, n)),
        np.abs(every_binade(rng, F64, max(n // 2048, 1))),
        rng.uniform(0.3, 3.0, n),
        np.abs(near_one(rng, n, F64)),
        1.0 + rng.uniform(-2.0**-7, 2.0**-7, n),  # the table's runs around 1
        log_uniform(rng, 5e-324, 2.2e-308, n // 4, F64),
        log_uniform(rng, 1e300, 1.7e308, n // 4, F64),
        POWERS_OF_TWO,
    ])
    return x[np.isfinite(x) & (x > 0)]


def _nearest_by_mpmath(fn, x: float, guess: float) -> float:
    """The double nearest to fn(x) among guess and its neighbours (mpmath, 160 bits)."""
    with mp.workprec(160):
        exact = fn(mp.mpf(x))
        candidates = (np.nextafter(guess, -np.inf), guess, np.nextafter(guess, np.inf))
        return float(min(candidates, key=lambda c: abs(mp.mpf(float(c)) - exact)))


def correctly_rounded(op: str, x: np.ndarray) -> np.ndarray:
    """op(x) rounded to nearest double: long double, except within `margin` ulp of a
    rounding boundary (x87's logl/log1pl err by well under that), where mpmath decides."""
    fn, mp_fn, margin = {"log": (np.log, mp.log, 2.0**-8),
                         "log1p": (np.log1p, mp.log1p, 2.0**-6)}[op]
    with np.errstate(all="ignore"):
        ld = fn(x.astype(LD))
        cr = ld.astype(F64)
        frac = np.abs(ld - cr.astype(LD)) / np.spacing(np.abs(cr)).astype(LD)
    for i in np.flatnonzero(np.isfinite(cr) & (cr != 0) & (frac > 0.5 - margin)):
        cr[i] = _nearest_by_mpmath(mp_fn, float(x[i]), float(cr[i]))
    return cr


needs_long_double = pytest.mark.skipif(
    not HAVE_LONG_DOUBLE, reason="the oracle is x87/quad long double (plus mpmath)")


@needs_long_double
@pytest.mark.parametrize("op", ["log", "log1p"])
def test_float64_correctly_rounded(op: str) -> None:
    """At least 99.99% of a large sample over the whole domain is exactly the
    correctly rounded result (in practice all of it), and no result is off by
    more than 0.501 ulp."""
    rng = np.random.default_rng(11)
    x = whole_range(rng, 200_000)
    if op == "log1p":  # log1p's own hard places: tiny |x| and around 2^-20 (two methods)
        scale = 2.0 ** -rng.integers(1, 60, 200_000)
        x = np.concatenate([x[x < 1e300] - 1.0, rng.uniform(-1.0, 1.0, 200_000) * scale,
                            rng.uniform(-2.0**-19, 2.0**-19, 200_000)])
    res = kernels(F64)(op, x)
    cr = correctly_rounded(op, x)
    agree = np.mean(res == cr)
    assert agree >= 0.9999, f"{op}: only {agree:.5%} correctly rounded"
    with np.errstate(all="ignore"):
        err = ulp_errors(res, (np.log if op == "log" else np.log1p)(x.astype(LD)), F64)
    worst = int(np.argmax(err))
    assert err[worst] <= 0.501, f"{op}({x[worst]!r}) = {res[worst]!r}: {err[worst]:.4f} ulp"


@needs_long_double
def test_float64_log_agrees_with_numpy() -> None:
    """Bit for bit with np.log in at least 99.9% of the sample, or, where numpy's own
    log is correctly rounded less often than that (it is glibc's on most hosts,
    which is, in 99.9+% of cases), at least as often as numpy is right; and where
    the two differ, a sample of the differences are all numpy's misroundings."""
    rng = np.random.default_rng(12)
    x = whole_range(rng, 200_000)
    res = kernels(F64)("log", x)
    ref = np.log(x)
    agree = np.mean(res == ref)
    numpy_right = np.mean(ref == correctly_rounded("log", x))
    assert agree >= min(0.999, numpy_right - 1e-5), (agree, numpy_right)
    differ = np.flatnonzero(res != ref)
    for i in rng.permutation(differ)[:200]:
        right = _nearest_by_mpmath(mp.log, float(x[i]), float(res[i]))
        assert res[i] == right, f"log({x[i]!r}) = {res[i]!r}, numpy {ref[i]!r}, exact {right!r}"


def test_float64_log_special_values() -> None:
    """0, -0, negatives, +-inf, nan exactly as numpy; 1 gives +0; subnormals, the
    largest double and every power of two correctly rounded (checked by mpmath)."""
    info = np.finfo(F64)
    special = np.array([0.0, -0.0, -1.0, -5e-324, -np.inf, np.inf, np.nan, -np.nan, 1.0])
    with np.errstate(all="ignore"):
        want = np.log(special)
    got = kernels(F64)("log", special)
    assert np.array_equal(got, want, equal_nan=True)
    assert not np.signbit(got[-1])  # log(1) = +0
    x = np.concatenate([POWERS_OF_TWO, [info.smallest_subnormal, 3 * info.smallest_subnormal,
                                        info.tiny * (1 - 2.0**-52), info.max, info.tiny]])
    got = kernels(F64)("log", x)
    for xi, gi in zip(x, got):
        assert gi == _nearest_by_mpmath(mp.log, float(xi), float(gi)), xi


def test_float64_log_table() -> None:
    """The table's invariants, from its exact rational description: every run's r =
    z invc - 1 is exact (rechecked on the run's end points in integers) and within
    R_MAX; the run on 1 has invc = 1 and log c = 0; each log c = hi + lo is -log(invc)
    to half an ulp of lo (< 2^-96), hi on the 2^-42 grid; the kernel holds the table
    as one private constant."""
    entries = log_table.entries()
    assert len(entries) == log_table.SIZE and entries[log_table.ONE_RUN] == (1.0, 0.0, 0.0)
    for i, (invc, hi, lo) in enumerate(entries):
        first = log_table.OFFSET + i * (1 << log_table.INDEX_SHIFT)
        ends = np.array([first, first + (1 << log_table.INDEX_SHIFT) - 1]).view(F64)
        for z in ends:
            # z invc - 1 in integers: z = Z 2^-53, invc = I 2^-q.
            big_z = int(z * 2.0**53)
            mant, exp = np.frexp(invc)
            big_i, q = int(mant * 2**53), 53 - int(exp)
            r_num = big_z * big_i - (1 << (53 + q))
            r = r_num / 2.0 ** (53 + q)
            assert log_table.R_MAX[0] <= r <= log_table.R_MAX[1], (i, r)
            assert float(r) * 2.0 ** (53 + q) == r_num, (i, z)  # r is a double: exact
        assert (hi * 2.0**42) == round(hi * 2.0**42)
        with mp.workprec(200):
            err = abs(mp.mpf(hi) + mp.mpf(lo) + mp.log(mp.mpf(invc)))
            assert err <= mp.mpf(float(np.spacing(abs(lo)))) / 2 and err < mp.mpf(2) ** -96
    body = kernels(F64).optimized_ir
    assert re.search(r"@llax\.vecmath\.log64[.\w]* = private unnamed_addr constant", body)
    assert re.search(r"<\d+ x double>", kernels(F64).kernel_ir("log"))
