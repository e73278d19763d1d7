"""Host callbacks: debug.print, debug.callback, pure_callback, io_callback.

Printed output is compared with JAX's (captured stdout of the same program run by both);
values with NumPy; compiled code with the interpreter.
"""

from __future__ import annotations

import re
import threading

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from jax.experimental import io_callback as jax_io_callback

import llax
import llax.numpy as jnp
from llax import lax
from llax.experimental import io_callback
from llax.ir.prims.callbacks import CallbackResultError

debug_print, debug_callback, pure_callback = llax.debug.print, llax.debug.callback, \
    llax.pure_callback

F32 = np.float32


def printed(capsys, run) -> list[str]:
    capsys.readouterr()
    run()
    if hasattr(jax, "effects_barrier"):
        jax.effects_barrier()
    return capsys.readouterr().out.splitlines()


def both(capsys, program, *args):
    """Run ``program(api, jnp, print)(*args)`` with llax and with JAX; return both stdouts."""
    ours = printed(capsys, lambda: program(llax, jnp, debug_print)(*args))
    theirs = printed(capsys, lambda: jax.block_until_ready(
        program(jax, jjnp, jax.debug.print)(*[jjnp.asarray(a) for a in args])))
    return ours, theirs


# --- debug.print, against JAX's output ------------------------------------------------------

def _prog_eager(api, np_, p):
    return lambda x: p("x={} twice={y}", x, y=x * 2)


def _prog_jit(api, np_, p):
    return api.jit(lambda x: (p("x={x} sum={s:.3f}", x=x, s=np_.sum(x)), x + 1)[1])


def _prog_vmap(api, np_, p):
    return api.vmap(lambda v: (p("v={} w={}", v, v * 10), v)[1])


def _prog_jit_vmap(api, np_, p):
    return api.jit(api.vmap(lambda v, w: (p("{} {}", v, w), v * w)[1], in_axes=(0, None)))


def _prog_grad(api, np_, p):
    return api.grad(lambda v: (p("primal {}", v), v * v * v)[1])


def _prog_jit_grad(api, np_, p):
    return api.jit(api.grad(lambda v: (p("primal {}", v), np_.sin(v))[1]))


def _prog_vmap_grad(api, np_, p):
    return api.vmap(api.grad(lambda v: (p("g {}", v), v * v)[1]))


def _prog_fori(api, np_, p):
    def body(i, c):
        p("i={i} c={c}", i=i, c=c)
        return c * 2
    return api.jit(lambda x: api.lax.fori_loop(0, 4, body, x))


def _printing_while(api, p, step, limit):
    def body(c):
        p("c={}", c)
        return c + step
    return lambda x: api.lax.while_loop(lambda c: c < limit, body, x)


def _prog_while(api, np_, p):
    return api.jit(_printing_while(api, p, 3, 10))


def _prog_scan(api, np_, p):
    def body(c, x):
        p("carry {} x {}", c, x)
        return c + x, c * x
    return api.jit(lambda xs: api.lax.scan(body, 0.0, xs))


def _prog_cond(api, np_, p):
    def branch(tag):
        return lambda x: (p(tag + " {}", x), x)[1]
    return api.jit(lambda x: api.lax.cond(x > 0, branch("pos"), branch("neg"), x))


def _prog_ordered(api, np_, p):
    def f(x):
        p("first {}", x, ordered=True)
        y = np_.exp(x)
        p("second {}", y, ordered=True)
        p("third {}", x * 0, ordered=True)
        return y
    return api.jit(f)


def _prog_vmap_of_while(api, np_, p):
    return api.vmap(_printing_while(api, p, 1, 3))


def _prog_grad_scan(api, np_, p):
    def body(c, x):
        p("c {} x {}", c, x)
        return c * x + 0.5, c
    return api.jit(api.grad(lambda xs: (lambda c, ys: c + ys.sum())(*api.lax.scan(body, 1.0,
                                                                                  xs))))


def _prog_grad_fori(api, np_, p):
    def body(i, c):
        p("i {} c {}", i, c)
        return c * 1.5 + i
    return api.grad(lambda x: api.lax.fori_loop(0, 3, body, x))


def _prog_vmap_grad_cond(api, np_, p):
    branch = lambda v: (p("pos {}", v), v * v)[1]  # noqa: E731
    return api.vmap(api.grad(lambda x: api.lax.cond(x > 0, branch, lambda v: v, x)))


def _prog_fused_between(api, np_, p):
    def f(x):
        for i in range(5):
            x = np_.tanh(x) * 2 + i
            p("{i}: {x}", i=i, x=x.sum(), ordered=i % 2 == 0)
        return x
    return api.jit(f)


