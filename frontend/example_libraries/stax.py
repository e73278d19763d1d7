"""``llax.example_libraries.stax`` (JAX's API): neural networks from ``(init_fun,
apply_fun)`` pairs.

A layer is a pair of functions:

* ``init_fun(rng, input_shape) -> (output_shape, params)`` builds the layer's parameters
  for inputs of ``input_shape`` (a tuple; -1 stands for a batch size not yet known);
* ``apply_fun(params, inputs, **kwargs) -> outputs`` runs it. ``rng=`` is the one keyword
  that layers use (``Dropout`` needs a key); combinators split it between their children.

Combinators (``serial``, ``parallel``, ``FanOut``, ``FanInSum``, ``FanInConcat``,
``shape_dependent``) build layers from layers. Parameters are plain pytrees (tuples and
lists of arrays), so they go straight into ``grad``, ``jit`` and the optimizers of
``llax.example_libraries.optimizers``.

Every layer draws its keys and computes its outputs the way JAX's stax does, so the same
key and inputs give the same parameters and outputs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from llax.frontend import jnp, lax, random
from llax.frontend.nn import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    selu,
    sigmoid,
    softmax,
    softplus,
    standardize,
)
from llax.frontend.nn_initializers import glorot_normal, normal, ones, zeros

__all__ = [
    "AvgPool", "BatchNorm", "Conv", "Conv1DTranspose", "ConvTranspose", "Dense", "Dropout",
    "Elu", "Exp", "FanInConcat", "FanInSum", "FanOut", "Flatten", "Gelu", "GeneralConv",
    "GeneralConvTranspose", "Identity", "LeakyRelu", "LogSoftmax", "MaxPool", "Relu", "Selu",
    "Sigmoid", "Softmax", "Softplus", "SumPool", "Tanh", "elementwise", "glorot",
    "glorot_normal", "logsoftmax", "normal", "ones", "parallel", "randn", "serial",
    "shape_dependent", "zeros",
    # The activations stax re-exports under their jax.nn names, as JAX's module does.
    "elu", "gelu", "leaky_relu", "log_softmax", "relu", "selu", "sigmoid", "softmax",
    "softplus", "standardize",
]

Layer = tuple[Callable[..., Any], Callable[..., Any]]

# JAX's stax names for the initializers and log-softmax.
glorot = glorot_normal
randn = normal
logsoftmax = log_softmax


# --- dense and convolutional layers --------------------------------------------------------

# Default initializers, built once (as JAX's default arguments are).
_DENSE_W_INIT = glorot_normal()
_DENSE_B_INIT = normal()
_CONV_B_INIT = normal(1e-6)


def Dense(out_dim: int, W_init: Callable = _DENSE_W_INIT, b_init: Callable = _DENSE_B_INIT
          ) -> Layer:
    """A fully connected layer: ``inputs @ W + b`` over the last axis."""
    def init_fun(rng: Any, input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], Any]:
        output_shape = input_shape[:-1] + (out_dim,)
        k1, k2 = random.split(rng)
        W, b = W_init(k1, (input_shape[-1], out_dim)), b_init(k2, (out_dim,))
        return output_shape, (W, b)

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        W, b = params
        return jnp.dot(inputs, W) + b

    return init_fun, apply_fun


def _kernel_shape(lhs_spec: str, rhs_spec: str, input_shape: Sequence[int], out_chan: int,
                  filter_shape: Sequence[int]) -> list[int]:
    """The kernel's shape in ``rhs_spec`` order: 'O' is ``out_chan``, 'I' the input's
    channel count, and the spatial letters take ``filter_shape`` in order."""
    spatial = iter(filter_shape)
    in_chan = input_shape[lhs_spec.index("C")]
    return [out_chan if c == "O" else in_chan if c == "I" else next(spatial) for c in rhs_spec]


def _conv_layer(shape_rule: Callable[..., Any], apply_rule: Callable[..., Any],
                dimension_numbers: tuple[str, str, str], out_chan: int,
                filter_shape: Sequence[int], strides: Sequence[int] | None, padding: Any,
                W_init: Callable | None, b_init: Callable) -> Layer:
    """A (transposed) convolution layer: ``shape_rule`` gives its output shape,
    ``apply_rule(inputs, W, strides, padding, dimension_numbers)`` convolves."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    strides = strides or (1,) * len(filter_shape)
    # Glorot fans from the kernel's own input and output axes.
    W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

    def init_fun(rng: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
        kernel_shape = _kernel_shape(lhs_spec, rhs_spec, input_shape, out_chan, filter_shape)
        output_shape = shape_rule(input_shape, kernel_shape, strides, padding,
                                  dimension_numbers)
        # The bias broadcasts over every output axis but the channels.
        bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
        k1, k2 = random.split(rng)
        W, b = W_init(k1, kernel_shape), b_init(k2, bias_shape)
        return output_shape, (W, b)

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        W, b = params
        return apply_rule(inputs, W, strides, padding, dimension_numbers) + b

    return init_fun, apply_fun


def GeneralConv(dimension_numbers: tuple[str, str, str], out_chan: int,
                filter_shape: Sequence[int], strides: Sequence[int] | None = None,
                padding: Any = "VALID", W_init: Callable | None = None,
                b_init: Callable = _CONV_B_INIT) -> Layer:
    """A convolution layer with dimension numbers ``(lhs_spec, rhs_spec, out_spec)``, e.g.
    ``('NHWC', 'HWIO', 'NHWC')``, via ``lax.conv_general_dilated`` (no dilation); a bias
    per output channel."""
    def convolve(inputs: Any, W: Any, strides: Any, padding: Any, dn: Any) -> Any:
        one = (1,) * len(filter_shape)
        return lax.conv_general_dilated(inputs, W, strides, padding, one, one,
                                        dimension_numbers=dn)

    return _conv_layer(lax.conv_general_shape_tuple, convolve, dimension_numbers, out_chan,
                       filter_shape, strides, padding, W_init, b_init)


def GeneralConvTranspose(dimension_numbers: tuple[str, str, str], out_chan: int,
                         filter_shape: Sequence[int], strides: Sequence[int] | None = None,
                         padding: Any = "VALID", W_init: Callable | None = None,
                         b_init: Callable = _CONV_B_INIT) -> Layer:
    """A transposed-convolution layer with general dimension numbers, via
    ``lax.conv_transpose``; a bias per output channel."""
    def convolve(inputs: Any, W: Any, strides: Any, padding: Any, dn: Any) -> Any:
        return lax.conv_transpose(inputs, W, strides, padding, dimension_numbers=dn)

    return _conv_layer(lax.conv_transpose_shape_tuple, convolve, dimension_numbers, out_chan,
                       filter_shape, strides, padding, W_init, b_init)


Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))
Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))


