"""``llax.random``: JAX's counter-based PRNG (threefry2x32), with JAX's numbers.

Keys are explicit values: ``key(seed)`` makes one, ``split`` and ``fold_in``
derive new ones, and every sampler is a pure function of its key.
"""

from llax.frontend.random.discrete import choice, permutation
from llax.frontend.random.distributions import bernoulli, bits, normal, randint, uniform
from llax.frontend.random.keys import (
    KeyArray,
    PRNGKey,
    clone,
    fold_in,
    key,
    key_data,
    key_impl,
    split,
    wrap_key_data,
)
from llax.frontend.random.loops import beta, dirichlet, gamma, loggamma, poisson

__all__ = ["KeyArray", "PRNGKey", "bernoulli", "beta", "bits", "choice", "clone", "dirichlet",
           "fold_in", "gamma", "key", "key_data", "key_impl", "loggamma", "normal", "permutation",
           "poisson", "randint", "split", "uniform", "wrap_key_data"]
