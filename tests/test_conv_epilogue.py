"""Epilogue fusion (passes/fuse_epilogue.py, codegen/conv.py): which consumers of a
convolution join it, and that the fused code computes what JAX computes, for bias and
activation, a residual operand, several results, other result types, layouts that take
the fallback, and a training step's gradient."""

from __future__ import annotations

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax.config import config
from llax.ir import prims as P
from llax.ir.core import walk_ops
from llax.ir.interpreter import evaluate_function
from llax.passes import run_pipeline

NHWC = ("NHWC", "HWIO", "NHWC")


@pytest.fixture(autouse=True)
def _verify_everything():
    with config.override("llax_verify", True):
        yield


def _conv(lib, x, w, dn=NHWC, groups=1):
    return lib.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn,
                                        feature_group_count=groups)


def bias_relu(lib, x, w, b):
    return lib.numpy.maximum(_conv(lib, x, w) + b, 0)


def residual(lib, x, w, b):
    return _conv(lib, x, w) * 0.5 + x[..., : w.shape[-1]] + b


def two_results(lib, x, w, b):
    y = _conv(lib, x, w) + b
    return lib.numpy.tanh(y), y * y


def to_float16(lib, x, w, b):
    return (_conv(lib, x, w) + b).astype(lib.numpy.float16)


def with_cast_back(lib, x, w, b):
    return (_conv(lib, x, w) + b).astype(lib.numpy.float16).astype(lib.numpy.float32)


def nchw(lib, x, w, b):
    y = _conv(lib, x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), dn=None)
    return lib.numpy.maximum(y + b[:, None, None], 0)


def grouped(lib, x, w, b):
    even = 2 * (w.shape[-1] // 2)
    return lib.nn.relu(_conv(lib, x, w[:, :, : x.shape[-1] // 2, :even], groups=2) + b[:even])


def read_twice(lib, x, w, b):
    y = _conv(lib, x, w)
    return lib.numpy.maximum(y + b, 0), y.sum()


def reduced_first(lib, x, w, b):
    y = _conv(lib, x, w)
    total = y.sum()
    return lib.numpy.maximum(y + b, 0), total


def transposed(lib, x, w, b):
    return _conv(lib, x, w).transpose(0, 2, 1, 3) + b


class _Lib:
    def __init__(self, root, numpy) -> None:
        self.lax, self.numpy, self.nn = root.lax, numpy, root.nn


LLAX, JAX = _Lib(llax, jnp), _Lib(jax, jjnp)

# name -> (function, fused into the convolution?)
PROGRAMS = {
    "bias_relu": (bias_relu, True),
    "residual": (residual, True),
    "two_results": (two_results, True),
    "to_float16": (to_float16, True),  # no result of the conv's type: the fallback lowering
    "with_float16_cast_back": (with_cast_back, True),
    "nchw": (nchw, True),  # not rows: the fallback lowering
    "grouped": (grouped, True),
    "read_twice": (read_twice, True),  # the output stays a result of the merged op
    "reduced_first": (reduced_first, False),  # the first reader is a reduction
    "transposed": (transposed, False),
}


def _args(batch: int = 2, size: int = 9, channels: int = 6, features: int = 5):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, size, size, channels)).astype(np.float32),
            rng.standard_normal((3, 3, channels, features)).astype(np.float32),
            rng.standard_normal(features).astype(np.float32))


def _optimised(fn, args):
    closed = llax.make_jaxpr(lambda *a: fn(LLAX, *a))(*args)
    assert not closed.consts
    traced = closed.jaxpr.function
    return traced, run_pipeline(traced, "simplify,cse,dce,fuse,fuse-epilogue,inplace")


def _fused(fn) -> bool:
    return any(op.prim is P.fusion and op.regions[0].ops[0].prim is P.conv_general_dilated
               for op in fn.ops)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_which_consumers_join(name: str) -> None:
    fn, joins = PROGRAMS[name]
    traced, optimised = _optimised(fn, _args())
    assert _fused(optimised) == joins
    # The convolution is computed once either way.
    assert sum(op.prim is P.conv_general_dilated for op in walk_ops(optimised)) == 1
    want = evaluate_function(traced, _args())
    for got, ref in zip(evaluate_function(optimised, _args()), want):
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("sizes", [(2, 9, 6, 5), (4, 20, 40, 24)], ids=["small", "blocks"])
def test_compiled_vs_jax(name: str, sizes: tuple) -> None:
    fn, _ = PROGRAMS[name]
    args = _args(*sizes)
    got = llax.jit(lambda *a: fn(LLAX, *a))(*args)
    want = jax.jit(lambda *a: fn(JAX, *a))(*args)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        # Through float16, a different order of the sum may round to the neighbour.
        tol = 2e-3 if "float16" in name else 2e-5
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64),
                                   rtol=tol, atol=tol * max(1.0, float(np.abs(w).max())))


