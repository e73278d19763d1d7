"""llax-bench: llax side by side with NumPy and JAX, in one process, as ratios.

    llax-bench            # all workloads
    llax-bench selu dot   # only the named ones

Every figure is the median of several repeats; only ratios measured in the same
run mean anything on a shared machine. JAX is used when it is installed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def median_time(fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.05) -> float:
    """Median seconds per call, calibrating the inner loop to take about ``min_time``."""
    fn()  # warm up (and compile)
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or number >= 1 << 20:
            break
        number *= 2
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def alternating_times(fns: Sequence[Callable[[], object]], repeat: int = 15) -> list[float]:
    """Median seconds per call of each of ``fns``, called in turn: each one runs right after
    the others, as in a program that mixes libraries (their idle threads still spinning)."""
    for fn in fns:
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, samples):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return [statistics.median(s) for s in samples]


def once_time(make: Callable[[], Callable[[], object]], repeat: int = 5) -> float:
    """Median seconds of a first call: ``make()`` builds a fresh, uncompiled callable."""
    samples = []
    for _ in range(repeat):
        fn = make()
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


@dataclass
class Row:
    name: str
    llax: float
    numpy: float | None = None
    jax: float | None = None
    unit: str = "s"


def _jax():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None, None
    return jax, jnp


def _block(x):
    return x.block_until_ready() if hasattr(x, "block_until_ready") else x


def bench_dispatch() -> list[Row]:
    import llax
    import llax.numpy as lnp

    x = np.arange(10, dtype=np.float32)
    f = llax.jit(lambda a: a + 1)
    xl = lnp.asarray(x)
    row = Row("dispatch: jit(x + 1), 10 x f32", median_time(lambda: f(xl)),
              numpy=median_time(lambda: x + 1))
    eager = Row("eager x + 1, 10 x f32", median_time(lambda: xl + 1), numpy=row.numpy)
    jax, jnp = _jax()
    if jax:
        g = jax.jit(lambda a: a + 1)
        xj = jnp.asarray(x)
        row.jax = median_time(lambda: g(xj).block_until_ready())
        eager.jax = median_time(lambda: (xj + 1).block_until_ready())
    return [row, eager]


def _selu_np(x):
    alpha, scale = 1.67326324, 1.05070098
    return scale * np.where(x > 0, x, alpha * np.expm1(x))


def bench_selu() -> list[Row]:
    import llax
    import llax.numpy as lnp

    def selu(x, xp):
        alpha, scale = 1.67326324, 1.05070098
        return scale * xp.where(x > 0, x, alpha * xp.expm1(x))

    rows = []
    jax, jnp = _jax()
    for n in (10**6, 10**7):
        x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        f = llax.jit(lambda a: selu(a, lnp))
        xl = lnp.asarray(x)
        row = Row(f"SELU {n:.0e} x f32", median_time(lambda f=f, xl=xl: f(xl), repeat=5),
                  numpy=median_time(lambda x=x: _selu_np(x), repeat=5))
        if jax:
            g = jax.jit(lambda a: selu(a, jnp))
            xj = jnp.asarray(x)
            row.jax = median_time(lambda g=g, xj=xj: g(xj).block_until_ready(), repeat=5)
        rows.append(row)
    return rows


def bench_dot() -> list[Row]:
    import llax
    import llax.numpy as lnp

    n = 1024
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    f = llax.jit(lambda x, y: x @ y)
    al, bl = lnp.asarray(a), lnp.asarray(b)
    row = Row("matmul 1024^3 f32", median_time(lambda: f(al, bl), repeat=5),
              numpy=median_time(lambda: a @ b, repeat=5))
    mixed = Row("matmul 1024^3 f32, calls alternating between libraries", 0.0)
    fns = [lambda: f(al, bl), lambda: a @ b]
    jax, jnp = _jax()
    if jax:
        g = jax.jit(lambda x, y: x @ y)
        aj, bj = jnp.asarray(a), jnp.asarray(b)
        row.jax = median_time(lambda: g(aj, bj).block_until_ready(), repeat=5)
        fns.append(lambda: g(aj, bj).block_until_ready())
    mixed.llax, mixed.numpy, *rest = alternating_times(fns)
    mixed.jax = rest[0] if rest else None
    return [row, mixed]


def bench_compile() -> list[Row]:
    import llax
    import llax.numpy as lnp

    x = np.linspace(-1, 1, 1000, dtype=np.float32)

    def small(a, xp):
        return xp.sum(xp.tanh(a) * 2.0 + 1.0)

    xl = lnp.asarray(x)
    row = Row("first call (trace+compile), small fn",
              once_time(lambda: (lambda f: lambda: f(xl))(llax.jit(lambda a: small(a, lnp)))))
    jax, jnp = _jax()
    if jax:
        xj = jnp.asarray(x)
        row.jax = once_time(
            lambda: (lambda g: lambda: g(xj).block_until_ready())(jax.jit(lambda a: small(a, jnp))))
    return [row]


# ---------------------------------------------------------------------------------------------
# Training loops: linreg (examples/linear_regression.py) and an MLP train step (examples/mlp.py)


def _sides() -> list[tuple[str, Any, Any, Callable[[Any], Any]]]:
    """(row attribute, jax-like module, its numpy, block) for llax and, if installed, JAX."""
    import llax
    import llax.numpy as lnp

    sides: list[tuple[str, Any, Any, Callable[[Any], Any]]] = [
        ("llax", llax, lnp, lambda out: out)]
    jax, jnp = _jax()
    if jax:
        sides.append(("jax", jax, jnp, jax.block_until_ready))
    return sides


LINREG_STEPS = 1000
LINREG_EAGER_STEPS = 100  # steps timed without jit; the row scales them to LINREG_STEPS


def _linreg_data(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """y = 3x - 1 + N(0, 0.1^2), as in examples/linear_regression.py."""
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(n,)).astype(np.float32)
    noise = rng.normal(scale=0.1, size=(n,)).astype(np.float32)
    return xs, (3 * xs - 1 + noise).astype(np.float32)


def _linreg_update(jax_mod: Any, xp: Any) -> Callable[..., Any]:
    """JAX's tutorial update step on params (w, b), written against ``jax_mod`` and ``xp``."""

    def loss_fn(params, x, y):
        w, b = params
        return xp.mean((w * x + b - y) ** 2)

    def update(params, x, y, lr=0.1):
        grads = jax_mod.grad(loss_fn)(params, x, y)
        return jax_mod.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    return update


