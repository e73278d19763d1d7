"""Graph views of a Function's top-level ops, for analyses such as fusion and liveness.

Regions are separate functions (they cannot capture values), so these views do
not look inside them: call them on the region itself.
"""

from __future__ import annotations

import networkx as nx

from llax.ir.core import Function, Op, Var


def dataflow_graph(fn: Function) -> nx.DiGraph:
    """Op nodes (attribute ``index``: position in ``fn.ops``); an edge producer -> consumer.

    Each edge's ``vars`` attribute lists the values flowing along it, in the
    consumer's operand order without repeats. The graph does not assume the ops are
    already in order, so ``topological_ops`` can reorder them.
    """
    g = nx.DiGraph()
    producer: dict[Var, Op] = {}
    for i, op in enumerate(fn.ops):
        g.add_node(op, index=i)
        producer.update((v, op) for v in op.outputs)
    for op in fn.ops:
        for a in op.inputs:
            src = producer.get(a) if isinstance(a, Var) else None
            if src is None:
                continue
            if g.has_edge(src, op):
                if a not in g.edges[src, op]["vars"]:
                    g.edges[src, op]["vars"] += (a,)
            else:
                g.add_edge(src, op, vars=(a,))
    return g


def users(fn: Function) -> dict[Var, list[Op]]:
    """For every param and op output: the ops that read it, in op order, each once."""
    out: dict[Var, list[Op]] = {v: [] for v in fn.params}
    for op in fn.ops:
        for a in dict.fromkeys(op.inputs):  # an op reading a value twice is one user
            if isinstance(a, Var):
                out.setdefault(a, []).append(op)
        for v in op.outputs:
            out.setdefault(v, [])
    return out


def topological_ops(fn: Function) -> list[Op]:
    """The ops in a dataflow order, keeping the given order wherever it is already valid.

    Raises ValueError if the ops form a cycle.
    """
    g = dataflow_graph(fn)
    try:
        return list(nx.lexicographical_topological_sort(g, key=lambda op: g.nodes[op]["index"]))
    except nx.NetworkXUnfeasible:
        raise ValueError(f"{fn.name}: the ops' dataflow has a cycle") from None


def is_dag(fn: Function) -> bool:
    return nx.is_directed_acyclic_graph(dataflow_graph(fn))


def last_use(fn: Function) -> dict[Var, int]:
    """Index of the last op reading each Var; results count as read at ``len(fn.ops)``.

    Vars that are never read are absent.
    """
    last: dict[Var, int] = {}
    for i, op in enumerate(fn.ops):
        last.update((a, i) for a in op.inputs if isinstance(a, Var))
    last.update((a, len(fn.ops)) for a in fn.results if isinstance(a, Var))
    return last
