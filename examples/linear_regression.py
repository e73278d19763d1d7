"""JAX's linear-regression tutorial, run on llax.

Fit y = w * x + b to data drawn from y = 3x - 1 + noise by 1000 steps of gradient
descent on the mean squared error, once eagerly and once with a jitted update:

    python examples/linear_regression.py

The data are drawn with ``llax.random``: the same key gives JAX's numbers.
"""

import time

import llax as jax
import llax.numpy as jnp

TRUE_W, TRUE_B, NOISE = 3.0, -1.0, 0.1


def make_data(n=100, seed=0):
    """``n`` points of y = 3x - 1 + N(0, 0.1^2) noise, as float32 arrays."""
    x_key, noise_key = jax.random.split(jax.random.key(seed))
    xs = jax.random.normal(x_key, (n,))
    noise = NOISE * jax.random.normal(noise_key, (n,))
    return xs, TRUE_W * xs + TRUE_B + noise


def init_params():
    """The parameters are a pytree: a (w, b) tuple of scalars."""
    return jnp.asarray(1.0), jnp.asarray(1.0)


def model(params, x):
    w, b = params
    return w * x + b


def loss_fn(params, x, y):
    prediction = model(params, x)
    return jnp.mean((prediction - y) ** 2)


def update(params, x, y, lr=0.1):
    grads = jax.grad(loss_fn)(params, x, y)
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


def fit(xs, ys, steps=1000, use_jit=True):
    """``steps`` steps of gradient descent from ``init_params()``; the final (w, b)."""
    step = jax.jit(update) if use_jit else update
    params = init_params()
    for _ in range(steps):
        params = step(params, xs, ys)
    return params


def main(steps=1000, n=100, seed=0, verbose=True):
    """Fit without and with jit; ``{"eager": (w, b), "jit": (w, b)}`` as Python floats."""
    xs, ys = make_data(n, seed)
    results = {}
    for name, use_jit in (("eager", False), ("jit", True)):
        t0 = time.perf_counter()
        w, b = fit(xs, ys, steps, use_jit)
        dt = time.perf_counter() - t0
        results[name] = (float(w), float(b))
        if verbose:
            print(f"{name:>5}: w = {float(w):.4f}, b = {float(b):.4f}  "
                  f"({steps} steps in {dt:.2f} s)")
    return results


if __name__ == "__main__":
    main()
