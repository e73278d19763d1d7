"""The dataflow graph as DOT (llax.ir.dot) and ``llax-dump --graph``.

networkx cannot read DOT without pydot, so ``read_dot`` below reads the text back
itself (the statements ``to_dot`` writes: nodes, edges, nested subgraphs) and the
tests compare what it finds with the IR: hand-derived for a small function written
as IR text, and op by op (through the printer's names) for optimised programs.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax import lax
from llax.frontend.compile import optimize
from llax.ir.core import Function, Var, renamed, walk_ops
from llax.ir.dot import build_graph, to_dot
from llax.ir.parser import parse_function
from llax.ir.printer import Printer, print_function
from llax.tools.dump import main

# ---------------------------------------------------------------------------------------------
# Reading DOT back


@dataclass
class Dot:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> attributes
    node_cluster: dict[str, str | None] = field(default_factory=dict)  # id -> innermost
    clusters: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> attributes
    cluster_parent: dict[str, str | None] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    graph: dict[str, str] = field(default_factory=dict)

    def label_lines(self, node: str) -> list[str]:
        return self.nodes[node]["label"].split("\\l")[:-1]

    def data_edges(self) -> list[tuple[str, str, dict[str, str]]]:
        return [e for e in self.edges if e[2].get("style") != "dashed"]

    def dashed_edges(self) -> list[tuple[str, str, dict[str, str]]]:
        return [e for e in self.edges if e[2].get("style") == "dashed"]


_STRING = r'"(?:[^"\\]|\\.)*"'
_ATTR = re.compile(rf"(\w+)=({_STRING}|[\w.#-]+)")
# DOT's a_list: ID=ID separated by commas (strict, so text Graphviz would reject fails here)
_ATTR_LIST = re.compile(rf"{_ATTR.pattern}(?:, {_ATTR.pattern})*")


def _unquote(text: str) -> str:
    if text.startswith('"'):
        return re.sub(r'\\(["\\])', r"\1", text[1:-1])
    return text


def _attrs(text: str) -> dict[str, str]:
    if not text:
        return {}
    assert _ATTR_LIST.fullmatch(text), f"not a DOT attribute list: {text!r}"
    return {k: _unquote(v) for k, v in _ATTR.findall(text)}


def read_dot(text: str) -> Dot:
    """Read the DOT ``to_dot`` writes; fails on any statement it does not expect."""
    dot = Dot()
    lines = text.splitlines()
    assert re.fullmatch(rf"digraph {_STRING} {{", lines[0]), lines[0]
    assert lines[-1] == "}"
    stack: list[str | None] = [None]
    for line in lines[1:-1]:
        s = line.strip()
        if m := re.fullmatch(rf"subgraph ({_STRING}) {{", s):
            cid = _unquote(m.group(1))
            assert cid.startswith("cluster") and cid not in dot.clusters
            dot.clusters[cid] = {}
            dot.cluster_parent[cid] = stack[-1]
            stack.append(cid)
        elif s == "}":
            stack.pop()
        elif m := re.fullmatch(rf"({_STRING}) -> ({_STRING})(?: \[(.*)\])?;", s):
            dot.edges.append((_unquote(m.group(1)), _unquote(m.group(2)),
                              _attrs(m.group(3) or "")))
        elif m := re.fullmatch(rf"({_STRING}) \[(.*)\];", s):
            node = _unquote(m.group(1))
            assert node not in dot.nodes, f"node {node} declared twice"
            dot.nodes[node] = _attrs(m.group(2))
            dot.node_cluster[node] = stack[-1]
        elif m := re.fullmatch(r"graph \[(.*)\];", s):
            if stack[-1] is None:
                dot.graph = _attrs(m.group(1))
            else:
                dot.clusters[stack[-1]] = _attrs(m.group(1))
        elif re.fullmatch(r"(node|edge) \[.*\];", s):
            pass
        else:
            raise AssertionError(f"unexpected DOT statement: {line!r}")
    assert stack == [None], "unbalanced subgraphs"
    for src, dst, _ in dot.edges:  # no node may be created implicitly by an edge
        assert src in dot.nodes and dot.nodes.get(dst) is not None, (src, dst)
    return dot


def node_key(dot: Dot, node: str) -> str:
    """A name for a node that the IR text gives too: a parameter's name (``a``), an op's
    outputs (``=d``), or the results line (``return (q, a)``, ``yield (h,)``)."""
    first = dot.label_lines(node)[0]
    if " = " in first:
        return "=" + " ".join(b.split(":")[0] for b in first.split(" = ")[0].split())
    if first.startswith(("return ", "yield ")):
        return first
    return first.split(":")[0]


def keyed_data_edges(dot: Dot) -> set[tuple[str, str, str]]:
    return {(node_key(dot, s), node_key(dot, d), a.get("label", ""))
            for s, d, a in dot.data_edges()}


def ancestors(dot: Dot, cluster: str | None) -> list[str]:
    out = []
    while cluster is not None:
        out.append(cluster)
        cluster = dot.cluster_parent[cluster]
    return out


# ---------------------------------------------------------------------------------------------
# A small function written as IR text, with the expected picture derived by hand

SMALL = """{ lambda ; a:f32[8] b:f32[8] c:i32[]. let
    d:f32[8] = fusion a b { lambda @fused0 ; e:f32[8] f:f32[8]. let
        g:f32[8] = tanh e
        h:f32[8] = mul g f
      in (h,) }
    i:f32[8] = cond[
      branches=(
        { lambda ; j:f32[8] k:f32[8]. let
            l:f32[8] = sub j k
          in (l,) }
        { lambda ; m:f32[8] n:f32[8]. let
            o:f32[8] = add m n
          in (o,) }
      )
    ] c d b
    p:f32[8] = neg[aliases=((0, 0),)] i
    q:f32[8] = add[aliases=((0, 1),)] d p
  in (q, a) }"""


@pytest.fixture(scope="module")
def small() -> Function:
    fn = parse_function(SMALL)
    assert print_function(fn) == SMALL  # so the names below are the printer's
    return fn


def test_every_op_parameter_and_result_is_a_node(small):
    dot = read_dot(to_dot(small))
    keys = sorted(node_key(dot, n) for n in dot.nodes)
    assert keys == sorted(["a", "b", "c", "=d", "e", "f", "=g", "=h", "yield (h,)", "=i",
                           "j", "k", "=l", "yield (l,)", "m", "n", "=o", "yield (o,)", "=p",
                           "=q", "return (q, a)"])
    labels = {node_key(dot, n): dot.label_lines(n) for n in dot.nodes}
    assert labels["=d"] == ["d:f32[8] = fusion a b"]
    assert labels["=p"][:2] == ["p:f32[8] = neg i", "  aliases=((0, 0),)"]
    assert labels["c"] == ["c:i32[]"]


def test_edges_are_the_dataflow(small):
    dot = read_dot(to_dot(small))
    assert keyed_data_edges(dot) == {
        ("a", "=d", "a"), ("b", "=d", "b"),
        ("e", "=g", "e"), ("=g", "=h", "g"), ("f", "=h", "f"), ("=h", "yield (h,)", "h"),
        ("c", "=i", "c"), ("=d", "=i", "d"), ("b", "=i", "b"),
        ("j", "=l", "j"), ("k", "=l", "k"), ("=l", "yield (l,)", "l"),
        ("m", "=o", "m"), ("n", "=o", "n"), ("=o", "yield (o,)", "o"),
        ("=i", "=p", "i"), ("=d", "=q", "d"), ("=p", "=q", "p"),
        ("=q", "return (q, a)", "q"), ("a", "return (q, a)", "a"),
    }
    # Dashed: an op hands its operands to its regions' parameters and takes their results.
    dashed = {(node_key(dot, s), node_key(dot, d), a.get("label", ""))
              for s, d, a in dot.dashed_edges()}
    assert dashed == {
        ("=d", "e", "a"), ("=d", "f", "b"), ("yield (h,)", "=d", ""),
        ("=i", "j", "d"), ("=i", "k", "b"), ("yield (l,)", "=i", ""),
        ("=i", "m", "d"), ("=i", "n", "b"), ("yield (o,)", "=i", ""),
    }
    assert all(a["constraint"] == "false" for _, _, a in dot.dashed_edges())


def test_fused_groups_and_regions_are_nested_clusters(small):
    dot = read_dot(to_dot(small))
    where = {node_key(dot, n): dot.node_cluster[n] for n in dot.nodes}
    for top in ("a", "b", "c", "=p", "=q", "return (q, a)"):
        assert where[top] is None, top
    fused = where["=d"]
    assert dot.clusters[fused]["label"] == "fused group @fused0: 2 ops"
    assert dot.cluster_parent[fused] is None
    assert {k for k, c in where.items() if c == fused} == {"=d", "e", "f", "=g", "=h",
                                                           "yield (h,)"}
    cond = where["=i"]
    assert dot.clusters[cond]["label"] == "cond" and dot.cluster_parent[cond] is None
    branch0, branch1 = where["=l"], where["=o"]
    assert dot.cluster_parent[branch0] == dot.cluster_parent[branch1] == cond
    assert (dot.clusters[branch0]["label"], dot.clusters[branch1]["label"]) == ("branch 0",
                                                                                "branch 1")
    assert {k for k, c in where.items() if c == branch0} == {"j", "k", "=l", "yield (l,)"}
    assert {k for k, c in where.items() if c == branch1} == {"m", "n", "=o", "yield (o,)"}
    assert len(dot.clusters) == 4


def test_shared_buffers_are_marked(small):
    # i, p and q live in one buffer (i's): p = neg i takes i's, q = add d p takes p's.
    dot = read_dot(to_dot(small))
    by_key = {node_key(dot, n): n for n in dot.nodes}
    marked = {k for k, n in by_key.items() if "buffer i" in dot.label_lines(n)}
    assert marked == {"=i", "=p", "=q"}
    colours = {dot.nodes[by_key[k]]["color"] for k in marked}
    assert len(colours) == 1
    bold = {(node_key(dot, s), node_key(dot, d)) for s, d, a in dot.data_edges()
            if a.get("penwidth")}
    assert bold == {("=i", "=p"), ("=p", "=q")}
    assert all(a["color"] in colours and a["xlabel"] == "reuses buffer i"
               for _, _, a in dot.data_edges() if a.get("penwidth"))
    assert "color" not in dot.nodes[by_key["=d"]]  # read by q, but its buffer is its own


def test_graph_model_is_networkx_and_matches_the_text(small):
    g = build_graph(small)
    dot = read_dot(to_dot(small))
    assert set(g.nodes) == set(dot.nodes)
    assert {(s, d) for s, d in g.edges} == {(s, d) for s, d, _ in dot.edges}
    assert set(g.graph["clusters"]) == set(dot.clusters)
    assert g.graph["buffers"] == ["i"]
    assert sorted(g.nodes[n]["prim"] for n in g if g.nodes[n]["kind"] == "op") == sorted(
        op.prim.name for op in walk_ops(small))


def test_output_is_deterministic(small):
    text = to_dot(small)
    assert to_dot(small) == text
    assert to_dot(renamed(small)) == text  # fresh Vars: ids come from names, not objects
    assert to_dot(parse_function(print_function(small))) == text
    assert read_dot(text).graph["label"] == "main"
    assert read_dot(to_dot(small, title='the "small" one')).graph["label"] == 'the "small" one'


# ---------------------------------------------------------------------------------------------
# Optimised programs: checked op by op against the IR


def program(x, y):
    z = jnp.tanh(x) * 2 + y

    def body(c, row):
        c = c.at[0].set(row[0] * 2.0)
        return c, jnp.sum(jnp.exp(c) * c)

    c, ys = lax.scan(body, z[0], z)
    w = lax.cond(ys[0] > 0, lambda a: a * 2, lambda a: a - 1, c)
    n = lax.while_loop(lambda s: s[0] < 10.0, lambda s: (s[0] + jnp.sum(s[1]), s[1] * 0.5),
                       (jnp.float32(0), w))
    return w, ys, n


def optimized_program() -> Function:
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    return optimize(llax.make_jaxpr(program)(x, x + 1).jaxpr.function)


def expected_structure(fn: Function):
    """From the IR alone: each op's key, its Var operands, its region nesting path."""
    printer = Printer(fn)
    ops: dict[str, tuple[str, set[str], tuple[str, ...]]] = {}

    def visit(f: Function, path: tuple[str, ...]) -> None:
        for op in f.ops:
            key = "=" + " ".join(printer.name(v) for v in op.outputs)
            operands = {printer.name(a) for a in op.inputs if isinstance(a, Var)}
            ops[key] = (op.prim.name, operands, path)
            for k, r in enumerate(op.regions):
                visit(r, (*path, key) if op.prim.name == "fusion" else (*path, key, f"r{k}"))

    visit(fn, ())
    return ops


