"""A small convolutional network trained with stax and adam, on llax.

The images are synthetic 28x28 grey-scale pictures (nothing is downloaded), one of four
shapes drawn at a random place and size on a noisy background: a horizontal bar, a
vertical bar, a diagonal stroke, or a hollow square. No single pixel tells the classes
apart; local edge detectors (the convolutions) and their pooled responses do.

The network is conv-relu-maxpool twice, then two dense layers, written with
``llax.example_libraries.stax`` and trained with ``optimizers.adam`` under ``jit``:

    python examples/cnn.py

Each epoch shows a progress bar (on stderr) and prints its mean training loss and the
accuracy on the training and held-out sets.
"""

import sys
import time

import numpy as np

import llax as jax
import llax.numpy as jnp
from llax.example_libraries import optimizers, stax

SIZE, CLASSES = 28, 4
CLASS_NAMES = ["horizontal bar", "vertical bar", "diagonal", "square"]


def draw(rng, label):
    """One SIZE x SIZE float32 image of class ``label`` with background noise."""
    img = 0.3 * rng.random((SIZE, SIZE), dtype=np.float32)
    length = int(rng.integers(10, 20))
    width = int(rng.integers(2, 4))
    r, c = (int(v) for v in rng.integers(2, SIZE - length - 2, size=2))
    if label == 0:    # horizontal bar
        img[r:r + width, c:c + length] = 1.0
    elif label == 1:  # vertical bar
        img[r:r + length, c:c + width] = 1.0
    elif label == 2:  # diagonal stroke
        for k in range(length):
            img[r + k, c + k:c + k + width] = 1.0
    else:             # hollow square
        img[r:r + length, c:c + length] = 1.0
        img[r + width:r + length - width, c + width:c + length - width] = 0.3 * rng.random(
            (length - 2 * width, length - 2 * width), dtype=np.float32)
    return img


def make_dataset(n, seed):
    """``n`` images (float32[n, 28, 28, 1], NHWC) and their one-hot labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size=n)
    images = np.stack([draw(rng, int(label)) for label in labels])[..., None]
    return images, np.eye(CLASSES, dtype=np.float32)[labels]


init_fun, predict = stax.serial(
    stax.Conv(8, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), (2, 2)),   # 14x14
    stax.Conv(16, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), (2, 2)),  # 7x7
    stax.Flatten, stax.Dense(32), stax.Relu, stax.Dense(CLASSES), stax.LogSoftmax)

opt_init, opt_update, get_params = optimizers.adam(3e-3)


def loss_fn(params, images, labels):
    """Mean cross-entropy (the network ends in log-softmax)."""
    return -jnp.mean(jnp.sum(predict(params, images) * labels, axis=-1))


@jax.jit
def update(step, opt_state, images, labels):
    loss, grads = jax.value_and_grad(loss_fn)(get_params(opt_state), images, labels)
    return opt_update(step, grads, opt_state), loss


@jax.jit
def accuracy(params, images, labels):
    return jnp.mean(jnp.argmax(predict(params, images), -1) == jnp.argmax(labels, -1))


def progress(done, total, width=30):
    """A one-line text progress bar, redrawn in place."""
    filled = width * done // total
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\r" + " " * (width + 20) + "\r")
    sys.stderr.flush()


def main(epochs=4, n_train=1536, n_test=512, batch=64, seed=0, verbose=True):
    """Train; returns a list of (epoch, mean loss, train accuracy, test accuracy)."""
    train_x, train_y = make_dataset(n_train, seed)
    test_x, test_y = make_dataset(n_test, seed + 1)
    init_key, shuffle_key = jax.random.split(jax.random.key(seed))
    _, params = init_fun(init_key, (-1, SIZE, SIZE, 1))
    opt_state = opt_init(params)
    batches = n_train // batch
    history, step = [], 0
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        shuffle_key, epoch_key = jax.random.split(shuffle_key)
        order = np.asarray(jax.random.permutation(epoch_key, n_train))
        losses = []
        for b in range(batches):
            idx = order[b * batch:(b + 1) * batch]
            opt_state, loss = update(step, opt_state, jnp.asarray(train_x[idx]),
                                     jnp.asarray(train_y[idx]))
            losses.append(loss)
            step += 1
            if verbose:
                progress(b + 1, batches)
        params = get_params(opt_state)
        train_acc = float(accuracy(params, jnp.asarray(train_x), jnp.asarray(train_y)))
        test_acc = float(accuracy(params, jnp.asarray(test_x), jnp.asarray(test_y)))
        mean_loss = float(np.mean([float(v) for v in losses]))
        history.append((epoch, mean_loss, train_acc, test_acc))
        if verbose:
            print(f"epoch {epoch}  loss {mean_loss:.4f}  train accuracy {train_acc:.3f}  "
                  f"test accuracy {test_acc:.3f}  ({time.perf_counter() - t0:.1f} s)",
                  flush=True)
    return history


if __name__ == "__main__":
    main()
