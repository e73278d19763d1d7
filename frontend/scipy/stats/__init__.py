# ruff: noqa: F401 - this module re-exports the distribution modules
"""``llax.scipy.stats``: probability distributions as JAX provides them, one module per
family (``norm.logpdf``, ``gamma.cdf``, ...)."""

from llax.frontend.scipy.stats import (
    bernoulli,
    beta,
    binom,
    cauchy,
    chi2,
    dirichlet,
    expon,
    gamma,
    geom,
    gumbel_l,
    gumbel_r,
    laplace,
    logistic,
    multivariate_normal,
    norm,
    pareto,
    poisson,
    t,
    uniform,
)

__all__ = ["bernoulli", "beta", "binom", "cauchy", "chi2", "dirichlet", "expon", "gamma",
           "geom", "gumbel_l", "gumbel_r", "laplace", "logistic", "multivariate_normal", "norm",
           "pareto", "poisson", "t", "uniform"]