def _training_loop(update: Callable[..., Any], params: Any, xs: Any, ys: Any, steps: int,
                   block: Callable[[Any], Any]) -> Callable[[], object]:
    def run() -> object:
        p = params
        for _ in range(steps):
            p = update(p, xs, ys)
        return block(p)

    return run


def bench_linreg() -> list[Row]:
    x, y = _linreg_data()
    scale = LINREG_STEPS / LINREG_EAGER_STEPS
    jitted = Row(f"linreg {LINREG_STEPS} steps, jit(update)", 0.0)
    eager = Row(f"linreg {LINREG_STEPS} steps, no jit ({LINREG_EAGER_STEPS} timed, "
                f"x{scale:g})", 0.0)
    for side, mod, xp, block in _sides():
        update = _linreg_update(mod, xp)
        xs, ys = xp.asarray(x), xp.asarray(y)
        params = (xp.asarray(1.0), xp.asarray(1.0))
        setattr(jitted, side, median_time(
            _training_loop(mod.jit(update), params, xs, ys, LINREG_STEPS, block), repeat=5))
        setattr(eager, side, scale * median_time(
            _training_loop(update, params, xs, ys, LINREG_EAGER_STEPS, block), repeat=3))
    return [jitted, eager]


MLP_SIZES = (784, 512, 512, 10)
MLP_BATCH = 128


