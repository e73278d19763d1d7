"""A hashable key for a Function's structure: equal keys mean the same computation.

Two traces of the same Python code on inputs of the same types usually give
Functions that differ only in their Var objects. The key numbers the values in
order of definition, so such Functions get equal keys, and a transformation of
one (its gradient, say) can be reused for the other.
"""

from __future__ import annotations

from collections.abc import Hashable

from llax.ir.core import Function, Var


def structure_key(fn: Function) -> Hashable:
    """The types, ops (primitive, params, operand numbers or literal bits) and results.

    Regions are keyed recursively. Params must be hashable (they are, by construction).
    """
    number: dict[Var, int] = {v: i for i, v in enumerate(fn.params)}

    def ref(a) -> Hashable:
        return number[a] if isinstance(a, Var) else a.key()

    ops = []
    for op in fn.ops:
        ops.append((op.prim, op.params, tuple(ref(a) for a in op.inputs),
                    tuple(structure_key(r) for r in op.regions) if op.regions else ()))
        for v in op.outputs:
            number[v] = len(number)
    return (fn.in_types, tuple(ops), tuple(ref(r) for r in fn.results),
            tuple(r.type for r in fn.results))
