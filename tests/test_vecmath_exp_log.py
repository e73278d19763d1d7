"""vecmath exp, exp2, expm1, log, log1p: ulp accuracy over every binade, special values."""

from __future__ import annotations

import numpy as np

from llax.tests.vecmath_util import F32, every_binade, family_tests, log_uniform, unary_samples

# Asserted maximum error in ulps (float32, float64): exp_log.py's table rounded up.
MAX_ULP = {
    "exp": (1.0, 1.0),
    "exp2": (1.0, 1.0),
    "expm1": (1.5, 1.5),
    "log": (1.0, 1.0),
    "log1p": (1.0, 1.0),
}


def samples(op: str, dtype, rng, n: int, per_binade: int) -> tuple[np.ndarray, ...]:
    f32 = dtype == F32
    intervals = {
        "exp": [(-105.0 if f32 else -750.0, 90.0 if f32 else 711.0), (-2, 2)],
        "exp2": [(-155, 130) if f32 else (-1080, 1030), (-2, 2)],
        "expm1": [(-20, 89) if f32 else (-40, 710), (-1, 1), (-1e-3, 1e-3)],
        "log": [(0, 4), (0.5, 2)],
        "log1p": [(-1, 1), (-1e-3, 1e-3), (0, 1e6)],
    }[op]
    x = unary_samples(rng, dtype, intervals, n, per_binade)
    if op != "exp2":  # tiny arguments, subnormals included
        tiny = float(np.finfo(dtype).smallest_subnormal)
        x = np.concatenate([x, log_uniform(rng, tiny, 1.0, n, dtype, signed=op != "log")])
    if op in ("log", "log1p"):  # every binade of positive arguments, log's whole domain
        x = np.concatenate([x, np.abs(every_binade(rng, dtype, per_binade))])
    return (x,)


test_accuracy, test_special_values, test_dense_sweep = family_tests(MAX_ULP, samples)