def _mlp_problem() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Float32 params [(W, b), ...] for MLP_SIZES, a batch x and its one-hot labels y."""
    rng = np.random.default_rng(0)
    params = [((rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32),
               np.zeros(n, np.float32)) for m, n in zip(MLP_SIZES[:-1], MLP_SIZES[1:])]
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(np.float32)
    y = np.eye(MLP_SIZES[-1], dtype=np.float32)[rng.integers(0, MLP_SIZES[-1], MLP_BATCH)]
    return params, x, y


def _mlp_train_step(jax_mod: Any, xp: Any, lr: float = 0.01) -> Callable[..., Any]:
    """``(params, x, y) -> (new params, loss)``: relu MLP, softmax cross-entropy, SGD
    (``nn.relu`` and ``nn.log_softmax`` of ``jax_mod``, as a JAX user writes it)."""

    def loss_fn(params, x, y):
        for w, b in params[:-1]:
            x = jax_mod.nn.relu(x @ w + b)
        w, b = params[-1]
        return -xp.mean(xp.sum(y * jax_mod.nn.log_softmax(x @ w + b), axis=-1))

    def train_step(params, x, y):
        loss, grads = jax_mod.value_and_grad(loss_fn)(params, x, y)
        return jax_mod.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss

    return train_step


def _train_step_rows(step_name: str, first_name: str,
                     make_step: Callable[[Any, Any], Callable[..., Any]],
                     params_np: Any, x_np: np.ndarray, y_np: np.ndarray) -> list[Row]:
    """A jitted training step's time and its first call's (trace + compile), for llax and
    JAX: ``make_step(jax_like_module, its numpy)`` builds the step."""
    step_row, first_row = Row(step_name, 0.0), Row(first_name, 0.0)
    for side, mod, xp, block in _sides():
        params = mod.tree_util.tree_map(xp.asarray, params_np)
        x, y = xp.asarray(x_np), xp.asarray(y_np)
        step = mod.jit(make_step(mod, xp))
        setattr(step_row, side, median_time(lambda s=step, p=params, x=x, y=y, bl=block:
                                            bl(s(p, x, y)), repeat=7))

        def make(mod=mod, xp=xp, params=params, x=x, y=y, block=block) -> Callable[[], object]:
            fresh = mod.jit(make_step(mod, xp))  # new function objects: nothing cached
            return lambda: block(fresh(params, x, y))

        setattr(first_row, side, once_time(make))
    return [step_row, first_row]


def bench_mlp() -> list[Row]:
    shape = "-".join(map(str, MLP_SIZES))
    return _train_step_rows(f"MLP train step {shape}, batch {MLP_BATCH}, f32",
                            "MLP train step first call (trace+compile)", _mlp_train_step,
                            *_mlp_problem())


# ---------------------------------------------------------------------------------------------
# vmap: a batched matrix-vector product, and per-example gradients


MATVEC_SHAPE, MATVEC_BATCH = (512, 256), 1024
PEG_W, PEG_BATCH = (256, 64), 512  # per-example gradients: w and the number of examples


def bench_vmap() -> list[Row]:
    """jit(vmap(A @ v)) against a Python loop of jitted calls; jit(vmap(grad(loss)))."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(MATVEC_SHAPE).astype(np.float32)
    vs = rng.standard_normal((MATVEC_BATCH, MATVEC_SHAPE[1])).astype(np.float32)
    what = f"A {MATVEC_SHAPE[0]}x{MATVEC_SHAPE[1]} f32, {MATVEC_BATCH} vectors"
    batched = Row(f"matvec jit(vmap(A @ v)), {what}", 0.0, numpy=median_time(lambda: vs @ a.T))
    looped = Row(f"matvec loop of jit(A @ v) calls, {what}", 0.0,
                 numpy=median_time(lambda: [a @ v for v in vs], repeat=3))
    w = (rng.standard_normal(PEG_W) / 16).astype(np.float32)
    x = rng.standard_normal((PEG_BATCH, PEG_W[0])).astype(np.float32)
    y = rng.standard_normal((PEG_BATCH, PEG_W[1])).astype(np.float32)

    def numpy_grads():  # the gradients written out by hand
        t = np.tanh(x @ w)
        g = 2 * (t - y) * (1 - t * t)
        return x[:, :, None] * g[:, None, :]

    grads = Row(f"per-example grads jit(vmap(grad(loss))), w {PEG_W[0]}x{PEG_W[1]}, "
                f"{PEG_BATCH} examples", 0.0, numpy=median_time(numpy_grads, repeat=5))
    for side, mod, xp, block in _sides():
        al, vl = xp.asarray(a), xp.asarray(vs)
        f = mod.jit(mod.vmap(lambda v, al=al: al @ v))
        setattr(batched, side, median_time(lambda f=f, vl=vl, bl=block: bl(f(vl))))
        g = mod.jit(lambda v, al=al: al @ v)
        rows = list(vl)
        setattr(looped, side, median_time(
            lambda g=g, rows=rows, bl=block: bl([g(v) for v in rows]), repeat=3))

        def loss(w, x, y, xp=xp):
            return xp.sum((xp.tanh(x @ w) - y) ** 2)

        peg = mod.jit(mod.vmap(mod.grad(loss), in_axes=(None, 0, 0)))
        args = tuple(xp.asarray(v) for v in (w, x, y))
        setattr(grads, side, median_time(lambda p=peg, args=args, bl=block: bl(p(*args)),
                                         repeat=5))
    return [batched, looped, grads]


