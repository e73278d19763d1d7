"""``llax.nn``: JAX's neural-network functions (activations, softmax, one_hot...).

Values and derivatives follow ``jax.nn``, numerically stable forms included: relu and
relu6 are custom_jvp functions whose derivative is 0 at the kinks, softmax, log_softmax
and logsumexp subtract a max that differentiation treats as a constant, softplus is
``logaddexp(x, 0)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from llax.frontend import jnp, lax
from llax.frontend.core import checks_at_boundary
from llax.frontend.custom_derivatives import custom_jvp
from llax.frontend.jnp._coerce import as_array, promote
from llax.frontend.jnp._reductions import canonical_axes
from llax.frontend.scipy.special import logsumexp
from llax.ir import dtypes

Axis = int | Sequence[int] | None

__all__ = [
    "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "identity", "leaky_relu", "log1mexp", "log_sigmoid", "log_softmax", "logmeanexp",
    "logsumexp", "mish", "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "soft_sign",
    "softmax", "softplus", "sparse_plus", "sparse_sigmoid", "squareplus", "standardize",
    "swish", "tanh",
]

tanh = jnp.tanh


def _gate(keep: Any, g: Any) -> Any:
    """The tangent ``g`` where ``keep`` holds and 0 elsewhere (derivative of a clamp)."""
    return lax.select(keep, g, lax.full_like(g, 0))


def _inexact(name: str, x: Any) -> Any:
    """``x`` as a floating array (integers promote as in JAX)."""
    (x,), _ = promote(name, [x], "inexact")
    return as_array(x, name)


# ---------------------------------------------------------------------------------------------
# Elementwise activations


def identity(x: Any) -> Any:
    """``x`` unchanged (as an array)."""
    return as_array(x, "identity")


@custom_jvp
def relu(x: Any) -> Any:
    """``max(x, 0)``; its derivative at 0 is 0, as in JAX."""
    return jnp.maximum(x, 0)


relu.defjvps(lambda g, ans, x: _gate(x > 0, g))


@custom_jvp
def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``; its derivative is 0 at both kinks, 0 and 6."""
    return jnp.minimum(jnp.maximum(x, 0), 6.0)


relu6.defjvps(lambda g, ans, x: _gate((x > 0) & (x < 6), g))


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``, the ``logistic`` primitive (stable at both ends)."""
    return lax.logistic(x)


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for very negative ``x``."""
    return -softplus(-as_array(x, "log_sigmoid"))


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))`` as ``logaddexp(x, 0)``: no overflow, gradient 1 for large ``x``."""
    return jnp.logaddexp(x, 0)


def silu(x: Any) -> Any:
    """``x * sigmoid(x)``, also called swish."""
    x = as_array(x, "silu")
    return x * sigmoid(x)


swish = silu


def mish(x: Any) -> Any:
    """``x * tanh(softplus(x))``."""
    x = as_array(x, "mish")
    return x * jnp.tanh(softplus(x))


def soft_sign(x: Any) -> Any:
    """``x / (|x| + 1)``."""
    x = as_array(x, "soft_sign")
    return x / (jnp.abs(x) + 1)


def squareplus(x: Any, b: Any = 4) -> Any:
    """``(x + sqrt(x**2 + b)) / 2``, a smooth relu."""
    x, b = as_array(x, "squareplus"), as_array(b, "squareplus", 1)
    return (x + jnp.sqrt(jnp.square(x) + b)) / 2


def elu(x: Any, alpha: Any = 1.0) -> Any:
    """``x`` above 0, ``alpha * (exp(x) - 1)`` below; expm1 sees no positive ``x`` (no inf)."""
    x = as_array(x, "elu")
    positive = x > 0
    return jnp.where(positive, x, alpha * jnp.expm1(jnp.where(positive, 0.0, x)))


def selu(x: Any) -> Any:
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al."""
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def celu(x: Any, alpha: Any = 1.0) -> Any:
    """``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``, an elu differentiable at 0."""
    return jnp.maximum(x, 0.0) + alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


def leaky_relu(x: Any, negative_slope: Any = 1e-2) -> Any:
    """``x`` from 0 up, ``negative_slope * x`` below."""
    x = as_array(x, "leaky_relu")
    return jnp.where(x >= 0, x, negative_slope * x)


def hard_tanh(x: Any) -> Any:
    """``x`` clamped to [-1, 1]."""
    x = as_array(x, "hard_tanh")
    return jnp.where(x > 1, 1, jnp.where(x < -1, -1, x))


def hard_sigmoid(x: Any) -> Any:
    """``relu6(x + 3) / 6``, a piecewise-linear sigmoid."""
    return relu6(as_array(x, "hard_sigmoid") + 3.0) / 6.0


def hard_silu(x: Any) -> Any:
    """``x * hard_sigmoid(x)``, also called hard_swish."""
    x = as_array(x, "hard_silu")
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def sparse_plus(x: Any) -> Any:
    """0 up to -1, ``(x + 1)**2 / 4`` between -1 and 1, ``x`` from 1: a sparse softplus."""
    x = as_array(x, "sparse_plus")
    return jnp.where(x <= -1.0, 0.0, jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x: Any) -> Any:
    """``clip((x + 1) / 2, 0, 1)``, the derivative of sparse_plus."""
    return 0.5 * jnp.clip(as_array(x, "sparse_sigmoid") + 1.0, 0.0, 2.0)


