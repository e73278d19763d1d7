"""vecmath erf, erfc, erf_inv: ulp accuracy over every binade (float64 against mpmath)."""

from __future__ import annotations

import numpy as np

from llax.tests.vecmath_util import (
    F32,
    every_binade,
    family_tests,
    log_uniform,
    near_one,
    unary_samples,
)

# Asserted maximum error in ulps (float32, float64): erf.py's table rounded up.
MAX_ULP = {
    "erf": (1.25, 1.25),
    "erfc": (3.0, 2.5),
    "erf_inv": (2.5, 2.25),
}


def samples(op: str, dtype, rng, n: int, per_binade: int) -> tuple[np.ndarray, ...]:
    f32 = dtype == F32
    intervals = {
        "erf": [(-6, 6), (-1, 1)],
        "erfc": [(-3, 11), (0.5, 1.5)] if f32 else [(-3, 28), (0.5, 1.5)],
        "erf_inv": [(-1, 1)],
    }[op]
    x = unary_samples(rng, dtype, intervals, n, per_binade)
    if op == "erf":
        tiny = float(np.finfo(dtype).smallest_subnormal)
        x = np.concatenate([x, log_uniform(rng, tiny, 1.0, n, dtype, signed=True)])
    if op == "erf_inv":  # every binade of the domain, and near +-1
        b = every_binade(rng, dtype, per_binade)
        x = np.concatenate([x, b[np.abs(b) <= 1], near_one(rng, n, dtype)])
    return (x,)


test_accuracy, test_special_values, test_dense_sweep = family_tests(MAX_ULP, samples)
