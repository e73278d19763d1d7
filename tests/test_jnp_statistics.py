"""Statistics of ``llax.numpy`` (quantiles, averages, covariance, the nan* reductions)
against JAX: eager and jitted, float32/int32/bool, scalars and empty inputs, gradients
and vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.tests.jnp_oracle import assert_same, check, check_many, sample
from llax.tests.jnp_oracle import x64 as x64  # noqa: F401 - fixture

DTYPES = ["float32", "int32", "bool"]
Q = np.array([0.0, 0.25, 0.5, 0.9, 1.0], np.float32)


def _fn(make):
    return (lambda x: make(lnp, x)), (lambda x: make(jnp, x))


def _call(name, *args, **kwargs):
    """``numpy_module.<name>(x, *args, **kwargs)`` as a function of the module and ``x``."""
    return lambda m, x: getattr(m, name)(x, *args, **kwargs)


NAN_REDUCTIONS = ["nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd"]

CUBE_CASES = {
    **{f"{n} {ax}": _call(n, axis=ax) for n in NAN_REDUCTIONS for ax in (None, (0, 2))},
    **{f"{n} 1": _call(n, axis=1) for n in ("nansum", "nanmean")},
    **{f"{n} keepdims": _call(n, axis=2, keepdims=True) for n in ("nanmax", "nanvar", "nanstd")},
    "nanvar ddof": lambda m, x: m.nanvar(x, axis=0, ddof=1),
    "nanstd ddof big": lambda m, x: m.nanstd(x, axis=0, ddof=5),
    "nanmean where": lambda m, x: m.nanmean(x, axis=1, where=x > 0),
    "nansum dtype": lambda m, x: m.nansum(x, axis=1, dtype=np.float32),
    "nanargmax": lambda m, x: m.nanargmax(x),
    "nanargmax axis": lambda m, x: m.nanargmax(x, axis=1),
    "nanargmin axis keep": lambda m, x: m.nanargmin(x, axis=2, keepdims=True),
    "ptp": lambda m, x: m.ptp(x),
    "ptp axis": lambda m, x: m.ptp(x, axis=(0, 2), keepdims=True),
    "median": lambda m, x: m.median(x),
    "median axis": lambda m, x: m.median(x, axis=1),
    "median keep": lambda m, x: m.median(x, axis=(0, 2), keepdims=True),
    "nanmedian axis": lambda m, x: m.nanmedian(x, axis=2),
    "nanmedian keep": lambda m, x: m.nanmedian(x, axis=None, keepdims=True),
    **{f"quantile {method}": _call("quantile", Q, axis=1, method=method)
       for method in ("linear", "lower", "higher", "midpoint", "nearest")},
    **{f"nanquantile {method}": _call("nanquantile", Q, axis=2, method=method, keepdims=True)
       for method in ("linear", "nearest")},
    "quantile scalar q": lambda m, x: m.quantile(x, 0.3),
    "quantile inverted_cdf": _call("quantile", Q, axis=1, method="inverted_cdf"),
    "nanquantile weights": _call("nanquantile", Q, axis=2, method="inverted_cdf",
                                 weights=sample("float32", (5,), seed=4, low=-0.5)),
    "quantile full weights": _call("quantile", 0.4, method="inverted_cdf", keepdims=True,
                                   weights=sample("float32", (3, 4, 5), seed=5, low=0)),
    "percentile axes weights": _call("nanpercentile", 60.0, axis=(0, 2), method="inverted_cdf",
                                     weights=sample("float32", (3, 5), seed=6, low=0)),
    "quantile tuple axis": lambda m, x: m.quantile(x, Q, axis=(0, 2), keepdims=True),
    "percentile": lambda m, x: m.percentile(x, np.array([10.0, 50.0, 95.0]), axis=0),
    "nanpercentile": lambda m, x: m.nanpercentile(x, 40, axis=1, method="nearest"),
    "average": lambda m, x: m.average(x),
    "average axis": lambda m, x: m.average(x, axis=(0, 1)),
    "average weights 1d": lambda m, x: m.average(x, axis=1, weights=np.arange(1.0, 5.0)),
    "average weights full": lambda m, x: m.average(
        x, axis=2, weights=sample("float32", (3, 4, 5), seed=3, special=False, low=0.1),
        returned=True),
    "average returned": lambda m, x: m.average(x, axis=0, returned=True, keepdims=True),
}

MATRIX_CASES = {
    "cov": lambda m, x: m.cov(x),
    "cov cols": lambda m, x: m.cov(x, rowvar=False),
    "cov bias": lambda m, x: m.cov(x, bias=True),
    "cov ddof": lambda m, x: m.cov(x, ddof=2),
    "cov y": lambda m, x: m.cov(x, x[::-1] * 2),
    "cov fweights": lambda m, x: m.cov(x, fweights=np.array([1, 2, 1, 3, 1, 1])),
    "cov aweights": lambda m, x: m.cov(x, aweights=np.array([0.5, 1, 2, 1, 1, 0.25])),
    "cov both": lambda m, x: m.cov(x, fweights=np.array([1, 2, 1, 3, 1, 1]),
                                   aweights=np.array([0.5, 1, 2, 1, 1, 0.25])),
    "cov 1 row": lambda m, x: m.cov(x[0]),
    "cov 1 row cols": lambda m, x: m.cov(x[:1], rowvar=False),
    "cov dtype": lambda m, x: m.cov(x, dtype=np.float32),
    "cov negative weights": lambda m, x: m.cov(x, fweights=np.array([1, -2, 1, 3, 1, 1]),
                                               aweights=np.array([0.5, 1, -2, 1, 1, 0.25])),
    "cov no samples": lambda m, x: m.cov(x[:, :0]),
    "nanvar mean": lambda m, x: m.nanvar(x, axis=1, mean=m.nanmean(x, axis=1, keepdims=True)),
    "corrcoef": lambda m, x: m.corrcoef(x),
    "corrcoef cols": lambda m, x: m.corrcoef(x, x[::-1] + 1, rowvar=False),
    "corrcoef 1 row": lambda m, x: m.corrcoef(x[0]),
    "corrcoef dtype": lambda m, x: m.corrcoef(x, dtype=np.float32),
}


# Integer and bool operands: the dtype rules (no NaNs, promotion to float, widened sums).
INTEGER_CASES = ["nansum 1", "nanprod None", "nanmax (0, 2)", "nanmean 1", "nanvar None",
                 "nanstd keepdims", "nanargmax axis", "ptp axis", "median axis",
                 "quantile linear", "nanquantile nearest", "quantile inverted_cdf", "percentile",
                 "average weights 1d", "average returned"]


def test_cube_statistics_match_jax():
    x = sample("float32", (3, 4, 5))
    check_many({n: _fn(f) for n, f in CUBE_CASES.items()}, x)


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_integer_statistics_match_jax(dtype):
    x = sample(dtype, (3, 4, 5))
    check_many({n: _fn(CUBE_CASES[n]) for n in INTEGER_CASES}, x, jit=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_statistics_match_jax(dtype):
    x = sample(dtype, (4, 6), special=False)
    check_many({n: _fn(f) for n, f in MATRIX_CASES.items()}, x, jit=dtype == "float32")


def test_all_nan_slices_and_nan_free_rows():
    x = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 3.0], [2.0, 1.0, 0.5]], np.float32)
    cases = {n: _fn(_call(n, axis=1))
             for n in NAN_REDUCTIONS + ["nanargmax", "nanargmin", "nanmedian"]}
    cases["nanquantile"] = _fn(lambda m, x: m.nanquantile(x, Q, axis=1))
    cases["quantile"] = _fn(lambda m, x: m.quantile(x, Q, axis=0))
    check_many(cases, x)


def test_scalars_and_empty_inputs():
    for make in [lambda m, x: m.nansum(x), lambda m, x: m.nanmean(x),
                 lambda m, x: m.median(x), lambda m, x: m.ptp(x),
                 lambda m, x: m.nanmax(x), lambda m, x: m.average(x),
                 lambda m, x: m.quantile(x, 0.5), lambda m, x: m.nanvar(x)]:
        check(*_fn(make), np.float32(2.5))
        check(*_fn(make), 3.0, jit=False)
    empty = np.zeros((0, 3), np.float32)
    for make in [lambda m, x: m.nansum(x, axis=0), lambda m, x: m.nanmean(x, axis=0),
                 lambda m, x: m.nanprod(x, axis=1), lambda m, x: m.median(x, axis=1),
                 lambda m, x: m.nanvar(x, axis=0)]:
        check(*_fn(make), empty)


def test_bad_arguments_raise_as_in_jax():
    x = sample("float32", (3, 4))
    for bad in [lambda m: m.quantile(x, 0.5, method="bogus"),
                lambda m: m.quantile(x, np.ones((2, 2)) / 2),
                lambda m: m.quantile(x, 0.5, overwrite_input=True),
                lambda m: m.quantile(x, 0.5, axis=1, weights=np.ones(4)),
                lambda m: m.quantile(x, 0.5, method="inverted_cdf", weights=np.ones(4)),
                lambda m: m.quantile(x, 0.5, axis=0, method="inverted_cdf", weights=np.ones(4)),
                lambda m: m.average(x, axis=None, weights=np.ones(4)),
                lambda m: m.average(x, axis=1, weights=np.ones(3)),
                lambda m: m.cov(np.ones((2, 2, 2))),
                lambda m: m.percentile([1.0, 2.0], 50)]:
        with pytest.raises(Exception) as jax_error:
            bad(jnp)
        with pytest.raises(jax_error.type):
            bad(lnp)


GRAD_CASES = {
    "median": lambda m, x: m.median(x),
    "quantile": lambda m, x: m.quantile(x, 0.3),
    "nanmean": lambda m, x: m.nanmean(x),
    "nanstd": lambda m, x: m.nanstd(x),
    "nansum": lambda m, x: m.nansum(x * x),
    "nanmax": lambda m, x: m.nanmax(x),
    "average": lambda m, x: m.average(x, weights=m.abs(x) + 1.0),
    "cov": lambda m, x: m.sum(m.cov(m.reshape(x, (2, 4)))),
    "corrcoef": lambda m, x: m.sum(m.corrcoef(m.reshape(x, (2, 4))) ** 2),
    "ptp": lambda m, x: m.ptp(x),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_jax(name):
    x = np.array([0.3, np.nan, 1.7, -0.4, 2.2, 0.9, -1.1, 0.5], np.float32)
    if name in ("median", "quantile", "average", "cov", "corrcoef", "ptp"):
        x = np.nan_to_num(x, nan=0.1)
    make = GRAD_CASES[name]
    want = jax.grad(lambda x: make(jnp, x))(x)
    assert_same(llax.grad(lambda x: make(lnp, x))(x), want, rtol=1e-4, atol=1e-5)
    assert_same(llax.jit(llax.grad(lambda x: make(lnp, x)))(x), want, rtol=1e-4, atol=1e-5)


VMAP_CASES = {
    "median": lambda m, v: m.median(v, axis=1),
    "nanmean": lambda m, v: m.nanmean(v, axis=0),
    "quantile": lambda m, v: m.quantile(v, Q, axis=1),
    "cov": lambda m, v: m.cov(v),
    "nanargmin": lambda m, v: m.nanargmin(v, axis=1),
    "average": lambda m, v: m.average(v, axis=1, weights=v[0] ** 2),
}


@pytest.mark.parametrize("name", sorted(VMAP_CASES))
def test_vmap_matches_a_loop(name):
    make = VMAP_CASES[name]
    x = sample("float32", (4, 3, 5), special=False)
    x[1, 0, 2] = np.nan
    got = llax.vmap(lambda v: make(lnp, v))(x)
    assert_same(got, lnp.stack([make(lnp, v) for v in x]), rtol=1e-5)
    assert_same(got, jax.vmap(lambda v: make(jnp, v))(x), rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_result_dtypes_in_both_precision_modes(x64, dtype):
    x = sample(dtype, (3, 4), special=False)
    cases = {n: _fn(_call(n, axis=1)) for n in NAN_REDUCTIONS + ["median", "ptp", "average"]}
    cases["quantile"] = _fn(_call("quantile", 0.25, axis=0))
    cases["cov"] = _fn(_call("cov"))
    check_many(cases, x, jit=False)


def test_quantiles_over_empty_leading_dimensions_match_jax():
    x = np.zeros((0, 4), np.float32)
    for fn in [lambda m, x: m.quantile(x, 0.3, axis=1), lambda m, x: m.median(x, axis=-1),
               lambda m, x: m.nanquantile(x, np.array([0.2, 0.9], np.float32), axis=1),
               lambda m, x: m.percentile(x, 40.0, axis=1, method="nearest")]:
        check(lambda x, fn=fn: fn(lnp, x), lambda x, fn=fn: fn(jnp, x), x)


def test_complex_operands_are_refused_as_in_jax():
    z = np.array([1 + 2j, 3 - 1j, 0.5j], np.complex64)
    for fn in [lambda m: m.median(z), lambda m: m.nanmedian(z), lambda m: m.quantile(z, 0.5),
               lambda m: m.percentile(z, 50), lambda m: m.clip(z, 0, 1), lambda m: m.clip(z),
               lambda m: m.clip(np.arange(3.0), 1j, 2), lambda m: m.clip()]:
        with pytest.raises(ValueError) as want:
            fn(jnp)
        with pytest.raises(ValueError) as got:
            fn(lnp)
        assert str(got.value) == str(want.value)


@pytest.mark.parametrize("name", ["nanvar", "nanstd"])
def test_nan_spread_of_complex_is_real_and_skips_nans(name: str):
    z = np.array([[1 + 2j, np.nan, 3 - 1j], [0.5j, 2, complex(1, np.nan)]], np.complex64)
    for kwargs in ({}, {"axis": 1, "ddof": 1}, {"axis": 0, "keepdims": True}):
        assert_same(getattr(lnp, name)(z, **kwargs), getattr(jnp, name)(z, **kwargs),
                    rtol=1e-6, atol=1e-6)