def test_optimised_program_op_by_op():
    fn = optimized_program()
    prims = Counter(op.prim.name for op in walk_ops(fn))
    assert prims["fusion"] >= 2 and prims["scan"] == prims["cond"] == prims["while"] == 1
    dot = read_dot(to_dot(fn))
    expected = expected_structure(fn)
    ops = {node_key(dot, n): n for n in dot.nodes if " = " in dot.label_lines(n)[0]}
    assert set(ops) == set(expected)  # every op is exactly one node
    incoming: dict[str, set[str]] = {k: set() for k in ops}
    for src, dst, attrs in dot.data_edges():
        names = attrs["label"].split(", ")
        defines = node_key(dot, src).lstrip("=").split()  # a parameter or an op's outputs
        assert set(names) <= set(defines), (src, dst, names)
        key = node_key(dot, dst)
        if key in incoming:
            incoming[key] |= set(names)
    for key, (prim, operands, path) in expected.items():
        node = ops[key]
        assert dot.label_lines(node)[0].split(" = ")[1].split()[0] == prim
        assert incoming[key] == operands, key  # one edge per operand, from its definition
        # The clusters around the op: a fused group is one, another op with regions one for
        # the op and one per region (``path`` has an entry for each); an op with regions
        # sits in its own.
        own = 1 if prim in ("fusion", "scan", "cond", "while") else 0
        assert len(ancestors(dot, dot.node_cluster[node])) == len(path) + own, key
    kinds = Counter(a["label"].split(" @")[0].split(":")[0] for a in dot.clusters.values())
    assert kinds["fused group"] == prims["fusion"]
    assert kinds["branch 0"] == kinds["branch 1"] == 1
    assert kinds["jaxpr"] == 1 and kinds["cond_jaxpr"] == kinds["body_jaxpr"] == 1


