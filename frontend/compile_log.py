"""What jit tells the ``logging`` module about its compilations, shaped like JAX's messages.

``jax_log_compiles`` logs each compilation (the function, its argument types, the time
tracing and compiling took); ``jax_explain_cache_misses`` (and ``jax_log_compiles``, which
JAX 0.10 does not extend to this) logs, for every trace, why the
call missed the cache: a function never seen, or how its signature differs from the
closest signature compiled before (a changed pytree structure, static argument, shape,
dtype or weak type, or a flag that is part of the cache key). Both log at WARNING on the
logger named "llax", so they show with Python's default logging setup.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from llax.frontend.tree_util import (
    DictKey,
    PyTreeDef,
    SequenceKey,
    keystr,
    register_static,
    tree_flatten,
    tree_flatten_with_path,
    tree_unflatten,
)
from llax.ir import dtypes
from llax.ir.types import TensorType

logger = logging.getLogger("llax")


# ---------------------------------------------------------------------------------------------
# jax_log_compiles


def shaped_array(t: TensorType) -> str:
    """JAX's repr of an abstract argument: ``ShapedArray(float32[3])``."""
    weak = ", weak_type=True" if t.weak else ""
    return f"ShapedArray({t.dtype.name}[{','.join(map(str, t.shape))}]{weak})"


def log_compiling(name: str, in_types: Sequence[TensorType]) -> None:
    types = tuple(_Repr(shaped_array(t)) for t in in_types)
    mapping = tuple(_Repr("UnspecifiedValue") for _ in in_types)  # (JAX's shardings: none)
    logger.warning("Compiling jit(%s) with global shapes and types %s. Argument mapping: %s.",
                   name, types, mapping)


def log_timing(what: str, seconds: float) -> None:
    logger.warning("Finished %s in %.9f sec", what, seconds)


class _Repr:
    """Prints as the given text inside a tuple's repr."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------
# jax_explain_cache_misses


@register_static
class Static:
    """A static argument's value in the signature tree (a childless node, as in JAX)."""

    def __init__(self, val: Any) -> None:
        self.val = val

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Static) and type(self.val) is type(other.val) \
            and self.val == other.val

    def __hash__(self) -> int:
        return hash(self.val)

    def __repr__(self) -> str:
        return f"Static(val={self.val!r})"


_HOLE = object()  # stands for an array leaf while rebuilding a signature's argument tree
# Call sites that have traced a function seen for the first time: a second new function from
# the same line is most likely being redefined on every call, which defeats the cache.
_NEW_FUNCTION_SITES: set[str] = set()


class Signature:
    """A jit cache key read back as JAX describes it: the (args, kwargs) tree with the
    static values in place, each array leaf's name and type, and the keyed flags."""

    def __init__(self, key: tuple, positional_names: Sequence[str],
                 flag_names: Sequence[str]) -> None:
        treedef, kw_treedef, statics, leaf_keys, *flags = key
        args = list(tree_unflatten(treedef, [_HOLE] * treedef.num_leaves))
        kwargs = dict(tree_unflatten(kw_treedef, [_HOLE] * kw_treedef.num_leaves)) \
            if kw_treedef is not None else {}
        for where, value in sorted(s for s in statics if isinstance(s[0], int)):
            args.insert(where, Static(value))
        for where, value in statics:
            if isinstance(where, str):
                kwargs[where] = Static(value)
        tree = (tuple(args), kwargs)
        self.tree: PyTreeDef = tree_flatten(tree)[1]
        paths = [p for p, _ in tree_flatten_with_path(tree)[0]]
        self.leaf_names = [_leaf_name(p, positional_names) for p in paths]
        self.leaf_types = [TensorType(*k) for k in leaf_keys]
        self.flags = dict(zip(flag_names, flags))


def _leaf_name(path: tuple, positional_names: Sequence[str]) -> str:
    kind, where, rest = path[0], path[1], path[2:]
    if getattr(kind, "idx", None) == 0:  # a positional argument
        i = where.idx
        base = positional_names[i] if i < len(positional_names) else f"args[{i}]"
    else:
        base = str(where.key)
    return base + keystr(rest)


def _short(t: TensorType) -> str:
    return f"{dtypes.short_name(t.dtype)}[{','.join(map(str, t.shape))}]"


def _node_type(tree: PyTreeDef) -> str:
    data = tree.node_data()
    return "pytree leaf" if data is None else str(data[0])


def _child_keys(tree: PyTreeDef) -> list[Any]:
    kind, meta = tree.node_data()
    if kind is dict:
        return [DictKey(k) for k in meta]
    return [SequenceKey(i) for i in range(len(tree.children()))]


