"""disable_jit / jax_disable_jit: jitted functions and lax control flow run as Python, on
concrete values, exactly where JAX runs them so (JAX is the oracle: the same program's
printed trail and results are compared)."""

import os
import subprocess
import sys
import threading

import jax
import jax.numpy as jnp_ref
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax import lax
from llax.config import config
from llax.frontend.api import disable_jit


def run(program):
    """(trail of what the program recorded, result as (type name, NumPy value, weak)) under
    JAX's disable_jit and under llax's."""
    out = []
    for lib, np_, lax_, off in ((jax, jnp_ref, jax.lax, jax.disable_jit),
                                (llax, jnp, lax, disable_jit)):
        trail = []
        with off():
            result = program(lib, np_, lax_, trail.append)
        out.append((trail, _describe(result)))
    return out


def _describe(x):
    if isinstance(x, tuple):
        return tuple(_describe(v) for v in x)
    if x is None or isinstance(x, (int, float)):
        return type(x).__name__, x
    return "array", np.asarray(x).tolist(), str(np.asarray(x).dtype), \
        bool(getattr(x, "weak_type", False))


def value_kind(x):
    """What the function saw: a concrete array, a NumPy array, a Python scalar, a tracer."""
    if isinstance(x, (int, float)):
        return type(x).__name__
    if isinstance(x, np.ndarray):
        return "numpy"
    return "array" if isinstance(x, (jax.Array, llax.Array)) else "tracer"


def jitted_print(lib, np_, lax_, log):
    @lib.jit
    def f(x):
        log((value_kind(x), np.asarray(x).tolist()))
        return x * 2
    return f(np_.arange(3.0)), f(np.arange(3.0)), f(3)


def statics(lib, np_, lax_, log):
    g = lib.jit(lambda x, n: x * n, static_argnums=1)
    return g(2.0, 3)


def cond_takes_one_branch(lib, np_, lax_, log):
    a = lax_.cond(True, lambda: log("T") or 1.0, lambda: log("F") or 2.0)
    b = lax_.cond(np_.array(0), lambda x: x + 1, lambda x: x - 1, 1)
    return a, b


def cond_under_vmap_traces_both(lib, np_, lax_, log):
    return lib.vmap(lambda p: lax_.cond(p, lambda: log("T") or 1.0,
                                        lambda: log("F") or 2.0))(np_.array([True, False]))


def switch(lib, np_, lax_, log):
    return lax_.switch(5, [lambda: log("0") or 0, lambda: log("1") or 1])


def while_in_python(lib, np_, lax_, log):
    def body(c):
        log(("body", value_kind(c), int(c)))
        return c + 1
    return lax_.while_loop(lambda c: c < 3, body, 0)


def while_under_vmap(lib, np_, lax_, log):
    return lib.vmap(lambda x: lax_.while_loop(lambda c: c < 3, lambda c: c + 1, x))(
        np_.array([0, 1]))


def scan_in_python(lib, np_, lax_, log):
    def step(c, x):
        log(("scan", float(c), float(x)))
        return c + x, c * x
    return lax_.scan(step, 0.0, np_.arange(3.0))


def scan_python_carry(lib, np_, lax_, log):
    return lax_.scan(lambda c, x: (c + 1, c), 0.0, None, length=3)


def scan_reverse(lib, np_, lax_, log):
    return lax_.scan(lambda c, x: (log(float(x)) or c + x, c), 0.0, np_.arange(3.0),
                     reverse=True)


def fori_python_counter(lib, np_, lax_, log):
    def body(i, c):
        log(("fori", value_kind(i), i, value_kind(c)))
        return c + i
    return lax_.fori_loop(0, 3, body, 0), lax_.fori_loop(0, 0, body, 0)


def fori_traced_bounds(lib, np_, lax_, log):
    return lib.vmap(lambda n: lax_.fori_loop(0, n, lambda i, c: c + i, 0))(np_.array([2, 3]))


def lax_map(lib, np_, lax_, log):
    return lax_.map(lambda x: log(float(x)) or x + 1, np_.arange(2.0))