# --- normalization -------------------------------------------------------------------------

def BatchNorm(axis: int | Sequence[int] = (0, 1, 2), epsilon: float = 1e-5,
              center: bool = True, scale: bool = True, beta_init: Callable = zeros,
              gamma_init: Callable = ones) -> Layer:
    """Standardize over ``axis`` (the batch's own statistics; no running averages), then
    scale by ``gamma`` and shift by ``beta``, both shaped like the remaining axes. With
    ``center`` or ``scale`` off, that parameter is ``()`` and unused."""
    axis = (axis,) if jnp.isscalar(axis) else axis

    def init_fun(rng: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape) if center else ()
        gamma = gamma_init(k2, shape) if scale else ()
        return input_shape, (beta, gamma)

    def apply_fun(params: Any, x: Any, **kwargs: Any) -> Any:
        beta, gamma = params
        # Index that broadcasts a parameter back over the normalized axes.
        ed = tuple(None if i in axis else slice(None) for i in range(jnp.ndim(x)))
        z = standardize(x, axis, epsilon=epsilon)
        if center and scale:
            return gamma[ed] * z + beta[ed]
        if center:
            return z + beta[ed]
        if scale:
            return gamma[ed] * z
        return z

    return init_fun, apply_fun


# --- elementwise layers --------------------------------------------------------------------

