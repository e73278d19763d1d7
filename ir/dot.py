"""The dataflow graph of a Function as Graphviz DOT text, for ``llax-dump --graph``.

The picture is built in two steps. ``build_graph`` makes a networkx DiGraph that is
the whole model: one node per parameter, per op and per function's results, edges
for the values flowing between them, and the clusters (a graph attribute) that
nest them. ``to_dot`` then writes that graph as DOT text. networkx cannot write DOT
clusters without pydot, which llax does not depend on, so the writer is here; it
reads nothing but the model.

What the picture shows:

- Ops are boxes labelled as the IR text prints them (same variable names), with
  their params on the following lines; parameters are ellipses; each function's
  results are one node (``return`` at the top level, ``yield`` in a region).
- An edge ``producer -> consumer`` carries the names of the values it passes.
- A ``fusion`` op and its region form one cluster: the fused group. Any other op
  with regions (``cond``, ``while``, ``scan``, custom-derivative calls) gets a
  cluster holding the op and one nested cluster per region (a branch, a loop's
  cond or body). Regions nest as deep as the IR does.
- Dashed edges link an op to its regions: ``op -> region parameter`` for the
  operand bound to that parameter (labelled with the operand's name), and
  ``region results -> op`` for what the region yields. They do not constrain the
  layout, so the dataflow still reads top to bottom.
- Buffer sharing (the ``aliases`` param that ``passes/inplace.py`` writes, see
  ``llax.ir.core.ALIASES``): every value stored in one shared buffer gets that
  buffer's colour, the nodes say ``buffer <name>`` (the name of the value the buffer
  first belonged to), and the edge whose operand's buffer is taken over is drawn
  bold in the same colour.

Node ids are derived from the printer's names and the ops' positions, never from
object identities, so the text is deterministic: the same IR gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import networkx as nx

from llax.ir import prims as P
from llax.ir.core import Atom, Function, Op, Var, alias_roots
from llax.ir.primitive import Primitive, region_params
from llax.ir.printer import Printer, print_param

__all__ = ["build_graph", "region_bindings", "to_dot"]


# ---------------------------------------------------------------------------------------------
# Which operands a region's parameters are bound to, keyed by primitive. A rule returns, for
# each region, the operand index behind each of its parameters (None for a parameter that
# is no single operand).

BindingRule = Callable[[Op], list[list[int | None]]]


def _same_operands(op: Op) -> list[list[int | None]]:
    # fusion, scan (the xs parameters take one slice of their operand per iteration) and
    # the custom-derivative calls pass their operands straight through.
    return [list(range(len(op.inputs))) for _ in op.regions]


def _cond_bindings(op: Op) -> list[list[int | None]]:
    # Operand 0 is the branch index; every branch receives the rest.
    return [list(range(1, len(op.inputs))) for _ in op.regions]


def _while_bindings(op: Op) -> list[list[int | None]]:
    cond_n, body_n = op.params["cond_nconsts"], op.params["body_nconsts"]
    carry = list(range(cond_n + body_n, len(op.inputs)))
    return [list(range(cond_n)) + carry, list(range(cond_n, cond_n + body_n)) + carry]


REGION_BINDINGS: dict[Primitive, BindingRule] = {
    P.fusion: _same_operands,
    P.scan: _same_operands,
    P.custom_jvp_call: _same_operands,
    P.custom_vjp_call: _same_operands,
    P.cond: _cond_bindings,
    P.while_loop: _while_bindings,
}


def region_bindings(op: Op) -> list[list[int | None]]:
    """For each region of ``op``, the operand index bound to each of its parameters.

    Primitives without a rule bind positionally when the counts agree, and
    otherwise not at all (every entry None).
    """
    rule = REGION_BINDINGS.get(op.prim)
    if rule is not None:
        bindings = rule(op)
    else:
        bindings = [list(range(len(op.inputs))) if len(r.params) == len(op.inputs)
                    else [None] * len(r.params) for r in op.regions]
    # A rule that disagrees with the IR (invalid IR) must not make the picture fail.
    return [b if len(b) == len(r.params) else [None] * len(r.params)
            for b, r in zip(bindings, op.regions, strict=True)]


def _region_titles(op: Op) -> list[str]:
    """``branch 0 @false_fun``, ``body_jaxpr @body_fun``, ...: what each region is."""
    names = region_params.get(op.prim)
    titles = []
    for k, region in enumerate(op.regions):
        if isinstance(names, str):  # one param holding every region: cond's branches
            what = f"branch {k}"
        elif isinstance(names, tuple) and len(names) == len(op.regions):
            what = names[k]
        else:
            what = f"region {k}"
        titles.append(what if region.name == "main" else f"{what} @{region.name}")
    return titles


# ---------------------------------------------------------------------------------------------
# The model


def build_graph(fn: Function) -> nx.DiGraph:
    """The dataflow picture of ``fn`` (regions included) as a networkx DiGraph.

    Nodes (ids are strings):

    - ``var_<name>``: a parameter of ``fn`` or of a region; ``kind="param"``.
    - ``op_<k>``: the k-th op in ``walk_ops`` order; ``kind="op"``, ``prim`` (its
      name), ``outputs`` (the names of its outputs), ``index`` (k).
    - ``results_<k>``: the results of the k-th function (``fn`` is 0, then its
      regions in ``walk_ops`` order); ``kind="results"``, ``results`` (names, or the
      text of a Literal).

    Every node has ``label`` (a list of lines), ``cluster`` (the innermost cluster
    holding it, or None at the top level) and ``buffers`` (the names of the shared
    buffers its values live in, possibly empty).

    Edges have ``kind``: ``"data"`` (``vars``: names of the values passed, in the
    consumer's operand order; ``buffer``: the name of the buffer the consumer takes
    over from this operand, or None), ``"binds"`` (op -> a region's parameter;
    ``vars``: the operand bound) or ``"yields"`` (a region's results -> its op).

    ``graph["clusters"]`` maps each cluster id (``cluster_op_<k>`` for an op with
    regions, ``cluster_op_<k>_r<i>`` for its i-th region unless the op is a fusion,
    whose region is drawn in the op's own cluster) to ``kind`` (``"fusion"``, ``"op"``
    or ``"region"``), ``label`` and ``parent`` (the enclosing cluster or None), in the
    order they appear. ``graph["buffers"]`` lists the shared buffers' names in the
    order they are first seen.
    """
    return _Builder(fn).graph


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


class _Builder:
    def __init__(self, fn: Function) -> None:
        self.printer = Printer(fn)
        self.graph = nx.DiGraph(name=fn.name, clusters={}, buffers=[])
        self.op_count = 0
        self.function_count = 0
        self.add_function(fn, cluster=None, region_of=None)

    def name(self, a: Atom) -> str:
        return self.printer.name(a)

    def add_node(self, node: str, *, kind: str, label: list[str], cluster: str | None,
                 **attrs) -> None:
        self.graph.add_node(node, kind=kind, label=label, cluster=cluster, buffers=[], **attrs)

    def add_function(self, fn: Function, *, cluster: str | None,
                     region_of: tuple[str, list[int | None], Op] | None) -> None:
        """Add ``fn``'s nodes in ``cluster``; ``region_of``: (the op's node, the operand
        index bound to each parameter, the op) when ``fn`` is a region."""
        g = self.graph
        results_node = f"results_{self.function_count}"
        self.function_count += 1
        definer: dict[Var, str] = {}
        for i, v in enumerate(fn.params):
            node = f"var_{self.name(v)}"
            self.add_node(node, kind="param", label=[f"{self.name(v)}:{v.type}"],
                          cluster=cluster)
            definer[v] = node
            if region_of is not None:
                op_node, bound, op = region_of
                k = bound[i]
                if k is not None:
                    g.add_edge(op_node, node, kind="binds", vars=[self.name(op.inputs[k])])
        for op in fn.ops:
            op_node = f"op_{self.op_count}"
            self.op_count += 1
            op_cluster = cluster
            if op.regions:
                op_cluster = f"cluster_{op_node}"
                kind = "fusion" if op.prim is P.fusion else "op"
                label = op.prim.name
                if kind == "fusion":
                    label = f"fused group @{op.regions[0].name}: " \
                            f"{sum(1 for _ in _all_ops(op.regions[0]))} ops"
                g.graph["clusters"][op_cluster] = {"kind": kind, "label": label,
                                                   "parent": cluster}
            self.add_node(op_node, kind="op", label=self.op_label(op), cluster=op_cluster,
                          prim=op.prim.name, outputs=[self.name(v) for v in op.outputs],
                          index=int(op_node[3:]))
            for a in dict.fromkeys(op.inputs):
                if isinstance(a, Var) and a in definer:
                    self.add_data(definer[a], op_node, a)
            definer.update((v, op_node) for v in op.outputs)
            for k, (region, title, bound) in enumerate(zip(
                    op.regions, _region_titles(op), region_bindings(op), strict=True)):
                region_cluster = op_cluster
                if op.prim is not P.fusion:
                    region_cluster = f"{op_cluster}_r{k}"
                    g.graph["clusters"][region_cluster] = {"kind": "region", "label": title,
                                                           "parent": op_cluster}
                inner_results = f"results_{self.function_count}"
                self.add_function(region, cluster=region_cluster, region_of=(op_node, bound, op))
                g.add_edge(inner_results, op_node, kind="yields", vars=[])
        self.add_node(results_node, kind="results",
                      label=[("return " if region_of is None else "yield ")
                             + _tuple(self.name(a) for a in fn.results)],
                      cluster=cluster, results=[self.name(a) for a in fn.results])
        for a in dict.fromkeys(fn.results):
            if isinstance(a, Var) and a in definer:
                self.add_data(definer[a], results_node, a)
        self.mark_buffers(fn, definer)

    def add_data(self, src: str, dst: str, v: Var) -> None:
        g = self.graph
        if g.has_edge(src, dst):
            g.edges[src, dst]["vars"].append(self.name(v))
        else:
            g.add_edge(src, dst, kind="data", vars=[self.name(v)], buffer=None)

    def op_label(self, op: Op) -> list[str]:
        outs = " ".join(f"{self.name(v)}:{v.type}" for v in op.outputs)
        head = f"{outs} = {op.prim.name}" if outs else op.prim.name
        head += "".join(" " + self.name(a) for a in op.inputs)
        # Params that are Python objects (a callback's function) print by repr; the address
        # in it would make the text differ from run to run.
        return [head] + [_ADDRESS.sub(">", f"  {k}={print_param(v)}")
                         for k, v in op.params.items()]

    def mark_buffers(self, fn: Function, definer: dict[Var, str]) -> None:
        """Colour-code the values of ``fn`` that share a buffer (regions do their own)."""
        g = self.graph
        roots = alias_roots(fn)
        for op in fn.ops:
            for out, k in op.aliases:
                operand = op.inputs[k]
                root = roots[op.outputs[out]]
                name = self.name(root)
                if name not in g.graph["buffers"]:
                    g.graph["buffers"].append(name)
                for node in (definer.get(root), definer[op.outputs[out]]):
                    if node is not None and name not in g.nodes[node]["buffers"]:
                        g.nodes[node]["buffers"].append(name)
                src = definer.get(operand) if isinstance(operand, Var) else None
                if src is not None:
                    g.edges[src, definer[op.outputs[out]]]["buffer"] = name


def _all_ops(fn: Function):
    for op in fn.ops:
        yield op
        for r in op.regions:
            yield from _all_ops(r)


def _tuple(items) -> str:
    items = list(items)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


# ---------------------------------------------------------------------------------------------
# The DOT writer

# Distinct colours for shared buffers, used in order and then again.
BUFFER_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
CLUSTER_STYLE = {
    "fusion": 'style="filled,rounded", fillcolor="#fff4dd", color="#d9a441"',
    "op": 'style="rounded", color="#555555"',
    "region": 'style="filled,rounded", fillcolor="#eef3fb", color="#7b96c4"',
}
NODE_SHAPE = {"param": "ellipse", "op": "box", "results": "invhouse"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(lines: Sequence[str]) -> str:
    """A left-justified multi-line DOT label (each line ends with ``\\l``)."""
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    return '"' + "".join(line + "\\l" for line in escaped) + '"'


def to_dot(fn: Function, *, title: str | None = None) -> str:
    """``fn``'s dataflow graph (see the module docstring) as Graphviz DOT text.

    ``title`` labels the graph (default: the function's name). Deterministic: the
    same IR, even with fresh variables, gives the same text.
    """
    g = build_graph(fn)
    colour = {name: BUFFER_COLOURS[i % len(BUFFER_COLOURS)]
              for i, name in enumerate(g.graph["buffers"])}
    lines = [f"digraph {_quote(fn.name)} {{",
             f"  graph [label={_quote(title if title is not None else fn.name)}, "
             'labelloc=t, fontname="monospace", rankdir=TB, newrank=true];',
             '  node [fontname="monospace", fontsize=10];',
             '  edge [fontname="monospace", fontsize=9];']

    members: dict[str | None, list[str]] = {}
    for node, cluster in g.nodes(data="cluster"):
        members.setdefault(cluster, []).append(node)
    children: dict[str | None, list[str]] = {}
    for cid, info in g.graph["clusters"].items():
        children.setdefault(info["parent"], []).append(cid)

    def node_line(node: str, indent: str) -> str:
        data = g.nodes[node]
        label = list(data["label"])
        attrs = [f"shape={NODE_SHAPE[data['kind']]}"]
        if data["kind"] == "op":
            attrs.append('style="rounded"')
        if data["buffers"]:
            label.append("buffer " + ", ".join(data["buffers"]))
            attrs.append(f"color={_quote(colour[data['buffers'][0]])}")
            attrs.append("penwidth=2.5")
        return f"{indent}{_quote(node)} [label={_label(label)}, {', '.join(attrs)}];"

    def emit(cluster: str | None, depth: int) -> None:
        indent = "  " * depth
        for node in members.get(cluster, []):
            lines.append(node_line(node, indent))
        for cid in children.get(cluster, []):
            info = g.graph["clusters"][cid]
            lines.append(f"{indent}subgraph {_quote(cid)} {{")
            lines.append(f"{indent}  graph [label={_quote(info['label'])}, labeljust=l, "
                         f"{CLUSTER_STYLE[info['kind']]}];")
            emit(cid, depth + 1)
            lines.append(f"{indent}}}")

    emit(None, 1)
    for src, dst, data in g.edges(data=True):
        attrs = []
        if data["vars"]:
            attrs.append(f"label={_quote(', '.join(data['vars']))}")
        if data["kind"] != "data":
            attrs += ["style=dashed", "constraint=false", 'color="#888888"']
        elif data["buffer"] is not None:
            attrs += [f"color={_quote(colour[data['buffer']])}", "penwidth=2.5",
                      f"xlabel={_quote('reuses buffer ' + data['buffer'])}"]
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(src)} -> {_quote(dst)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"

