"""Differential fuzzing: random array programs, compiled by llax, judged op by op.

Each example is a batch of one to three random programs of 3 to 15 ops (elementwise
math, comparisons, where/select, casts, reductions, shape ops, indexing, dynamic
slices, ``.at[]`` updates, matrix products; ``lax.cond``/``switch`` between such ops;
``fori_loop``/``while_loop``/``scan`` with bit-exact bodies, which read a carry after
updating it and carry the old array beside the new) on random shapes (including 0- and
1-sized axes and scalars) and values (huge, negative, +-0, +-inf, NaN, subnormal,
indices out of range). The batch is compiled once by ``llax.jit``; every op's result is then
checked against the reference interpreter, eager llax and JAX on the very operands
the compiled code gave it, within the op's own error bound (tests/fuzz_oracle.py).
The compiled code (default pipeline, so buffers are reused in place) must leave its
input arrays as they were.
Float64 programs (x64 mode) are one example in eight.

CI runs the fixed, fast "ci" profile (tests/conftest.py). To run thousands of
programs, random each time:

    python -m pytest -m fuzz --hypothesis-profile=long tests/test_fuzz.py

A failure prints the shrunk program and a standalone reproduction of the failing op.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llax
import llax.lax
import llax.numpy
from llax.frontend.compile import DEFAULT_PIPELINE
from llax.tests.fuzz_oracle import (
    JAX,
    NATIVE,
    NO_GUARDS,
    REFERENCE,
    Guards,
    judge,
    run_batch,
    taken,
    ulp_distance,
)
from llax.tests.fuzz_programs import (
    Builder,
    Check,
    Options,
    Program,
    Rejected,
    Step,
    Var,
    branching,
    compile_source,
    loop,
    programs,
)

pytestmark = [pytest.mark.fuzz,
              # JAX warns that .at[] updates of another dtype are cast; llax casts the same.
              pytest.mark.filterwarnings("ignore:scatter inputs have incompatible types")]

LONG = settings.get_current_profile_name() == "long"



def _jax_fmod_of_bools(step: Step, operands: dict, who: str):
    """JAX's fmod of two bools skips its zero-divisor guard: fmod(True, False) is 1 (XLA's
    x % 0 = x), llax's 0. A JAX quirk to match in frontend/jnp/_ufuncs.py, or to leave."""
    return (who == JAX and step.expr.startswith("jnp.fmod(")
            and all(v.dtype == np.bool_ for v in operands.values()))


def _jax_wraps_uint32_indices(step: Step, operands: dict, who: str):
    """JAX converts uint32 index arrays to int32, so 4e9 wraps to a negative index (an element
    from the end, or from the start after clamping); llax clamps it as the uint32 it is (past
    the end), as the index dtype says and as JAX itself does for scalar indices."""
    return who == JAX and any(v.dtype == np.uint32 and np.any(v > np.iinfo(np.int32).max)
                              for v in operands.values())


# Where JAX, not llax, is off: the only differences excused, in both profiles.
GUARDS = Guards(excuses=(_jax_fmod_of_bools, _jax_wraps_uint32_indices))


@st.composite
def batches(draw) -> list:
    x64 = draw(st.integers(0, 7)) == 0
    # Loops and conds cost the most to compile (JAX's and ours): fewer in CI.
    options = Options(x64=x64, control_flow=3 if LONG else 2)
    return [draw(programs(name=f"f{i}", options=options)) for i in range(draw(st.integers(1, 3)))]


@settings.get_profile("long" if LONG else "ci")
@given(batches())
def test_random_programs(batch: list) -> None:
    run_batch(batch, GUARDS)


# The oracle itself: it must catch wrong answers and accept right ones.

def _step(expr: str, out: Var, check: Check, operands: tuple[str, ...]) -> Step:
    return Step(out, expr, operands, check)


