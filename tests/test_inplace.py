"""The ``inplace`` pass (buffer reuse), its verifier rules, donation, and the buffer table.

The pass's choices are checked three ways: a golden IR; the verifier's liveness rules
(ir/verifier.py, written independently of the pass), which every pipeline run in the
tests applies; and differential runs of compiled code against the reference interpreter
on programs built to trap a wrong alias (returning the old and the new array, reading
the old one after the update, updating a non-donated input).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax import lax
from llax.frontend.compile import DEFAULT_PIPELINE
from llax.ir.core import walk_ops
from llax.ir.interpreter import evaluate_function
from llax.ir.parser import parse_function
from llax.ir.printer import print_function
from llax.ir.verifier import VerificationError, verify
from llax.passes.inplace import assign_buffers, buffer_table
from llax.passes.manager import PassContext, run_pipeline

PIPELINE = "simplify,cse,dce,fuse,inplace"


def optimized(fn: Callable, *args, pipeline: str = PIPELINE, donated=frozenset()):
    traced = llax.make_jaxpr(fn)(*args).jaxpr.function
    return run_pipeline(traced, pipeline, PassContext(verify=True, donated=donated))


def aliased_ops(fn) -> list[str]:
    return [op.prim.name for op in walk_ops(fn) if op.aliases]


def test_inplace_is_in_the_default_pipeline() -> None:
    assert DEFAULT_PIPELINE.split(",")[-1] == "inplace"


# ---------------------------------------------------------------------------------------------
# Golden IR


GOLDEN_IN = """{ lambda ; a:f32[8]. let
    b:f32[8] = sin a
    c:i32[]{weak} d:f32[8] = scan[
      jaxpr={ lambda ; e:i32[]{weak} f:f32[8]. let
          g:i32[]{weak} = add e 1:i32[]{weak}
          h:i32[]{weak} = rem e 8:i32[]{weak}
          i:f32[1] = dynamic_slice[slice_sizes=(1,)] f h
          j:f32[1] = mul i 2.0:f32[]
          k:f32[8] = dynamic_update_slice f j h
        in (g, k) }
      length=100
      num_carry=2
      num_consts=0
      reverse=False
      unroll=1
    ] 0:i32[]{weak} b
    l:f32[8] = mul d 3.0:f32[]
  in (l,) }"""

GOLDEN_OUT = """{ lambda ; a:f32[8]. let
    b:f32[8] = sin a
    c:i32[]{weak} d:f32[8] = scan[
      aliases=((1, 1),)
      jaxpr={ lambda ; e:i32[]{weak} f:f32[8]. let
          g:i32[]{weak} = add e 1:i32[]{weak}
          h:i32[]{weak} = rem e 8:i32[]{weak}
          i:f32[1] = dynamic_slice[slice_sizes=(1,)] f h
          j:f32[1] = mul[aliases=((0, 0),)] i 2.0:f32[]
          k:f32[8] = dynamic_update_slice[aliases=((0, 0),)] f j h
        in (g, k) }
      length=100
      num_carry=2
      num_consts=0
      reverse=False
      unroll=1
    ] 0:i32[]{weak} b
    l:f32[8] = mul[aliases=((0, 0),)] d 3.0:f32[]
  in (l,) }"""


def test_golden_fori_loop_update_in_place() -> None:
    """The loop's carry takes the buffer of ``b`` (a dead temporary), the update writes
    into the carry, the update's window ``j`` reuses the slice ``i``, and the last multiply
    reuses the loop's result. The counter is read twice (no chain); the input ``a`` is
    untouched."""
    out = assign_buffers(parse_function(GOLDEN_IN))
    verify(out)
    assert print_function(out) == GOLDEN_OUT
    assert parse_function(GOLDEN_OUT) is not None  # the annotated IR reads back


def test_fori_loop_update_from_python() -> None:
    def f(x):
        n = x.shape[0]
        return lax.fori_loop(0, 100, lambda i, x: x.at[i % n].set(x[i % n] * 2 + 1), x)

    fn = optimized(f, np.ones(10, np.float32))
    assert "scatter" in aliased_ops(fn)
    assert "carries 1 updated in place" in buffer_table(fn)
    (loop,) = fn.ops
    assert not loop.aliases  # the input `x` is not donated: the loop copies it once


# ---------------------------------------------------------------------------------------------
# Never in place when the operand is still live


def returns_old_and_new(x):
    y = lnp.sin(x)
    return y, y.at[0].set(5.0)


def reads_old_after_update(x):
    y = lnp.sin(x)
    z = y.at[1].add(2.0)
    return z * y.sum()


def updates_an_input(x):
    return x.at[0].set(1.0)


def chain_of_updates(x):
    y = lnp.cos(x)
    for k in range(3):
        y = y.at[k].mul(3.0)
    return y


def carry_also_returned_as_y(x):
    def body(c, _):
        return c.at[0].add(1.0), c

    return lax.scan(body, lnp.sin(x), None, length=4)


def carry_returned_twice(x):
    def body(c):
        i, a, b = c
        new = a.at[i].set(9.0)
        return i + 1, new, new

    return lax.while_loop(lambda c: c[0] < 3, body, (0, lnp.sin(x), lnp.cos(x)))


def init_also_a_const(x):
    y = lnp.sin(x)
    return lax.fori_loop(0, 3, lambda i, c: c.at[i].set(y[i] + c[i]), y)


def nested_loops(x):
    def inner(j, c):
        return c.at[j].add(1.0)

    def outer(i, c):
        return lax.fori_loop(0, 3, inner, c * 2)

    return lax.fori_loop(0, 4, outer, lnp.sin(x))


def cond_in_loop(x):
    def body(i, c):
        return lax.cond(i % 2 == 0, lambda c: c.at[i].set(-1.0), lambda c: c * 2, c)

    return lax.fori_loop(0, 4, body, lnp.sin(x))


def scatter_family(x):
    y = lnp.sin(x)
    y = y.at[lnp.array([0, 2])].add(1.0)
    y = y.at[1].min(-3.0)
    y = y.at[3].max(7.0)
    y = y.at[0].mul(2.0)
    return lax.dynamic_update_slice(y, lnp.ones(2, np.float32), (3,))


TRAPS = [returns_old_and_new, reads_old_after_update, updates_an_input, chain_of_updates,
         carry_also_returned_as_y, carry_returned_twice, init_also_a_const, nested_loops,
         cond_in_loop, scatter_family]


@pytest.mark.parametrize("fn", TRAPS, ids=[f.__name__ for f in TRAPS])
def test_compiled_matches_interpreter_and_inputs_stay(fn: Callable) -> None:
    x = np.linspace(-1, 1, 6).astype(np.float32)
    before = x.copy()
    jaxpr = llax.make_jaxpr(fn)(x)
    want = evaluate_function(jaxpr.jaxpr.function, [*jaxpr.consts, x])
    got = llax.tree_util.tree_leaves(llax.jit(fn, pipeline=PIPELINE)(x))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(x, before)
    arr = lnp.asarray(x)
    llax.jit(fn, pipeline=PIPELINE)(arr)
    np.testing.assert_array_equal(np.asarray(arr), before)


def test_live_operands_are_not_aliased() -> None:
    x = np.ones(6, np.float32)
    assert "scatter" not in aliased_ops(optimized(returns_old_and_new, x))
    assert "scatter-add" not in aliased_ops(optimized(reads_old_after_update, x))
    assert "scatter" not in aliased_ops(optimized(updates_an_input, x))
    assert aliased_ops(optimized(chain_of_updates, x)).count("scatter-mul") == 3
    assert "updated in place" not in buffer_table(optimized(carry_also_returned_as_y, x))
    assert "carries 0 updated in place" in buffer_table(optimized(carry_returned_twice, x))
    fn = optimized(init_also_a_const, x)
    (loop,) = [op for op in fn.ops if op.prim.name == "scan"]
    assert not loop.aliases  # `y` is both the initial carry and a constant of the loop
    assert "carries 1 updated in place" in buffer_table(optimized(nested_loops, x))


def test_donated_input_is_updated_in_place() -> None:
    x = np.ones(6, np.float32)
    fn = optimized(updates_an_input, x, donated=frozenset({0}))
    assert aliased_ops(fn) == ["scatter"]
    assert "a <- " in buffer_table(fn)


def test_elementwise_ops_reuse_dead_temporaries() -> None:
    fn = optimized(lambda x: lnp.exp(lnp.sin(x)) * 2, np.ones(5, np.float32),
                   pipeline="simplify,cse,dce,inplace")
    assert aliased_ops(fn) == ["exp", "mul"]


def test_fusion_reuses_an_operand_read_pointwise_only() -> None:
    m = np.eye(4, dtype=np.float32)
    # `t` (a matrix product: its own kernel) is dead after the fused tanh(t) + t * w.
    fn = optimized(lambda x, w: lnp.tanh(x @ m) + (x @ m) * w, np.ones((4, 4), np.float32),
                   np.ones((4, 4), np.float32))
    assert aliased_ops(fn) == ["fusion"]
    # A transposed read would see elements already overwritten: never aliased.
    def f_t(x):
        t = x @ m
        return t + t.T

    assert aliased_ops(optimized(f_t, np.ones((4, 4), np.float32))) == []


# ---------------------------------------------------------------------------------------------
# The verifier's buffer rules


def test_verifier_rejects_an_alias_of_a_live_value() -> None:
    fn = optimized(returns_old_and_new, np.ones(3, np.float32))
    ops = list(fn.ops)
    k = next(i for i, op in enumerate(ops) if op.prim.name == "scatter")
    ops[k] = ops[k].replace(params=ops[k].params.replace(aliases=((0, 0),)))
    with pytest.raises(VerificationError, match="read afterwards"):
        verify(fn.replace(ops=tuple(ops)))


def test_verifier_rejects_writing_an_input_not_donated() -> None:
    fn = optimized(updates_an_input, np.ones(3, np.float32))
    ops = list(fn.ops)
    k = next(i for i, op in enumerate(ops) if op.prim.name == "scatter")
    ops[k] = ops[k].replace(params=ops[k].params.replace(aliases=((0, 0),)))
    bad = fn.replace(ops=tuple(ops))
    with pytest.raises(VerificationError, match="does not own"):
        verify(bad)
    verify(bad, donated=frozenset({0}))


# ---------------------------------------------------------------------------------------------
# Donation


def test_donated_array_is_deleted() -> None:
    f = llax.jit(lambda x, y: x * 2 + y, donate_argnums=0)
    x, y = lnp.ones(3), lnp.ones(3)
    np.testing.assert_array_equal(np.asarray(f(x, y)), [3.0, 3.0, 3.0])
    assert x.is_deleted() and not y.is_deleted()
    for use in (lambda: x + 1, lambda: np.asarray(x), lambda: repr(x), lambda: f(x, y)):
        with pytest.raises(RuntimeError, match=r"Array has been deleted with "
                                               r"shape=float32\[3\]\."):
            use()


def test_donate_argnames_and_positions_imply_each_other() -> None:
    g = llax.jit(lambda x, y: x * 2 + y, donate_argnames="y")
    y = lnp.ones(3)
    g(lnp.ones(3), y=y)
    assert y.is_deleted()
    y = lnp.ones(3)
    g(lnp.ones(3), y)
    assert y.is_deleted()


def test_unusable_donation_warns_and_keeps_the_array() -> None:
    h = llax.jit(lambda x: x.sum(), donate_argnums=0)
    x = lnp.ones(3)
    with pytest.warns(UserWarning, match=r"Some donated buffers were not usable: "
                                         r"float32\[3\]\."):
        h(x)
    assert not x.is_deleted()
    np.testing.assert_array_equal(np.asarray(x), np.ones(3))


def test_donation_errors() -> None:
    with pytest.raises(ValueError, match="static_argnames and donate_argnames cannot "
                                         "intersect"):
        llax.jit(lambda x: x, static_argnames="x", donate_argnames="x")
    with pytest.raises(ValueError, match="static_argnames and donate_argnames cannot "
                                         "intersect. Argument names {'y'}"):
        llax.jit(lambda x, y: x, static_argnums=1, donate_argnums=1)  # as JAX words it
    f = llax.jit(lambda x, y: x + y, donate_argnums=0)
    x = lnp.ones(3)
    with pytest.raises(ValueError, match="donated"):
        f(x, x)


def test_donated_numpy_input_is_not_modified() -> None:
    f = llax.jit(lambda x: x.at[0].set(7.0), donate_argnums=0)
    x = np.zeros(4, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = f(x)
    np.testing.assert_array_equal(x, np.zeros(4))
    np.testing.assert_array_equal(np.asarray(out), [7, 0, 0, 0])


def test_donated_update_in_a_training_style_loop() -> None:
    step = llax.jit(lambda p, g: lax.fori_loop(0, 4, lambda i, p: p.at[i].add(g[i]), p),
                    donate_argnums=0)
    p = lnp.zeros(4)
    g = lnp.arange(4.0)
    for _ in range(3):
        p = step(p, g)
    np.testing.assert_array_equal(np.asarray(p), 3 * np.arange(4.0))
    np.testing.assert_array_equal(np.asarray(g), np.arange(4.0))


def test_lowered_as_text_buffers() -> None:
    def f(x):
        return lax.fori_loop(0, 5, lambda i, x: x.at[i].set(x[i] * 2), x * 1.0)

    text = llax.jit(f).lower(np.ones(5, np.float32)).as_text("buffers")
    assert "updated in place" in text
    assert llax.jit(lambda x: x + 1).lower(np.ones(2)).as_text("buffers") == "(none)"


def test_fusion_operand_behind_an_index_map_is_not_reused() -> None:
    """``flip(t * 2 + 1)``: the elementwise ops read ``t`` pointwise but the flip after them
    reads the other end: writing the result over ``t`` would read overwritten elements."""
    w = np.eye(8, dtype=np.float32)
    x = np.arange(8, dtype=np.float32)
    f = lambda x: lnp.flip(x @ w * 2 + 1)  # noqa: E731
    assert aliased_ops(optimized(f, x)) == []
    np.testing.assert_array_equal(np.asarray(llax.jit(f)(x)), (x * 2 + 1)[::-1])
