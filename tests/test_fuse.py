"""The fusion pass: how many kernels and buffers come out, the codegen contract, semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llax.config import config
from llax.frontend.core import trace
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Function, Literal, Op, Params, Var, walk_ops
from llax.ir.interpreter import evaluate_function
from llax.ir.parser import parse_function
from llax.ir.primitive import FusionClass, fusion_class, infer_types
from llax.ir.types import TensorType
from llax.passes import run_pipeline
from llax.passes.fuse import CHEAP, fuse_function, plan_groups

f32 = dtypes.float32


@pytest.fixture(autouse=True)
def _verify_everything():
    with config.override("llax_verify", True):
        yield


def make_op(prim, inputs, **params) -> Op:
    p = Params(params)
    types = infer_types(prim, tuple(a.type for a in inputs), p)
    return Op(prim, tuple(inputs), tuple(Var(t) for t in types), p)


# ---------------------------------------------------------------------------------------------
# Measuring a fused function


def fuse(fn: Function, pipeline: str = "fuse") -> Function:
    out = run_pipeline(fn, pipeline)
    check_contract(out)
    assert_same_results(fn, out)
    return out


def kernels(fn: Function) -> list[Op]:
    """Top-level ops: each is one loop nest (or library call) in the generated code."""
    return list(fn.ops)


def fusions(fn: Function) -> list[Op]:
    return [op for op in fn.ops if op.prim is P.fusion]


def buffers(fn: Function) -> int:
    """Intermediate arrays written to memory: top-level op outputs that are not results."""
    results = {a for a in fn.results if isinstance(a, Var)}
    return sum(v not in results for op in fn.ops for v in op.outputs)


def prims_at_top(fn: Function) -> list:
    return [op.prim for op in fn.ops]


def count(fn: Function, prim) -> int:
    """How many times ``prim`` is computed anywhere, regions included."""
    return sum(op.prim is prim for op in walk_ops(fn))


def check_contract(fn: Function) -> None:
    """What the code generator relies on (see llax.passes.fuse)."""
    for op in walk_ops(fn):
        if op.prim is not P.fusion:
            continue
        (region,) = op.regions
        assert len(region.ops) >= 2, "a fusion holds at least two ops"
        assert len(region.results) == 1 == len(op.outputs)
        classes = [fusion_class[o.prim] for o in region.ops]
        assert all(c is not FusionClass.OPAQUE for c in classes)
        assert all(not o.regions and len(o.outputs) == 1 for o in region.ops)
        reductions = [o for o in region.ops if fusion_class[o.prim] is FusionClass.REDUCTION]
        assert len(reductions) <= 1
        if reductions:
            assert region.results == reductions[0].outputs, "a reduction is the region's result"
        defined = {v for o in region.ops for v in o.outputs}
        assert all(r in defined for r in region.results)


def random_inputs(fn: Function, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(t.shape).astype(t.dtype) if dtypes.is_float(t.dtype)
            else rng.integers(-9, 9, t.shape).astype(t.dtype) for t in fn.in_types]


def assert_same_results(before: Function, after: Function) -> None:
    for seed in range(3):
        args = random_inputs(before, seed)
        for got, want in zip(evaluate_function(after, args), evaluate_function(before, args),
                             strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# The cases the design names


SELU = """
{ lambda ; a:f32[16]. let
    b:f32[16] = broadcast_in_dim[broadcast_dimensions=() shape=(16,)] 0.0:f32[]
    c:bool[16] = gt a b
    d:f32[16] = expm1 a
    e:f32[16] = broadcast_in_dim[broadcast_dimensions=() shape=(16,)] 1.6732632:f32[]
    f:f32[16] = mul e d
    g:f32[16] = select_n c f a
    h:f32[16] = broadcast_in_dim[broadcast_dimensions=() shape=(16,)] 1.050701:f32[]
    i:f32[16] = mul h g
  in (i,) }"""


@pytest.mark.parametrize("pipeline", ["fuse", "simplify,cse,dce,fuse"])
def test_selu_is_one_kernel(pipeline: str) -> None:
    fn = parse_function(SELU)
    out = fuse(fn, pipeline)
    assert prims_at_top(out) == [P.fusion]
    assert buffers(out) == 0
    assert count(out, P.expm1) == 1


def test_traced_selu_is_one_kernel() -> None:
    def selu(x):
        positive = P.gt.bind(x, 0.0)
        alpha_expm1 = P.mul.bind(1.6732632, P.expm1.bind(x))
        return P.mul.bind(1.050701, P.select_n.bind(positive, alpha_expm1, x))

    t, _, out = trace(selu, [TensorType((32,), f32)])
    fn, consts = t.finish([out])
    assert consts == []
    fused = fuse(fn, "simplify,cse,dce,fuse")
    assert prims_at_top(fused) == [P.fusion]


def test_sum_of_squared_differences_is_one_kernel_rooted_at_the_reduction() -> None:
    fn = parse_function("""
    { lambda ; a:f32[4,8] b:f32[4,8]. let
        c:f32[4,8] = sub a b
        d:f32[4,8] = integer_pow[y=2] c
        e:f32[] = reduce_sum[axes=(0, 1)] d
      in (e,) }""")
    out = fuse(fn)
    (kernel,) = kernels(out)
    assert kernel.prim is P.fusion and kernel.outputs == fn.results
    region = kernel.regions[0]
    assert [op.prim for op in region.ops] == [P.sub, P.integer_pow, P.reduce_sum]
    assert kernel.inputs == fn.params


TWO_REDUCTIONS = """
{ lambda ; a:f32[4,8] b:f32[4,8] s:f32[]. let
    c:f32[4,8] = exp a
    d:f32[4,8] = broadcast_in_dim[broadcast_dimensions=() shape=(4, 8)] s
    e:f32[4,8] = mul c b
    f:f32[4,8] = mul e d
    g:f32[4] = reduce_sum[axes=(1,)] f
    h:f32[4,8] = add c d
    i:f32[4] = reduce_max[axes=(1,)] h
  in (g, i) }"""


def test_expensive_value_with_two_consumers_is_materialised_once() -> None:
    out = fuse(parse_function(TWO_REDUCTIONS))
    assert count(out, P.exp) == 1 and P.exp in prims_at_top(out)
    assert len(fusions(out)) == 2
    assert buffers(out) == 1  # exp(a), read by both kernels
    exp_out = next(op.out for op in out.ops if op.prim is P.exp)
    assert all(exp_out in op.inputs for op in fusions(out))


def test_cheap_broadcast_with_two_consumers_is_duplicated() -> None:
    out = fuse(parse_function(TWO_REDUCTIONS))
    assert P.broadcast_in_dim not in prims_at_top(out)
    for op in fusions(out):
        assert count(op.regions[0], P.broadcast_in_dim) == 1
        assert out.params[2] in op.inputs  # each kernel reads the scalar, not a 4x8 buffer


def test_a_reduction_never_shares_a_kernel_with_its_consumer() -> None:
    fn = parse_function("""
    { lambda ; a:f32[4,8]. let
        b:f32[4] = reduce_max[axes=(1,)] a
        c:f32[4,8] = broadcast_in_dim[broadcast_dimensions=(0,) shape=(4, 8)] b
        d:f32[4,8] = sub a c
        e:f32[4,8] = exp d
        f:f32[4] = reduce_sum[axes=(1,)] e
        g:f32[4,8] = broadcast_in_dim[broadcast_dimensions=(0,) shape=(4, 8)] f
        h:f32[4,8] = div e g
      in (h,) }""")
    out = fuse(fn)
    assert prims_at_top(out) == [P.reduce_max, P.fusion, P.reduce_sum, P.fusion]
    assert count(out, P.exp) == 1
    assert buffers(out) == 3  # the row maxima, exp(a - max), the row sums


def test_expensive_producer_read_through_a_broadcast_is_not_recomputed() -> None:
    # exp of 8 values broadcast to 4x8: fusing it would compute 32 exps instead of 8.
    fn = parse_function("""
    { lambda ; a:f32[8] b:f32[4,8]. let
        c:f32[8] = exp a
        d:f32[4,8] = broadcast_in_dim[broadcast_dimensions=(1,) shape=(4, 8)] c
        e:f32[4,8] = add d b
      in (e,) }""")
    out = fuse(fn)
    assert prims_at_top(out) == [P.exp, P.fusion]
    # A cheap producer is fine to recompute per element.
    cheap = parse_function("""
    { lambda ; a:f32[8] b:f32[4,8]. let
        c:f32[8] = neg a
        d:f32[4,8] = broadcast_in_dim[broadcast_dimensions=(1,) shape=(4, 8)] c
        e:f32[4,8] = add d b
      in (e,) }""")
    assert prims_at_top(fuse(cheap)) == [P.fusion]


def test_expensive_scalar_operand_is_not_recomputed_per_element() -> None:
    fn = parse_function("""
    { lambda ; a:f32[4,8]. let
        b:f32[] = reduce_sum[axes=(0, 1)] a
        c:f32[] = log b
        d:f32[4,8] = sub a c
        e:f32[4,8] = exp d
      in (e,) }""")
    out = fuse(fn)
    assert prims_at_top(out) == [P.reduce_sum, P.log, P.fusion]


def test_max_ops_bounds_every_group() -> None:
    x = Var(TensorType((16,), f32))
    ops, v = [], x
    for i in range(10):
        op = make_op([P.sin, P.cos][i % 2], (v,))
        ops.append(op)
        v = op.out
    fn = Function((x,), tuple(ops), (v,))
    out = fuse(fn, "fuse{max-ops=4}")
    sizes = [len(op.regions[0].ops) for op in fusions(out)]
    assert sizes == [2, 4, 4] and len(kernels(out)) == math.ceil(10 / 4)
    assert len(kernels(fuse(fn, "fuse"))) == 1
    assert prims_at_top(fuse(fn, "fuse{max-ops=1}")) == prims_at_top(fn)


def test_opaque_ops_are_never_fused() -> None:
    fn = parse_function("""
    { lambda ; a:f32[4,8] b:f32[8,16] c:f32[16]. let
        d:f32[4,8] = exp a
        e:f32[4,16] = dot_general[dimension_numbers=(((1,), (0,)), ((), ()))
                                  precision=None preferred_element_type=f32] d b
        f:f32[4,16] = broadcast_in_dim[broadcast_dimensions=(1,) shape=(4, 16)] c
        g:f32[4,16] = add e f
        h:f32[4,16] = tanh g
      in (h,) }""")
    out = fuse(fn)
    assert prims_at_top(out) == [P.exp, P.dot_general, P.fusion]
    assert count(out, P.dot_general) == 1


def test_cheap_arithmetic_is_duplicated_one_level_deep() -> None:
    # u is recomputed in both kernels; recomputing u's producer t as well would make
    # every kernel recompute whole chains in dense graphs, so t is materialised once.
    fn = parse_function("""
    { lambda ; a:f32[4,8] b:f32[4,8]. let
        t:f32[4,8] = add a b
        u:f32[4,8] = mul t t
        v:f32[4,8] = exp u
        w:f32[4] = reduce_sum[axes=(1,)] v
        x:f32[4,8] = tanh u
        y:f32[4] = reduce_max[axes=(1,)] x
      in (w, y) }""")
    out = fuse(fn)
    assert prims_at_top(out) == [P.add, P.fusion, P.fusion]
    assert count(out, P.add) == 1 and count(out, P.mul) == 2
    assert buffers(out) == 1


def test_cheap_value_needed_in_memory_is_read_not_recomputed() -> None:
    # d = a + b is a result, so it is written anyway: the reduction reads it back rather
    # than reloading a and b. A broadcast is recomputed even then (it reads less).
    fn = parse_function("""
    { lambda ; a:f32[4,8] b:f32[4,8] s:f32[]. let
        c:f32[4,8] = broadcast_in_dim[broadcast_dimensions=() shape=(4, 8)] s
        d:f32[4,8] = add a b
        e:f32[4,8] = mul d c
        f:f32[4] = reduce_sum[axes=(1,)] e
      in (d, f, c) }""")
    out = fuse(fn)
    (kernel,) = fusions(out)
    region = kernel.regions[0]
    assert [op.prim for op in region.ops] == [P.broadcast_in_dim, P.mul, P.reduce_sum]
    assert fn.ops[1].out in kernel.inputs


def test_result_values_stay_materialised() -> None:
    fn = parse_function("""
    { lambda ; a:f32[8]. let
        b:f32[8] = exp a
        c:f32[8] = log b
        d:f32[8] = sin c
      in (b, d) }""")
    out = fuse(fn)
    assert prims_at_top(out) == [P.exp, P.fusion]
    assert out.results[0] is fn.results[0] and out.results[1] is fn.results[1]


def test_fusion_keeps_the_original_result_vars() -> None:
    fn = parse_function(SELU)
    out = fuse(fn)
    assert out.results == fn.results and out.params == fn.params


def test_fuse_is_idempotent_and_returns_unchanged_functions() -> None:
    once = fuse_function(parse_function(TWO_REDUCTIONS))
    assert fuse_function(once) is once
    single = parse_function("{ lambda ; a:f32[8]. let b:f32[8] = exp a in (b,) }")
    assert fuse_function(single) is single
    assert fuse_function(parse_function("{ lambda ; a:f32[8]. let in (a,) }")).ops == ()


def test_groups_are_planned_from_the_results_backwards() -> None:
    fn = parse_function(TWO_REDUCTIONS)
    groups = plan_groups(fn)
    roots = [g.roots for g in groups]
    assert roots == sorted(roots)
    by_root = {g.roots[0]: g for g in groups}
    # reduce_max (op 6) owns the add (5) and duplicates the broadcast (1).
    assert by_root[6].owned == {5, 6} and by_root[6].duplicated == {1}
    assert by_root[4].owned == {2, 3, 4} and by_root[4].duplicated == {1}


def test_cheap_table_holds_no_transcendentals() -> None:
    assert not CHEAP & {P.exp, P.log, P.tanh, P.div, P.pow, P.sqrt, P.expm1, P.integer_pow}


def test_literals_stay_inline_in_regions() -> None:
    fn = parse_function("""
    { lambda ; a:f32[8]. let
        b:f32[8] = mul a 2.0:f32[]
        c:f32[8] = add b [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]:f32[8]
      in (c,) }""")
    (kernel,) = kernels(fuse(fn))
    assert kernel.inputs == fn.params
    assert all(isinstance(op.inputs[1], Literal) for op in kernel.regions[0].ops)


# ---------------------------------------------------------------------------------------------
# Random programs: the contract holds and results do not change.


def random_program(seed: int, n_ops: int = 30) -> Function:
    rng = np.random.default_rng(seed)
    rows, cols = 3, 5
    params = [Var(TensorType((rows, cols), f32)), Var(TensorType((rows, cols), f32)),
              Var(TensorType((cols,), f32)), Var(TensorType((), f32))]
    pool = list(params)
    ops: list[Op] = []

    def pick(shape=(rows, cols)) -> Var:
        cands = [v for v in pool if v.type.shape == shape]
        return cands[rng.integers(len(cands))]

    def add(op: Op) -> None:
        ops.append(op)
        pool.append(op.out)

    for _ in range(n_ops):
        kind = rng.integers(8)
        if kind == 0:
            add(make_op([P.exp, P.tanh, P.neg, P.abs, P.sin][rng.integers(5)], (pick(),)))
        elif kind == 1:
            add(make_op([P.add, P.mul, P.sub, P.max][rng.integers(4)], (pick(), pick())))
        elif kind == 2:
            add(make_op(P.broadcast_in_dim, (pick((cols,)),), shape=(rows, cols),
                        broadcast_dimensions=(1,)))
        elif kind == 3:
            add(make_op(P.broadcast_in_dim, (pick(()),), shape=(rows, cols),
                        broadcast_dimensions=()))
        elif kind == 4:
            add(make_op([P.reduce_sum, P.reduce_max][rng.integers(2)], (pick(),), axes=(0,)))
        elif kind == 5:
            add(make_op(P.reduce_sum, (pick(),), axes=(0, 1)))
        elif kind == 6:
            add(make_op([P.exp, P.log1p, P.neg][rng.integers(3)], (pick((cols,)),)))
        else:
            x = pick()
            gt = make_op(P.gt, (x, Literal.of(0.0, TensorType((), f32))))
            ops.append(gt)
            add(make_op(P.select_n, (gt.out, pick(), x)))
    chosen = rng.choice(len(pool) - len(params), 3, replace=False) + len(params)
    return Function(tuple(params), tuple(ops), tuple(pool[i] for i in chosen))


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("max_ops", [64, 3])
def test_random_programs(seed: int, max_ops: int) -> None:
    fn = random_program(seed)
    out = fuse(fn, f"dce,fuse{{max-ops={max_ops}}}")
    for op in fusions(out):
        assert len(op.regions[0].ops) <= max_ops
    # Transcendentals are never computed more often than in the unfused program.
    for prim in (P.exp, P.tanh, P.sin, P.log1p):
        assert count(out, prim) <= count(run_pipeline(fn, "dce"), prim)


# ---------------------------------------------------------------------------------------------
# Through the numpy layer


def jnp_function(f, *args) -> Function:
    import llax

    return llax.make_jaxpr(f)(*args).jaxpr.function


def test_jnp_selu_is_one_kernel() -> None:
    import llax.numpy as jnp

    def selu(x, alpha=1.6732632, scale=1.050701):
        return scale * jnp.where(x > 0, x, alpha * jnp.expm1(x))

    fn = jnp_function(selu, np.ones((4, 8), np.float32))
    out = fuse(fn, "simplify,cse,dce,fuse")
    assert prims_at_top(out) == [P.fusion] and buffers(out) == 0


def test_jnp_sum_of_squares_is_one_kernel() -> None:
    import llax.numpy as jnp

    fn = jnp_function(lambda x, y: jnp.sum((x - y) ** 2), np.ones((4, 8), np.float32),
                      np.ones((4, 8), np.float32))
    out = fuse(fn, "simplify,cse,dce,fuse")
    (kernel,) = kernels(out)
    assert kernel.prim is P.fusion and kernel.regions[0].ops[-1].prim is P.reduce_sum


def test_an_owned_multi_output_op_read_by_copies_elsewhere_is_written_out() -> None:
    """Two Gumbel draws on one key: the cipher (two outputs) joins the group of the xor of
    its words, while two later groups recompute that cheap xor from the words. The owner
    must write the words out for them (a regression: they were read from nowhere)."""
    import jax

    import llax

    def draws(random, key):
        return (random.gumbel(key, (4,), mode="high"), random.gumbel(key, (4,), mode="highest"))

    got = llax.jit(lambda k: draws(llax.random, k))(llax.random.key(7))
    want = jax.jit(lambda k: draws(jax.random, k))(jax.random.key(7))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-6, atol=1e-6)
