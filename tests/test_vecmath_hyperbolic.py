"""vecmath tanh, logistic, sinh, cosh, asinh, acosh, atanh: ulp accuracy over every binade."""

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

# Asserted maximum error in ulps (float32, float64): hyperbolic.py's table rounded up.
MAX_ULP = {
    "tanh": (1.75, 2.0),
    "logistic": (1.75, 1.75),
    "sinh": (2.0, 1.75),
    "cosh": (1.5, 1.5),
    "asinh": (1.5, 1.5),
    "acosh": (2.0, 2.0),
    "atanh": (2.0, 1.75),
}


def samples(op: str, dtype, rng, n: int, per_binade: int) -> tuple[np.ndarray, ...]:
    f32 = dtype == F32
    big_exp = 105.0 if f32 else 750.0
    intervals = {
        "tanh": [(-10, 10), (-1, 1), (-20, 20)],
        "logistic": [(-big_exp, big_exp), (-10, 10)],
        "sinh": [(-90, 90), (-2, 2)] if f32 else [(-711, 711), (-2, 2)],
        "cosh": [(-90, 90), (-2, 2)] if f32 else [(-711, 711), (-2, 2)],
        "asinh": [(-10, 10), (-1, 1)],
        "acosh": [(1, 10), (1, 1.01)],
        "atanh": [(-1, 1)],
    }[op]
    x = unary_samples(rng, dtype, intervals, n, per_binade)
    if op in ("tanh", "sinh", "asinh"):
        tiny = float(np.finfo(dtype).smallest_subnormal)
        x = np.concatenate([x, log_uniform(rng, tiny, 1.0, n, dtype, signed=True)])
    if op == "acosh":  # every binade of its domain x >= 1
        x = np.concatenate([x, 1 + np.abs(every_binade(rng, dtype, per_binade))])
    if op == "atanh":
        x = np.concatenate([x, near_one(rng, n, dtype)])
    return (x,)


test_accuracy, test_special_values, test_dense_sweep = family_tests(MAX_ULP, samples)
