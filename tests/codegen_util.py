"""Helpers for the code-generator tests: build IR by hand, compile, compare to the oracle."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from llax.codegen import compile_native
from llax.ir.core import Atom, Function, Literal, Op, Params, Var
from llax.ir.interpreter import evaluate_function
from llax.ir.primitive import Primitive, infer_types
from llax.ir.types import TensorType

F32, F64, I32, BOOL = (np.dtype(t) for t in (np.float32, np.float64, np.int32, np.bool_))


def float_vector_lanes(ir_text: str, dtype=np.float32) -> list[int]:
    """Lane counts of every vector of ``dtype`` floats in LLVM IR text (``<8 x float>`` -> 8)."""
    name = {4: "float", 8: "double"}[np.dtype(dtype).itemsize]
    return [int(n) for n in re.findall(rf"<(\d+) x {name}>", ir_text)]


def assert_vectorised(ir_text: str, dtype=np.float32, what: str = "the loop") -> None:
    """``ir_text`` holds vectors of ``dtype`` at least as wide as the host's SIMD registers.

    LLVM chooses the width per CPU (256 bits on AVX2 hosts; 256 or 512 on AVX-512 ones,
    by its tuning), so this asserts a lower bound, never one machine's width.
    """
    from llax.codegen import target

    host = target.host()
    bits = 256 if host.has_feature("avx") else 128
    lanes = bits // (8 * np.dtype(dtype).itemsize)
    found = float_vector_lanes(ir_text, dtype)
    assert found and max(found) >= lanes, \
        f"{what} was not vectorised at the host's width ({lanes} lanes): found {sorted(set(found))}"


def tt(shape: Sequence[int], dtype) -> TensorType:
    return TensorType(tuple(shape), np.dtype(dtype))


def op(prim: Primitive, *inputs: Atom, regions: tuple = (), **params) -> Op:
    p = Params(params)
    outs = infer_types(prim, tuple(a.type for a in inputs), p, regions)
    return Op(prim, tuple(inputs), tuple(Var(t) for t in outs), p, regions)


def lit(value, dtype, shape=()) -> Literal:
    return Literal.of(value, tt(shape, dtype))


def single(prim: Primitive, in_types: Sequence[TensorType], **params) -> Function:
    """A function applying one op to fresh parameters."""
    params_ = tuple(Var(t) for t in in_types)
    o = op(prim, *params_, **params)
    return Function(params_, (o,), o.outputs)


def fused(fn: Function) -> Function:
    """Wrap ``fn``'s body into one hand-built ``fusion`` op (before the fuse pass exists)."""
    from llax.ir import prims as P

    outer = tuple(Var(v.type) for v in fn.params)
    o = op(P.fusion, *outer, regions=(fn,))
    return Function(outer, (o,), o.outputs)


def run(fn: Function, args: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(compiled results, reference results)."""
    args = [np.array(a, dtype=v.type.dtype, order="C") for v, a in zip(fn.params, args)]
    compiled = compile_native(fn, fn)
    got = compiled.call(args)
    want = evaluate_function(fn, args)
    return got, [np.asarray(w, dtype=t.dtype).reshape(t.shape) for w, t in zip(want, fn.out_types)]


def assert_same(got: np.ndarray, want: np.ndarray, rtol: float = 0.0, atol: float = 0.0,
                what: str = "") -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if got.dtype.kind == "f":
        if rtol == 0 and atol == 0:
            # Exact, but nan == nan and -0.0 == 0.0 (max/min may order signed zeros differently).
            same = (got == want) | (np.isnan(got) & np.isnan(want))
            if not same.all():
                bad = np.argwhere(~same)[:5]
                raise AssertionError(f"{what}: mismatch at {bad.tolist()}: got "
                                     f"{got[tuple(bad.T)]} want {want[tuple(bad.T)]}")
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check(fn: Function, args: Sequence[np.ndarray], rtol: float = 0.0, atol: float = 0.0) -> None:
    got, want = run(fn, args)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_same(g, w, rtol, atol, what=f"{fn.name} result {k}")


def special_values(dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return np.array([False, True])
    if dtype.kind == "f":
        v = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.7,
             -3.7, 1e-30, 1e30, 0.1, 100.0, 0.49999997]
        return np.array(v, dtype=dtype)
    info = np.iinfo(dtype)
    v = [info.min, info.max, info.min + 1, -1, 0, 1, 2, -2, 7, -7, 31, 32, 33, 64, -33, 100]
    return np.array([x for x in v if info.min <= x <= info.max], dtype=dtype)


def random_values(dtype, shape, rng: np.random.Generator, low=-10.0, high=10.0) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return rng.uniform(low, high, shape).astype(dtype)
    return rng.integers(int(low), int(high) + 1, shape).astype(dtype)


def loop_nest_chain(n_groups: int, shape: tuple[int, int], scale: float
                    ) -> tuple[Function, Callable[[np.ndarray], np.ndarray]]:
    """A fused function of ``n_groups`` loop nests, x -> tanh(scale * e * sum(e, axis=1)) with
    e = sin or exp in turn (the reductions keep the groups apart; from lower.SIDE_MODULE_GROUPS
    on, some compile as side modules), and its float64 reference. A small ``scale`` keeps
    every stage's derivative below 1, so rounding cannot grow."""
    from llax.ir import prims as P
    from llax.passes.manager import run_pipeline

    x = Var(tt(shape, F32))
    ops, cur = [], x
    for k in range(n_groups):
        e = op(P.exp if k % 2 else P.sin, cur)
        r = op(P.reduce_sum, e.out, axes=(1,))
        b = op(P.broadcast_in_dim, r.out, shape=shape, broadcast_dimensions=(0,))
        m = op(P.mul, e.out, b.out)
        s = op(P.mul, m.out, lit(scale, F32))
        t = op(P.tanh, s.out)
        ops += [e, r, b, m, s, t]
        cur = t.out
    fn = run_pipeline(Function((x,), tuple(ops), (cur,)), "fuse")

    def reference(v: np.ndarray) -> np.ndarray:
        v = v.astype(np.float64)
        for k in range(n_groups):
            e = np.exp(v) if k % 2 else np.sin(v)
            v = np.tanh(float(np.float32(scale)) * e * e.sum(axis=1, keepdims=True))
        return v

    return fn, reference

