"""Straight-line Python for one pytree structure: a matcher that takes a tree apart and a
builder that puts one together, without the generic walk.

jit's dispatch flattens the arguments and unflattens the results on every call;
for a structure seen before (a dict of parameters, a tuple of arrays) a
generated function does it in a fraction of the time. Only tuples, lists, dicts
and None are generated; other structures get None and take the generic path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llax.frontend.tree_util import _DICT, _LEAF, _LIST, _NONE, _TUPLE, PyTreeDef

# Threads racing on a miss may each generate a function for the structure; setdefault
# keeps the first stored and hands it to all of them (callers compare matchers by
# identity). Nothing here needs a lock.
_MATCHERS: dict[PyTreeDef, Callable[[Any], Any] | None] = {}
_BUILDERS: dict[tuple, Callable[[Any], Any] | None] = {}
_GENERATED = {_TUPLE: "tuple", _LIST: "list", _DICT: "dict", _NONE: "NoneType"}


def _supported(spec) -> bool:
    if spec is _LEAF:
        return True
    kind, data, children = spec
    if kind is _DICT and not all(type(k) in (str, int) for k in data):
        return False  # keys are written into the source by repr()
    return kind in _GENERATED and all(_supported(c) for c in children)


def matcher(treedef: PyTreeDef) -> Callable[[Any], Any] | None:
    """``match(tree)`` for a tree of Arrays: ``(key, buffers)`` if ``tree`` has exactly this
    structure, else None. ``key`` is ``(treedef, *leaf signature ids)``, jit's cache key;
    a leaf that is not an Array raises AttributeError."""
    try:
        return _MATCHERS[treedef]
    except KeyError:
        made = _make_matcher(treedef) if _supported(treedef._spec) else None
        return _MATCHERS.setdefault(treedef, made)


def builder(treedef: PyTreeDef, wraps: tuple[tuple[bool, int], ...]
            ) -> Callable[[Any], Any] | None:
    """``build(buffers)``: the tree of this structure whose leaves are the buffers wrapped as
    Arrays with the given ``(weak_type, signature id)`` each."""
    key = (treedef, wraps)
    try:
        return _BUILDERS[key]
    except KeyError:
        made = _make_builder(treedef, wraps) if _supported(treedef._spec) else None
        return _BUILDERS.setdefault(key, made)


def _make_matcher(treedef: PyTreeDef) -> Callable[[Any], Any]:
    lines: list[str] = []
    leaves: list[str] = []
    names = iter(f"n{i}" for i in range(1 << 30))

    def visit(spec, var: str, depth: int) -> None:
        if spec is _LEAF:
            leaves.append(var)
            return
        kind, data, children = spec
        pad = "    " * depth
        lines.append(f"{pad}if type({var}) is not {_GENERATED[kind]}: return None")
        if kind is _NONE:
            return
        lines.append(f"{pad}if len({var}) != {len(children)}: return None")
        for i, child in enumerate(children):
            name = next(names)
            index = repr(data[i]) if kind is _DICT else str(i)
            if kind is _DICT:
                lines.append(f"{pad}if {index} not in {var}: return None")
            lines.append(f"{pad}{name} = {var}[{index}]")
            visit(child, name, depth)

    visit(treedef._spec, "tree", 1)
    key = "".join(f", {v}._sig or sig({v})" for v in leaves)
    values = "".join(f"{v}._value, " for v in leaves)
    source = ("def match(tree):\n" + "\n".join(lines) +
              f"\n    return (treedef{key}), ({values})\n")
    return _compile(source, "match", treedef=treedef)


def _make_builder(treedef: PyTreeDef, wraps: tuple[tuple[bool, int], ...]
                  ) -> Callable[[Any], Any]:
    count = iter(range(1 << 30))

    def expr(spec) -> str:
        if spec is _LEAF:
            i = next(count)
            weak, sig = wraps[i]
            return f"wrap(buffers[{i}], {weak}, {sig})"
        kind, data, children = spec
        parts = [expr(c) for c in children]
        if kind is _NONE:
            return "None"
        if kind is _DICT:
            return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(data, parts)) + "}"
        if kind is _LIST:
            return "[" + ", ".join(parts) + "]"
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    return _compile(f"def build(buffers):\n    return {expr(treedef._spec)}\n", "build")


def _compile(source: str, name: str, **names: Any) -> Callable:
    # The source is built from literals only (indices, flags, and repr() of dict keys that
    # are str or int), never from user text.
    from llax.frontend.core import Array, array_signature

    namespace = {"NoneType": type(None), "wrap": Array._wrap_readonly,
                 "sig": array_signature, **names}
    exec(compile(source, f"<llax pytree {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]
