"""``jit(f).lower(...).as_text("dot")``: the optimised IR's dataflow graph as DOT, the same
text ``llax.ir.dot.to_dot`` (and so ``llax-dump --graph``) gives for that stage."""

import llax
import llax.numpy as jnp
from llax.ir.dot import to_dot


def test_dot_stage_is_the_optimised_graph():
    def f(x, y):
        return jnp.sum(jnp.exp(x) * y + 1.0)

    lowered = llax.jit(f).lower(jnp.ones(8), jnp.ones(8))
    text = lowered.as_text("dot")
    assert text == to_dot(lowered.compile().optimized)
    assert text.lstrip().startswith(("digraph", "strict digraph"))
    assert "exp" in text and "reduce_sum" in text
    assert text != to_dot(lowered.compile().traced)  # the final stage, not the traced one


def test_dot_stage_is_listed_among_the_stages():
    lowered = llax.jit(lambda x: x + 1).lower(1.0)
    try:
        lowered.as_text("no-such-stage")
    except ValueError as e:
        assert "dot" in str(e)
    else:
        raise AssertionError("an unknown stage must raise")