def gelu(x: Any, approximate: bool = True) -> Any:
    """Gaussian error linear unit ``x * Phi(x)``: the tanh approximation, or exact with erfc."""
    x = _inexact("gelu", x)
    if approximate:
        # The constants are NumPy scalars of x's dtype, which (as in JAX) are not weak.
        sqrt_2_over_pi = np.sqrt(2 / np.pi).astype(x.dtype)
        cdf = 0.5 * (1.0 + jnp.tanh(sqrt_2_over_pi * (x + 0.044715 * (x ** 3))))
        return x * cdf
    sqrt_half = np.sqrt(0.5).astype(x.dtype)
    return jnp.asarray(0.5 * x * lax.erfc(-x * sqrt_half), dtype=x.dtype)


@custom_jvp
def log1mexp(x: Any) -> Any:
    """``log(1 - exp(-x))`` for ``x >= 0``, by whichever of two forms is accurate (Maechler)."""
    x = as_array(x, "log1mexp")
    return jnp.where(x < math.log(2.0), jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))


log1mexp.defjvps(lambda g, ans, x: g / jnp.expm1(x))


def glu(x: Any, axis: int = -1) -> Any:
    """Gated linear unit: the first half of ``x`` along ``axis`` times sigmoid of the second."""
    x = as_array(x, "glu")
    size = x.shape[axis]
    if size % 2:
        raise ValueError(f"glu: axis size must be divisible by 2, got {size}")
    half = size // 2
    axis = canonical_axes(axis, x.ndim)[0]
    return lax.slice_in_dim(x, 0, half, axis=axis) * sigmoid(
        lax.slice_in_dim(x, half, size, axis=axis))


# ---------------------------------------------------------------------------------------------
# Normalisations over axes


def _masked_max(x: Any, axis: Axis, where: Any) -> Any:
    """The max over ``axis`` (dimensions kept), ``-inf`` where nothing is selected."""
    return jnp.max(x, axis, where=where, initial=-math.inf, keepdims=True)


@checks_at_boundary
def softmax(x: Any, axis: Axis = -1, where: Any = None) -> Any:
    """``exp(x) / sum(exp(x))`` over ``axis``, shifted by the (constant) max so nothing overflows.

    Elements where ``where`` is False are left out and give 0.
    """
    x = as_array(x, "softmax")
    shifted = x if where is None else jnp.where(where, x, -math.inf)
    unnormalized = jnp.exp(shifted - lax.stop_gradient(_masked_max(x, axis, where)))
    result = unnormalized / jnp.sum(unnormalized, axis, where=where, keepdims=True)
    return result if where is None else jnp.where(where, result, 0)


@checks_at_boundary
def log_softmax(x: Any, axis: Axis = -1, where: Any = None) -> Any:
    """``x - logsumexp(x)`` over ``axis``, shifted by the (constant) max so nothing overflows.

    Elements where ``where`` is False are left out and give ``-inf``.
    """
    x = as_array(x, "log_softmax")
    masked = x if where is None else jnp.where(where, x, -math.inf)
    shifted = masked - lax.stop_gradient(_masked_max(x, axis, where))
    result = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis, where=where, keepdims=True))
    return result if where is None else jnp.where(where, result, -math.inf)


def logmeanexp(x: Any, axis: Axis = None, where: Any = None, keepdims: bool = False) -> Any:
    """``logsumexp(x) - log(n)``, the log of the mean of ``exp(x)`` over ``axis``."""
    lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
    ones = jnp.ones(jnp.shape(x), lse.dtype)
    count = jnp.sum(ones, axis, where=where, keepdims=keepdims)
    return lse - jnp.log(count)


def standardize(x: Any, axis: Axis = -1, mean: Any = None, variance: Any = None,
                epsilon: Any = 1e-5, where: Any = None, *, algorithm: str = "fast") -> Any:
    """``(x - mean) / sqrt(variance + epsilon)`` over ``axis``.

    The variance is ``mean(x**2) - mean**2`` clipped at 0 (``algorithm="fast"``, JAX's
    default) or ``mean((x - mean)**2)`` (``"stable"``).
    """
    x = as_array(x, "standardize")
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = jnp.mean(jnp.square(x - mean), axis, keepdims=True, where=where)
        elif algorithm == "fast":
            variance = jnp.mean(jnp.square(x), axis, keepdims=True, where=where)
            variance = jnp.clip(variance - jnp.square(mean), 0)
        else:
            raise ValueError(f"Unknown algorithm '{algorithm}'. Expected 'fast' or 'stable'.")
    return jnp.subtract(x, mean) * lax.rsqrt(variance + epsilon)


def one_hot(x: Any, num_classes: int, *, dtype: Any = None, axis: int = -1) -> Any:
    """1 where ``x`` equals the class index along a new ``axis`` of size ``num_classes``.

    Indices outside ``[0, num_classes)`` (negative ones included) give all-zero rows.
    """
    x = jnp.asarray(x)
    num_classes = int(num_classes)
    if dtypes.kind(x.dtype) not in "iu":
        warnings.warn(f"jax.nn.one_hot input should be integer-typed; got dtype={x.dtype}",
                      DeprecationWarning, stacklevel=2)
    dtype = dtypes.default_float() if dtype is None else dtype
    out_axis = canonical_axes(axis, x.ndim + 1)[0]
    classes_shape = [1] * x.ndim
    classes_shape.insert(out_axis, num_classes)
    classes = lax.broadcasted_iota(x.dtype, classes_shape, out_axis)
    return (jnp.expand_dims(x, out_axis) == classes).astype(dtype)
