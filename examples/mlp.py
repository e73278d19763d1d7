"""A multi-layer perceptron trained with SGD on synthetic data, on llax.

The data are Gaussian blobs: one random centre per class in a 32-dimensional
space, samples scattered around it. The network is 32-128-128-10 with relu,
trained on the softmax cross-entropy with a jitted SGD step; the parameters are
a list of (W, b) tuples, as in JAX's MLP examples.

    python examples/mlp.py
"""

import time

import numpy as np

import llax as jax
import llax.numpy as jnp


def make_blobs(n=4096, dim=32, classes=10, spread=2.0, seed=0):
    """``n`` samples of ``classes`` Gaussian blobs: x float32[n, dim], one-hot y float32[n,
    classes]."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)).astype(np.float32)
    labels = rng.integers(0, classes, size=n)
    x = centres[labels] + spread * rng.normal(size=(n, dim)).astype(np.float32)
    onehot = np.eye(classes, dtype=np.float32)[labels]
    return x.astype(np.float32), onehot


def init_params(sizes, key):
    """A list of (W, b) per layer, W normal scaled by 1/sqrt(fan_in), one key per layer."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (m, n)) / np.sqrt(m), jnp.zeros(n, dtype=jnp.float32))
            for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def predict(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def loss_fn(params, x, y):
    """Mean softmax cross-entropy of the logits against one-hot labels ``y``."""
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(predict(params, x)), axis=-1))


@jax.jit
def update(params, x, y, lr=0.1):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    new = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
    return new, loss


@jax.jit
def accuracy(params, x, y):
    return jnp.mean(jnp.argmax(predict(params, x), axis=-1) == jnp.argmax(y, axis=-1))


def main(steps=600, batch=128, sizes=(32, 128, 128, 10), lr=0.1, log_every=100,
         verbose=True):
    """Train for ``steps`` SGD steps; returns the logged (step, mean loss since the last log)."""
    x, y = make_blobs(dim=sizes[0], classes=sizes[-1])
    init_key, shuffle_key = jax.random.split(jax.random.key(1))
    params = init_params(list(sizes), init_key)
    per_epoch = x.shape[0] // batch
    history, window = [], []
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        i = (step - 1) % per_epoch
        if i == 0:  # a new epoch: reshuffle
            shuffle_key, epoch_key = jax.random.split(shuffle_key)
            order = np.asarray(jax.random.permutation(epoch_key, x.shape[0]))
        idx = order[i * batch:(i + 1) * batch]
        params, loss = update(params, jnp.asarray(x[idx]), jnp.asarray(y[idx]), lr)
        window.append(loss)
        if step == 1 or step % log_every == 0 or step == steps:
            mean = float(np.mean([float(v) for v in window]))  # the mean over the window
            window = []
            history.append((step, mean))
            if verbose:
                print(f"step {step:5d}  loss {mean:.4f}")
    if verbose:
        acc = float(accuracy(params, jnp.asarray(x), jnp.asarray(y)))
        print(f"train accuracy {acc:.3f}  ({steps} steps in {time.perf_counter() - t0:.2f} s)")
    return history


if __name__ == "__main__":
    main()