# ---------------------------------------------------------------------------------------------
# Control flow: in-place updates in a fori_loop, an RNN by scan (and its gradient), Newton's
# method by while_loop. Each loop runs natively, so these time one call of the whole loop.


def _cf_pipeline() -> str:
    """The default pipeline, with the ``inplace`` pass (buffer reuse) if it does not run it."""
    from llax.frontend.compile import DEFAULT_PIPELINE

    return DEFAULT_PIPELINE if "inplace" in DEFAULT_PIPELINE else DEFAULT_PIPELINE + ",inplace"


def _jit(mod: Any, f: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    import llax

    return mod.jit(f, pipeline=_cf_pipeline(), **options) if mod is llax \
        else mod.jit(f, **options)


UPDATES = 10_000


def bench_fori() -> list[Row]:
    """``x = x.at[i % n].set(x[i % n] * 2 + 1)`` 10,000 times: the cost of an update must not
    grow with n (the loop writes one element of a buffer it owns). Without donation each
    call copies its input into the loop's buffer once (for n = 1e6, 4 MB); with the input
    donated the loop updates the caller's buffer itself, and each call feeds its output
    to the next."""
    rows = []
    for n, donate in ((10**3, False), (10**6, False), (10**6, True)):
        x_np = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        row = Row(f"fori_loop {UPDATES} x.at[i % n].set(x[i % n] * 2 + 1), n={n:.0e} f32"
                  + (", input donated" if donate else ""), 0.0)
        for side, mod, xp, block in _sides():
            def f(x, lax=mod.lax, n=n):
                return lax.fori_loop(0, UPDATES, lambda i, x: x.at[i % n].set(x[i % n] * 2 + 1),
                                     x)

            if donate:
                g, state = _jit(mod, f, donate_argnums=0), [xp.asarray(x_np)]

                def run(g=g, state=state, bl=block) -> object:
                    state[0] = bl(g(state[0]))  # the donated input is gone: carry the output
                    return state[0]
            else:
                g, x = _jit(mod, f), xp.asarray(x_np)

                def run(g=g, x=x, bl=block) -> object:
                    return bl(g(x))

            setattr(row, side, median_time(run, repeat=7))
        rows.append(row)
    return rows


RNN_T, RNN_H, RNN_D = 1000, 64, 32


def _rnn_problem() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((RNN_H, RNN_H)) / np.sqrt(RNN_H)).astype(np.float32)
    u = (rng.standard_normal((RNN_H, RNN_D)) / np.sqrt(RNN_D)).astype(np.float32)
    xs = rng.standard_normal((RNN_T, RNN_D)).astype(np.float32)
    return w, u, xs, np.zeros(RNN_H, np.float32)


