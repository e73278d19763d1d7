"""vecmath atan, asin, acos, atan2: ulp accuracy over every binade, special values."""

from __future__ import annotations

import numpy as np

from llax.tests.vecmath_util import (
    every_binade,
    family_tests,
    log_uniform,
    near_one,
    random_bits,
    unary_samples,
    uniform,
)

# Asserted maximum error in ulps (float32, float64): inverse_trig.py's table rounded up.
MAX_ULP = {
    "atan": (1.25, 1.0),
    "asin": (0.75, 0.75),
    "acos": (0.75, 0.75),
    "atan2": (1.75, 1.75),
}


def samples(op: str, dtype, rng, n: int, per_binade: int) -> tuple[np.ndarray, ...]:
    if op == "atan2":  # (x1, x2): random bits, dense square, every binade of each
        b1, b2 = every_binade(rng, dtype, per_binade), every_binade(rng, dtype, per_binade)
        parts = [
            (random_bits(rng, dtype, n), random_bits(rng, dtype, n)),
            (uniform(rng, -10, 10, n, dtype), uniform(rng, -10, 10, n, dtype)),
            (log_uniform(rng, 1e-30, 1e30, n, dtype, True),
             log_uniform(rng, 1e-30, 1e30, n, dtype, True)),
            (b1, rng.permutation(b2)),
        ]
        return tuple(np.concatenate(c) for c in zip(*parts, strict=True))
    intervals = {"atan": [(-10, 10), (-1, 1)], "asin": [(-1, 1)], "acos": [(-1, 1)]}[op]
    x = unary_samples(rng, dtype, intervals, n, per_binade)
    if op == "atan":
        tiny = float(np.finfo(dtype).smallest_subnormal)
        x = np.concatenate([x, log_uniform(rng, tiny, 1.0, n, dtype, signed=True)])
    else:  # every binade of the domain [-1, 1], and near +-1
        b = every_binade(rng, dtype, per_binade)
        x = np.concatenate([x, b[np.abs(b) <= 1], near_one(rng, n, dtype)])
    return (x,)


test_accuracy, test_special_values, test_dense_sweep = family_tests(MAX_ULP, samples)
