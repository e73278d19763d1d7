"""vecmath cbrt and pow: ulp accuracy over every binade, C99 special cases."""

from __future__ import annotations

import numpy as np

from llax.tests.vecmath_util import (
    F32,
    every_binade,
    family_tests,
    log_uniform,
    random_bits,
    unary_samples,
    uniform,
)

# Asserted maximum error in ulps (float32, float64): cbrt_pow.py's table rounded up.
MAX_ULP = {
    "cbrt": (0.75, 0.75),
    "pow": (1.0, 1.0),
}


def samples(op: str, dtype, rng, n: int, per_binade: int) -> tuple[np.ndarray, ...]:
    if op == "cbrt":
        x = unary_samples(rng, dtype, [(-10, 10)], n, per_binade)
        tiny = float(np.finfo(dtype).smallest_subnormal)
        return (np.concatenate([x, log_uniform(rng, tiny, 1.0, n, dtype, signed=True)]),)
    hi_y = 40.0 if dtype == F32 else 300.0
    px = random_bits(rng, dtype, n)
    bx = np.abs(every_binade(rng, dtype, per_binade))
    parts = [
        (uniform(rng, 0, 10, n, dtype), uniform(rng, -hi_y, hi_y, n, dtype)),
        (np.abs(px), uniform(rng, -2, 2, n, dtype)),
        (px, random_bits(rng, dtype, n)),
        (uniform(rng, 0.9, 1.1, n, dtype), log_uniform(rng, 1, 1e6, n, dtype, True)),
        (uniform(rng, -10, 10, n, dtype), np.round(uniform(rng, -30, 30, n, dtype))),
        # every binade of x, with exponents that keep most results finite
        (bx, uniform(rng, -1, 1, bx.size, dtype)),
    ]
    return tuple(np.concatenate(c) for c in zip(*parts, strict=True))


test_accuracy, test_special_values, test_dense_sweep = family_tests(MAX_ULP, samples)