def test_fusion_inside_a_loop_body_nests_in_the_body_cluster():
    fn = optimized_program()
    dot = read_dot(to_dot(fn))
    scan_node = next(n for n in dot.nodes if " = scan " in dot.label_lines(n)[0])
    scan_cluster = dot.node_cluster[scan_node]
    inner_fusions = [c for c, a in dot.clusters.items() if a["label"].startswith("fused group")
                     and scan_cluster in ancestors(dot, c)]
    assert inner_fusions, "the scan body's exp * c is fused"
    for c in inner_fusions:
        assert dot.cluster_parent[c] != scan_cluster  # inside the body region, not beside it
        assert dot.clusters[dot.cluster_parent[c]]["label"].startswith("jaxpr")


def test_loop_carry_updated_in_place_is_marked():
    fn = optimized_program()
    dot = read_dot(to_dot(fn))
    scatter = next(n for n in dot.nodes if " = scatter " in dot.label_lines(n)[0])
    assert any(line.startswith("buffer ") for line in dot.label_lines(scatter))
    (carry,) = [s for s, d, a in dot.data_edges() if d == scatter and a.get("penwidth")]
    assert dot.nodes[carry]["color"] == dot.nodes[scatter]["color"]


# ---------------------------------------------------------------------------------------------
# llax-dump --graph

