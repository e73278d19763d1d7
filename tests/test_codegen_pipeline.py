"""Native code through the real pipeline (trace -> simplify,cse,dce,fuse -> codegen),
checked against the interpreter backend on the same traced program."""

from __future__ import annotations

import re

import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax.ir import prims as P
from llax.ir.core import walk_ops
from llax.tests.codegen_util import assert_vectorised


def _selu(x, alpha=1.6732632423543772, scale=1.0507009873554805):
    return scale * jnp.where(x > 0, x, alpha * (jnp.exp(x) - 1))


def _softmax(x):
    m = jnp.max(x, axis=-1, keepdims=True)
    e = jnp.exp(x - m)
    return e / jnp.sum(e, axis=-1, keepdims=True)


def _layernorm(x, g, b):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + 1e-5) * g + b


def _mlp(x, w1, b1, w2):
    h = jnp.maximum(x @ w1 + b1, 0.0)
    return jnp.tanh(h @ w2)


def _mixed(x, i):
    y = jnp.concatenate([x[::-1], x[1:3] * 2, jnp.zeros(2, x.dtype)])
    return (y.reshape(2, -1).T.sum(axis=1), jnp.argmax(y), (i // 3) % 5, i << 2,
            x.astype(jnp.int32))


CASES = {
    "selu": (_selu, lambda r: [r.normal(size=1001).astype(np.float32)]),
    "softmax": (_softmax, lambda r: [r.normal(size=(7, 33)).astype(np.float32)]),
    "layernorm": (_layernorm, lambda r: [r.normal(size=(5, 64)).astype(np.float32),
                                         r.normal(size=64).astype(np.float32),
                                         r.normal(size=64).astype(np.float32)]),
    "mlp": (_mlp, lambda r: [r.normal(size=(8, 32)).astype(np.float32),
                             r.normal(size=(32, 64)).astype(np.float32) / 8,
                             r.normal(size=64).astype(np.float32),
                             r.normal(size=(64, 10)).astype(np.float32) / 8]),
    "mixed": (_mixed, lambda r: [r.normal(size=10).astype(np.float32),
                                 r.integers(-100, 100, 9).astype(np.int32)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pipeline_matches_interpreter(name: str) -> None:
    fn, make = CASES[name]
    args = make(np.random.default_rng(0))
    got = llax.tree_util.tree_leaves(llax.jit(fn)(*args))
    want = llax.tree_util.tree_leaves(llax.jit(fn, backend="interpreter")(*args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
        else:
            np.testing.assert_array_equal(g, w)


def test_selu_is_one_vectorised_fusion() -> None:
    x = np.random.default_rng(0).normal(size=4096).astype(np.float32)
    lowered = llax.jit(_selu).lower(x)
    compiled = lowered.compile()
    fusions = [op for op in compiled.optimized.ops if op.prim is P.fusion]
    assert len(compiled.optimized.ops) == 1 and len(fusions) == 1, str(compiled.optimized)
    opt = compiled.stages["llvm-opt"]
    assert_vectorised(opt, what="the SELU loop")
    # exp comes from vecmath's polynomial, not a scalar libm call in the loop.
    assert not re.search(r"call \w+ @\"?(expf|llvm\.exp\.)", opt)
    np.testing.assert_allclose(np.asarray(llax.jit(_selu)(x)), _selu(x), rtol=2e-6, atol=1e-6)


def test_reductions_vectorise() -> None:
    x = np.random.default_rng(0).normal(size=(64, 1000)).astype(np.float32)
    for axis in (0, 1):
        c = llax.jit(lambda v, axis=axis: jnp.sum(v, axis=axis)).lower(x).compile()
        assert_vectorised(c.stages["llvm-opt"], what=f"sum over axis {axis}")


def test_fusion_ops_appear_in_pipeline_output() -> None:
    x = np.ones((16, 16), np.float32)
    c = llax.jit(_softmax).lower(x).compile()
    assert any(op.prim is P.fusion for op in walk_ops(c.optimized))