PROGRAMS = {
    "grad_scan": (_prog_grad_scan, [np.arange(1, 4, dtype=F32)]),
    "grad_fori": (_prog_grad_fori, [np.float32(0.5)]),
    "vmap_grad_cond": (_prog_vmap_grad_cond, [np.array([-1, 2], F32)]),
    "fused_between": (_prog_fused_between, [np.linspace(-1, 1, 8, dtype=F32)]),
    "eager": (_prog_eager, [np.float32(1.5)]),
    "eager_array": (_prog_eager, [np.arange(3, dtype=F32)]),
    "jit": (_prog_jit, [np.arange(4, dtype=F32).reshape(2, 2)]),
    "vmap": (_prog_vmap, [np.arange(3, dtype=F32)]),
    "jit_vmap": (_prog_jit_vmap, [np.arange(3, dtype=F32), np.float32(2)]),
    "grad": (_prog_grad, [np.float32(2.0)]),
    "jit_grad": (_prog_jit_grad, [np.float32(0.5)]),
    "vmap_grad": (_prog_vmap_grad, [np.arange(3, dtype=F32)]),
    "fori": (_prog_fori, [np.float32(1)]),
    "while": (_prog_while, [np.int32(1)]),
    "scan": (_prog_scan, [np.arange(4, dtype=F32)]),
    "cond_pos": (_prog_cond, [np.float32(2)]),
    "cond_neg": (_prog_cond, [np.float32(-2)]),
    "ordered": (_prog_ordered, [np.float32(1)]),
    "vmap_of_while": (_prog_vmap_of_while, [np.array([0, 1, 2], np.int32)]),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_debug_print_matches_jax(capsys, name):
    program, args = PROGRAMS[name]
    ours, theirs = both(capsys, program, *args)
    assert theirs, "the program printed nothing in JAX: the test checks nothing"
    if name == "vmap_of_while":  # JAX does not promise an order across examples
        ours, theirs = sorted(ours), sorted(theirs)
    assert _same_printout(ours, theirs), (ours, theirs)


_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _same_printout(ours: list[str], theirs: list[str]) -> bool:
    """The same lines, with the same text around the numbers, and numbers equal to float32
    precision: a transcendental may differ by an ulp between NumPy's (the reference) and
    XLA's loops on some hosts."""
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs):
        if _NUMBER.split(a) != _NUMBER.split(b):
            return False
        x, y = (np.array(_NUMBER.findall(line), float) for line in (a, b))
        if not np.allclose(x, y, rtol=3e-7, atol=0):
            return False
    return True


def test_debug_print_checks_its_format_when_traced():
    with pytest.raises(IndexError):
        debug_print("{} {}", 1.0)
    with pytest.raises(KeyError):
        llax.jit(lambda x: debug_print("{missing}", x))(1.0)


def test_two_equal_prints_both_print(capsys):
    def f(x):
        debug_print("same {}", x)
        debug_print("same {}", x)
        return x
    out = printed(capsys, lambda: llax.jit(f)(np.float32(3)))
    assert out == ["same 3.0", "same 3.0"]


def test_callbacks_are_ops_with_jax_names():
    def f(x):
        debug_print("{}", x)
        debug_callback(lambda v: None, x)
        y = pure_callback(np.sin, llax.ShapeDtypeStruct((), np.float32), x)
        z = io_callback(np.cos, llax.ShapeDtypeStruct((), np.float32), x)
        return y + z
    text = str(llax.make_jaxpr(f)(1.0))
    for name in ("debug_print", "debug_callback", "pure_callback", "io_callback"):
        assert name in text
    lowered = llax.jit(f).lower(np.float32(1)).as_text()
    for name in ("debug_print", "debug_callback", "io_callback"):  # effects survive the passes
        assert name in lowered


# --- debug.callback ---------------------------------------------------------------------------

def test_debug_callback_gets_numpy_values_and_pytrees():
    seen = []

    def cb(a, tree, *, k):
        seen.append((a, tree, k))

    def f(x):
        debug_callback(cb, x, {"p": (x * 2, 3)}, k=x.sum())
        return x

    x = np.arange(6, dtype=F32).reshape(2, 3)
    llax.jit(f)(x)
    f(jnp.asarray(x))
    assert len(seen) == 2
    for a, tree, k in seen:
        assert isinstance(a, np.ndarray) and a.dtype == F32 and not a.flags.writeable
        np.testing.assert_array_equal(a, x)
        np.testing.assert_array_equal(tree["p"][0], x * 2)
        assert int(tree["p"][1]) == 3
        assert float(k) == x.sum()


def test_debug_callback_runs_in_while_and_each_vmap_example():
    seen = []
    f = llax.vmap(lambda v: (debug_callback(lambda a: seen.append(float(a)), v), v)[1])
    llax.jit(f)(np.arange(4, dtype=F32))
    assert seen == [0.0, 1.0, 2.0, 3.0]


