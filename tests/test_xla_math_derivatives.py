"""Derivatives through llax.frontend.xla_math (XLA's CPU formulas that JAX's numbers depend
on): each function is differentiated by its own rule, not through its bit-level formula; and
the samplers built on them differentiate in their parameters as JAX's do."""

import math

import jax
import numpy as np
import pytest
from scipy import special

import llax
from llax.frontend import xla_math

X = np.array([0.05, 0.3, 0.7, 0.95], np.float32)
DERIVATIVES = {
    "log": lambda x: 1 / x,
    "log1p": lambda x: 1 / (1 + x),
    "exp": np.exp,
    "erf": lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x),
    "erf_inv": lambda x: math.sqrt(math.pi) / 2 * np.exp(special.erfinv(x) ** 2),
    "lgamma": special.digamma,
    "digamma": lambda x: special.polygamma(1, x),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivative_is_the_functions_own(name):
    ours = np.asarray(llax.vmap(llax.grad(getattr(xla_math, name)))(X))
    np.testing.assert_allclose(ours, DERIVATIVES[name](X.astype(np.float64)), rtol=2e-6)


SAMPLERS = {
    "truncated_normal": lambda r, k, p: r.truncated_normal(k, -p, p, (64,)),
    "pareto": lambda r, k, p: r.pareto(k, p, (64,)),
    "weibull_min": lambda r, k, p: r.weibull_min(k, p, p + 1.0, (64,)),
    "rayleigh": lambda r, k, p: r.rayleigh(k, p, (64,)),
    "lognormal": lambda r, k, p: r.lognormal(k, p, (64,)),
    "generalized_normal": lambda r, k, p: r.generalized_normal(k, p, (64,)),
    "t": lambda r, k, p: r.t(k, p, (64,)),
    "chisquare": lambda r, k, p: r.chisquare(k, p, (64,)),
    "wald": lambda r, k, p: r.wald(k, p, (64,)),
    "triangular": lambda r, k, p: r.triangular(k, 0.0, p, p + 1.0, (64,)),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_gradient_in_its_parameters_matches_jax(name):
    draw = SAMPLERS[name]
    ours = llax.grad(lambda p: draw(llax.random, llax.random.key(0), p).sum())(1.5)
    theirs = jax.grad(lambda p: draw(jax.random, jax.random.key(0), p).sum())(1.5)
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-4)
