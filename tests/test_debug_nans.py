"""jax_debug_nans / jax_debug_infs: the same programs run under JAX and llax raise the same
errors with the same texts (JAX is the oracle), and the checks cost nothing when off."""

import os
import subprocess
import sys
import threading

import jax
import jax.numpy as jnp_ref
import jax.scipy.special  # noqa: F401  (jax.scipy is not imported by jax)
import numpy as np
import pytest

import llax
import llax.numpy as jnp
import llax.scipy.special  # noqa: F401
from llax import lax
from llax.config import config, debug_infs, debug_nans
from llax.frontend import api, core

NAN_NOTICE = ("Invalid nan value encountered in the output of a jax.jit function. "
              "Calling the de-optimized version.")


def outcome(fn, *args):
    """What calling ``fn`` gives: ("ok", value as NumPy) or (exception type name, text)."""
    try:
        return "ok", np.asarray(fn(*args))
    except (FloatingPointError, ZeroDivisionError) as e:
        return type(e).__name__, str(e)


def same(mine, theirs):
    assert mine[0] == theirs[0], (mine, theirs)
    if mine[0] == "ok":
        np.testing.assert_array_equal(mine[1], theirs[1])
    else:
        assert mine[1] == theirs[1]


def compare(program, *args, flag="nans"):
    """Build the program for each library (``program(jax, jnp, lax)``) and compare outcomes
    under the flag."""
    with (jax.debug_nans(True) if flag == "nans" else jax.debug_infs(True)):
        theirs = outcome(program(jax, jnp_ref, jax.lax), *args)
    with (debug_nans(True) if flag == "nans" else debug_infs(True)):
        mine = outcome(program(llax, jnp, lax), *args)
    same(mine, theirs)
    return mine


def log_after_sin(lib, np_, _):
    @lib.jit
    def f(x):
        y = np_.sin(x)
        return np_.log(y) * 2
    return f


def nested(lib, np_, _):
    return lib.jit(lambda x: lib.jit(np_.log)(x) + 1)


def cond_log(lib, np_, lax_):
    return lib.jit(lambda x: lax_.cond(x > 0, lambda: x, lambda: np_.log(x)))


def scan_log(lib, np_, lax_):
    return lib.jit(lambda x: lax_.scan(lambda c, _: (np_.log(c), None), x, None, length=3)[0])


@pytest.mark.parametrize("program, arg", [
    (lambda lib, np_, lax_: np_.log, -1.0),
    (lambda lib, np_, lax_: np_.sqrt, np.array([4.0, -1.0], np.float32)),
    (lambda lib, np_, lax_: lib.jit(lambda x: np_.log(x)), np.array([-1.0, 2.0], np.float32)),
    (lambda lib, np_, lax_: lib.jit(np_.log), -1.0),
    (log_after_sin, np.array([-1.0, 2.0], np.float32)),
    (lambda lib, np_, lax_: lib.jit(lambda x: np_.sum(np_.log(x))),
     np.array([-1.0, 2.0], np.float32)),
    (nested, -1.0),
    (cond_log, -1.0),
    (scan_log, -1.0),
    (lambda lib, np_, lax_: lambda x: lax_.cond(x > 0, lambda: x, lambda: np_.log(x)), -1.0),
    (lambda lib, np_, lax_: lib.jit(lambda x: np_.log(x)), np.float16(-1)),
])
def test_the_producing_primitive_is_named(program, arg):
    kind, text = compare(program, arg)
    assert kind == "FloatingPointError" and text.startswith("invalid value (nan) encountered")


@pytest.mark.parametrize("program, arg", [
    (lambda lib, np_, lax_: lib.jit(lambda x: x), float("nan")),  # a NaN input, passed on
    (lambda lib, np_, lax_: lib.jit(lambda x: x + 1), float("nan")),  # Python float re-run
    (lambda lib, np_, lax_: lib.jit(lambda x: np_.nan + 0 * x), 1.0),  # a NaN literal
])
def test_no_nan_in_the_deoptimized_run(program, arg):
    kind, text = compare(program, arg)
    assert kind == "FloatingPointError"
    assert text.startswith("('jit(<lambda>)', 'nan'). Because jax_config.debug_nans.value")