def _rnn(lax: Any, xp: Any) -> Callable[..., Any]:
    """``h = tanh(W @ h + U @ x_t)`` over xs by scan: the final h and the sum of every h."""

    def run(w, u, xs, h0):
        h, hs = lax.scan(lambda h, x: (lambda h: (h, h))(xp.tanh(w @ h + u @ x)), h0, xs)
        return h, xp.sum(hs)

    return run


def bench_rnn() -> list[Row]:
    w, u, xs, h0 = _rnn_problem()

    def numpy_rnn():
        h, total = h0, np.float32(0)
        for x in xs:
            h = np.tanh(w @ h + u @ x)
            total += h.sum()
        return h, total

    what = f"T={RNN_T} H={RNN_H} D={RNN_D} f32"
    forward = Row(f"RNN by scan, {what}: final h and sum of hs", 0.0,
                  numpy=median_time(numpy_rnn, repeat=3))
    grad = Row(f"RNN by scan, {what}: grad of sum of hs wrt W", 0.0)
    for side, mod, xp, block in _sides():
        args = tuple(xp.asarray(v) for v in (w, u, xs, h0))
        run = _rnn(mod.lax, xp)
        f = _jit(mod, run)
        setattr(forward, side, median_time(lambda f=f, a=args, bl=block: bl(f(*a)), repeat=7))
        g = _jit(mod, mod.grad(lambda *a, run=run: run(*a)[1]))
        setattr(grad, side, median_time(lambda g=g, a=args, bl=block: bl(g(*a)), repeat=7))
    return [forward, grad]


NEWTON_N = 10**6


def _newton(lax: Any, xp: Any) -> Callable[..., Any]:
    """Elementwise square roots by Newton's method, until the largest residual is small."""

    def run(a):
        def body(x):
            return 0.5 * (x + a / x)

        return lax.while_loop(lambda x: xp.max(xp.abs(x * x - a)) > 1e-3 * xp.max(a), body, a)

    return run


def bench_newton() -> list[Row]:
    a_np = np.random.default_rng(0).uniform(0.5, 100.0, NEWTON_N).astype(np.float32)
    row = Row(f"Newton sqrt by while_loop, {NEWTON_N:.0e} f32 (max residual)", 0.0,
              numpy=median_time(lambda: _newton_numpy(a_np), repeat=3))
    for side, mod, xp, block in _sides():
        f, a = _jit(mod, _newton(mod.lax, xp)), xp.asarray(a_np)
        setattr(row, side, median_time(lambda f=f, a=a, bl=block: bl(f(a)), repeat=5))
    return [row]


def _newton_numpy(a: np.ndarray) -> np.ndarray:
    x = a
    while np.max(np.abs(x * x - a)) > 1e-3 * np.max(a):
        x = 0.5 * (x + a / x)
    return x


def bench_random() -> list[Row]:
    """Jitted draws from one key (JAX's threefry streams; NumPy's own generator, PCG64 with
    its ziggurat normal, as the reference point)."""
    import llax

    jax, _ = _jax()
    n, keys = 10_000_000, 100_000
    rng = np.random.default_rng(0)
    cases = [
        (f"random.normal {n:.0e} x f32", lambda r, s: r.normal(s, (n,)),
         lambda: rng.standard_normal(n, dtype=np.float32)),
        (f"random.uniform {n:.0e} x f32", lambda r, s: r.uniform(s, (n,)),
         lambda: rng.random(n, dtype=np.float32)),
        (f"random.split into {keys:.0e} keys", lambda r, s: r.split(s, keys), None),
    ]
    rows = []
    for name, draw, numpy_fn in cases:
        f = llax.jit(lambda k, draw=draw: draw(llax.random, k))
        k = llax.random.key(0)
        row = Row(name, median_time(lambda f=f, k=k: f(k), repeat=5),
                  numpy=None if numpy_fn is None else median_time(numpy_fn, repeat=5))
        if jax:
            g = jax.jit(lambda k, draw=draw: draw(jax.random, k))
            jk = jax.random.key(0)
            row.jax = median_time(lambda g=g, jk=jk: g(jk).block_until_ready(), repeat=5)
        rows.append(row)
    return rows


