"""Regressions for bugs the differential fuzzer (tests/test_fuzz.py) found, fixed in the
reference implementations and the numpy layer. Each case is the fuzzer's shrunk
reproduction, checked against JAX or a float64 oracle."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.special

import llax
import llax.lax as lax
import llax.numpy as jnp
from llax.tests.fuzz_oracle import ulp_distance


def _interpreted(fn):
    return llax.jit(fn, backend="interpreter")


def _ulps(got, want: np.ndarray) -> np.ndarray:
    return ulp_distance(np.asarray(got, np.float32), want)


def test_pad_of_a_scalar_is_the_scalar() -> None:
    # The reference pad handed NumPy an empty pad_width and raised TypeError.
    x, fill = np.float32(2.5), np.float32(-1.0)
    want = np.asarray(jax.lax.pad(x, fill, ()))
    for run in (lax.pad, _interpreted(lax.pad), llax.jit(lax.pad, static_argnums=2)):
        got = np.asarray(run(x, fill, ()))
        assert got.shape == want.shape == () and got == want


def test_sign_keeps_the_sign_of_zero() -> None:
    # sign(-0.0) is -0.0 in JAX; the reference and the native code returned +0.0.
    x = np.float32([-0.0, 0.0, -2.0, 3.0, np.nan, -np.inf])
    want = np.asarray(jax.numpy.sign(x))
    for got in (jnp.sign(x), _interpreted(jnp.sign)(x), _interpreted(lax.sign)(x),
                llax.jit(jnp.sign)(x), llax.jit(jnp.sign)(x.astype(np.float64))):
        got = np.asarray(got)
        np.testing.assert_array_equal(got, want)
        assert np.signbit(got).tolist() == np.signbit(want).tolist()


def test_erf_inv_of_tiny_arguments() -> None:
    # Newton's residual (1 - a) - erfc(y) lost all of a tiny a: erf_inv(5.5e-17) was 0.
    x = np.float32([5.54757e-17, -1e-20, 1e-10, 3e-8, -0.0, 0.0, 0.25, -0.999])
    want = scipy.special.erfinv(x.astype(np.float64)).astype(np.float32)
    got = np.asarray(lax.erf_inv(x))
    assert (_ulps(got, want) <= 2).all(), (got, want)
    assert np.signbit(got).tolist() == np.signbit(x).tolist()  # as JAX's: erf_inv(-0) = -0


def test_logistic_of_large_negative_arguments() -> None:
    # 1 / (1 + exp(-x)) in float32 overflowed exp and gave 0 below x = -88.7, where the
    # result is still a (subnormal) float32.
    x = np.float32([-88.72304, -90.0, -100.0, -103.0, -104.0, -20.0, 0.0, 30.0])
    want = scipy.special.expit(x.astype(np.float64)).astype(np.float32)
    for got in (lax.logistic(x), _interpreted(lax.logistic)(x)):
        assert (_ulps(np.asarray(got), want) <= 1).all(), (got, want)


@pytest.mark.parametrize("pad_width, value", [
    (1, 0), ((1, 2), 7), (((0, 1), (2, 0)), 1e30), (((1, 1),), True), (((1, 1), (0, 0)), -3),
])
def test_pad_with_a_constant(pad_width, value) -> None:
    # jnp.pad did not exist.
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    want = np.asarray(jax.numpy.pad(x, pad_width, constant_values=value))
    for got in (jnp.pad(x, pad_width, constant_values=value),
                llax.jit(lambda a: jnp.pad(a, pad_width, constant_values=value))(x)):
        got = np.asarray(got)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_pad_rejects_what_it_cannot_do() -> None:
    x = np.zeros((2, 2), np.float32)
    with pytest.raises(NotImplementedError, match="no-such-mode"):  # as JAX's
        jnp.pad(x, 1, mode="no-such-mode")
    with pytest.raises(ValueError, match="negative"):
        jnp.pad(x, -1)
    with pytest.raises(ValueError, match="rank 2"):
        jnp.pad(x, ((1, 1), (1, 1), (1, 1)))
    with pytest.raises(TypeError, match="integers"):
        jnp.pad(x, 1.5)


@pytest.mark.parametrize("x", [np.int32([1, -2, 7]), np.bool_([True, False]), np.int8([3])])
def test_rint_of_integers_gives_the_default_float(x) -> None:
    # jnp.rint casts integers to the default float: float64 under x64 (llax gave float32).
    from tests.jnp_oracle import x64_mode

    for on in (False, True):
        with x64_mode(on):
            want = jax.numpy.rint(x)
            # (a fresh function each time: llax.jit's cache does not key on x64 yet)
            for got in (jnp.rint(x), llax.jit(lambda a: jnp.rint(a))(x)):
                assert got.dtype == want.dtype and got.weak_type == want.weak_type
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_signbit_and_copysign_read_the_sign_bit_of_nan() -> None:
    # Found by the long fuzz run: copysign(0.0, v) with v = sqrt(-inf), the CPU's default NaN
    # (sign bit set), was +0.0 in llax and -0.0 in JAX and NumPy.
    x = np.array([0xFFC00000, 0x7FC00000, 0xFF800001, 0x80000000], np.uint32).view(np.float32)
    want_bit = np.signbit(x)
    assert want_bit.tolist() == np.asarray(jax.numpy.signbit(x)).tolist()
    want = np.copysign(np.float32(0), x)
    for run in (lambda f: f, _interpreted, llax.jit):
        assert np.asarray(run(jnp.signbit)(x)).tolist() == want_bit.tolist()
        got = np.asarray(run(lambda v: jnp.copysign(0.0, v))(x))
        assert np.signbit(got).tolist() == np.signbit(want).tolist()