def elementwise(fun: Callable[..., Any], **fun_kwargs: Any) -> Layer:
    """A parameterless layer applying ``fun(inputs, **fun_kwargs)``."""
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        return input_shape, ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return fun(inputs, **fun_kwargs)

    return init_fun, apply_fun


Tanh = elementwise(jnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(jnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


# --- pooling -------------------------------------------------------------------------------

def _with_unit_axes(dims: tuple[int, ...], axes: Sequence[int]) -> tuple[int, ...]:
    """``dims`` (one per spatial axis) with a 1 inserted at each of ``axes`` (the batch
    and channel axes), lowest first so later positions count the inserted ones."""
    for i in sorted(axes):
        dims = dims[:i] + (1,) + dims[i:]
    return dims


def _non_spatial_axes(spec: str | None, ndim: int) -> tuple[int, int]:
    """(batch axis, channel axis): from ``spec`` (e.g. 'NHWC'), else first and last."""
    if spec is None:
        return 0, ndim - 1
    return spec.index("N"), spec.index("C")


def _pooling_layer(reducer: Callable[[Any, Any], Any], init_val: Any,
                   rescaler: Callable[..., Callable] | None = None) -> Callable[..., Layer]:
    """A pooling layer builder reducing windows with ``reducer`` from ``init_val``;
    ``rescaler(window_shape, strides, padding)`` makes an ``(outputs, inputs, spec)``
    post-processing step (the average pool's division by the window size)."""
    def PoolingLayer(window_shape: tuple[int, ...], strides: tuple[int, ...] | None = None,
                     padding: Any = "VALID", spec: str | None = None) -> Layer:
        strides = strides or (1,) * len(window_shape)
        rescale = rescaler(window_shape, strides, padding) if rescaler else None
        non_spatial = _non_spatial_axes(spec, len(window_shape) + 2)
        dims = _with_unit_axes(tuple(window_shape), non_spatial)
        full_strides = _with_unit_axes(tuple(strides), non_spatial)

        def init_fun(rng: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
            pads = lax.padtype_to_pads(input_shape, dims, full_strides, padding)
            ones_ = (1,) * len(dims)
            out_shape = lax.reduce_window_shape_tuple(input_shape, dims, full_strides, pads,
                                                      ones_, ones_)
            return out_shape, ()

        def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
            out = lax.reduce_window(inputs, init_val, reducer, dims, full_strides, padding)
            return rescale(out, inputs, spec) if rescale else out

        return init_fun, apply_fun
    return PoolingLayer


def _normalize_by_window_size(dims: tuple[int, ...], strides: tuple[int, ...], padding: Any
                              ) -> Callable[[Any, Any, str | None], Any]:
    """Divide sums by the number of input elements each window covered (padding not
    counted, so border windows of a 'SAME' pool average only real inputs)."""
    def rescale(outputs: Any, inputs: Any, spec: str | None) -> Any:
        non_spatial = _non_spatial_axes(spec, inputs.ndim)
        spatial_shape = tuple(d for i, d in enumerate(inputs.shape) if i not in non_spatial)
        one = jnp.ones(spatial_shape, dtype=inputs.dtype)
        window_sizes = lax.reduce_window(one, 0.0, lax.add, dims, strides, padding)
        for i in sorted(non_spatial):
            window_sizes = jnp.expand_dims(window_sizes, i)
        return outputs / window_sizes
    return rescale


MaxPool = _pooling_layer(lax.max, -jnp.inf)
MaxPool.__name__ = MaxPool.__qualname__ = "MaxPool"
SumPool = _pooling_layer(lax.add, 0.0)
SumPool.__name__ = SumPool.__qualname__ = "SumPool"
AvgPool = _pooling_layer(lax.add, 0.0, _normalize_by_window_size)
AvgPool.__name__ = AvgPool.__qualname__ = "AvgPool"


# --- shape layers --------------------------------------------------------------------------

def _flatten() -> Layer:
    """Flatten all axes but the first (the batch)."""
    def init_fun(rng: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return jnp.reshape(inputs, (inputs.shape[0], -1))

    return init_fun, apply_fun


def _identity() -> Layer:
    """The layer that returns its inputs."""
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        return input_shape, ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return inputs

    return init_fun, apply_fun


# As in JAX, these two are layers (pairs) themselves, not layer builders.
Flatten = _flatten()
Identity = _identity()


# --- fan-out and fan-in --------------------------------------------------------------------

def FanOut(num: int) -> Layer:
    """Copy the input into a list of ``num`` (for ``parallel`` branches)."""
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        return [input_shape] * num, ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return [inputs] * num

    return init_fun, apply_fun


def _fan_in_sum() -> Layer:
    """Sum a list of inputs of one shape."""
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        return input_shape[0], ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return sum(inputs)

    return init_fun, apply_fun


FanInSum = _fan_in_sum()


def FanInConcat(axis: int = -1) -> Layer:
    """Concatenate a list of inputs along ``axis``."""
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        first = input_shape[0]
        ax = axis % len(first)
        size = sum(shape[ax] for shape in input_shape)
        return first[:ax] + (size,) + first[ax + 1:], ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return jnp.concatenate(inputs, axis)

    return init_fun, apply_fun


# --- dropout -------------------------------------------------------------------------------

def Dropout(rate: float, mode: str = "train") -> Layer:
    """Dropout. As in JAX's stax, ``rate`` is the probability of *keeping* an element:
    kept elements are divided by it, the rest are 0. Needs ``rng=`` when applied; in any
    mode but 'train' it is the identity."""
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        return input_shape, ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        rng = kwargs.get("rng", None)
        if rng is None:
            raise ValueError(
                "Dropout layer requires apply_fun to be called with a PRNG key argument. That "
                "is, instead of `apply_fun(params, inputs)`, call it like `apply_fun(params, "
                "inputs, rng)` where `rng` is a PRNG key (e.g. from `jax.random.key`).")
        if mode == "train":
            keep = random.bernoulli(rng, rate, inputs.shape)
            return jnp.where(keep, inputs / rate, 0)
        return inputs

    return init_fun, apply_fun


# --- combinators ---------------------------------------------------------------------------

def serial(*layers: Layer) -> Layer:
    """Layers in sequence. ``init`` gives each layer its own key split off the running
    one; ``apply`` splits ``rng`` (if given) into one key per layer."""
    nlayers = len(layers)
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, list[Any]]:
        params = []
        for init in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, param = init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, nlayers) if rng is not None else (None,) * nlayers
        for fun, param, layer_rng in zip(apply_funs, params, rngs):
            inputs = fun(param, inputs, rng=layer_rng, **kwargs)
        return inputs

    return init_fun, apply_fun


def parallel(*layers: Layer) -> Layer:
    """Layers side by side: the i-th layer takes the i-th of a sequence of inputs (as
    from ``FanOut``) and gives the i-th output. ``init`` returns ``(output_shapes,
    params)``, one entry per layer in each."""
    nlayers = len(layers)
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng: Any, input_shape: Sequence[Any]) -> Any:
        rngs = random.split(rng, nlayers)
        # Pairs (shape, params) per layer, regrouped as (all shapes, all params).
        return zip(*[init(r, shape) for init, r, shape in zip(init_funs, rngs, input_shape)])

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> list[Any]:
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, nlayers) if rng is not None else (None,) * nlayers
        return [f(p, x, rng=r, **kwargs)
                for f, p, x, r in zip(apply_funs, params, inputs, rngs)]

    return init_fun, apply_fun


def shape_dependent(make_layer: Callable[[Any], Layer]) -> Layer:
    """A layer built from its input shape: ``make_layer(input_shape)`` is called when
    initializing and again (with ``inputs.shape``) when applying."""
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return make_layer(inputs.shape)[1](params, inputs, **kwargs)

    return init_fun, apply_fun