def bench_callbacks() -> list[Row]:
    """A jitted call that calls back into Python: what a debug.callback / pure_callback adds
    to a small kernel (no NumPy column: NumPy has no compiled code to call back from)."""
    import llax
    import llax.numpy as lnp

    x = np.arange(16, dtype=np.float32)
    cases = [
        ("jit with a no-op debug.callback, 16 x f32",
         lambda m: lambda a: (m.debug.callback(lambda v: None, a), a + 1)[1]),
        ("jit with pure_callback(a * 2), 16 x f32",
         lambda m: lambda a: m.pure_callback(lambda v: v * 2, m.ShapeDtypeStruct(a.shape,
                                                                                 a.dtype), a) + 1),
    ]
    jax, jnp = _jax()
    rows = []
    for name, make in cases:
        f = llax.jit(make(llax))
        xl = lnp.asarray(x)
        row = Row(name, median_time(lambda f=f, xl=xl: f(xl)))
        if jax:
            g = jax.jit(make(jax))
            xj = jnp.asarray(x)
            row.jax = median_time(lambda g=g, xj=xj: g(xj).block_until_ready())
        rows.append(row)
    return rows


def _jitted_row(name: str, call: Callable[[Any, Any], Any], numpy_fn: Callable[..., Any],
                *args: np.ndarray) -> Row:
    """One row: ``call(jnp_module, lax_module)`` gives the function, jitted on each side
    and fed that side's arrays; ``numpy_fn`` runs on the NumPy arrays themselves."""
    import llax
    import llax.numpy as lnp

    def timed(jit: Callable[..., Any], jnp: Any, lax: Any, block: Callable[[Any], Any]) -> float:
        fn = jit(call(jnp, lax))
        xs = [jnp.asarray(a) for a in args]
        return median_time(lambda: block(fn(*xs)))

    row = Row(name, timed(llax.jit, lnp, llax.lax, lambda r: r),
              numpy=median_time(lambda: numpy_fn(*args)))
    jax, jnp = _jax()
    if jax:
        row.jax = timed(jax.jit, jnp, jax.lax, jax.block_until_ready)
    return row