def test_oracle_ulp_distance() -> None:
    one = np.float32(1)
    assert ulp_distance(np.float32([np.nextafter(one, 2)]), np.float32([one]))[0] == 1
    assert ulp_distance(np.float32([-0.0]), np.float32([0.0]))[0] == 0
    assert ulp_distance(np.float32([np.nan]), np.float32([np.nan]))[0] == 0
    assert ulp_distance(np.float32([np.nan]), np.float32([1.0]))[0] == np.inf
    tiny = np.finfo(np.float32).smallest_subnormal
    assert ulp_distance(np.float32([-tiny]), np.float32([tiny]))[0] == 2


def test_oracle_judges_an_approximated_function() -> None:
    x = np.float32([0.5, 1.0, 2.0, 30.0])
    step = _step("jnp.exp(x0)", Var("v1", (4,), np.dtype("float32")), Check("ulp", 8), ("x0",))
    right = np.exp(x.astype(np.float64)).astype(np.float32)
    assert judge(step, right, right, {"x0": x}, NO_GUARDS, NATIVE) is None
    off = right.copy()
    off[2] = np.nextafter(np.nextafter(off[2], np.inf), np.inf)  # 2 ulp: allowed
    assert judge(step, off, right, {"x0": x}, NO_GUARDS, NATIVE) is None
    for _ in range(4):  # 6 ulp: not for llax, yes for JAX (8)
        off[2] = np.nextafter(off[2], np.inf)
    verdict = judge(step, off, right, {"x0": x}, NO_GUARDS, NATIVE)
    assert verdict is not None and verdict.bad.tolist() == [False, False, True, False]
    assert judge(step, off, right, {"x0": x}, NO_GUARDS, JAX) is None


def test_oracle_judges_a_sum() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 1000).astype(np.float32)
    step = _step("jnp.sum(x0)", Var("v1", (), np.dtype("float32")),
                 Check("accum", terms=1000, order="pairwise", reduction=True), ("x0",))
    exact = np.float32(np.sum(x.astype(np.float64)))
    assert judge(step, exact, exact, {"x0": x}, NO_GUARDS, NATIVE) is None
    # Off by 12 eps * sum|x|: beyond the pairwise bound (11 eps), within the linear one.
    off = np.float32(np.float64(exact) + 12 * 2.0**-23 * np.abs(x.astype(np.float64)).sum())
    assert judge(step, off, exact, {"x0": x}, NO_GUARDS, NATIVE) is not None
    assert judge(step, off, exact, {"x0": x}, NO_GUARDS, REFERENCE) is None  # any order
    # A zero sum's sign: +0 (from +0 + terms); -0 is wrong.
    zeros = np.zeros(3, np.float32)
    step0 = _step("jnp.sum(x0)", Var("v1", (), np.dtype("float32")),
                  Check("accum", terms=3, order="pairwise", reduction=True), ("x0",))
    minus = np.float32(-0.0)
    assert judge(step0, minus, np.float32(0), {"x0": zeros}, NO_GUARDS, NATIVE) is not None
    # Every term -0: -0 (IEEE additions) and +0 (from a +0 start) are both right.
    assert judge(step0, minus, np.float32(0), {"x0": -zeros}, NO_GUARDS, NATIVE) is None


def test_oracle_judges_exact_ops_bit_for_bit() -> None:
    x = np.float32([1.0, -0.0, np.nan])
    step = _step("jnp.negative(x0)", Var("v1", (3,), np.dtype("float32")), Check(), ("x0",))
    want = np.float32([-1.0, 0.0, np.nan])
    assert judge(step, want.copy(), want, {"x0": x}, NO_GUARDS, NATIVE) is None
    wrong_zero = np.float32([-1.0, -0.0, np.nan])
    assert judge(step, wrong_zero, want, {"x0": x}, NO_GUARDS, NATIVE) is not None
    wrong_type = want.astype(np.float64)
    assert judge(step, wrong_type, want, {"x0": x}, NO_GUARDS, NATIVE) is not None