def test_inputs_are_not_overwritten() -> None:
    """A residual operand of the output's shape is read after the products land: it must
    keep its own buffer (no in-place reuse for epilogue regions)."""
    x, w, b = _args(features=6)
    keep = x.copy()
    got = llax.jit(lambda x, w, b: _conv(LLAX, x, w) + x + b)(x, w, b)
    want = jax.jit(lambda x, w, b: _conv(JAX, x, w) + x + b)(x, w, b)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=1e-4)
    np.testing.assert_array_equal(x, keep)


def test_training_step_gradient_vs_jax() -> None:
    x, w, b = _args(batch=4, size=12, channels=3, features=8)

    def loss(lib, w, b, x):
        y = bias_relu(lib, x, w, b)
        return (y * y).mean()

    got = llax.jit(llax.grad(lambda w, b, x: loss(LLAX, w, b, x), argnums=(0, 1)))(w, b, x)
    want = jax.jit(jax.grad(lambda w, b, x: loss(JAX, w, b, x), argnums=(0, 1)))(w, b, x)
    for g, v in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(v), rtol=1e-4, atol=1e-5)


def test_program_code_calls_the_runtimes() -> None:
    """A program's code for a convolution is calls into the conv and gemm runtimes (compiled
    once per process), its own patch filling (its sizes constants) and, when fused, its
    epilogue function: no copy of the other loops."""
    from llax.codegen import conv_kernels

    x, w, b = _args()
    text = llax.jit(lambda x, w, b: bias_relu(LLAX, x, w, b)).lower(x, w, b).as_text("llvm")
    for op in ("pack", "rows"):
        assert f'@"{conv_kernels.symbol(op, np.float32)}"' in text
    assert "llax_conv_epilogue" in text and "llax_conv_fill" in text
    assert "llax_gemm" not in text  # the products are the runtime's


def test_a_literal_filter_in_an_epilogue_region() -> None:
    """A convolution whose filter is a Literal (given inline to the fusion op, not a
    buffer) still compiles and matches the interpreter."""
    from llax.codegen import compile_native
    from llax.ir.core import Function, Literal

    x, w, b = _args()
    traced, _ = _optimised(bias_relu, (x, w, b))
    w_param = traced.params[1]
    inline = {w_param: Literal.of(w, w_param.type)}
    fn = Function((traced.params[0], traced.params[2]),
                  tuple(op.replace(inputs=tuple(inline.get(a, a) for a in op.inputs))
                        for op in traced.ops), traced.results)
    optimised = run_pipeline(fn, "simplify,cse,dce,fuse,fuse-epilogue,inplace")
    assert _fused(optimised)
    want = evaluate_function(fn, [x, b])[0]
    got = compile_native(fn, optimised).call([x, b])[0]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=1e-5)


def test_a_region_takes_one_producer_even_when_the_pass_runs_twice() -> None:
    """A sum of two convolutions: the first joins the sum's region; the second, on another
    run of the pass, must not be put in front of it (a region has one producer)."""
    x, w, b = _args(features=6)

    def two(lib, x, w, b):
        return _conv(lib, x, w) + _conv(lib, x * 2, w) + b

    pipeline = "simplify,cse,dce,fuse,fuse-epilogue,fuse-epilogue,inplace"
    traced = llax.make_jaxpr(lambda *a: two(LLAX, *a))(x, w, b).jaxpr.function
    optimised = run_pipeline(traced, pipeline)
    heads = [op for op in optimised.ops if op.prim is P.fusion
             and op.regions[0].ops[0].prim is P.conv_general_dilated]
    assert len(heads) == 1
    assert sum(o.prim is P.conv_general_dilated for o in heads[0].regions[0].ops) == 1
    got = llax.jit(lambda *a: two(LLAX, *a), pipeline=pipeline)(x, w, b)
    want = jax.jit(lambda *a: two(JAX, *a))(x, w, b)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=1e-4)
