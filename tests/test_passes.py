"""The pass manager and the cleanup passes: golden IR, semantics, pipelines, registry, hooks.

Golden files (tests/golden/passes/*.ir) hold a pipeline, an input function and the
expected printout after the pipeline. Regenerate the expectations after an
intended change with ``LLAX_UPDATE_GOLDEN=1 pytest tests/test_passes.py`` and
review the diff.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from llax.config import config
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Function, Literal, Op, Params, Var, walk_ops
from llax.ir.interpreter import evaluate_function
from llax.ir.parser import parse_function
from llax.ir.primitive import infer_types
from llax.ir.printer import print_function
from llax.ir.types import TensorType
from llax.ir.verifier import VerificationError
from llax.passes import (
    Pass,
    PassContext,
    available_passes,
    get_pass,
    parse_pipeline,
    pipeline_text,
    register_pass,
    run_pipeline,
)
from llax.passes import manager as M
from llax.passes.dce import EFFECTFUL, eliminate_dead_code
from llax.passes.simplify import fold, simplify_function

GOLDEN = Path(__file__).parent / "golden" / "passes"
SEPARATOR = "// ----- expected -----\n"
PIPELINE_PREFIX = "// pipeline: "


@pytest.fixture(autouse=True)
def _verify_everything():
    with config.override("llax_verify", True):
        yield


def T(dtype, *shape: int, weak: bool = False) -> TensorType:
    return TensorType(shape, dtype, weak)


def make_op(prim, inputs, **params) -> Op:
    p = Params(params)
    types = infer_types(prim, tuple(a.type for a in inputs), p)
    return Op(prim, tuple(inputs), tuple(Var(t) for t in types), p)


# ---------------------------------------------------------------------------------------------
# Evaluation helpers: every pass must keep results bit-identical under the interpreter.


def random_args(fn: Function, seed: int = 0) -> list[np.ndarray]:
    """Random inputs salted with the values that break careless rewrites: ±0, ±inf, nan."""
    rng = np.random.default_rng(seed)
    args = []
    for t in fn.in_types:
        if dtypes.is_float(t.dtype):
            x = rng.standard_normal(t.shape).astype(t.dtype)
            flat = x.reshape(-1)
            specials = np.array([-0.0, 0.0, np.inf, -np.inf, np.nan], dtype=t.dtype)
            flat[: min(flat.size, 5)] = specials[: min(flat.size, 5)]
        elif dtypes.is_bool(t.dtype):
            x = rng.integers(0, 2, t.shape).astype(bool)
        else:
            x = rng.integers(-50, 50, t.shape).astype(t.dtype)
        args.append(x)
    return args


def assert_same_bits(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        assert g.tobytes() == w.tobytes(), f"results differ:\n{g}\n{w}"


def assert_equivalent(before: Function, after: Function, seeds: int = 3) -> None:
    for seed in range(seeds):
        args = random_args(before, seed)
        assert_same_bits(evaluate_function(after, args), evaluate_function(before, args))


def run_each_pass(fn: Function, pipeline: str) -> Function:
    """Run the pipeline one pass at a time, checking semantics after each."""
    for p in parse_pipeline(pipeline):
        out = run_pipeline(fn, [p])
        assert_equivalent(fn, out)
        fn = out
    return fn


# ---------------------------------------------------------------------------------------------
# Golden IR


def golden_files() -> list[Path]:
    return sorted(GOLDEN.glob("*.ir"))


def read_golden(path: Path) -> tuple[str, str, str | None]:
    text = path.read_text()
    first, _, rest = text.partition("\n")
    assert first.startswith(PIPELINE_PREFIX), f"{path}: first line must be '{PIPELINE_PREFIX}...'"
    source, sep, expected = rest.partition(SEPARATOR)
    return first[len(PIPELINE_PREFIX):].strip(), source, expected if sep else None


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    pipeline, source, expected = read_golden(path)
    fn = parse_function(source)
    out = run_each_pass(fn, pipeline)
    text = print_function(out) + "\n"
    if os.environ.get("LLAX_UPDATE_GOLDEN") or expected is None:
        path.write_text(f"{PIPELINE_PREFIX}{pipeline}\n{source.rstrip()}\n{SEPARATOR}{text}")
        pytest.skip(f"wrote the expected output of {path.name}; review it")
    assert text == expected
    # The expected text is itself valid IR: it parses and prints back unchanged.
    assert print_function(parse_function(expected)) + "\n" == expected


def test_golden_files_exist() -> None:
    names = {p.stem for p in golden_files()}
    assert {"simplify", "cse", "dce", "fuse_selu", "fuse_sum_sq"} <= names


# ---------------------------------------------------------------------------------------------
# Pipeline text


@register_pass
@dataclass(frozen=True)
class Options(Pass):
    """A do-nothing pass with one option of each type the pipeline text supports."""

    name = "test-options"
    count: int = 3
    ratio: float = 0.5
    flag: bool = False
    label: str = "x"
    limit: int | None = None

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return fn


def test_parse_default_pipeline() -> None:
    passes = parse_pipeline("simplify,cse,dce,fuse{max-ops=64}")
    assert [p.name for p in passes] == ["simplify", "cse", "dce", "fuse"]
    assert passes[3] == get_pass("fuse")(max_ops=64)


def test_parse_options_of_every_type() -> None:
    (p,) = parse_pipeline(" test-options { count=7, ratio=2.5 flag=true label=\"a b,c\" "
                          "limit=none } ")
    assert p == Options(count=7, ratio=2.5, flag=True, label="a b,c", limit=None)
    (p,) = parse_pipeline("test-options{limit=0x10 flag=FALSE label=plain}")
    assert p == Options(limit=16, flag=False, label="plain")


def test_underscores_and_dashes_name_the_same_option() -> None:
    assert parse_pipeline("fuse{max_ops=5}") == parse_pipeline("fuse{max-ops=5}")


def test_pipeline_text_round_trips() -> None:
    passes = parse_pipeline("simplify{max-fold-size=4},cse,test-options{label=\"a b\" flag=true}"
                            ",fuse")
    text = pipeline_text(passes)
    assert text == 'simplify{max-fold-size=4},cse,test-options{flag=true label="a b"},fuse'
    assert parse_pipeline(text) == passes
    assert str(get_pass("fuse")()) == "fuse"


def test_empty_pipeline_is_no_passes() -> None:
    assert parse_pipeline("") == [] and parse_pipeline("  ") == []


@pytest.mark.parametrize(("text", "message"), [
    ("simplify,frobnicate", "unknown pass 'frobnicate'; available passes: cse, dce, fuse"),
    ("fuse{max-opz=3}", "pass 'fuse' has no option 'max-opz'; its options are: max-ops"),
    ("dce{x=1}", "its options are: none"),
    ("fuse{max-ops=many}", "option 'max-ops' expects an integer, got 'many'"),
    ("test-options{flag=yes}", "option 'flag' expects true or false, got 'yes'"),
    ("test-options{ratio=fast}", "option 'ratio' expects a number"),
    ("fuse{max-ops=3", "unclosed '{'"),
    ("fuse{max-ops}", "expected an option `name=value`"),
    ("fuse{max-ops=1 max_ops=2}", "option 'max_ops' given twice"),
    ("simplify cse", "expected ',' between passes"),
    ("simplify,,cse", "expected a pass name"),
    ("simplify,", "expected a pass name"),
])
def test_pipeline_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        parse_pipeline(text)
    assert message in str(info.value)


def test_get_pass_lists_what_exists() -> None:
    with pytest.raises(ValueError, match="available passes: .*cse.*dce.*fuse.*simplify"):
        get_pass("nope")
    assert {"simplify", "cse", "dce", "fuse", "test-options"} <= set(available_passes())


def test_run_pipeline_accepts_passes_and_text() -> None:
    fn = parse_function("{ lambda ; a:f32[4]. let b:f32[4] = neg a c:f32[4] = neg b "
                        "d:f32[4] = exp a in (c,) }")
    want = "{ lambda ; a:f32[4]. let\n  in (a,) }"
    assert print_function(run_pipeline(fn, "simplify,dce")) == want
    assert print_function(run_pipeline(fn, [get_pass("simplify")(), "dce"])) == want
    dce_only = run_pipeline(fn, get_pass("dce")())
    assert len(dce_only.ops) == 2
    with pytest.raises(TypeError, match="a pipeline holds passes or pipeline text"):
        run_pipeline(fn, [3])


# ---------------------------------------------------------------------------------------------
# Registry and plugins


def test_third_party_pass_by_name() -> None:
    @register_pass
    @dataclass(frozen=True)
    class NegateResults(Pass):
        """Appends a neg to each result (twice is the identity, for the test)."""

        name = "test-negate-results"
        times: int = 1

        def run(self, fn: Function, ctx: PassContext) -> Function:
            ops, results = list(fn.ops), []
            for r in fn.results:
                for _ in range(self.times):
                    op = make_op(P.neg, (r,))
                    ops.append(op)
                    r = op.out
                results.append(r)
            return fn.replace(ops=tuple(ops), results=tuple(results))

    fn = parse_function("{ lambda ; a:f32[3]. let b:f32[3] = exp a in (b,) }")
    out = run_pipeline(fn, "test-negate-results{times=2},simplify,dce")
    assert print_function(out) == print_function(fn)
    out = run_pipeline(fn, "test-negate-results")
    assert [op.prim for op in out.ops] == [P.exp, P.neg]
    assert "test-negate-results" in available_passes()


def test_register_pass_rejects_bad_classes() -> None:
    with pytest.raises(ValueError, match="already registered"):
        @register_pass
        @dataclass(frozen=True)
        class Impostor(Pass):
            name = "fuse"

    with pytest.raises(TypeError, match="frozen dataclass"):
        @register_pass
        class NotADataclass(Pass):
            name = "test-not-a-dataclass"

    with pytest.raises(TypeError, match="Pass subclass"):
        register_pass(int)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="needs a class attribute `name`"):
        @register_pass
        @dataclass(frozen=True)
        class Nameless(Pass):
            pass


def test_entry_point_plugins_load_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "llax_test_plugin.py").write_text(
        "from dataclasses import dataclass\n"
        "from llax.passes import Pass\n"
        "@dataclass(frozen=True)\n"
        "class Plugin(Pass):\n"
        "    name = 'test-plugin'\n"
        "    level: int = 1\n"
        "    def run(self, fn, ctx):\n"
        "        return fn\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [importlib.metadata.EntryPoint("test-plugin", "llax_test_plugin:Plugin", "llax.passes"),
           importlib.metadata.EntryPoint("broken", "llax_no_such_module:X", "llax.passes")]
    calls = []

    def fake_entry_points(*, group: str):
        calls.append(group)
        return eps if group == M.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(M.importlib.metadata, "entry_points", fake_entry_points)
    monkeypatch.setattr(M, "_entry_points_loaded", False)
    monkeypatch.setattr(M, "_REGISTRY", dict(M._REGISTRY))
    parse_pipeline("simplify,dce")
    assert calls == []  # known names never touch the entry points
    (p,) = parse_pipeline("test-plugin{level=3}")
    assert p.name == "test-plugin" and p.level == 3
    assert "llax_test_plugin" in sys.modules
    with pytest.warns(UserWarning, match="could not load llax pass plugin 'broken'"):
        with pytest.raises(ValueError, match="unknown pass 'missing'.*test-plugin"):
            get_pass("missing")


# ---------------------------------------------------------------------------------------------
# Hooks: verification, printing, timing, dump files


@register_pass
@dataclass(frozen=True)
class Breaker(Pass):
    """Drops the first op but keeps its uses: invalid IR, for the verifier hook."""

    name = "test-breaker"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return fn.replace(ops=fn.ops[1:])


# simplify turns d into b and leaves c dead for dce.
SMALL = "{ lambda ; a:f32[4]. let b:f32[4] = exp a c:f32[4] = neg b d:f32[4] = neg c in (d,) }"


def test_verifier_runs_between_passes() -> None:
    fn = parse_function(SMALL)
    with pytest.raises(VerificationError) as info:
        run_pipeline(fn, "simplify,test-breaker,dce")
    assert "the IR is invalid after pass 'test-breaker'" in "\n".join(info.value.__notes__)
    # Off: nothing checks, the broken function comes back.
    out = run_pipeline(fn, "test-breaker", PassContext(verify=False))
    assert len(out.ops) == 2
    with config.override("llax_verify", False):
        run_pipeline(fn, "test-breaker")


def test_verifier_checks_the_input() -> None:
    fn = parse_function(SMALL)
    bad = fn.replace(ops=fn.ops[1:])
    with pytest.raises(VerificationError) as info:
        run_pipeline(bad, "dce")
    assert "the pipeline's input" in "\n".join(info.value.__notes__)


def test_print_after_only_on_change() -> None:
    fn = parse_function(SMALL)
    seen: list[tuple[str, str]] = []
    ctx = PassContext(print_after=lambda name, f: seen.append((name, print_function(f))))
    run_pipeline(fn, "cse,simplify,dce,fuse{max-ops=3}", ctx)
    assert [name for name, _ in seen] == ["simplify", "dce"]  # cse and fuse change nothing
    assert seen[-1][1] == "{ lambda ; a:f32[4]. let\n    b:f32[4] = exp a\n  in (b,) }"
    stream = io.StringIO()
    run_pipeline(fn, "simplify", PassContext(print_after=stream))
    assert stream.getvalue().startswith("// ----- IR after simplify ----- //\n{ lambda")


def test_unchanged_function_is_returned_as_is() -> None:
    fn = parse_function("{ lambda ; a:f32[4]. let b:f32[4] = exp a in (b,) }")
    assert run_pipeline(fn, "simplify,cse,dce,fuse") is fn


def test_timings() -> None:
    ctx = PassContext()
    run_pipeline(parse_function(SMALL), "simplify,cse,dce", ctx)
    run_pipeline(parse_function(SMALL), "dce", ctx)
    assert [name for name, _ in ctx.timings] == ["simplify", "cse", "dce", "dce"]
    assert all(seconds >= 0 for _, seconds in ctx.timings)
    report = ctx.timing_report()
    assert "dce" in report and "total" in report


def test_dump_files(tmp_path: Path) -> None:
    fn = parse_function(SMALL)
    ctx = PassContext(dump_dir=tmp_path / "dumps")
    out = run_pipeline(fn, "simplify,cse,dce,fuse{max-ops=8}", ctx)
    files = sorted(p.name for p in (tmp_path / "dumps").iterdir())
    assert files == ["00-traced.ir", "01-simplify.ir", "02-cse.ir", "03-dce.ir", "04-fuse.ir"]
    assert (tmp_path / "dumps" / "00-traced.ir").read_text() == print_function(fn) + "\n"
    final = (tmp_path / "dumps" / "04-fuse.ir").read_text()
    assert final == print_function(out) + "\n"
    assert print_function(parse_function(final)) == print_function(out)
    run_pipeline(fn, "dce", ctx)  # a second run with the same context continues the numbering
    assert (tmp_path / "dumps" / "06-dce.ir").exists()


def test_dump_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAX_DUMP_DIR", str(tmp_path))
    run_pipeline(parse_function(SMALL), "dce")
    run_pipeline(parse_function(SMALL), "cse")
    # Each run (each jit compilation) gets its own directory, named after the function.
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 2 and all(r.name.startswith("main-") for r in runs)
    assert {p.name for r in runs for p in r.iterdir()} == {"00-traced.ir", "01-dce.ir",
                                                           "01-cse.ir"}


def test_compile_uses_config_pipeline() -> None:
    from llax.frontend.compile import optimize

    fn = parse_function(SMALL)
    with config.override("llax_pipeline", "simplify"):
        assert len(optimize(fn).ops) == 2  # simplify leaves the dead neg for dce
    assert len(optimize(fn).ops) == 1  # the default pipeline
    assert len(optimize(fn, "cse").ops) == 3


def test_pass_objects_are_frozen_and_hashable() -> None:
    p = get_pass("fuse")(max_ops=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.max_ops = 5  # type: ignore[misc]
    assert hash(p) == hash(get_pass("fuse")(max_ops=4))


# ---------------------------------------------------------------------------------------------
# DCE


def test_dce_keeps_effectful_ops() -> None:
    fn = parse_function("{ lambda ; a:f32[4]. let b:f32[4] = exp a c:f32[4] = sin a in (a,) }")
    assert eliminate_dead_code(fn).ops == ()
    EFFECTFUL.add(P.sin)
    try:
        assert [op.prim for op in eliminate_dead_code(fn).ops] == [P.sin]
        out = run_pipeline(fn, "simplify,cse,dce")
        assert [op.prim for op in out.ops] == [P.sin]
    finally:
        EFFECTFUL.discard(P.sin)


def test_dce_inside_regions_keeps_the_interface() -> None:
    # A non-fusion region's parameters and results belong to its op: dce only removes
    # dead ops inside. (No control flow exists yet; an unknown region op stands in.)
    region = parse_function("{ lambda ; a:f32[4] b:f32[4]. let c:f32[4] = exp a "
                            "d:f32[4] = log b in (a,) }")
    out = eliminate_dead_code(region)
    assert out.params == region.params and out.results == region.results and out.ops == ()


# ---------------------------------------------------------------------------------------------
# Simplify


def one_op_fn(prim, in_types, **params) -> tuple[Function, Op]:
    params_vars = tuple(Var(t) for t in in_types)
    op = make_op(prim, params_vars, **params)
    return Function(params_vars, (op,), op.outputs), op


def test_rewrites_keep_the_weak_type() -> None:
    # a: f32{weak}, c: f32 strong -> the add is strong; replacing it by a would make it weak.
    a = Var(T(dtypes.float32, 4, weak=True))
    op = make_op(P.add, (a, Literal.of(-0.0, T(dtypes.float32))))
    fn = Function((a,), (op,), (op.out,))
    assert op.out.type.weak is False
    assert simplify_function(fn) is fn
    # Both weak: the result is weak too, and the rewrite applies.
    op = make_op(P.add, (a, Literal.of(-0.0, T(dtypes.float32, weak=True))))
    fn = Function((a,), (op,), (op.out,))
    assert simplify_function(fn).results == (a,)


def test_rewrites_keep_the_shape() -> None:
    # x[] + zeros[4] is not x: the result has shape (4,).
    a = Var(T(dtypes.int32))
    op = make_op(P.add, (a, Literal.of(np.zeros(4), T(dtypes.int32, 4))))
    fn = Function((a,), (op,), (op.out,))
    assert simplify_function(fn) is fn


def test_fold_limit() -> None:
    fn = parse_function("{ lambda ; . let a:i32[20] = iota[dimension=0 dtype=i32 shape=(20,)] "
                        "in (a,) }")
    assert simplify_function(fn) is fn
    folded = run_pipeline(fn, "simplify{max-fold-size=20},dce")
    assert folded.ops == () and isinstance(folded.results[0], Literal)
    np.testing.assert_array_equal(folded.results[0].value, np.arange(20, dtype=np.int32))


def test_fold_keeps_the_exact_type() -> None:
    a = Literal.of(3, T(dtypes.int8, weak=True))
    b = Literal.of(127, T(dtypes.int8, weak=True))
    op = make_op(P.add, (a, b))
    (lit,) = fold(op)
    assert lit.type == T(dtypes.int8, weak=True) and lit.value == np.int8(-126)  # wraps


def test_fold_never_touches_regions() -> None:
    fn = parse_function("{ lambda ; . let a:f32[] = fusion 1.0:f32[] { lambda ; b:f32[]. let "
                        "c:f32[] = exp b d:f32[] = neg c in (d,) } in (a,) }")
    assert fold(fn.ops[0]) is None


def test_select_n_integer_predicate_out_of_range_is_kept() -> None:
    fn = parse_function("{ lambda ; a:f32[4] b:f32[4]. let c:f32[4] = select_n 1:i32[] a b "
                        "d:f32[4] = select_n 5:i32[] a b in (c, d) }")
    out = simplify_function(fn)
    assert out.results[0] is fn.params[1] and out.results[1] is fn.ops[1].out


def test_scalar_broadcasts_feed_elementwise_ops_directly() -> None:
    # select_n takes its shape from the cases: one case must keep the full shape.
    fn = parse_function("""
    { lambda ; p:bool[4] s:f32[] t:f32[]. let
        a:f32[4] = broadcast_in_dim[broadcast_dimensions=() shape=(4,)] s
        b:f32[4] = broadcast_in_dim[broadcast_dimensions=() shape=(4,)] t
        c:f32[4] = select_n p a b
        d:bool[4] = broadcast_in_dim[broadcast_dimensions=() shape=(4,)] True:bool[]
        e:f32[4] = select_n d a b
        f:f32[4] = add a b
      in (c, e, f) }""")
    out = run_each_pass(fn, "simplify,dce")
    assert print_function(out) == """\
{ lambda ; a:bool[4] b:f32[] c:f32[]. let
    d:f32[4] = broadcast_in_dim[broadcast_dimensions=() shape=(4,)] b
    e:f32[4] = broadcast_in_dim[broadcast_dimensions=() shape=(4,)] c
    f:f32[4] = select_n a d c
    g:f32[4] = add d c
  in (f, e, g) }"""


def test_simplify_inlines_a_degenerate_fusion() -> None:
    fn = parse_function("""
    { lambda ; a:f32[8]. let
        b:f32[8] = fusion a { lambda ; c:f32[8]. let
            d:f32[8] = neg c
            e:f32[8] = neg d
            f:f32[8] = exp e
          in (f,) }
      in (b,) }""")
    out = run_pipeline(fn, "simplify,dce")
    assert print_function(out) == "{ lambda ; a:f32[8]. let\n    b:f32[8] = exp a\n  in (b,) }"
    assert_equivalent(fn, out)


def test_simplify_recurses_into_regions() -> None:
    fn = parse_function("""
    { lambda ; a:f32[8]. let
        b:f32[8] = fusion a { lambda ; c:f32[8]. let
            d:f32[8] = mul c 1.0:f32[]
            e:f32[8] = exp d
            f:f32[8] = sin e
          in (f,) }
      in (b,) }""")
    out = run_pipeline(fn, "simplify,dce")
    (fusion,) = out.ops
    assert [op.prim for op in fusion.regions[0].ops] == [P.exp, P.sin]


# ---------------------------------------------------------------------------------------------
# Semantics on random programs: every pass, in every order, keeps the results bit-identical.


def random_program(seed: int, n_ops: int = 24) -> Function:
    rng = np.random.default_rng(seed)
    f32 = dtypes.float32
    shape = (3, 4)
    params = [Var(T(f32, *shape)), Var(T(f32, *shape)), Var(T(f32))]
    pool: list = list(params)
    ops: list[Op] = []

    def pick(want_shape=shape):
        cands = [v for v in pool if v.type.shape == want_shape]
        return cands[rng.integers(len(cands))]

    consts = [Literal.of(c, T(f32)) for c in (0.0, -0.0, 1.0, 2.0)]
    for _ in range(n_ops):
        kind = rng.integers(11)
        if kind == 0:
            op = make_op([P.neg, P.exp, P.tanh, P.abs][rng.integers(4)], (pick(),))
        elif kind == 1:
            op = make_op([P.add, P.sub, P.mul, P.max][rng.integers(4)], (pick(), pick()))
        elif kind == 2:
            c = consts[rng.integers(len(consts))]
            args = (pick(), c) if rng.integers(2) else (c, pick())
            op = make_op([P.add, P.sub, P.mul][rng.integers(3)], args)
        elif kind == 3:
            op = make_op(P.broadcast_in_dim, (pick(()),), shape=shape, broadcast_dimensions=())
        elif kind == 4:
            op = make_op(P.reduce_sum, (pick(),), axes=(1,))
            pool.append(op.out)
            ops.append(op)
            op = make_op(P.broadcast_in_dim, (op.out,), shape=shape, broadcast_dimensions=(0,))
        elif kind == 5:
            op = make_op([P.reduce_max, P.reduce_sum][rng.integers(2)], (pick(),), axes=(0, 1))
        elif kind == 6:
            t = make_op(P.transpose, (pick(),), permutation=(1, 0))
            ops.append(t)
            op = make_op(P.transpose, (t.out,), permutation=(1, 0))
        elif kind == 7:
            x = pick()
            gt = make_op(P.gt, (x, consts[0]))
            ops.append(gt)
            op = make_op(P.select_n, (gt.out, x, pick()))
        elif kind == 8:
            op = make_op(P.neg, (pick(),))
            ops.append(op)
            pool.append(op.out)
            op = make_op(P.neg, (op.out,))
        elif kind == 9:  # select between broadcast scalars (one may be a constant)
            cases = []
            for _ in range(2):
                src = consts[rng.integers(len(consts))] if rng.integers(2) else pick(())
                cases.append(make_op(P.broadcast_in_dim, (src,), shape=shape,
                                     broadcast_dimensions=()))
            gt = make_op(P.gt, (pick(), consts[0]))
            ops.extend([*cases, gt])
            op = make_op(P.select_n, (gt.out, cases[0].out, cases[1].out))
        else:  # through an integer type and back
            i32 = make_op(P.convert_element_type, (pick(),), new_dtype=dtypes.int32,
                          weak_type=False)
            zero = Literal.of(0, T(dtypes.int32))
            ops.append(i32)
            mul = make_op([P.mul, P.add, P.sub][rng.integers(3)], (i32.out, zero))
            ops.append(mul)
            op = make_op(P.convert_element_type, (mul.out,), new_dtype=f32, weak_type=False)
        ops.append(op)
        pool.append(op.out)
    results = tuple(pool[-1 - int(i)] for i in rng.choice(min(6, len(pool) - 3), 3,
                                                           replace=False))
    return Function(tuple(params), tuple(ops), results)


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("pipeline", ["simplify,cse,dce,fuse", "fuse,simplify,cse,dce",
                                      "cse,fuse{max-ops=3},dce,simplify"])
def test_random_programs_keep_their_results(seed: int, pipeline: str) -> None:
    fn = random_program(seed)
    out = run_each_pass(fn, pipeline)
    assert_equivalent(fn, out)
    assert len(list(walk_ops(out))) <= len(list(walk_ops(fn))) + len(fn.ops)