def bench_linalg() -> list[Row]:
    """LAPACK-backed linear algebra under jit (issue 12's targets: within 1.2x NumPy, no
    slower than JAX)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 512)).astype(np.float32)
    b = rng.standard_normal((512,)).astype(np.float32)
    s = rng.standard_normal((256, 256)).astype(np.float32)
    return [_jitted_row("jit(jnp.linalg.solve) 512x512 f32", lambda jnp, lax: jnp.linalg.solve,
                        np.linalg.solve, a, b),
            _jitted_row("jit(jnp.linalg.eigh) 256x256 f32", lambda jnp, lax: jnp.linalg.eigh,
                        np.linalg.eigh, s + s.T)]


def bench_fft() -> list[Row]:
    """A real FFT under jit (issue 12's target: within 1.2x NumPy)."""
    x = np.random.default_rng(0).standard_normal(2**20).astype(np.float32)
    return [_jitted_row("jit(jnp.fft.rfft) 2^20 f32", lambda jnp, lax: jnp.fft.rfft,
                        np.fft.rfft, x)]


def bench_einsum() -> list[Row]:
    """A batched contraction through einsum (issue 12's target: no slower than JAX)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((64, 128, 128)).astype(np.float32) for _ in range(2))

    def batched_matmul(jnp: Any, lax: Any) -> Callable[[Any, Any], Any]:
        return lambda x, y: jnp.einsum("bij,bjk->bik", x, y)

    return [_jitted_row("einsum bij,bjk->bik 64x128x128 f32", batched_matmul,
                        batched_matmul(np, None), a, b)]


CNN_BATCH = 64
CONV_NHWC = ("NHWC", "HWIO", "NHWC")


def _cnn_problem() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Issue 13's CNN: conv3x3(1->32) relu maxpool2 conv3x3(32->64) relu maxpool2
    dense(3136->10), NHWC, float32 params, a batch of 28x28 images, one-hot labels."""
    rng = np.random.default_rng(0)

    def init(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(np.prod(shape[:-1]))).astype(np.float32)

    params = [init(3, 3, 1, 32), np.zeros(32, np.float32), init(3, 3, 32, 64),
              np.zeros(64, np.float32), init(7 * 7 * 64, 10), np.zeros(10, np.float32)]
    x = rng.standard_normal((CNN_BATCH, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, CNN_BATCH)]
    return params, x, y


def _cnn_train_step(jax_mod: Any, xp: Any, lr: float = 0.01) -> Callable[..., Any]:
    """``(params, x, y) -> new params``: the CNN's softmax cross-entropy, one SGD step."""
    lax = jax_mod.lax

    def block(h, w, b):
        h = lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=CONV_NHWC)
        h = jax_mod.nn.relu(h + b)
        return lax.reduce_window(h, -xp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def loss_fn(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h = block(block(x, w1, b1), w2, b2)
        logits = h.reshape(h.shape[0], -1) @ w3 + b3
        return -xp.mean(xp.sum(y * jax_mod.nn.log_softmax(logits), axis=-1))

    def train_step(params, x, y):
        grads = jax_mod.grad(loss_fn)(params, x, y)
        return [p - lr * g for p, g in zip(params, grads)]

    return train_step


def bench_cnn() -> list[Row]:
    """Issue 13's targets: the CNN training step and its first call (at most 0.25x JAX)."""
    return _train_step_rows(f"CNN train step (2 conv+pool, dense), batch {CNN_BATCH}, f32",
                            "CNN train step first call (trace+compile)", _cnn_train_step,
                            *_cnn_problem())


def bench_conv() -> list[Row]:
    """A jitted 3x3 convolution, NHWC 8x56x56x64 by HWIO 3x3x64x64, SAME (issue 13's target:
    at most 0.35x JAX)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 56, 56, 64)).astype(np.float32)
    w = (rng.standard_normal((3, 3, 64, 64)) / 24).astype(np.float32)

    def conv(jnp: Any, lax: Any) -> Callable[[Any, Any], Any]:
        return lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                     dimension_numbers=CONV_NHWC)

    row = _jitted_row("jit(conv_general_dilated) 8x56x56x64 3x3x64x64 SAME f32", conv,
                      lambda x, w: None, x, w)
    row.numpy = None  # NumPy has no convolution of its own
    return [row]


WORKLOADS: dict[str, Callable[[], list[Row]]] = {
    "dispatch": bench_dispatch,
    "selu": bench_selu,
    "dot": bench_dot,
    "compile": bench_compile,
    "linreg": bench_linreg,
    "mlp": bench_mlp,
    "cnn": bench_cnn,
    "conv": bench_conv,
    "vmap": bench_vmap,
    "fori": bench_fori,
    "rnn": bench_rnn,
    "newton": bench_newton,
    "random": bench_random,
    "callbacks": bench_callbacks,
    "linalg": bench_linalg,
    "fft": bench_fft,
    "einsum": bench_einsum,
}


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _ratio(a: float, b: float | None) -> str:
    return "-" if b is None else f"{a / b:.2f}x"


def format_table(rows: Sequence[Row]) -> str:
    lines = ["| workload | llax | numpy | jax | llax/numpy | llax/jax |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {_fmt(r.llax)} | {_fmt(r.numpy)} | {_fmt(r.jax)} | "
                     f"{_ratio(r.llax, r.numpy)} | {_ratio(r.llax, r.jax)} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llax-bench", description=__doc__.split("\n")[0])
    parser.add_argument("workloads", nargs="*", default=[],
                        help=f"which to run (default all): {', '.join(WORKLOADS)}")
    ns = parser.parse_args(argv)
    unknown = [w for w in ns.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    rows: list[Row] = []
    for name in ns.workloads or list(WORKLOADS):
        rows.extend(WORKLOADS[name]())
        print(f"... {name} done", file=sys.stderr)
    print(f"llax-bench {time.strftime('%Y-%m-%d')} "
          "(lower is better; ratios < 1 mean llax is faster)")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
