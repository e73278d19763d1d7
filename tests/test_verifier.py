"""The verifier (one test per failure kind, messages checked) and the graph views."""

from __future__ import annotations

import numpy as np
import pytest

from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Function, Literal, Op, Params, Var
from llax.ir.graph import dataflow_graph, is_dag, last_use, topological_ops, users
from llax.ir.primitive import Primitive, infer_types
from llax.ir.types import TensorType
from llax.ir.verifier import VerificationError, verify

f32, i32 = dtypes.float32, dtypes.int32
V8 = TensorType((8,), f32)


def op(prim, inputs, **params) -> Op:
    p = Params(params)
    types = infer_types(prim, tuple(a.type for a in inputs), p)
    return Op(prim, tuple(inputs), tuple(Var(t) for t in types), p)


def chain() -> tuple[Function, Var, Var, Op, Op, Op]:
    """{ a b -> c = mul a b; d = add c 2.0; e = reduce_sum d }"""
    a, b = Var(V8), Var(V8)
    c = op(P.mul, (a, b))
    d = op(P.add, (c.out, Literal.of(2.0, TensorType((), f32))))
    e = op(P.reduce_sum, (d.out,), axes=(0,))
    return Function((a, b), (c, d, e), (e.out,)), a, b, c, d, e


def fused(a: Var, b: Var, body_ops=None, body_results=None) -> Op:
    g, h = Var(V8), Var(V8)
    m = op(P.mul, (g, h))
    region = Function((g, h), tuple(body_ops or (m,)), tuple(body_results or (m.out,)), "fused")
    return Op(P.fusion, (a, b), tuple(Var(t) for t in region.out_types), regions=(region,))


def fails(fn: Function, *fragments: str) -> str:
    with pytest.raises(VerificationError) as info:
        verify(fn)
    for fragment in fragments:
        assert fragment in str(info.value)
    return str(info.value)


def test_valid_functions_pass() -> None:
    fn, a, b, *_ = chain()
    verify(fn)
    f = fused(a, b)
    verify(Function((a, b), (f,), f.outputs))


def test_operand_never_defined() -> None:
    fn, a, b, c, d, e = chain()
    stray = Var(V8)
    bad = fn.replace(ops=(c, d.replace(inputs=(stray, d.inputs[1])), e))
    fails(bad, "main: op `d:f32[8] = add ?a 2.0:f32[]`: variable ?a (f32[8]) is never defined")


def test_operand_used_before_definition() -> None:
    fn, a, b, c, d, e = chain()
    fails(fn.replace(ops=(d, c, e)),
          "op `c:f32[8] = add d 2.0:f32[]`: variable d (f32[8]) is used before it is defined")


def test_region_may_not_capture() -> None:
    fn, a, b, *_ = chain()
    g, h = Var(V8), Var(V8)
    m = op(P.mul, (g, a))  # reads the enclosing function's param
    f = fused(a, b, body_ops=(m,), body_results=(m.out,))
    f = f.replace(regions=(f.regions[0].replace(params=(g, h)),))
    fails(Function((a, b), (f,), f.outputs),
          "main > fusion region 0: op `f:f32[8] = mul d a`: variable a (f32[8]) belongs to an "
          "enclosing function")


def test_var_defined_twice_in_params() -> None:
    a = Var(V8)
    fails(Function((a, a), (), (a,)), "main: parameters of main: variable a (f32[8]) is defined "
                                      "twice")


def test_var_defined_twice_by_ops() -> None:
    fn, a, b, c, d, e = chain()
    again = Op(P.neg, (a,), c.outputs)
    fails(fn.replace(ops=(c, again, d, e)), "op `c:f32[8] = neg a`: variable c (f32[8]) is "
                                            "defined twice")


def test_var_defined_in_region_and_outside() -> None:
    a, b = Var(V8), Var(V8)
    f = fused(a, b)
    region = f.regions[0]
    # The region's param is also the outer function's param.
    shared = region.replace(params=(a, region.params[1]),
                            ops=(region.ops[0].replace(inputs=(a, region.params[1])),))
    f = f.replace(regions=(shared,))
    fails(Function((a, b), (f,), f.outputs), "main > fusion region 0: parameters of fused: "
                                             "variable a (f32[8]) is defined twice")


def test_declared_type_differs_from_inferred() -> None:
    fn, a, b, c, d, e = chain()
    wrong = c.replace(outputs=(Var(TensorType((8,), i32)),))
    fails(fn.replace(ops=(wrong, d.replace(inputs=(wrong.out, d.inputs[1])), e)),
          "op `c:i32[8] = mul a b`: declared output types (i32[8]) differ from the inferred "
          "(f32[8])")


