"""``llax.nn.initializers`` (all of ``jax.nn.initializers``).

An initializer is a function ``init(key, shape, dtype=None, out_sharding=None)`` that
returns a fresh parameter array. The builders here (``normal(stddev)``,
``variance_scaling(...)``, ``glorot_uniform()`` ...) return such functions; ``zeros`` and
``ones`` are initializers themselves. Every random initializer draws from ``llax.random``
exactly the way JAX's does (same samplers, same key splits, same scaling order), so the
same key gives the same values as JAX.

llax runs on one device, so ``out_sharding`` is accepted for signature compatibility and
has nothing to choose between (any sharding of one device is that device).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from llax.frontend import jnp, random
from llax.ir import dtypes

__all__ = [
    "Initializer", "constant", "delta_orthogonal", "glorot_normal", "glorot_uniform",
    "he_normal", "he_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal",
    "lecun_uniform", "normal", "ones", "orthogonal", "truncated_normal", "uniform",
    "variance_scaling", "xavier_normal", "xavier_uniform", "zeros",
]

Axes = int | Sequence[int]

# Standard deviation of a unit normal truncated to [-2, 2] (real) and of a complex unit
# normal whose modulus is truncated to 2: dividing by it makes the truncated samples' own
# standard deviation the one asked for.
_TRUNCATED_STD_REAL = 0.87962566103423978
_TRUNCATED_STD_COMPLEX = 0.95311164380491208


@runtime_checkable
class Initializer(Protocol):
    """What every initializer is: ``init(key, shape, dtype=None, out_sharding=None)``."""

    def __call__(self, key: Any, shape: Sequence[int], dtype: Any = None,
                 out_sharding: Any = None) -> Any:
        raise NotImplementedError


def _dtype_or_default(dtype: Any) -> Any:
    """``dtype``, or the default float (float32; float64 under x64) when it is None."""
    return dtypes.default_float() if dtype is None else dtype


def _shape(shape: Any) -> tuple[int, ...]:
    """A shape argument as a tuple of ints (an int is a 1-D shape, as in JAX)."""
    if isinstance(shape, (int, np.integer)):
        return (operator.index(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError("Shapes must be 1D sequences of concrete values of integer type, "
                        f"got {shape!r}.") from None


def _real_dtype(dtype: Any) -> np.dtype:
    """The real dtype of the same precision (float32 for complex64)."""
    return np.array(0, dtype).real.dtype


def _normal(key: Any, shape: Any, dtype: Any) -> Any:
    """``random.normal``, extended to complex dtypes as JAX's is: independent real and
    imaginary parts from the two halves of the key, each of variance 1/2.

    (``llax.random.normal`` accepts only real float dtypes; this covers the difference.)"""
    if not jnp.issubdtype(dtype, jnp.complexfloating):
        return random.normal(key, shape, dtype)
    real = _real_dtype(dtype)
    key_re, key_im = random.split(key)
    re = random.normal(key_re, shape, real).astype(dtype)
    im = random.normal(key_im, shape, real).astype(dtype)
    return (re + 1j * im) / np.array(np.sqrt(2), dtype)


# --- constant initializers -----------------------------------------------------------------

def zeros(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any:
    """An array of zeros (``key`` is ignored)."""
    return jnp.zeros(shape, _dtype_or_default(dtype))


def ones(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any:
    """An array of ones (``key`` is ignored)."""
    return jnp.ones(shape, _dtype_or_default(dtype))


def constant(value: Any, dtype: Any = None) -> Initializer:
    """An initializer filling arrays with ``value``; ``dtype`` is its default dtype."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        return jnp.full(shape, value, dtype=_dtype_or_default(dtype))
    return init


# --- simple random initializers ------------------------------------------------------------