def _cond_step() -> Step:
    """``lax.cond(p, lambda: jnp.exp(x), lambda: -x)``: an approximated and an exact branch."""
    out = Var("v2", (3,), np.dtype("float32"))
    exp = Step(out, "jnp.exp(x0)", ("x0",), Check("ulp", 8))
    neg = Step(out, "jnp.negative(x0)", ("x0",), Check())
    return Step(out, "lax.cond(x1, lambda: jnp.exp(x0), lambda: jnp.negative(x0))",
                ("x1", "x0"), Check(), branches=(exp, neg), selector="x1", kind="cond")


def test_oracle_judges_a_cond_by_the_branch_taken() -> None:
    x = np.float32([0.5, 1.0, 2.0])
    exp = np.exp(x.astype(np.float64)).astype(np.float32)
    off = exp.copy()
    off[1] = np.nextafter(np.nextafter(off[1], np.inf), np.inf)  # 2 ulp: fine for exp
    step = _cond_step()
    for pred, want, good in ((np.True_, exp, off), (np.False_, -x, -x)):
        operands = {"x1": pred, "x0": x}
        branch, used = taken(step, operands)
        assert branch.expr == ("jnp.exp(x0)" if pred else "jnp.negative(x0)")
        assert list(used) == ["x0"]
        assert judge(branch, good, want, used, NO_GUARDS, NATIVE) is None
    # The exact branch is exact: 2 ulp off is wrong there.
    branch, used = taken(step, {"x1": np.False_, "x0": x})
    assert judge(branch, -off, -x, used, NO_GUARDS, NATIVE) is not None


@pytest.mark.parametrize("index, branch", [
    (np.int32(1), 1), (np.int32(-5), 0), (np.int32(9), 2), (np.uint32(2**32 - 1), 0),
    (np.uint32(2), 2), (np.int64(2**32 + 1), 1),
])
def test_oracle_takes_the_branch_a_switch_takes(index, branch) -> None:
    # lax.switch converts its index to int32 (wrapping) and clamps it to the branches.
    out = Var("v1", (), np.dtype("int32"))
    branches = tuple(Step(out, str(k), (), Check()) for k in range(3))
    step = Step(out, "lax.switch(x0, [lambda: 0, lambda: 1, lambda: 2])", ("x0",), Check(),
                branches=branches, selector="x0", kind="switch")
    assert taken(step, {"x0": index})[0].expr == str(branch)
    want = np.asarray(jax.lax.switch(index, [lambda k=k: np.int32(k) for k in range(3)]))
    assert int(want) == branch


def test_a_tuple_valued_step_is_computed_once_for_its_parts() -> None:
    loop = ("(lambda c: (c[0], c[1], ))(lax.fori_loop(0, 3, lambda i, c: (lambda c0, c1: "
            "((c0.at[i % 2].add(c1[i % 2]) - c0), c0))(c[0], c[1]), (x0, x0)))")
    x = Var("x0", (2,), np.dtype("int32"))
    program = Program("f", False, [(x, np.int32([5, -7]))])
    for k in range(2):
        program.steps.append(Step(Var(f"v{k + 1}", (2,), np.dtype("int32")), f"({loop})[{k}]",
                                  ("x0",), Check(), loop, k))
    assert program.source().count("lax.fori_loop") == 1
    assert "    v1, v2, = (lambda c" in program.source()
    whole = compile_source(program.source())(jax.numpy, jax.lax, np.int32([5, -7]))
    local = compile_source(program.local_source())(jax.numpy, jax.lax, np.int32([5, -7]),
                                                   *whole)
    # By hand: c0 becomes the added element only, c1 the old c0.
    c0, c1 = np.int32([5, -7]), np.int32([5, -7])
    for i in range(3):
        new = c0.copy()
        new[i % 2] += c1[i % 2]
        c0, c1 = new - c0, c0
    for got in (whole, local):
        assert [np.asarray(v).tolist() for v in got] == [c0.tolist(), c1.tolist()]