def test_callback_mutation_does_not_reach_llax():
    # The callback sees copies: writing them (after making them writable) changes nothing.
    def cb(a):
        b = a.copy()
        b[...] = 0
    x = np.ones(3, F32)
    out = llax.jit(lambda v: (debug_callback(cb, v), v * 2)[1])(x)
    np.testing.assert_array_equal(out, 2 * x)
    np.testing.assert_array_equal(x, np.ones(3, F32))


# --- pure_callback -------------------------------------------------------------------------

def _sds(shape, dtype=F32):
    return llax.ShapeDtypeStruct(shape, dtype)


@pytest.mark.parametrize("jit", [False, True])
def test_pure_callback_values(jit):
    def f(x):
        out = pure_callback(lambda a: {"s": np.sin(a), "n": np.int32(a.size)},
                            {"s": _sds(x.shape), "n": _sds((), np.int32)}, x)
        return out["s"] * 2, out["n"]
    g = llax.jit(f) if jit else f
    x = np.linspace(-3, 3, 7, dtype=F32)
    s, n = g(jnp.asarray(x))
    np.testing.assert_allclose(s, 2 * np.sin(x), rtol=1e-6)
    assert int(n) == 7 and n.dtype == np.int32


def test_pure_callback_unused_is_removed_but_io_callback_runs():
    calls = []
    f = llax.jit(lambda v: (pure_callback(lambda a: calls.append("pure") or a, _sds(()), v),
                            io_callback(lambda a: calls.append("io") or a, _sds(()), v),
                            v + 1)[2])
    assert float(f(np.float32(1))) == 2.0
    assert calls == ["io"]


@pytest.mark.parametrize("method", ["sequential", "sequential_unrolled", "expand_dims",
                                    "broadcast_all", "legacy_vectorized"])
def test_pure_callback_vmap_methods_match_jax(method):
    def run(api, np_, pure):
        shapes = []

        def cb(a, b):
            shapes.append((np.shape(a), np.shape(b)))
            return np.sin(a) + np.reshape(b, np.shape(b) + (1,) * (np.ndim(a) - np.ndim(b)))

        def f(v):
            return pure(cb, api.ShapeDtypeStruct(v.shape, v.dtype), v, np_.float32(1.5),
                        vmap_method=method)
        out = api.vmap(f)(np_.arange(6, dtype=np_.float32).reshape(3, 2))
        return np.asarray(out), shapes

    ours, our_shapes = run(llax, jnp, pure_callback)
    theirs, their_shapes = run(jax, jjnp, jax.pure_callback)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert our_shapes == their_shapes


def test_pure_callback_vmap_errors_as_jax():
    sds = _sds(())
    with pytest.raises(NotImplementedError, match="vmap_method=None"):
        llax.vmap(lambda v: pure_callback(np.sin, sds, v))(np.ones(3, F32))
    with pytest.raises(ValueError, match="vmap_method must be"):
        pure_callback(np.sin, sds, 1.0, vmap_method="bogus")


def test_pure_callback_and_io_callback_refuse_jvp():
    sds = _sds(())
    with pytest.raises(ValueError, match="Pure callbacks do not support JVP"):
        llax.grad(lambda v: pure_callback(np.sin, sds, v))(1.0)
    with pytest.raises(ValueError, match="IO callbacks do not support JVP"):
        llax.grad(lambda v: io_callback(np.sin, sds, v))(1.0)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("result, message", [
    (lambda a: np.ones(3, F32), r"Incorrect output shape for return value #0: Expected: \(\), "
                                r"Actual: \(3,\)"),
    (lambda a: (a, a), "Mismatched number of outputs from callback. Expected: 1, Actual: 2"),
    (lambda a: np.int32(3), "Incorrect output dtype for return value #0: Expected: float32, "
                            "Actual: int32"),
])
def test_pure_callback_checks_results(jit, result, message):
    f = lambda v: pure_callback(result, _sds(()), v)  # noqa: E731
    g = llax.jit(f) if jit else f
    with pytest.raises(CallbackResultError, match=message):
        g(np.float32(1))
    if jit:  # still usable
        ok = llax.jit(lambda v: pure_callback(lambda a: a * 2, _sds(()), v))
        assert float(ok(np.float32(2))) == 4.0


def test_wider_results_narrow_as_in_jax():
    # A Python float or a float64 for a float32 result is accepted without x64, as JAX does.
    f = llax.jit(lambda v: pure_callback(lambda a: float(a) * 2, _sds(()), v))
    assert float(f(np.float32(1.25))) == 2.5
    with pytest.raises(ValueError, match="64-bit"):
        pure_callback(lambda a: a, _sds((), np.float64), 1.0)


# --- io_callback -----------------------------------------------------------------------------