def test_declared_output_count_differs() -> None:
    a, b = Var(V8), Var(V8)
    f = fused(a, b)
    f = f.replace(outputs=(*f.outputs, Var(V8)))
    fails(Function((a, b), (f,), f.outputs),
          "op `c:f32[8] d:f32[8] = fusion a b { ... }`: declared output types (f32[8], f32[8]) "
          "differ from the inferred (f32[8])")


def test_ill_typed_op() -> None:
    a, b = Var(V8), Var(TensorType((4,), f32))
    bad = Op(P.add, (a, b), (Var(V8),))
    fails(Function((a, b), (bad,), bad.outputs), "op `c:f32[8] = add a b`: type inference "
                                                 "failed: add: operand shapes must be equal")


@pytest.mark.parametrize("value,got", [
    (np.zeros((), np.float64), "float64[]"),
    (np.zeros((2,), np.float32), "float32[2]"),
    (2.0, "a float, not an ndarray"),
])
def test_literal_does_not_match_its_type(value, got) -> None:
    a = Var(V8)
    add = Op(P.add, (a, Literal(value, TensorType((), f32))), (Var(V8),))
    fails(Function((a,), (add,), add.outputs),
          f"literal value ({got}) does not match its type f32[]")


def test_result_unbound() -> None:
    fn, *_ = chain()
    fails(fn.replace(results=(Var(V8),)),
          "main: results of main: variable ?a (f32[8]) is never defined")


def test_result_literal_is_checked() -> None:
    fn, *_ = chain()
    fails(fn.replace(results=(Literal(np.int32(1), TensorType((), i32)),)),
          "results of main: literal value (a int32, not an ndarray) does not match")


def test_primitive_without_rule() -> None:
    mystery = Primitive("mystery")  # deliberately not registered
    a = Var(V8)
    bad = Op(mystery, (a,), (Var(V8),))
    fails(Function((a,), (bad,), bad.outputs),
          "op `b:f32[8] = mystery a`: primitive 'mystery' has no abstract evaluation rule")


def test_errors_inside_regions_are_found() -> None:
    a, b = Var(V8), Var(V8)
    g, h = Var(V8), Var(V8)
    bad = Op(P.mul, (g, h), (Var(TensorType((), f32)),))
    f = fused(a, b, body_ops=(bad,), body_results=(bad.out,))
    f = f.replace(regions=(f.regions[0].replace(params=(g, h)),))
    fails(Function((a, b), (f,), f.outputs), "main > fusion region 0: op `f:f32[] = mul d e`: "
                                             "declared output types")


# ---------------------------------------------------------------------------------------------
# Graph views


def test_dataflow_graph_and_users() -> None:
    fn, a, b, c, d, e = chain()
    sq = op(P.mul, (c.out, c.out))
    fn = fn.replace(ops=(c, d, sq, e))
    g = dataflow_graph(fn)
    assert list(g.nodes) == [c, d, sq, e]
    assert g.nodes[sq]["index"] == 2
    assert set(g.edges) == {(c, d), (c, sq), (d, e)}
    assert g.edges[c, sq]["vars"] == (c.out,)
    u = users(fn)
    assert u[a] == [c] and u[c.out] == [d, sq] and u[sq.out] == [] and u[e.out] == []
    assert is_dag(fn)


def test_edge_lists_every_value_between_two_ops() -> None:
    a, b = Var(V8), Var(V8)
    f = fused(a, b)
    two = Op(P.fusion, (a, b), (Var(V8), Var(V8)),
             regions=(f.regions[0].replace(results=f.regions[0].results * 2),))
    add = op(P.add, (two.outputs[1], two.outputs[0]))
    g = dataflow_graph(Function((a, b), (two, add), (add.out,)))
    assert g.edges[two, add]["vars"] == (two.outputs[1], two.outputs[0])


def test_topological_ops_reorders_and_detects_cycles() -> None:
    fn, a, b, c, d, e = chain()
    other = op(P.neg, (a,))
    shuffled = fn.replace(ops=(e, other, d, c))
    assert topological_ops(shuffled) == [other, c, d, e]
    assert topological_ops(fn) == list(fn.ops)
    # A cycle: c reads e's output and e reads c's.
    cyc = fn.replace(ops=(c.replace(inputs=(e.out, b)), d, e))
    assert not is_dag(cyc)
    with pytest.raises(ValueError, match="cycle"):
        topological_ops(cyc)


def test_last_use() -> None:
    fn, a, b, c, d, e = chain()
    extra = op(P.neg, (a,))
    fn = fn.replace(ops=(c, extra, d, e), results=(e.out, c.out))
    assert last_use(fn) == {a: 1, b: 0, c.out: 4, d.out: 3, e.out: 4}
    assert extra.out not in last_use(fn)