def test_control_flow_programs_pass_the_oracle() -> None:
    # Aliasing traps for buffer reuse, judged end to end: an input updated in a loop and read
    # after it, a carry read after its update, the old and new arrays both returned, a cond.
    x = np.int32([3, -1, 4, 1])
    loop = ("(lambda c: (c[0], c[1], ))(lax.fori_loop(0, 5, lambda i, c: (lambda c0, c1: "
            "((c0.at[i % 4].set(c1[0]) - c0), c0))(c[0], c[1]), (x0, x0)))")
    scan = ("(lambda c, ys: (c[0], ys[0], ))(*lax.scan(lambda c, s: (lambda c0: ((jnp.maximum("
            "c0.at[s[1] % 4].min(s[0]), c0), ), (c0[::-1], )))(c[0]), (x0, ), (x0, "
            "jnp.arange(4), ), length=4, reverse=True))")
    i32 = np.dtype("int32")
    program = Program("f", False, [(Var("x0", (4,), i32), x)])
    parts = [(loop, (4,)), (loop, (4,)), (scan, (4,)), (scan, (4, 4))]
    for k, (whole, shape) in enumerate(parts):
        index = k % 2
        program.steps.append(Step(Var(f"v{k + 1}", shape, i32), f"({whole})[{index}]",
                                  ("x0",), Check(), whole, index))
    out = Var("v5", (4,), np.dtype("float32"))
    branches = (Step(out, "jnp.exp(v1.astype(jnp.float32))", ("v1",), Check("ulp", 8)),
                Step(out, "x0.astype(jnp.float32)", ("x0",), Check()))
    program.steps.append(Step(
        out, "lax.cond(jnp.any(v1 > 0), lambda: jnp.exp(v1.astype(jnp.float32)), "
        "lambda: x0.astype(jnp.float32))", ("v1", "x0"), Check(), branches=branches,
        selector="jnp.any(v1 > 0)", kind="cond"))
    run_batch([program], GUARDS)
    assert x.tolist() == [3, -1, 4, 1]
    # The default pipeline did reuse buffers in these loops (else no trap was set).
    fn = compile_source(program.source())
    lowered = llax.jit(lambda x0: fn(llax.numpy, llax.lax, x0),
                       pipeline=DEFAULT_PIPELINE).lower(x)
    assert "scan region" in lowered.as_text("buffers")


@st.composite
def _control_flow_steps(draw) -> str:
    """The source of a program of loops and conds only."""
    b = Builder(draw, "f", Options())
    for family in (loop, loop, loop, branching):
        try:
            family(b)
        except Rejected:
            pass
    return b.program.source()


def test_generator_draws_every_kind_of_control_flow() -> None:
    features = {
        "cond": r"lax\.cond\(", "switch": r"lax\.switch\(", "scan": r"lax\.scan\(",
        "reversed scan": r"reverse=True", "while": r"lax\.while_loop\(",
        "traced fori bounds": r"lax\.fori_loop\(0, jnp\.minimum\(",
        "pytree carry": r"\{'p': ", "update of a carry": r"c\d\.at\[",
        "roll": r"jnp\.concatenate\(\[(.+)\[(\d+):\], \1\[:\2\]\]\)",
        "carry read after its update": r"(c\d)\.at\[[^\n]*(\) [-^] \1\)|== \1, \1, -)",
        "dynamic_update_slice": r"lax\.dynamic_update_slice\(", "step index": r"jnp\.arange\(",
    }
    seen: set[str] = set()

    @settings(max_examples=30, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(_control_flow_steps())
    def draw(text: str) -> None:
        seen.update(name for name, pattern in features.items() if re.search(pattern, text))

    draw()
    assert seen == set(features)