def uniform(scale: Any = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer drawing uniformly from ``[0, scale)``."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = _dtype_or_default(dtype)
        # Unit draws scaled afterwards (not minval/maxval): JAX rounds it this way.
        return random.uniform(key, shape, dtype) * jnp.array(scale, dtype)
    return init


def normal(stddev: Any = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer drawing from a centred normal with standard deviation ``stddev``."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = _dtype_or_default(dtype)
        return _normal(key, shape, dtype) * jnp.array(stddev, dtype)
    return init


def truncated_normal(stddev: Any = 1e-2, dtype: Any = None, lower: Any = -2.0,
                     upper: Any = 2.0) -> Initializer:
    """An initializer drawing a unit normal truncated to ``[lower, upper]``, times
    ``stddev``. Unlike ``variance_scaling``, the truncation's shrinking of the spread is
    not corrected for."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = _dtype_or_default(dtype)
        return random.truncated_normal(key, lower, upper, shape, dtype) * jnp.array(stddev,
                                                                                   dtype)
    return init


# --- variance scaling ----------------------------------------------------------------------

def _axes_size(shape: tuple[int, ...], axes: Axes) -> int:
    if isinstance(axes, int):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def _compute_fans(shape: tuple[int, ...], in_axis: Axes = -2, out_axis: Axes = -1,
                  batch_axis: Axes = ()) -> tuple[float, float]:
    """(fan_in, fan_out) of a weights array: the input and output sizes, each times the
    receptive field (every axis that is neither input, output nor batch: a convolution
    kernel's spatial axes)."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                         "weights tensor with default in_axis. Must be at least 2D or specify "
                         "in_axis explicitly.")
    in_size = _axes_size(shape, in_axis)
    out_size = _axes_size(shape, out_axis)
    batch_size = _axes_size(shape, batch_axis)
    # True division, as JAX: the fans are floats, which decides the variance's rounding.
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


def _complex_uniform(key: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """Uniform draws from the disk of radius sqrt(2): mean 0, variance 1."""
    key_r, key_theta = random.split(key)
    real = _real_dtype(dtype)
    cdtype = dtypes.complex_of(real)
    # The radius of a uniform point in a disk is the square root of a uniform draw.
    r = jnp.sqrt(2 * random.uniform(key_r, shape, real)).astype(cdtype)
    theta = 2 * np.pi * random.uniform(key_theta, shape, real).astype(cdtype)
    return r * jnp.exp(1j * theta)


def _complex_truncated_normal(key: Any, upper: float, shape: tuple[int, ...],
                              dtype: Any) -> Any:
    """A complex normal of variance 1 with its modulus truncated to ``upper``: the modulus
    by inverting the truncated Rayleigh CDF, the phase uniform."""
    key_r, key_theta = random.split(key)
    real = _real_dtype(dtype)
    cdtype = dtypes.complex_of(real)
    mass = 1 - jnp.exp(jnp.array(-(upper ** 2), cdtype))
    t = mass * random.uniform(key_r, shape, real).astype(cdtype)
    r = jnp.sqrt(-jnp.log(1 - t))
    theta = 2 * np.pi * random.uniform(key_theta, shape, real).astype(cdtype)
    return r * jnp.exp(1j * theta)


def _denominator(mode: str, fan_in: float, fan_out: float) -> float:
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2
    if mode == "fan_geo_avg":
        return (fan_in * fan_out) ** 0.5
    raise ValueError(f"invalid mode for variance scaling initializer: {mode}")


def variance_scaling(
    scale: Any,
    mode: Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"],
    distribution: Literal["truncated_normal", "normal", "uniform"],
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: Any = None,
) -> Initializer:
    """An initializer whose samples have standard deviation ``sqrt(scale / n)``, ``n`` the
    fan picked by ``mode`` (inputs, outputs, their mean or geometric mean).

    ``distribution`` is ``"normal"``, ``"truncated_normal"`` (truncated at two standard
    deviations, then rescaled so the truncated spread is the one asked for) or
    ``"uniform"`` (an interval for real dtypes, a disk for complex ones). Axes not named
    by ``in_axis``, ``out_axis`` or ``batch_axis`` count as the receptive field.
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        shape = _shape(shape)
        dtype = _dtype_or_default(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        variance = jnp.array(scale / _denominator(mode, fan_in, fan_out), dtype=dtype)
        real = jnp.issubdtype(dtype, jnp.floating)
        if distribution == "truncated_normal":
            if real:
                stddev = jnp.sqrt(variance) / jnp.array(_TRUNCATED_STD_REAL, dtype)
                return random.truncated_normal(key, -2, 2, shape, dtype) * stddev
            stddev = jnp.sqrt(variance) / jnp.array(_TRUNCATED_STD_COMPLEX, dtype)
            return _complex_truncated_normal(key, 2, shape, dtype) * stddev
        if distribution == "normal":
            return _normal(key, shape, dtype) * jnp.sqrt(variance)
        if distribution == "uniform":
            if real:
                # Uniform on [-1, 1) has variance 1/3.
                return random.uniform(key, shape, dtype, -1) * jnp.sqrt(3 * variance)
            return _complex_uniform(key, shape, dtype) * jnp.sqrt(variance)
        raise ValueError(
            f"invalid distribution for variance scaling initializer: {distribution}")
    return init


def _scaling_family(name: str, scale: float, mode: str, distribution: str
                    ) -> Callable[..., Initializer]:
    """A named ``variance_scaling`` preset with JAX's signature ``(in_axis, out_axis,
    batch_axis, dtype)``."""

    def preset(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
               dtype: Any = None) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis=in_axis,
                                out_axis=out_axis, batch_axis=batch_axis, dtype=dtype)

    preset.__name__ = preset.__qualname__ = name
    preset.__doc__ = f"``variance_scaling({scale}, {mode!r}, {distribution!r})``."
    return preset


glorot_uniform = _scaling_family("glorot_uniform", 1.0, "fan_avg", "uniform")
glorot_normal = _scaling_family("glorot_normal", 1.0, "fan_avg", "truncated_normal")
lecun_uniform = _scaling_family("lecun_uniform", 1.0, "fan_in", "uniform")
lecun_normal = _scaling_family("lecun_normal", 1.0, "fan_in", "truncated_normal")
he_uniform = _scaling_family("he_uniform", 2.0, "fan_in", "uniform")
he_normal = _scaling_family("he_normal", 2.0, "fan_in", "truncated_normal")
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


# --- orthogonal initializers ---------------------------------------------------------------

def orthogonal(scale: Any = 1.0, column_axis: int = -1, dtype: Any = None) -> Initializer:
    """An initializer of (Haar-)uniformly random orthogonal matrices times ``scale``.

    The array is seen as a matrix whose columns run along ``column_axis`` and whose rows
    are all the other axes flattened; rows or columns, whichever are fewer, come out
    orthonormal.
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        if out_sharding is not None:
            raise NotImplementedError
        dtype = _dtype_or_default(dtype)
        # len() before canonicalizing: an int shape is a TypeError here, as in JAX.
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        shape = _shape(shape)
        if 0 in shape:
            return jnp.zeros(shape, dtype=dtype)
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        q = _orthogonal_matrix(key, n_rows, n_cols, dtype)
        # Rows unflatten into the other axes in order; then the columns move into place.
        others = tuple(np.delete(np.array(shape), column_axis))
        q = jnp.reshape(q, others + (n_cols,))
        return jnp.array(scale, dtype) * jnp.moveaxis(q, -1, column_axis)
    return init


def _orthogonal_matrix(key: Any, n: int, m: int, dtype: Any) -> Any:
    """``random.orthogonal(key, n, (), dtype, m)``, extended to complex dtypes as JAX's
    is (``llax.random.orthogonal`` takes real dtypes only): the Q of a complex normal
    matrix's QR, its columns turned by the phases of R's diagonal, so that the draw is
    Haar-uniform; transposed (not conjugated) when n < m, as JAX."""
    if not jnp.issubdtype(dtype, jnp.complexfloating):
        return random.orthogonal(key, n, (), dtype, m)
    z = _normal(key, (max(n, m), min(n, m)), dtype)
    q, r = jnp.linalg.qr(z)
    x = q * jnp.expand_dims(jnp.sign(jnp.diagonal(r)), -2)
    return x.T if n < m else x


def delta_orthogonal(scale: Any = 1.0, column_axis: int = -1, dtype: Any = None) -> Initializer:
    """An initializer of delta-orthogonal convolution kernels (Xiao et al. 2018): zero
    except at the spatial centre, which holds an orthogonal ``(in, out)`` matrix. Shapes
    are 3-, 4- or 5-D with the two channel axes last and ``in <= out``."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        if out_sharding is not None:
            raise NotImplementedError
        dtype = _dtype_or_default(dtype)
        if len(shape) not in (3, 4, 5):
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
        shape = _shape(shape)
        if shape[-1] < shape[-2]:
            raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
        centre_matrix = orthogonal(scale=scale, column_axis=column_axis,
                                   dtype=dtype)(key, shape[-2:])
        # The centre of an even kernel axis is its lower middle, as in JAX.
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return jnp.zeros(shape, dtype=dtype).at[centre].set(centre_matrix)
    return init
