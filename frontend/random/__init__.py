"""``llax.random``: JAX's counter-based PRNG (threefry2x32), with JAX's numbers.

Keys are explicit values: ``key(seed)`` makes one, ``split`` and ``fold_in``
derive new ones, and every sampler is a pure function of its key.
"""

from llax.frontend.random.continuous import (
    categorical,
    cauchy,
    double_sided_maxwell,
    exponential,
    geometric,
    gumbel,
    laplace,
    logistic,
    lognormal,
    maxwell,
    multivariate_normal,
    orthogonal,
    pareto,
    rademacher,
    rayleigh,
    triangular,
    truncated_normal,
    wald,
    weibull_min,
)
from llax.frontend.random.derived import ball, binomial, chisquare, f, generalized_normal, t
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

__all__ = ["KeyArray", "PRNGKey", "ball", "bernoulli", "beta", "binomial", "bits", "categorical",
           "cauchy", "chisquare", "choice", "clone", "dirichlet", "double_sided_maxwell",
           "exponential", "f", "fold_in", "gamma", "generalized_normal", "geometric", "gumbel",
           "key", "key_data", "key_impl", "laplace", "loggamma", "logistic", "lognormal",
           "maxwell", "multivariate_normal", "normal", "orthogonal", "pareto", "permutation",
           "poisson", "rademacher", "randint", "rayleigh", "split", "t", "triangular",
           "truncated_normal", "uniform", "wald", "weibull_min", "wrap_key_data"]
