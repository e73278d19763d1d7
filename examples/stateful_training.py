"""Training with explicit state, the JAX way, on llax.

JAX functions are pure, so everything a training loop changes lives in one value that the
update step takes and returns: here a ``TrainState`` holding the optimizer state (which
holds the parameters and adam's moments), the step counter (an int32 array, so the
jitted step is traced once and the counter drives the learning-rate schedule inside it)
and the PRNG key that dropout consumes, split afresh every step.

The model is a stax MLP with dropout, fitted to a synthetic nonlinear regression:

    python examples/stateful_training.py
"""

from typing import NamedTuple

import numpy as np

import llax as jax
import llax.numpy as jnp
from llax.example_libraries import optimizers, stax

IN_DIM = 4


class TrainState(NamedTuple):
    """Everything the loop carries from one step to the next (a pytree: it goes through
    ``jax.jit`` as it is)."""

    opt_state: optimizers.OptimizerState  # the parameters and the optimizer's moments
    step: jnp.ndarray  # int32 counter: the schedule's input and adam's bias correction
    key: jnp.ndarray  # PRNG key for dropout, split every step


def make_data(n=512, seed=0):
    """y = sin(x . a) + 0.5 * (x . b)^2 + noise for x ~ N(0, I): float32 arrays."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, IN_DIM)).astype(np.float32)
    a, b = rng.normal(size=(2, IN_DIM)) / np.sqrt(IN_DIM)
    y = np.sin(x @ a) + 0.5 * (x @ b) ** 2 + 0.05 * rng.normal(size=n)
    return jnp.asarray(x), jnp.asarray(y[:, None].astype(np.float32))


# The network: (init_fun, apply_fun). Dropout is in "train" mode; evaluation uses the
# same parameters with a dropout-free copy of the architecture.
def network(mode):
    return stax.serial(stax.Dense(64), stax.Tanh, stax.Dropout(0.9, mode=mode),
                       stax.Dense(64), stax.Tanh, stax.Dense(1))


init_net, apply_train = network("train")
_, apply_eval = network("eval")

# Adam with a step size halving every 200 steps: a schedule of the step counter.
opt_init, opt_update, get_params = optimizers.adam(
    optimizers.exponential_decay(1e-2, decay_steps=200, decay_rate=0.5))


def init_state(seed=0):
    """A fresh TrainState: parameters from one half of the key, dropout keys from the
    other."""
    init_key, dropout_key = jax.random.split(jax.random.key(seed))
    _, params = init_net(init_key, (-1, IN_DIM))
    return TrainState(opt_init(params), jnp.zeros((), jnp.int32), dropout_key)


def loss_fn(params, x, y, key):
    prediction = apply_train(params, x, rng=key)
    return jnp.mean((prediction - y) ** 2)


@jax.jit
def update(state, x, y):
    """One optimizer step: the old state and a batch in, the new state and the loss out."""
    key, step_key = jax.random.split(state.key)
    params = get_params(state.opt_state)
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y, step_key)
    opt_state = opt_update(state.step, grads, state.opt_state)
    return TrainState(opt_state, state.step + 1, key), loss


@jax.jit
def evaluate(state, x, y):
    """Mean squared error without dropout. (stax's Dropout asks for a key even when it
    does nothing, as JAX's does: the state's key is passed and left unused.)"""
    prediction = apply_eval(get_params(state.opt_state), x, rng=state.key)
    return jnp.mean((prediction - y) ** 2)


def main(steps=600, batch=64, log_every=100, verbose=True):
    """Train for ``steps`` steps; returns (the final state, [(step, eval loss), ...])."""
    x, y = make_data()
    state = init_state()
    n = x.shape[0]
    history = [(0, float(evaluate(state, x, y)))]
    if verbose:
        print(f"step {0:5d}  loss {history[-1][1]:.4f}")
    for i in range(steps):
        start = (i * batch) % n
        state, _ = update(state, x[start:start + batch], y[start:start + batch])
        if (i + 1) % log_every == 0:
            history.append((int(state.step), float(evaluate(state, x, y))))
            if verbose:
                print(f"step {history[-1][0]:5d}  loss {history[-1][1]:.4f}")
    return state, history


if __name__ == "__main__":
    main()