@pytest.mark.parametrize("program, arg", [
    (lambda lib, np_, lax_: lib.jit(lambda x: x // 0), 3),  # integer results are not checked
    (lambda lib, np_, lax_: lib.jit(lambda x: np_.where(x > 0, np_.log(x), 0.0)),
     np.array([-1.0, 2.0], np.float32)),  # an intermediate NaN that no output holds
    (lambda lib, np_, lax_: lib.jit(lambda x: x / 0.0), np.ones(2, np.float32)),  # inf: fine
    (lambda lib, np_, lax_: lib.grad(lambda x: np_.sqrt(x)), 0.0),  # inf again
])
def test_what_is_not_an_error(program, arg):
    kind, _ = compare(program, arg)
    assert kind == "ok"


# (The de-optimised re-run divides the NumPy argument itself, in NumPy, for both libraries.)
@pytest.mark.filterwarnings("ignore:divide by zero")
@pytest.mark.parametrize("program, arg", [
    (lambda lib, np_, lax_: lib.jit(lambda x: x / 0.0), np.ones(2, np.float32)),
    (lambda lib, np_, lax_: lib.jit(lambda x: x / 0.0), 1.0),  # the re-run: ZeroDivisionError
    (lambda lib, np_, lax_: np_.exp, np.float32(100)),
    (lambda lib, np_, lax_: lib.jit(lambda x: x // 0), 3),
])
def test_debug_infs(program, arg):
    compare(program, arg, flag="infs")


def test_eager_ops_on_nan_operands(capsys):
    nan = np.array([np.nan, 1.0], np.float32)
    for op in ("add", "mul", "exp", "neg"):
        def program(lib, np_, lax_, op=op):
            f = getattr(lax_, op)
            return (lambda x: f(x, x)) if op in ("add", "mul") else f
        kind, text = compare(program, nan)
        assert text == f"invalid value (nan) encountered in {op}"
    assert NAN_NOTICE not in capsys.readouterr().out  # eager ops: no jit, no notice


def test_jit_prints_jax_notice_before_the_rerun(capsys):
    with debug_nans(True):
        with pytest.raises(FloatingPointError, match=r"encountered in log$"):
            llax.jit(lambda x: jnp.log(x) * 2)(jnp.array([-1.0]))
    assert capsys.readouterr().out == NAN_NOTICE + "\n"


def test_donated_arguments_survive_the_check():
    f = llax.jit(lambda x: jnp.log(x), donate_argnums=0)
    x = jnp.array([-1.0, 4.0])
    with debug_nans(True), pytest.raises(FloatingPointError, match="in log"):
        f(x)
    np.testing.assert_array_equal(np.asarray(x), [-1.0, 4.0])  # not deleted, not written
    with debug_nans(True):
        y = jnp.array([1.0, 4.0])
        np.testing.assert_allclose(f(y), np.log([1.0, 4.0]))
        assert not y.is_deleted()  # as JAX: nothing is donated while checking


def test_compiled_stage_is_checked():
    compiled = llax.jit(lambda x: jnp.log(x)).lower(jnp.ones(2)).compile()
    with debug_nans(True), pytest.raises(FloatingPointError, match="in log"):
        compiled(jnp.array([-1.0, 2.0]))


def test_free_when_off_and_fast_paths_come_back():
    f = llax.jit(lambda x: x * 2.0)
    x = jnp.arange(3.0)
    f(x)
    f(x)
    assert f._fast and core._eager_check is None and not api._debug_mode
    with debug_nans(True):
        assert not f._fast and core._eager_check is not None and api._debug_mode
        np.testing.assert_allclose(f(x), [0.0, 2.0, 4.0])
        assert not f._fast  # the checked general path registers no fast path
    assert core._eager_check is None and not api._debug_mode
    f(x)
    assert f._fast  # registered again on the first call
    with config.override("jax_debug_infs", True):
        assert core._eager_check is not None
    assert core._eager_check is None


def test_scoped_to_the_thread():
    seen = []

    def other():
        seen.append(outcome(jnp.log, -1.0)[0])

    with debug_nans(True):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert outcome(jnp.log, -1.0)[0] == "FloatingPointError"
    assert seen == ["ok"]


def test_global_update_and_environment_variable():
    with config.override("jax_debug_nans", True):
        assert config.jax_debug_nans
        with pytest.raises(FloatingPointError, match="invalid value \\(nan\\) encountered in log"):
            jnp.log(-1.0)
    code = ("import llax.numpy as jnp\n"
            "try:\n    jnp.log(-1.0)\nexcept FloatingPointError as e:\n    print(e)\n")
    for var in ("JAX_DEBUG_NANS", "JAX_DEBUG_INFS"):
        env = {**os.environ, var: "1"}
        out = subprocess.run([sys.executable, "-c", code.replace("-1.0", "-1.0" if var ==
                              "JAX_DEBUG_NANS" else "0.0")],
                             env=env, capture_output=True, text=True, check=True).stdout
        expected = "(nan) encountered in log" if var == "JAX_DEBUG_NANS" else \
            "(inf) encountered in log"
        assert expected in out


@pytest.mark.parametrize("program, arg", [
    # Library functions that hold infinities they do not return: JAX checks a jnp function's
    # outputs only (it is one jit), so neither raises.
    (lambda lib, np_, lax_: lambda x: np_.hypot(x, 1.0), np.array([1.5, 2.0], np.float32)),
    (lambda lib, np_, lax_: lambda x: np_.logaddexp(x, 1.0), np.array([1.5, 2.0], np.float32)),
])
def test_library_functions_are_checked_at_their_boundary(program, arg):
    compare(program, arg, flag="infs")


@pytest.mark.parametrize("name", ["nn.softmax", "nn.log_softmax", "scipy.special.logsumexp",
                                  "scipy.special.gammaln"])
@pytest.mark.parametrize("flag", [debug_infs, debug_nans])
def test_masking_library_functions_do_not_raise(name, flag):
    # Each builds -inf masks or infinite intermediates it does not return; JAX does not raise.
    def resolve(root):
        for part in name.split("."):
            root = getattr(root, part)
        return root

    x = np.array([0.5, 2.0, 3.0], np.float32)
    with flag(True):
        out = resolve(llax)(x)
    np.testing.assert_allclose(out, resolve(jax)(x), rtol=1e-6)


def test_library_function_returning_inf_names_a_primitive():
    # (Which primitive is an implementation detail: JAX's hypot converts its NumPy argument
    # first and names convert_element_type.)
    with debug_infs(True), pytest.raises(FloatingPointError,
                                         match=r"^invalid value \(inf\) encountered in \w+$"):
        jnp.hypot(np.array([np.inf], np.float32), 1.0)


def test_checks_at_boundary_decorator():
    @core.checks_at_boundary
    def masked_log(x):  # log where positive, else a -inf mask value that is replaced
        y = jnp.where(x > 0, jnp.log(jnp.where(x > 0, x, 1.0)), -jnp.inf)
        return jnp.where(jnp.isinf(y), 0.0, y)

    x = jnp.array([-1.0, 1.0])
    with debug_infs(True):
        np.testing.assert_array_equal(masked_log(x), [0.0, 0.0])  # the -inf never escapes
        with pytest.raises(FloatingPointError, match=r"^invalid value \(inf\) encountered in"):
            core.checks_at_boundary(lambda x: jnp.log(x))(jnp.array([0.0]))
        with pytest.raises(FloatingPointError, match=r"^\('jit\(<lambda>\)', 'inf'\)\. Because"):
            core.checks_at_boundary(lambda x: x)(jnp.array([np.inf]))  # nothing produced it
    assert core.checks_at_boundary(lambda x: -x)(1.0) == -1.0  # off: a plain call


@pytest.mark.parametrize("program, arg", [
    # Eager grad and vmap run their transformed programs op by op while the checks are on,
    # so the primitive is named, as JAX's eager transformations name it.
    (lambda lib, np_, lax_: lib.grad(lambda x: np_.log(x) * 2), np.float32(-1)),
    (lambda lib, np_, lax_: lib.vmap(np_.log), np.array([1, -1], np.float32)),
    (lambda lib, np_, lax_: lib.jit(lib.vmap(lambda x: np_.log(x) + 1)),
     np.array([1, -1], np.float32)),
    (lambda lib, np_, lax_: lib.jit(lib.grad(lambda x: np_.log(x) * 2)), np.float32(-1)),
    (lambda lib, np_, lax_: lib.grad(lambda x: np_.sqrt(x) * 3), np.float32(0)),
])
def test_eager_transformations_are_checked_op_by_op(program, arg):
    compare(program, arg)
