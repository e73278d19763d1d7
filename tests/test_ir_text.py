"""The IR's text form: golden printouts, parse/print round-trips, literals, parse errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llax.frontend.core import trace
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Function, Literal, Op, Params, Var
from llax.ir.parser import ParseError, parse_function, parse_with_consts
from llax.ir.primitive import infer_types
from llax.ir.printer import alpha_name, print_function, print_param
from llax.ir.types import TensorType
from llax.ir.verifier import verify

f16, f32, f64 = dtypes.float16, dtypes.float32, dtypes.float64
i8, i32, u8, u32 = dtypes.int8, dtypes.int32, dtypes.uint8, dtypes.uint32
bool_ = dtypes.bool_


def T(dtype, *shape: int, weak: bool = False) -> TensorType:
    return TensorType(shape, dtype, weak)


def op(prim, inputs, **params) -> Op:
    """An op whose outputs get the inferred types."""
    p = Params(params)
    types = infer_types(prim, tuple(a.type for a in inputs), p)
    return Op(prim, tuple(inputs), tuple(Var(t) for t in types), p)


def round_trip(fn: Function, n_consts: int = 0) -> str:
    text = print_function(fn, n_consts)
    back, n = parse_with_consts(text)
    assert n == n_consts
    assert print_function(back, n) == text
    verify(back)
    return text


def example() -> Function:
    a, b = Var(T(f32, 8)), Var(T(f32, 8))
    c = op(P.mul, (a, b))
    d = op(P.add, (c.out, Literal.of(2.0, T(f32))))
    e = op(P.reduce_sum, (d.out,), axes=(0,))
    return Function((a, b), (c, d, e), (e.out,))


# ---------------------------------------------------------------------------------------------
# Golden printouts


def test_golden_hand_built() -> None:
    assert round_trip(example()) == """\
{ lambda ; a:f32[8] b:f32[8]. let
    c:f32[8] = mul a b
    d:f32[8] = add c 2.0:f32[]
    e:f32[] = reduce_sum[axes=(0,)] d
  in (e,) }"""
    assert str(example()) == print_function(example())


def test_golden_traced_with_consts_and_name() -> None:
    captured = np.arange(3, dtype=np.float32)

    def f(x, y):
        z = P.add.bind(P.mul.bind(x, captured), y)
        return P.convert_element_type.bind(z, new_dtype=i32, weak_type=False), z, 1.5

    t, _, out = trace(f, [T(f32, 3), T(f32)], name="f")
    fn, consts = t.finish(out)
    assert len(consts) == 1
    assert round_trip(fn, n_consts=1) == """\
{ lambda @f a:f32[3]; b:f32[3] c:f32[]. let
    d:f32[3] = mul b a
    e:f32[3] = add d c
    f:i32[3] = convert_element_type[new_dtype=i32 weak_type=False] e
  in (f, e, 1.5:f32[]{weak}) }"""
    # Without n_consts the capture is an ordinary first parameter; show_name=False gives
    # JAX's exact header.
    assert print_function(fn, show_name=False).startswith("{ lambda ; a:f32[3] b:f32[3] c:f32[].")


def fusion_example() -> Function:
    g, h = Var(T(f32, 8)), Var(T(f32, 8))
    m = op(P.mul, (g, h))
    s = op(P.reduce_sum, (m.out,), axes=(0,))
    region = Function((g, h), (m, s), (s.out, m.out), name="fused")
    a, b = Var(T(f32, 8)), Var(T(f32, 8))
    fused = Op(P.fusion, (a, b), (Var(T(f32)), Var(T(f32, 8))), regions=(region,))
    neg = op(P.neg, (fused.outputs[0],))
    return Function((a, b), (fused, neg), (neg.out, fused.outputs[1]))


def test_golden_region_op() -> None:
    assert round_trip(fusion_example()) == """\
{ lambda ; a:f32[8] b:f32[8]. let
    c:f32[] d:f32[8] = fusion a b { lambda @fused ; e:f32[8] f:f32[8]. let
        g:f32[8] = mul e f
        h:f32[] = reduce_sum[axes=(0,)] g
      in (h, g) }
    i:f32[] = neg c
  in (i, d) }"""


def test_nested_regions_continue_the_counter() -> None:
    inner = fusion_example().replace(name="main")
    x, y = Var(T(f32, 8)), Var(T(f32, 8))
    outer = Op(P.fusion, (x, y), tuple(Var(t) for t in inner.out_types), regions=(inner,))
    assert round_trip(Function((x, y), (outer,), outer.outputs)) == """\
{ lambda ; a:f32[8] b:f32[8]. let
    c:f32[] d:f32[8] = fusion a b { lambda ; e:f32[8] f:f32[8]. let
        g:f32[] h:f32[8] = fusion e f { lambda @fused ; i:f32[8] j:f32[8]. let
            k:f32[8] = mul i j
            l:f32[] = reduce_sum[axes=(0,)] k
          in (l, k) }
        m:f32[] = neg g
      in (m, h) }
  in (c, d) }"""


def test_drop_unused_prints_underscore_and_round_trips() -> None:
    fn = fusion_example()
    a, b = fn.params
    dead = op(P.sin, (a,))
    fn = fn.replace(ops=(dead, *fn.ops))
    text = print_function(fn, drop_unused=True)
    assert "    _:f32[8] = sin a" in text
    assert "c:f32[] d:f32[8] = fusion a b" in text  # '_' takes no name
    assert print_function(parse_function(text), drop_unused=True) == text
    # By default every output is named, as JAX numbers them.
    assert "    c:f32[8] = sin a" in print_function(fn)


def test_params_format() -> None:
    lhs, rhs = Var(T(f16, 2, 3)), Var(T(f16, 3, 4))
    dot = op(P.dot_general, (lhs, rhs), dimension_numbers=(((1,), (0,)), ((), ())),
             precision=("HIGHEST", 'it"s', float("-inf"), float("nan"), 1e-7, -0.0, None, True),
             preferred_element_type=f32)
    pad = op(P.pad, (dot.out, Literal.of(0.0, T(f32))), padding_config=((-1, 2, 0), (0, 0, 1)))
    iota = op(P.iota, (), dtype=u8, shape=(2, 3), dimension=1)
    fn = Function((lhs, rhs), (dot, pad, iota), (pad.out, iota.out))
    assert round_trip(fn).splitlines()[1:4] == [
        "    c:f32[2,4] = dot_general[dimension_numbers=(((1,), (0,)), ((), ())) precision=("
        "'HIGHEST', 'it\"s', -inf, nan, 1e-07, -0.0, None, True) preferred_element_type=f32] a b",
        "    d:f32[3,7] = pad[padding_config=((-1, 2, 0), (0, 0, 1))] c 0.0:f32[]",
        "    e:u8[2,3] = iota[dimension=1 dtype=u8 shape=(2, 3)]",
    ]


def test_print_param_normalises_numpy_scalars_and_dtype_types() -> None:
    assert print_param((np.int64(3), np.float32(0.5), np.bool_(True), np.float32)) == \
        "(3, 0.5, True, f32)"
    assert print_param(()) == "()"


def test_alpha_names_match_jaxpr_numbering() -> None:
    assert [alpha_name(i) for i in (0, 25, 26, 27, 51, 52, 26 * 26)] == \
        ["a", "z", "ba", "bb", "bz", "ca", "baa"]


def test_reserved_names_are_skipped() -> None:
    x = Var(T(f32))
    ops, v = [], x
    for _ in range(300):
        ops.append(op(P.neg, (v,)))
        v = ops[-1].out
    text = round_trip(Function((x,), tuple(ops), (v,)))
    names = {line.split(":")[0].strip() for line in text.splitlines()[1:-1]}
    assert "in" not in names and "im" in names and "io" in names


def test_zero_results_and_no_params() -> None:
    fn = Function((), (), ())
    assert round_trip(fn) == "{ lambda ; . let\n  in () }"


# ---------------------------------------------------------------------------------------------
# Literals

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 5e-324, 0.1, 1 / 3, 65504.0, 3.0, 1e20]


@pytest.mark.parametrize("dtype", [f16, f32, f64])
def test_special_float_literals_round_trip_bit_exactly(dtype) -> None:
    with np.errstate(over="ignore", under="ignore"):
        values = np.array(SPECIAL, dtype=dtype)
    bits = np.dtype(f"u{dtype.itemsize}")
    # NaNs of the other sign and with payloads only survive through the hex form.
    odd_nans = np.array([np.nan, np.nan, np.nan], dtype=dtype).view(bits)
    odd_nans |= np.array([1 << (8 * dtype.itemsize - 1), 1, 3], dtype=bits)
    values = np.concatenate([values, odd_nans.view(dtype)])
    lit = Literal.of(values, T(dtype, len(values)))
    scalars = [Literal.of(v, T(dtype, weak=True)) for v in values]
    x = Var(T(dtype, len(values)))
    ops = [op(P.add, (x, lit))] + [op(P.mul, (x, s)) for s in scalars]
    fn = Function((x,), tuple(ops), tuple(o.out for o in ops))
    back = parse_function(round_trip(fn))
    for a, b in zip([lit, *scalars], [o.inputs[1] for o in back.ops], strict=True):
        assert a.type == b.type and a.value.tobytes() == b.value.tobytes()


def test_literal_text() -> None:
    x = Var(T(f32, 2, 2))
    lits = [Literal.of([[1, 2], [-0.0, np.inf]], T(f32, 2, 2)), Literal.of(-0.0, T(f32)),
            Literal.of(np.nan, T(f32))]
    ops = [op(P.add, (x, lit)) for lit in lits]
    text = round_trip(Function((x,), tuple(ops), tuple(o.out for o in ops)))
    assert "add a [[1.0, 2.0], [-0.0, inf]]:f32[2,2]" in text
    assert "add a -0.0:f32[]" in text and "add a nan:f32[]" in text


@pytest.mark.parametrize("dtype,values", [
    (i8, [-128, 127, 0]), (u8, [0, 255, 7]), (u32, [0, 2**32 - 1, 5]),
    (i32, [-(2**31), 2**31 - 1, -1]), (bool_, [True, False, True]),
])
def test_int_and_bool_literals_round_trip(dtype, values) -> None:
    lit = Literal.of(values, T(dtype, 3))
    x = Var(T(dtype, 3))
    fn = Function((x,), (op(P.max, (x, lit)),), (Literal.of(values[0], T(dtype)),))
    back = parse_function(round_trip(fn))
    assert back.ops[0].inputs[1].value.tolist() == values
    assert back.results[0].value.dtype == dtype


def test_empty_and_higher_rank_literals() -> None:
    for shape in [(0,), (0, 3), (2, 0), (2, 0, 5), (2, 1, 3)]:
        x = Var(T(f32, *shape))
        lit = Literal.of(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), T(f32, *shape))
        back = parse_function(round_trip(Function((x,), (op(P.add, (x, lit)),), ())))
        assert back.ops[0].inputs[1].value.shape == shape


def test_list_literal_as_first_operand_is_not_params() -> None:
    x = Var(T(f32, 2))
    fn = Function((x,), (op(P.sub, (Literal.of([1.0, 2.0], T(f32, 2)), x)),), ())
    assert "= sub [1.0, 2.0]:f32[2] a" in round_trip(fn)


def test_hand_written_text_with_comments() -> None:
    fn = parse_function("""
        # a comment
        { lambda ; x:i32[2]. let
            y:i32[2] = add x [1, 2]:i32[2]   # trailing comment
            _:i32[2] = neg y
          in (y, 3:i32[]) }""")
    assert print_function(fn) == """\
{ lambda ; a:i32[2]. let
    b:i32[2] = add a [1, 2]:i32[2]
    c:i32[2] = neg b
  in (b, 3:i32[]) }"""


# ---------------------------------------------------------------------------------------------
# Random programs


ELEMENTWISE_FLOAT = [P.exp, P.sin, P.neg, P.abs, P.sqrt, P.tanh]
BINARY = [P.add, P.sub, P.mul, P.max, P.min]


def _literal(draw, type: TensorType) -> Literal:
    """Any bit pattern for floats (all NaNs, subnormals), any value for ints and bools."""
    if type.dtype.kind == "f":
        bits = np.dtype(f"u{type.dtype.itemsize}")
        raw = draw(st.lists(st.integers(0, np.iinfo(bits).max), min_size=type.size,
                            max_size=type.size))
        value = np.array(raw, dtype=bits).view(type.dtype)
    elif type.dtype == bool_:
        value = np.array(draw(st.lists(st.booleans(), min_size=type.size, max_size=type.size)))
    else:
        info = np.iinfo(type.dtype)
        value = np.array(draw(st.lists(st.integers(int(info.min), int(info.max)),
                                       min_size=type.size, max_size=type.size)))
    return Literal(value.astype(type.dtype).reshape(type.shape), type)


@st.composite
def programs(draw, depth: int = 0) -> Function:
    shapes = [(), (3,), (2, 3), (0, 2)]
    kinds = [f16, f32, i32, u8, bool_]
    params = [Var(T(draw(st.sampled_from(kinds)), *draw(st.sampled_from(shapes)),
                    weak=draw(st.booleans())))
              for _ in range(draw(st.integers(0, 3)))]
    if not params:
        params = [Var(T(f32, 3))]
    pool, ops = list(params), []
    for _ in range(draw(st.integers(0, 8))):
        x = draw(st.sampled_from(pool))
        t = x.type
        choice = draw(st.sampled_from(["unary", "binary", "convert", "reduce", "transpose",
                                       "reshape", "broadcast", "compare", "fusion"]))
        if choice == "unary" and t.dtype.kind == "f":
            new = [op(draw(st.sampled_from(ELEMENTWISE_FLOAT)), (x,))]
        elif choice in ("binary", "compare") and t.dtype != bool_:
            same = [v for v in pool if v.type.strong() == t.strong()]
            other_t = draw(st.sampled_from([t, T(t.dtype, weak=draw(st.booleans()))]))
            y = draw(st.one_of(st.sampled_from(same), st.just(_literal(draw, other_t))))
            prim = draw(st.sampled_from(BINARY if choice == "binary" else [P.lt, P.eq]))
            new = [op(prim, (x, y))]
        elif choice == "convert":
            new = [op(P.convert_element_type, (x,), new_dtype=draw(st.sampled_from(kinds)),
                      weak_type=draw(st.booleans()))]
        elif choice == "reduce" and t.ndim and t.dtype != bool_:
            axes = tuple(sorted(draw(st.sets(st.integers(0, t.ndim - 1), min_size=1))))
            new = [op(P.reduce_sum, (x,), axes=axes)]
        elif choice == "transpose":
            perm = tuple(draw(st.permutations(range(t.ndim))))
            new = [op(P.transpose, (x,), permutation=perm)]
        elif choice == "reshape":
            new = [op(P.reshape, (x,), new_sizes=(t.size,), dimensions=None)]
        elif choice == "broadcast":
            new = [op(P.broadcast_in_dim, (x,), shape=(2, *t.shape),
                      broadcast_dimensions=tuple(range(1, t.ndim + 1)))]
        elif choice == "fusion" and depth < 2:
            region = draw(programs(depth=depth + 1))
            args = [draw(st.sampled_from([v for v in pool if v.type == p.type] or
                                         [_literal(draw, p.type)])) for p in region.params]
            new = [Op(P.fusion, tuple(args), tuple(Var(t) for t in region.out_types),
                      regions=(region,))]
        else:
            continue
        ops += new
        pool += [v for o in new for v in o.outputs]
    results = draw(st.lists(st.sampled_from(pool), max_size=3))
    if draw(st.booleans()):
        shape = draw(st.sampled_from(shapes))
        results.append(_literal(draw, T(draw(st.sampled_from(kinds)), *shape)))
    name = draw(st.sampled_from(["main", "main", "body", "<lambda>", "it's"]))
    return Function(tuple(params), tuple(ops), tuple(results), name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.data())
def test_random_programs_round_trip(fn: Function, data) -> None:
    verify(fn)
    n_consts = data.draw(st.integers(0, len(fn.params)))
    text = round_trip(fn, n_consts)
    assert print_function(parse_function(print_function(fn))) == print_function(fn)
    assert print_function(fn, drop_unused=True) == print_function(
        parse_function(print_function(fn, drop_unused=True)), drop_unused=True)
    assert text == print_function(fn, n_consts)  # deterministic


# ---------------------------------------------------------------------------------------------
# Parse errors

GOOD = """{ lambda ; a:f32[8] b:f32[8]. let
    c:f32[8] = mul a b
  in (c,) }"""


@pytest.mark.parametrize("old,new,message,line,col", [
    ("mul a b", "mull a b", "unknown primitive 'mull'", 2, 16),
    ("mul a b", "mul a z", "unbound variable 'z'", 2, 22),
    ("c:f32[8] =", "c:f33[8] =", "unknown dtype 'f33'", 2, 7),
    ("b:f32[8].", "a:f32[8].", "redefinition of variable 'a'", 1, 21),
    ("c:f32[8] =", "c:f32[4] =", "declared output types (f32[4]) differ from the inferred (f32[8])",
     2, 5),
    ("c:f32[8] =", "c:f32[8] d:f32[8] =", "declared output types (f32[8], f32[8])", 2, 5),
    ("mul a b", "mul a b [1.0, 2.0]:f32[2]", "operand shapes must be equal", 2, 5),
    ("mul a b", "mul a 1.0:f32[2]", "bad literal of type f32[2]: the list has shape ()", 2, 22),
    ("mul a b", "mul a $", "unexpected character '$'", 2, 22),
    ("in (c,) }", "in (c,)", "expected '}', found end of input", 3, 10),
    ("f32[8] b", "f32[-8] b", "bad dimension '-8'", 1, 18),
    ("mul a b", "mul[axes=(0,)] a b", "mul: ", 2, 5),
    ("mul a b", "mul a [1.0, 2.0]:f32[8]", "bad literal of type f32[8]: the list has shape (2,)",
     2, 22),
    ("mul a b", "add a 300:f32[]", "", 0, 0),
    ("mul a b", "mul a 1.5:i32[]", "'1.5' is not an integer", 2, 22),
    ("mul a b", "max a 300:u8[]", "300 is out of range for u8", 2, 22),
])
def test_parse_errors(old, new, message, line, col) -> None:
    text = GOOD.replace(old, new)
    if not message:  # control: this variant is valid (ints are accepted for float literals)
        parse_function(text)
        return
    with pytest.raises(ParseError) as info:
        parse_function(text)
    assert message in str(info.value)
    assert f"line {line}, column {col}:" in str(info.value)


def test_parse_error_region_reads_enclosing_value() -> None:
    text = print_function(fusion_example()).replace("g:f32[8] = mul e f", "g:f32[8] = mul e a")
    with pytest.raises(ParseError, match="unbound variable 'a' \\(it belongs to an enclosing"):
        parse_function(text)


def test_parse_error_shows_the_line_and_a_caret() -> None:
    with pytest.raises(ParseError) as info:
        parse_function(GOOD.replace("mul a b", "mul a q"))
    assert str(info.value).splitlines()[1:] == ["      c:f32[8] = mul a q",
                                                "                       ^"]


def test_printing_invalid_ir_marks_unbound_values_and_does_not_parse() -> None:
    fn = example()
    stray = Var(T(f32, 8))
    bad = fn.replace(ops=(fn.ops[0].replace(inputs=(stray, fn.params[1])), *fn.ops[1:]))
    text = print_function(bad)
    assert "c:f32[8] = mul ?a b" in text
    with pytest.raises(ParseError, match="line 2, column 20: unbound variable"):
        parse_function(text)


def test_n_consts_out_of_range() -> None:
    with pytest.raises(ValueError, match="n_consts=3 but main has 2 parameters"):
        print_function(example(), n_consts=3)