def grad_and_vmap_inside(lib, np_, lax_, log):
    g = lib.jit(lib.grad(lambda x: np_.sin(x) * x))
    v = lib.jit(lib.vmap(lambda x: x * 2))
    return g(1.0), v(np_.arange(3.0))


@pytest.mark.parametrize("program", [
    jitted_print, statics, cond_takes_one_branch, cond_under_vmap_traces_both, switch,
    while_in_python, while_under_vmap, scan_in_python, scan_python_carry, scan_reverse,
    fori_python_counter, fori_traced_bounds, lax_map, grad_and_vmap_inside,
])
def test_same_as_jax(program):
    (their_trail, theirs), (my_trail, mine) = run(program)
    assert my_trail == their_trail
    if program is grad_and_vmap_inside:  # float rounding may differ in the last place
        np.testing.assert_allclose(mine[0][1], theirs[0][1], rtol=1e-6)
        assert mine[1] == theirs[1]
    else:
        assert mine == theirs


def test_zero_length_scan_is_refused_as_in_jax():
    with jax.disable_jit(), pytest.raises(ValueError) as theirs:
        jax.lax.scan(lambda c, x: (c, x), 0.0, jnp_ref.arange(0.0))
    with disable_jit(), pytest.raises(ValueError) as mine:
        lax.scan(lambda c, x: (c, x), 0.0, jnp.arange(0.0))
    assert str(mine.value) == str(theirs.value)


def test_pdb_style_inspection_sees_values():
    seen = []

    @llax.jit
    def f(x):
        y = jnp.sin(x)
        seen.append(float(y[0]))  # a traced value would raise here
        return y

    with disable_jit():
        f(jnp.array([0.5]))
    assert seen == [pytest.approx(np.sin(0.5))]
    with pytest.raises(llax.errors.ConcretizationTypeError):
        f(jnp.array([0.25]))  # jit is back on: traced


def test_make_jaxpr_inlines_jit_as_jax_does_under_disable_jit():
    with jax.disable_jit():
        theirs = str(jax.make_jaxpr(lambda x: jax.jit(lambda y: y + 1)(x))(1.0))
    with disable_jit():
        mine = str(llax.make_jaxpr(lambda x: llax.jit(lambda y: y + 1)(x))(1.0))
    assert "add" in mine and "jit" not in mine and "pjit" not in theirs


def test_flag_values_scope_and_threads():
    assert not config.jax_disable_jit
    seen = []
    with disable_jit():
        assert config.jax_disable_jit
        with disable_jit(False):
            assert not config.jax_disable_jit
        t = threading.Thread(target=lambda: seen.append(config.jax_disable_jit))
        t.start()
        t.join()
    assert seen == [False] and not config.jax_disable_jit
    traces = []
    f = llax.jit(lambda x: traces.append(1) or x + 1)
    with config.override("jax_disable_jit", True):
        f(1.0)
        f(1.0)
        assert len(traces) == 2  # run as Python each time
        with disable_jit(False):
            f(1.0)
            f(1.0)
            assert len(traces) == 3  # traced once, then the compiled code
    f(1.0)
    assert len(traces) == 3


def test_other_threads_keep_jit_while_one_disables_it():
    traces = []
    f = llax.jit(lambda x: traces.append(threading.get_ident()) or x * 3)
    x = jnp.arange(4.0)
    f(x)
    results, go, done = [], threading.Event(), threading.Event()

    def worker():
        go.wait()
        for _ in range(50):
            results.append(np.asarray(f(x)).tolist())
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    with disable_jit():
        go.set()
        done.wait()
        f(x)
    t.join()
    assert results == [[0.0, 3.0, 6.0, 9.0]] * 50
    assert traces.count(t.ident) == 0  # the worker never ran the Python function
    assert traces.count(threading.get_ident()) == 2  # the first trace, then the disabled call


def test_environment_variable():
    code = ("import llax, llax.numpy as jnp\n"
            "f = llax.jit(lambda x: print(type(x).__name__) or x)\n"
            "f(jnp.ones(2))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "JAX_DISABLE_JIT": "1"}).stdout
    assert out == "Array\n"
