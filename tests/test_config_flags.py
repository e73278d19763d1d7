"""JAX's semantic config flags in llax.config: rank promotion, matmul precision, compile
logging and cache-miss explanations, scoped values and environment variables (JAX, run
alongside, is the oracle for every text)."""

import logging
import os
import subprocess
import sys
import threading
import warnings

import jax
import jax.numpy as jnp_ref
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax.config import (
    config,
    default_matmul_precision,
    explain_cache_misses,
    log_compiles,
    numpy_rank_promotion,
)
from llax.frontend.jnp import _coerce


def outcome(fn):
    """(result or exception text, warning texts) of calling ``fn``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", np.asarray(fn()).tolist())
        except ValueError as e:
            result = ("ValueError", str(e))
    return result, [str(w.message) for w in caught if "rank promotion" in str(w.message)]


RANK_PROGRAMS = {
    "add": lambda np_, x, y: np_.add(x, y),
    "operator": lambda np_, x, y: x + y,
    "greater": lambda np_, x, y: y > x,
    "maximum": lambda np_, x, y: np_.maximum(x, y),
    "arctan2": lambda np_, x, y: np_.arctan2(x, y),
    "power": lambda np_, x, y: np_.power(x, y),
    "clip": lambda np_, x, y: np_.clip(y, x, 2.0),
    "scalar": lambda np_, x, y: x + 1.0,
    "zero-d": lambda np_, x, y: x + np_.float32(1),
    "same rank": lambda np_, x, y: np_.ones((1, 3)) + y,
    "where": lambda np_, x, y: np_.where(y > 0, x, 0.0),
    "where ranks": lambda np_, x, y: np_.where(x > 0, y, np_.ones((4, 1, 1))),
    "matmul": lambda np_, x, y: np_.matmul(np_.ones((2, 3, 4)), np_.ones((4, 5))),
}


MODES = ["allow", "warn", "raise"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(RANK_PROGRAMS))
def test_rank_promotion_as_jax(mode, name):
    program = RANK_PROGRAMS[name]
    # JAX's jnp functions are jitted, so JAX warns only when it traces: shapes no other test
    # uses make it trace. (llax warns on every call.)
    n = 3 + 3 * sorted(RANK_PROGRAMS).index(name) + MODES.index(mode)
    shapes = (n,), (2, n)
    if name in ("same rank", "where ranks", "matmul"):
        shapes = (3,), (2, 3)  # (these programs build operands of fixed shapes)
    with jax.numpy_rank_promotion(mode):
        theirs = outcome(lambda: program(jnp_ref, *map(jnp_ref.ones, shapes)))
    with numpy_rank_promotion(mode):
        mine = outcome(lambda: program(jnp, *map(jnp.ones, shapes)))
    assert mine == theirs


def test_rank_promotion_under_jit_and_global_update():
    x, y = jnp.ones(3), jnp.ones((2, 3))
    f = llax.jit(lambda a, b: a * b)
    with config.override("jax_numpy_rank_promotion", "raise"):
        with pytest.raises(ValueError, match="for multiply on shapes \\(3,\\) \\(2, 3\\)"):
            f(x, y)
    np.testing.assert_array_equal(f(x, y), np.ones((2, 3)))  # "allow" again: a new trace
    assert not _coerce.rank_checks_on  # nothing is checked while every thread allows
    with config.override("jax_numpy_rank_promotion", "warn"):
        with pytest.warns(UserWarning, match="Following NumPy automatic rank promotion"):
            f(x[None], y[:, None])  # traced anew: the warning comes from the trace
    with pytest.raises(ValueError) as theirs:
        jax.config.update("jax_numpy_rank_promotion", "bogus")
    with pytest.raises(ValueError) as mine:
        config.update("jax_numpy_rank_promotion", "bogus")
    assert str(mine.value) == str(theirs.value)
    assert config.jax_numpy_rank_promotion == "allow"


def test_rank_promotion_scope_is_per_thread():
    seen = []
    x, y = jnp.ones(3), jnp.ones((2, 3))
    with numpy_rank_promotion("raise"):
        t = threading.Thread(target=lambda: seen.append(np.asarray(x + y).shape))
        t.start()
        t.join()
        with pytest.raises(ValueError):
            x + y
    assert seen == [(2, 3)]


@pytest.mark.parametrize("value", ["float32", "highest", "bfloat16", "tensorfloat32", "default",
                                   "high", None, "BF16_BF16_F32", "fastest", "bogus"])
def test_default_matmul_precision_accepts_jax_values(value):
    def attempt(cfg):
        try:
            cfg.update("jax_default_matmul_precision", value)
            return "ok", cfg.jax_default_matmul_precision
        except ValueError as e:
            return "ValueError", str(e)
        finally:
            cfg.update("jax_default_matmul_precision", None)

    assert attempt(config) == attempt(jax.config)
    with default_matmul_precision("float32"):
        assert config.jax_default_matmul_precision == "float32"
        np.testing.assert_allclose(jnp.ones((2, 3)) @ jnp.ones((3, 2)), np.full((2, 2), 3.0))
    assert config.jax_default_matmul_precision is None


def test_unknown_flags_and_reads():
    with pytest.raises(AttributeError, match="no flag 'jax_bogus'"):
        config.update("jax_bogus", 1)
    with pytest.raises(AttributeError):
        config.jax_bogus  # noqa: B018
    for name in ("jax_debug_nans", "jax_debug_infs", "jax_disable_jit", "jax_log_compiles",
                 "jax_explain_cache_misses", "jax_numpy_rank_promotion",
                 "jax_default_matmul_precision", "jax_enable_x64"):
        assert getattr(config, name) == getattr(jax.config, name), name
        assert getattr(llax.config, name) == getattr(config, name)


def test_environment_variables():
    code = ("import llax.numpy as jnp\nfrom llax.config import config\n"
            "print(config.jax_numpy_rank_promotion, config.jax_log_compiles,"
            " config.jax_default_matmul_precision)\n"
            "try:\n    jnp.ones(3) + jnp.ones((2, 3))\nexcept ValueError as e:\n"
            "    print(str(e)[:40])\n")
    env = {**os.environ, "JAX_NUMPY_RANK_PROMOTION": "raise", "JAX_LOG_COMPILES": "true",
           "JAX_DEFAULT_MATMUL_PRECISION": "highest"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out == "raise True highest\nOperands could not be broadcast together\n"


# ---------------------------------------------------------------------------------------------
# jax_log_compiles and jax_explain_cache_misses, against JAX's log records


def make_function():
    """A fresh function each call (same source line, so JAX and llax print the same place)."""
    def f(x, y):
        return x
    return f


def make_product():
    """(JAX leaves unused arguments out of the compiled signature it logs: use both.)"""
    def f(x, y):
        return x * y[0]
    return f


def make_static_function():
    def g(x, n):
        return x * n
    return g


def call(fn, *args, **kwargs):
    return fn(*args, **kwargs)  # one call site for both libraries


def records(caplog, logger_names):
    return [r.getMessage() for r in caplog.records
            if r.name in logger_names and r.levelno == logging.WARNING]


def normalise(message):
    """Drop what must differ: object ids, the name of the static-value node class, and the
    hint on functions redefined on one line (it depends on what earlier tests traced)."""
    lines = message.split("\n")
    lines = [line.split(" id=")[0] if " id=" in line else line for line in lines
             if "another function defined on the same line" not in line
             and "being re-defined repeatedly" not in line]
    return "\n".join(lines).replace("jax._src.tree_util.Static", "STATIC").replace(
        "llax.frontend.compile_log.Static", "STATIC")


def run_calls(lib, np_, caplog, calls, logger_names, flag_cm, static=False):
    caplog.clear()
    fn = lib.jit(make_static_function(), static_argnums=1) if static else \
        lib.jit(make_function())
    with flag_cm(True):
        for args, kwargs in calls(np_):
            call(fn, *args, **kwargs)
    return [normalise(m) for m in records(caplog, logger_names)]


JAX_EXPLAIN_LOGGER = {"jax._src.interpreters.partial_eval"}

CALL_SEQUENCES = {
    "shape, dtype, weak type": lambda np_: [
        ((np_.ones(3), (2.0,)), {}), ((np_.ones(4), (2.0,)), {}),
        ((np_.ones(4, np_.int32), (2.0,)), {}), ((np_.ones(4, np_.int32), (np_.float32(2),)), {}),
    ],
    "pytree": lambda np_: [
        ((np_.ones(3), (2.0,)), {}), ((np_.ones(3), [2.0]), {}),
        ((np_.ones(3), {"a": 1.0}), {}), ((np_.ones(3), (2.0, 3.0)), {}),
    ],
    "keyword": lambda np_: [
        ((np_.ones(3), (2.0,)), {}), ((np_.ones(3),), {"y": (2.0,)}),
    ],
}


@pytest.mark.parametrize("name", sorted(CALL_SEQUENCES))
def test_cache_miss_explanations_as_jax(caplog, name):
    caplog.set_level(logging.WARNING)
    theirs = run_calls(jax, jnp_ref, caplog, CALL_SEQUENCES[name], JAX_EXPLAIN_LOGGER,
                       jax.explain_cache_misses)
    mine = run_calls(llax, jnp, caplog, CALL_SEQUENCES[name], {"llax"}, explain_cache_misses)
    assert theirs and mine == theirs


def test_static_argument_explanation_as_jax(caplog):
    caplog.set_level(logging.WARNING)

    def calls(np_):
        return [((1.0, 2), {}), ((1.0, 3), {})]

    theirs = run_calls(jax, jnp_ref, caplog, calls, JAX_EXPLAIN_LOGGER,
                       jax.explain_cache_misses, static=True)
    mine = run_calls(llax, jnp, caplog, calls, {"llax"}, explain_cache_misses, static=True)
    assert len(mine) == 2 and mine == theirs
    assert "Static(val=3)" in mine[1] and "Static(val=2)" in mine[1]


def test_flag_change_explanation_as_jax(caplog):
    caplog.set_level(logging.WARNING)
    out = []
    for lib, names, cm in ((jax, JAX_EXPLAIN_LOGGER, jax.explain_cache_misses),
                           (llax, {"llax"}, explain_cache_misses)):
        caplog.clear()
        fn = lib.jit(make_function())
        call(fn, 1.0, (2.0,))
        cfg = lib.config
        with cm(True):
            cfg.update("jax_enable_x64", True)
            try:
                call(fn, 1.0, (2.0,))
            finally:
                cfg.update("jax_enable_x64", False)
        out.append([normalise(m) for m in records(caplog, names)])
    assert out[0] and out[1] == out[0]
    assert "jax_enable_x64 differs: now True and before False" in out[1][0]


def test_log_compiles_as_jax(caplog):
    caplog.set_level(logging.WARNING)

    def compiling(names):
        return [m for m in records(caplog, names) if m.startswith("Compiling jit(f)")]

    out = []
    for lib, np_, names, cm in ((jax, jnp_ref, {"jax._src.interpreters.pxla"}, jax.log_compiles),
                                (llax, jnp, {"llax"}, log_compiles)):
        caplog.clear()
        fn = lib.jit(make_product())
        with cm(True):
            fn(np_.ones(3), (2.0,))
            fn(np_.ones(3), (2.0,))  # a hit: nothing logged
            fn(np_.ones((2, 2), np_.int8), (np_.int8(3),))
        fn(np_.ones(5), (2.0,))  # logging off again
        out.append(compiling(names))
    assert len(out[1]) == 2 and out[1] == out[0]
    assert any(m.startswith("Finished tracing f for jit in") for m in records(caplog, {"llax"}))


def test_log_compiles_explains_retraces_too(caplog):
    caplog.set_level(logging.WARNING)
    fn = llax.jit(lambda x: x * 2)
    with log_compiles(True):
        fn(jnp.ones(3))
        fn(jnp.ones(4))
    explained = [m for m in records(caplog, {"llax"}) if m.startswith("TRACING CACHE MISS")]
    assert len(explained) == 2
    assert "never seen function" in explained[0]
    assert "* at x, now f32[4] and before f32[3]" in explained[1]


def test_never_seen_function_and_redefinition_hint(caplog):
    caplog.set_level(logging.WARNING)
    with explain_cache_misses(True):
        for _ in range(2):
            llax.jit(lambda x: x + 1)(1.0)
    mine = records(caplog, {"llax"})
    assert len(mine) == 2
    assert "never seen function:\n    <lambda> id=" in mine[0]
    assert "maybe the function is\n  being re-defined repeatedly" in mine[1]
    assert mine[0].startswith(f"TRACING CACHE MISS at {__file__}:")
