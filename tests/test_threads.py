"""Threads: trace state is per thread, and the shared caches stay consistent.

Each test starts its threads at a Barrier, so they really run side by side, and
checks every result against NumPy (or hand-derived values). Loops run a fixed
number of iterations, never "for a while": the tests are bounded and
deterministic in what they assert.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax import lax
from llax.frontend import compile as llax_compile
from llax.frontend.core import Array, UnexpectedTracerError, signature_id

N_THREADS = 8


def run_in_threads(work: Callable[[int], None], n: int = N_THREADS) -> None:
    """Run ``work(i)`` on ``n`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            work(i)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_eager_ops_stay_eager_while_other_threads_trace():
    # Half the threads run eager ops, half trace: no eager result may be a tracer (with one
    # global trace stack, eager ops landed in the other threads' traces).
    x_np = np.linspace(-1.0, 1.0, 10, dtype=np.float32)

    def loss(v):
        return jnp.sum(jnp.sin(v) * v)

    def work(i: int) -> None:
        x = jnp.asarray(x_np + i)
        for _ in range(150):
            if i % 2:
                y = x + 1
                z = jnp.exp(y) * 2
                assert type(y) is Array and type(z) is Array
                np.testing.assert_array_equal(np.asarray(y), x_np + i + 1)
                np.testing.assert_allclose(np.asarray(z), np.exp(x_np + i + 1) * 2, rtol=1e-6)
            else:
                jaxpr = llax.make_jaxpr(lambda v: jnp.cos(v) + v)(x)
                assert [str(e.primitive) for e in jaxpr.eqns] == ["cos", "add"]
                g = llax.grad(loss)(x)
                v = x_np + i
                np.testing.assert_allclose(np.asarray(g), np.sin(v) + v * np.cos(v),
                                           rtol=1e-5, atol=1e-6)

    run_in_threads(work)


def test_make_jaxpr_grad_and_vmap_on_eight_threads():
    def work(i: int) -> None:
        rng = np.random.default_rng(i)
        x_np = rng.normal(size=(4, 3)).astype(np.float32)
        w_np = rng.normal(size=(3,)).astype(np.float32)
        x, w = jnp.asarray(x_np), jnp.asarray(w_np)
        for _ in range(20):
            # vmap of a row function: the batched matrix-vector product.
            rows = llax.vmap(lambda r: jnp.dot(r, w) + i)(x)
            np.testing.assert_allclose(np.asarray(rows), x_np @ w_np + i, rtol=1e-5, atol=1e-5)
            # grad of a quadratic: d/dw sum((x w)^2) = 2 x^T (x w).
            g = llax.grad(lambda v: jnp.sum(jnp.dot(x, v) ** 2))(w)
            np.testing.assert_allclose(np.asarray(g), 2 * x_np.T @ (x_np @ w_np),
                                       rtol=1e-4, atol=1e-4)
            # vmap with a named axis: each thread binds "i" only for itself.
            centred = llax.vmap(lambda r: r - lax.pmean(r, "i"), axis_name="i")(x)
            np.testing.assert_allclose(np.asarray(centred), x_np - x_np.mean(0),
                                       rtol=1e-5, atol=1e-6)
            jaxpr = llax.make_jaxpr(lambda a: jnp.tanh(a) * i)(x)
            assert jaxpr.out_avals[0].shape == (4, 3)

    run_in_threads(work)


def test_jit_compiles_distinct_functions_concurrently():
    x_np = np.arange(6, dtype=np.float32) / 4

    def work(i: int) -> None:
        f = llax.jit(lambda v: jnp.sin(v) * (i + 1) + v * v)
        for _ in range(3):
            out = f(jnp.asarray(x_np))
            np.testing.assert_allclose(np.asarray(out), np.sin(x_np) * (i + 1) + x_np * x_np,
                                       rtol=1e-6, atol=1e-6)

    run_in_threads(work)


def test_functions_with_side_modules_compile_concurrently():
    # Eight loop nests go to a side module, compiled on a second thread and loaded after
    # the main one; a symbol lookup on another thread in between made LLVM abort ("Symbol
    # not found: llax_side3_group0") and took the process down.
    x_np = np.arange(64, dtype=np.float32).reshape(8, 8) / 64

    def work(i: int) -> None:
        for j in range(3):
            scale = float(i * 3 + j + 1)
            f = llax.jit(lambda v, s=scale: sum(jnp.sum(jnp.sin(v * (s + k)), axis=k % 2)
                                                for k in range(8)))
            want = sum(np.sin(x_np * (scale + k)).sum(axis=k % 2) for k in range(8))
            np.testing.assert_allclose(np.asarray(f(jnp.asarray(x_np))), want, rtol=1e-5,
                                       atol=1e-5)

    run_in_threads(work)


def test_jit_same_function_new_shapes_concurrently_compiles_each_once():
    traces: Counter = Counter()

    def f(v):
        traces[v.shape] += 1
        return jnp.sum(v) - v * 3

    jf = llax.jit(f)
    sizes = [1 + i % 4 for i in range(N_THREADS)]  # each shape asked for by two threads

    def work(i: int) -> None:
        x_np = np.arange(sizes[i], dtype=np.float32) + i
        for _ in range(3):
            out = jf(jnp.asarray(x_np))
            np.testing.assert_allclose(np.asarray(out), np.sum(x_np) - x_np * 3, rtol=1e-6)

    run_in_threads(work)
    # Threads missing the same signature at once share one compilation.
    assert traces == Counter({(n,): 1 for n in set(sizes)})
    assert jf._cache_size() == len(set(sizes))


def test_eager_gradient_program_is_shared_and_compiled_once(monkeypatch):
    # Every call of grad(loss) outside jit retraces, finds the cached gradient program and,
    # after a few calls, runs it compiled: eight threads must share one compilation.
    compiled: Counter = Counter()
    compile_function = llax_compile.compile_function

    def counting(fn, **kwargs):
        compiled[fn.name] += 1
        return compile_function(fn, **kwargs)

    monkeypatch.setattr(llax_compile, "compile_function", counting)

    def loss_shared_by_threads(w):
        return jnp.sum(jnp.sin(w) ** 2) * 0.75

    grad = llax.grad(loss_shared_by_threads)

    def work(i: int) -> None:
        w_np = np.linspace(-2.0, 2.0, 7, dtype=np.float32) + i
        for _ in range(6):
            g = grad(jnp.asarray(w_np))
            np.testing.assert_allclose(np.asarray(g), 0.75 * np.sin(2 * w_np),
                                       rtol=1e-5, atol=1e-6)

    run_in_threads(work)
    assert compiled == Counter({"grad_loss_shared_by_threads": 1})


def test_jitted_calls_from_eight_threads():
    f = llax.jit(lambda a, b: a * b + 1.0)
    g = llax.jit(lambda p: {"s": p["w"] @ p["x"], "d": p["w"] - 1.0})
    w_np = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    x_np = np.arange(4, dtype=np.float32) - 1.5
    f(jnp.ones(3), jnp.ones(3))  # compiled before the threads start: they race on dispatch
    g({"w": jnp.asarray(w_np), "x": jnp.asarray(x_np)})

    def work(i: int) -> None:
        a_np = np.arange(3, dtype=np.float32) + i
        a = jnp.asarray(a_np)
        params = {"w": jnp.asarray(w_np + i), "x": jnp.asarray(x_np)}
        for _ in range(300):
            np.testing.assert_array_equal(np.asarray(f(a, a)), a_np * a_np + 1.0)
            out = g(params)
            np.testing.assert_allclose(np.asarray(out["s"]), (w_np + i) @ x_np, rtol=1e-5)
            np.testing.assert_array_equal(np.asarray(out["d"]), w_np + i - 1.0)

    run_in_threads(work)


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every few bytecodes rather than every 5 ms, so that a race in a
    short read-then-write sequence shows up in a short test."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_signature_ids_are_distinct_when_numbered_concurrently(frequent_thread_switches):
    # Every thread numbers the same new (shape, dtype, weak) triples at once.
    for batch in range(4):
        triples = [((7919, batch, k), np.dtype(np.float32), bool(k % 2)) for k in range(2000)]
        seen: list[list[int]] = [[] for _ in range(N_THREADS)]
        run_in_threads(functools.partial(_number_signatures, triples, seen))
        assert all(ids == seen[0] for ids in seen)  # one id per triple, whoever numbered it
        assert len(set(seen[0])) == len(triples)  # and distinct triples have distinct ids


def _number_signatures(triples: list[tuple], seen: list[list[int]], i: int) -> None:
    order = triples if i % 2 else triples[::-1]
    ids = {t: signature_id(*t) for t in order}
    seen[i] = [ids[t] for t in triples]


def test_tracer_used_on_another_thread_has_escaped():
    # A tracer handed to another thread while its trace still runs is not that thread's:
    # using it there raises instead of recording into the other thread's trace.
    leaked: list = []
    handed_over, used = threading.Event(), threading.Event()
    outcome: list = []

    def traced(v):
        leaked.append(v)
        handed_over.set()
        assert used.wait(timeout=60)
        return v * 2

    def other() -> None:
        assert handed_over.wait(timeout=60)
        try:
            with pytest.raises(UnexpectedTracerError, match="another thread"):
                jnp.sin(leaked[0])
            outcome.append("raised")
        finally:
            used.set()

    t = threading.Thread(target=other)
    t.start()
    grad_value = llax.grad(traced)(3.0)  # a concrete trace: the value is known, yet escaped
    t.join(timeout=60)
    assert outcome == ["raised"]
    assert float(grad_value) == 2.0


def test_axis_names_are_bound_per_thread():
    # A vmap binding "i" on one thread does not bind it for another.
    bound, checked = threading.Event(), threading.Event()
    errors: list = []

    def inside(r):
        bound.set()
        assert checked.wait(timeout=60)
        return lax.psum(r, "i")

    def other() -> None:
        assert bound.wait(timeout=60)
        try:
            with pytest.raises(NameError, match="unbound axis name: i"):
                lax.psum(jnp.ones(2), "i")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            checked.set()

    t = threading.Thread(target=other)
    t.start()
    x_np = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = llax.vmap(inside, axis_name="i")(jnp.asarray(x_np))
    t.join(timeout=60)
    assert not errors, errors
    np.testing.assert_array_equal(np.asarray(out), np.broadcast_to(x_np.sum(0), (3, 2)))
