"""Record JAX's draws for tests/test_random_recorded.py: ``python tests/golden/random/record.py``.

Each case is a call written once for either library (``r`` is ``jax.random`` or
``llax.random``, ``k`` a key made by ``r.key(seed)``); the recording keeps JAX's version
and every value's bits, so the test compares bit patterns without JAX installed.
"""

import json
from pathlib import Path

import numpy as np

CASES = [
    # (call, seed, x64)
    ("r.key_data(r.split(k, 3))", 0, False),
    ("r.key_data(r.fold_in(k, 7))", 1, False),
    ("r.key_data(r.key(-1))", 0, False),
    ("r.key_data(r.key(2**40 + 5))", 0, True),
    ("r.bits(k, (8,))", 2, False),
    ("r.bits(k, (5,), 'uint8')", 2, False),
    ("r.bits(k, (4,))", 2, True),
    ("r.uniform(k, (8,))", 0, False),
    ("r.uniform(k, (2, 3), minval=-2.0, maxval=5.0)", 3, False),
    ("r.uniform(k, (6,))", 4, True),
    ("r.normal(k, (8,))", 0, False),
    ("r.normal(k, (6,))", 5, True),
    ("r.normal(k, (6,), 'float16')", 5, False),
    ("r.randint(k, (8,), -5, 17)", 0, False),
    ("r.randint(k, (6,), 0, 256, 'uint8')", 1, False),
    ("r.randint(k, (5,), -(2**40), 2**40, 'int64')", 1, True),
    ("r.bernoulli(k, 0.3, (10,))", 0, False),
    ("r.permutation(k, 10)", 0, False),
    ("r.permutation(k, r.uniform(r.key(9), (3, 4)), axis=1, independent=True)", 1, False),
    ("r.choice(k, 10, (4,))", 0, False),
    ("r.choice(k, 10, (4,), replace=False)", 0, False),
    ("r.choice(k, 5, (6,), p=r.uniform(r.key(8), (5,)) / r.uniform(r.key(8), (5,)).sum())",
     0, False),
    ("r.categorical(k, r.normal(r.key(8), (3, 5)))", 0, False),
    ("r.gumbel(k, (6,))", 0, False),
    ("r.truncated_normal(k, -1.0, 2.0, (6,))", 0, False),
    ("r.exponential(k, (6,))", 0, False),
    ("r.laplace(k, (6,))", 0, False),
    ("r.logistic(k, (6,))", 0, False),
    ("r.cauchy(k, (6,))", 0, False),
    ("r.rademacher(k, (6,))", 0, False),
    ("r.gamma(k, 3.0, (6,))", 0, False),
    ("r.beta(k, 2.0, 3.0, (6,))", 0, False),
    ("r.dirichlet(k, r.uniform(r.key(8), (4,)) + 0.5)", 0, False),
    ("r.poisson(k, 3.5, (6,))", 0, False),
    ("r.poisson(k, 40.0, (6,))", 0, False),
    ("r.exponential(k, (6,))", 6, True),
    ("r.gamma(k, 0.7, (6,))", 6, True),
]


def _bits(x: np.ndarray) -> list[str]:
    x = np.asarray(x)
    return [f"{int(v):x}" for v in x.view(f"u{x.dtype.itemsize}").reshape(-1)]


def record() -> list[dict]:
    import jax

    out = []
    for call, seed, x64 in CASES:
        jax.config.update("jax_enable_x64", x64)
        value = np.asarray(eval(call, {"r": jax.random, "k": jax.random.key(seed)}))
        out.append({"call": call, "seed": seed, "x64": x64, "dtype": value.dtype.name,
                    "shape": list(value.shape), "bits": _bits(value)})
    jax.config.update("jax_enable_x64", False)
    return out


if __name__ == "__main__":
    import jax

    path = Path(__file__).with_name("jax_draws.json")
    lines = ",\n  ".join(json.dumps(d) for d in record())
    path.write_text(f'{{"jax": "{jax.__version__}",\n "draws": [\n  {lines}\n ]\n}}\n')
    print(f"wrote {path}")
