"""JAX's "accelerated NumPy" and "jit" quickstart, run on llax.

    python examples/quickstart.py
"""

import numpy as np

import llax as jax
import llax.numpy as jnp

x = jnp.arange(5.0)
print("x            =", x)
print("jnp.dot(x, x) =", jnp.dot(x, x))


def selu(x, alpha=1.67, lmbda=1.05):
    return lmbda * jnp.where(x > 0, x, alpha * jnp.exp(x) - alpha)


selu_jit = jax.jit(selu)
v = jnp.asarray(np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32))
print("selu(v)[:3]   =", selu_jit(v)[:3])
print("matches eager:", bool(jnp.allclose(selu_jit(v), selu(v), rtol=1e-6, atol=1e-6)))
print(jax.make_jaxpr(selu)(3.0))