SOURCE = textwrap.dedent("""
    import llax.numpy as jnp

    def f(x, y):
        return jnp.sum(jnp.tanh(x) * 2 + y)
""")


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    return path


def fake_graphviz(bin_dir: Path, status: int = 0) -> Path:
    """A ``dot`` that records its arguments and writes the ``-o`` file (or fails)."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "dot"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$@" > "{bin_dir}/args"
        if [ {status} -ne 0 ]; then echo "syntax error in line 1" >&2; exit {status}; fi
        out=""; prev=""
        for a in "$@"; do
            if [ "$prev" = "-o" ]; then out="$a"; fi
            prev="$a"
        done
        printf 'rendered by the fake dot' > "$out"
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def test_dot_file(model, tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert main([f"{model}:f", "--arg", "f32[4]", "--arg", "f32[4]", "--graph", str(out)]) == 0
    assert f"# graph: {out}" in capsys.readouterr().out
    dot = read_dot(out.read_text())
    assert dot.graph["label"] == "f: optimized IR"
    assert any(a["label"].startswith("fused group") for a in dot.clusters.values())


def test_stages(model, tmp_path, capsys):
    base = [f"{model}:f", "--arg", "f32[4]", "--arg", "f32[4]"]
    assert main([*base, "--graph", str(tmp_path / "t.gv"), "--graph-stage", "traced"]) == 0
    traced = read_dot((tmp_path / "t.gv").read_text())
    assert not traced.clusters and traced.graph["label"] == "f: traced IR"
    ops = sorted(dot_op_prim(traced, n) for n in traced.nodes if dot_op_prim(traced, n))
    assert ops == ["add", "mul", "reduce_sum", "tanh"]
    assert main([*base, "--graph", str(tmp_path / "c.dot"), "--graph-stage", "cse",
                 "--pipeline", "simplify,cse,fuse"]) == 0
    assert not read_dot((tmp_path / "c.dot").read_text()).clusters  # before fuse
    assert main([*base, "--grad", "--graph", str(tmp_path / "d.dot")]) == 0
    assert "gradient of f" in (tmp_path / "d.dot").read_text()
    capsys.readouterr()
    assert main([*base, "--graph", str(tmp_path / "e.dot"), "--graph-stage", "nope"]) == 2
    err = capsys.readouterr().err
    assert "bad --graph-stage 'nope'" in err and err.count("\n") == 1


def dot_op_prim(dot: Dot, node: str) -> str | None:
    first = dot.label_lines(node)[0]
    return first.split(" = ")[1].split()[0] if " = " in first else None


def test_unknown_suffix_fails_before_tracing(model, tmp_path, capsys):
    assert main([f"{model}:f", "--arg", "f32[4]", "--arg", "f32[4]",
                 "--graph", str(tmp_path / "g.txt")]) == 2
    captured = capsys.readouterr()
    assert "must end in one of .dot, .gv, .svg, .png, .pdf" in captured.err
    assert captured.out == ""


def test_without_graphviz_the_message_names_the_dot_file(model, tmp_path, capsys,
                                                         monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    target = tmp_path / "g.svg"
    assert main([f"{model}:f", "--arg", "f32[4]", "--arg", "f32[4]", "--graph",
                 str(target)]) == 0
    err = capsys.readouterr().err
    dot_file = tmp_path / "g.dot"
    assert "Graphviz's `dot` is not on PATH" in err
    assert f"{target} was not rendered; the graph is in {dot_file}" in err
    assert f"dot -Tsvg {dot_file} -o {target}" in err
    assert not target.exists()
    read_dot(dot_file.read_text())


@pytest.mark.parametrize("suffix, fmt", [(".svg", "svg"), (".png", "png"), (".pdf", "pdf")])
def test_rendered_by_dot_on_path(model, tmp_path, capsys, monkeypatch, suffix, fmt):
    bin_dir = tmp_path / "bin"
    script = fake_graphviz(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    target = tmp_path / f"g{suffix}"
    assert main([f"{model}:f", "--arg", "f32[4]", "--arg", "f32[4]", "--graph",
                 str(target)]) == 0
    out = capsys.readouterr().out
    dot_file = tmp_path / "g.dot"
    assert f"# graph: {target} (DOT text in {dot_file})" in out
    assert (bin_dir / "args").read_text().split() == [f"-T{fmt}", str(dot_file), "-o",
                                                     str(target)]
    assert target.read_text() == "rendered by the fake dot"
    read_dot(dot_file.read_text())
    assert shutil.which("dot") == str(script)


def test_graphviz_failure_is_a_one_line_error(model, tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_graphviz(bin_dir, status=1)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    assert main([f"{model}:f", "--arg", "f32[4]", "--arg", "f32[4]", "--graph",
                 str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "could not render" in err and "syntax error in line 1" in err
    assert err.count("\n") == 1


def test_real_graphviz_when_installed_else_the_message(model, tmp_path, capsys):
    """With Graphviz on this machine, the DOT text must be valid for it; without, the
    message path is what a user sees (tested above with PATH emptied, here as is)."""
    target = tmp_path / "real.svg"
    assert main([f"{model}:f", "--arg", "f32[4]", "--arg", "f32[4]", "--graph",
                 str(target)]) == 0
    captured = capsys.readouterr()
    if shutil.which("dot") is not None:
        svg = target.read_text()
        assert "<svg" in svg and "fused group" in svg
    else:
        assert not target.exists() and "is not on PATH" in captured.err


def test_ops_without_outputs_and_python_params():
    # A callback op has no outputs and a Python function as a param: its label must not
    # carry the function's address, so two traces draw the same.
    def f(x):
        llax.debug.print("x={x}", x=x)
        return x * 2

    x = np.ones(3, np.float32)
    first, second = (to_dot(llax.make_jaxpr(f)(x).jaxpr.function) for _ in range(2))
    assert first == second and " at 0x" not in first
    dot = read_dot(first)
    (node,) = [n for n in dot.nodes if dot.label_lines(n)[0].startswith("debug_print")]
    assert dot.label_lines(node)[0] == "debug_print a"
    assert [node_key(dot, s) for s, d, _ in dot.data_edges() if d == node] == ["a"]