def tree_differences(new: PyTreeDef, old: PyTreeDef, path: tuple = ()
                     ) -> list[tuple[str, str, str, str]]:
    """(path, what the new tree has, what the old one had, why they differ), as JAX lists
    the structural differences of two argument trees."""
    d1, d2 = new.node_data(), old.node_data()
    if d1 is None and d2 is None:
        return []
    if d1 is None or d2 is None or d1[0] is not d2[0]:
        return [(keystr(path), _node_type(new), _node_type(old), "their Python types differ")]
    c1, c2 = new.children(), old.children()
    kind = d1[0]
    if kind in (list, tuple) and len(c1) != len(c2):
        return [(keystr(path), f"{kind.__name__} of length {len(c1)}",
                 f"{kind.__name__} of length {len(c2)}", "the lengths do not match")]
    if len(c1) != len(c2):
        why = "the numbers of children do not match"
        if kind is dict:
            keys = set(d1[1]).symmetric_difference(d2[1])
            if keys:
                listed = " ".join(map(repr, keys))
                why += f", with the symmetric difference of key sets: {{{listed}}}"
        return [(keystr(path), f"{kind} with {_children(len(c1))}",
                 f"{kind} with {_children(len(c2))}", why)]
    if d1[1] != d2[1]:
        return [(keystr(path), f"{kind} with pytree metadata {d1[1]}",
                 f"{kind} with pytree metadata {d2[1]}",
                 "the pytree node metadata does not match")]
    out = []
    for k, a, b in zip(_child_keys(new), c1, c2):
        out += tree_differences(a, b, (*path, k))
    return out


def _children(n: int) -> str:
    return f"{n} child{'ren' if n > 1 else ''}"


def _difference(new: Signature, old: Signature) -> tuple[int, int, str]:
    """(severity, number of differences, text) of the change from ``old`` to ``new``; JAX's
    closest previous signature is the smallest of these."""
    if new.flags != old.flags:
        changed = [f"  * {k} differs: now {new.flags[k]} and before {old.flags[k]}"
                   for k in new.flags if new.flags[k] != old.flags.get(k)]
        return (0, len(changed), "Tracing context doesn't match, e.g. due to config or "
                "context manager.\n" + "\n".join(changed))
    trees = tree_differences(new.tree, old.tree)
    if trees:
        lines = [f"  * at input path {p}, now {a} and before {b}, so {why}"
                 for p, a, b, why in trees]
        return 1, len(lines), "different input pytree:\n" + "\n".join(lines)
    lines, weak_hint = [], False
    for name, a, b in zip(new.leaf_names, new.leaf_types, old.leaf_types):
        if a != b:
            now, before = _short(a), _short(b)
            if a.weak != b.weak:
                weak_hint = True
                now += f"{{weak_type={a.weak}}}"
                before += f"{{weak_type={b.weak}}}"
            lines.append(f"  * at {name}, now {now} and before {before}")
    if lines:
        text = "different input types:\n" + "\n".join(lines)
        if weak_hint:  # (JAX appends the link without a line break)
            text += "https://docs.jax.dev/en/latest/type_promotion.html#weak-types"
        return 3, len(lines), text
    return 4, 0, "cache miss explanation unavailable"


def _in_llax(module: str) -> bool:
    # By module name, not file: the repository root is the package, and its tests and
    # examples are user code.
    return module == "llax" or (module.startswith("llax.")
                                and not module.startswith(("llax.tests", "llax.examples")))


def _callsite() -> str:
    """``file:line:column (function)`` of the innermost frame outside llax."""
    frame = sys._getframe(1)
    while frame is not None and _in_llax(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    info = inspect.getframeinfo(frame, context=0)
    col = getattr(getattr(info, "positions", None), "col_offset", None)
    where = f"{info.filename}:{info.lineno}" + (f":{col}" if col else "")
    return f"{where} ({info.function})"


def _defined_at(fun: Callable) -> str:
    code = getattr(inspect.unwrap(fun), "__code__", None)
    if code is None:
        return ""
    return f" defined at {code.co_filename}:{code.co_firstlineno}"


def explain_cache_miss(fun: Callable, name: str, new_key: tuple, old_keys: Sequence[tuple],
                       positional_names: Sequence[str], flag_names: Sequence[str]) -> None:
    """Log why the call with ``new_key`` traces ``fun`` again (JAX's "TRACING CACHE MISS")."""
    site = _callsite()
    lines = [f"TRACING CACHE MISS at {site}:"]
    if not old_keys:
        lines.append(f"  never seen function:\n    {name} id={id(fun)}{_defined_at(fun)}")
        if site in _NEW_FUNCTION_SITES:
            lines.append("  but seen another function defined on the same line; maybe the "
                         "function is\n  being re-defined repeatedly, preventing caching?")
        else:
            _NEW_FUNCTION_SITES.add(site)
        logger.warning("\n".join(lines))
        return
    lines.append(f"  for {name}{_defined_at(fun)}")
    try:
        new = Signature(new_key, positional_names, flag_names)
        closest = min(_difference(new, Signature(k, positional_names, flag_names))
                      for k in old_keys)[-1]
    except Exception:  # noqa: BLE001 - a custom pytree node that cannot be rebuilt: say so
        closest = "cache miss explanation unavailable"
    lines.append("  all previously seen cache keys differ. For the closest previous key:")
    lines.append("  " + closest)
    logger.warning("\n".join(lines))


__all__ = ["explain_cache_miss", "log_compiling", "log_timing", "logger", "shaped_array"]