def test_io_callback_order_and_state():
    log = []

    def record(tag):
        def cb(a):
            log.append((tag, float(a)))
            return np.float32(len(log))
        return cb

    def f(x):
        a = io_callback(record("a"), _sds(()), x, ordered=True)
        b = io_callback(record("b"), _sds(()), x * 2, ordered=True)
        return a + b
    out = llax.jit(f)(np.float32(1))
    assert log == [("a", 1.0), ("b", 2.0)] and float(out) == 3.0


def test_io_callback_vmap():
    seen = []
    f = lambda v: io_callback(lambda a: seen.append(float(a)) or a * 2, _sds(()), v)  # noqa: E731
    out = llax.vmap(f)(np.arange(3, dtype=F32))
    np.testing.assert_array_equal(out, [0, 2, 4])
    assert seen == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="Cannot `vmap` ordered IO callback"):
        llax.vmap(lambda v: io_callback(np.sin, _sds(()), v, ordered=True))(np.ones(2, F32))
    # JAX agrees on the values.
    theirs = jax.vmap(lambda v: jax_io_callback(lambda a: a * 2, jax.ShapeDtypeStruct(
        (), jjnp.float32), v))(jjnp.arange(3, dtype=jjnp.float32))
    np.testing.assert_array_equal(out, theirs)


# --- errors, threads -----------------------------------------------------------------------

class Boom(Exception):
    pass


def test_exception_in_callback_reaches_caller_and_function_stays_usable():
    def cb(a):
        if a < 0:
            raise Boom(f"negative {a}")

    f = llax.jit(lambda v: (debug_callback(cb, v), v * 3)[1])
    with pytest.raises(Boom, match="negative -1.0"):
        f(np.float32(-1))
    assert float(f(np.float32(2))) == 6.0
    with pytest.raises(Boom):
        f(np.float32(-2))


def test_failed_callback_stops_a_while_loop():
    calls = []

    def cb(c):
        calls.append(int(c))
        if c == 3:
            raise Boom("stop")
        return c

    def f(x):  # would never end without the failure
        def body(c):
            return io_callback(cb, _sds((), np.int32), c) + 1
        return lax.while_loop(lambda c: c >= 0, body, x)

    with pytest.raises(Boom, match="stop"):
        llax.jit(f)(np.int32(0))
    assert calls == [0, 1, 2, 3]


def test_keyboard_interrupt_in_callback_propagates():
    def cb(a):
        raise KeyboardInterrupt
    f = llax.jit(lambda v: (debug_callback(cb, v), v)[1])
    with pytest.raises(KeyboardInterrupt):
        f(np.float32(1))
    assert float(llax.jit(lambda v: v + 1)(np.float32(1))) == 2.0


def test_callbacks_from_many_threads():
    seen = []
    lock = threading.Lock()

    def cb(a):
        with lock:
            seen.append((threading.get_ident(), float(a[0])))
        return np.sin(a)

    f = llax.jit(lambda v: pure_callback(cb, _sds(v.shape), v) + 1)
    f(np.zeros(4, F32))
    seen.clear()
    results, errors = {}, []
    done = threading.Barrier(8, timeout=60)  # no thread exits (freeing its id) before all ran

    def work(k):
        try:
            for r in range(20):
                x = np.full(4, k + r / 100, F32)
                results[(k, r)] = (x, np.asarray(f(x)))
        except BaseException as e:  # noqa: B036
            errors.append(e)
        done.wait()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 160 and len(seen) == 160
    for x, out in results.values():
        np.testing.assert_allclose(out, np.sin(x) + 1, rtol=1e-6)
    assert len({t for t, _ in seen}) == 8  # each call on its caller's thread


def test_error_in_one_thread_does_not_leak_into_another():
    def cb(a):
        if a < 0:
            raise Boom("mine")
        return a

    f = llax.jit(lambda v: io_callback(cb, _sds(()), v) * 2)
    outcomes = {}

    def work(k):
        try:
            outcomes[k] = float(f(np.float32(k if k % 2 else -1)))
        except Boom:
            outcomes[k] = "boom"

    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == {k: (2.0 * k if k % 2 else "boom") for k in range(16)}


def test_public_names():
    # JAX programs reach these as jax.debug.print, jax.pure_callback, jax.effects_barrier...
    from llax.experimental import io_callback as exported

    assert llax.debug.print is debug_print and llax.debug.callback is debug_callback
    assert exported is io_callback and llax.pure_callback is pure_callback
    assert llax.effects_barrier() is None
    for name in ("disable_jit", "debug_nans", "debug_infs", "log_compiles",
                 "explain_cache_misses", "numpy_rank_promotion", "default_matmul_precision"):
        assert hasattr(llax, name) and hasattr(jax, name), name
