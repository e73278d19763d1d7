"""``make_jaxpr``'s text, as JAX prints a jaxpr.

The IR printer (ir/printer.py) writes a format that parses back exactly; this
one writes what a JAX user expects to read, and is not parsed:

- the layout of JAX's pretty printer, 80 columns: a jaxpr, an equation's params
  or a list of variables stays on one line when it fits (frontend/pretty.py);
- variables named in printing order, regions sharing the count; an output the
  top-level function never uses prints as ``_``;
- literals as ``str`` of their Python value (``0.10000000149011612:f32[]``: the
  float32 value at full precision), a weak one (a Python scalar in JAX) as written
  (``0.1:f32[]``), never weak-type markers;
- params as JAX shows them: dtypes as ``float32``, strings bare, ``name=`` first
  for calls, jaxpr-valued params (cond branches, loop bodies, a nested jit's
  ``jaxpr``, a custom function's ``call_jaxpr``) as nested jaxprs, JAX's own
  omissions (``broadcast_in_dim``'s shape) and its always-default params
  (``out_sharding=None``...) as JAX prints them;
- a nested jit's jaxpr names its variables like the operands and results of
  the call; a sub-jaxpr used more than once, or with more than ten equations,
  prints once before the top-level jaxpr as ``let name = { ... } in``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from llax.frontend import pretty as pp
from llax.ir import dtypes
from llax.ir.core import Atom, Function, Literal, Op, Var
from llax.ir.primitive import region_params
from llax.ir.printer import alpha_name
from llax.ir.structure import structure_key
from llax.ir.types import TensorType


def jaxpr_text(fn: Function, n_consts: int = 0, *, width: int = 80) -> str:
    return _Context(fn).toplevel(fn, n_consts).format(width)


def _aval(t: TensorType) -> str:
    return str(t.strong())


def literal_text(lit: Literal) -> str:
    value = np.asarray(lit.value)
    if value.ndim:
        shown = "[...]"
    elif lit.type.weak and dtypes.kind(value.dtype) == "f":
        # A weak literal is a Python scalar in JAX, printed as written (``0.1``); the shortest
        # text that rounds to the stored value is what was written for any short decimal.
        shown = str(value[()])
    else:
        shown = str(value.item())
    return f"{shown}:{_aval(lit.type)}"


def param_text(value: Any) -> str:
    """A param value as JAX shows it: its ``str`` (dtypes by full name, strings bare,
    dimension-number records by field)."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        fields = ", ".join(f"{k}={param_text(v)}" for k, v in zip(value._fields, value))
        return f"{type(value).__name__}({fields})"
    if isinstance(value, tuple):
        items = [param_text(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return "[" + ", ".join(param_text(v) for v in value) + "]"
    if isinstance(value, type) and issubclass(value, np.generic):
        value = np.dtype(value)
    text = str(value)
    return re.sub(r" at 0x([0-9a-fA-F]+)", lambda m: " at 0x" + "X" * len(m.group(1)), text)


class _Region:
    """A jaxpr-valued param: printed nested, or by name when shared."""

    __slots__ = ("fn",)

    def __init__(self, fn: Function) -> None:
        self.fn = fn


# ---------------------------------------------------------------------------------------------
# Params as JAX shows them, per primitive


ParamRule = Callable[[Op], list[tuple[str, Any]]]
param_rules: dict[str, ParamRule] = {}


def _sorted(params: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(params.items())


def _default_params(op: Op) -> list[tuple[str, Any]]:
    params = dict(op.params)
    params.pop("aliases", None)  # buffer assignment, no part of a jaxpr
    names = region_params.get(op.prim)
    if isinstance(names, str):
        params[names] = tuple(_Region(r) for r in op.regions)
    elif names is not None:
        params.update((n, _Region(r)) for n, r in zip(names, op.regions))
    return _sorted(params)


def _with_defaults(**defaults: Any) -> ParamRule:
    """Params JAX's primitive has and llax's has not, always at their default value."""

    def rule(op: Op) -> list[tuple[str, Any]]:
        return _sorted({**dict(_default_params(op)), **defaults})

    return rule


for _name in ("reduce_sum",):
    param_rules[_name] = _with_defaults(out_sharding=None)
for _name in ("reshape", "iota"):
    param_rules[_name] = _with_defaults(sharding=None)


def _broadcast_in_dim(op: Op) -> list[tuple[str, Any]]:
    # The shape is the binder's type; no broadcast dimensions print as nothing.
    params = dict(_default_params(op))
    params.pop("shape", None)
    if not params.get("broadcast_dimensions"):
        params.pop("broadcast_dimensions", None)
    return _sorted(params)


param_rules["broadcast_in_dim"] = _broadcast_in_dim


def _dot_general(op: Op) -> list[tuple[str, Any]]:
    params = {k: v for k, v in _default_params(op) if v is not None}
    (lc, rc), (lb, rb) = op.params["dimension_numbers"]
    params["dimension_numbers"] = ((list(lc), list(rc)), (list(lb), list(rb)))
    return _sorted(params)


param_rules["dot_general"] = _dot_general


def _jit(op: Op) -> list[tuple[str, Any]]:
    params = dict(_default_params(op))
    name = params.pop("name")
    return [("name", name), *_sorted(params)]


param_rules["jit"] = _jit


def _rule_name(rule: Any) -> str:
    return getattr(rule, "label", None) or str(rule)


def _custom_call(*rules: str) -> ParamRule:
    def rule(op: Op) -> list[tuple[str, Any]]:
        params = {k: _rule_name(op.params[k]) for k in rules}
        if op.params.get("num_consts"):
            params["num_consts"] = op.params["num_consts"]
        params["call_jaxpr"] = _Region(op.regions[0])
        params["symbolic_zeros"] = False
        return [("name", op.regions[0].name), *_sorted(params)]

    return rule


param_rules["custom_jvp_call"] = _custom_call("jvp")
param_rules["custom_vjp_call"] = _custom_call("fwd", "bwd")


def eqn_params(op: Op) -> list[tuple[str, Any]]:
    """``op``'s params in JAX's order and spelling, regions as ``_Region`` values."""
    return param_rules.get(op.prim.name, _default_params)(op)


# ---------------------------------------------------------------------------------------------
# Naming and layout


class _Context:
    def __init__(self, top: Function) -> None:
        self.names: dict[Var, str] = {v: "_" for v in _unused_outputs(top)}
        self.count = 0
        self.shared: dict[Hashable, str] = {}  # region key -> its name
        self.shared_names: set[str] = set()
        self.top = top

    # Regions that are "the same jaxpr" in JAX: a nested jit of the same function on the
    # same types is traced once there (its cache), so equal regions of jit ops count as one.
    def _key(self, fn: Function, op: Op | None) -> Hashable:
        if op is not None and op.prim.name == "jit":
            return ("jit", op.params["name"], structure_key(fn))
        return id(fn)

    def var(self, v: Var) -> str:
        name = self.names.get(v)
        if name is None:
            while True:
                name = alpha_name(self.count)
                self.count += 1
                if name not in self.shared_names:
                    break
            self.names[v] = name
        return name

    def atom(self, a: Atom) -> str:
        return literal_text(a) if isinstance(a, Literal) else self.var(a)

    def suggest(self, for_vars: Sequence[Atom], like: Sequence[Atom]) -> None:
        """Name ``for_vars`` (a region's) as the ``like`` atoms (the op's) where both are
        variables and the region's has no name yet."""
        if len(for_vars) != len(like):
            return
        used: set[Var] = set()
        for v, w in zip(for_vars, like):
            if isinstance(v, Var) and isinstance(w, Var) and w not in used \
                    and v not in self.names:
                used.add(w)
                self.names[v] = self.var(w)

    # -- shared jaxprs --------------------------------------------------------------------

    def find_shared(self) -> list[tuple[str, Function]]:
        counts: Counter[Hashable] = Counter()
        first: dict[Hashable, Function] = {}
        names: dict[Hashable, str] = {}
        queue: list[tuple[Function, Op | None]] = [(self.top, None)]
        while queue:
            fn, via = queue.pop(0)
            key = self._key(fn, via)
            first.setdefault(key, fn)
            counts[key] += 1
            if fn is not self.top and len(fn.ops) > 10:
                counts[key] += 1
            for op in fn.ops:
                name = op.params.get("name") if op.prim.name == "jit" else None
                for r in op.regions:
                    queue.append((r, op))
                    if name is not None:
                        names.setdefault(self._key(r, op), name.strip("<>"))
        taken: Counter[str] = Counter()
        shared = []
        for key, c in counts.items():
            if c == 1:
                continue
            name = names.get(key, "jaxpr")
            if taken[name]:
                suffix = taken[name]
                taken[name] += 1
                name += str(suffix)
            taken[name] += 1
            self.shared[key] = name
            self.shared_names.add(name)
            shared.append((name, first[key]))
        return shared

    # -- documents ------------------------------------------------------------------------

    def toplevel(self, fn: Function, n_consts: int) -> pp.Doc:
        docs = []
        for name, region in self.find_shared():
            docs += [pp.text(f"let {name} = "), self.skeleton(region), pp.text(" in"), pp.brk()]
        docs.append(self.skeleton(fn, n_consts))
        return pp.concat(docs)

    def vars(self, atoms: Sequence[Atom], *, sep: str = "", types: bool = False) -> pp.Doc:
        items = [pp.text(self.atom(a) + (":" + _aval(a.type) if types else "")) for a in atoms]
        return pp.nest(2, pp.group(pp.join(pp.text(sep) + pp.group(pp.brk()), items)))

    def skeleton(self, fn: Function, n_consts: int = 0) -> pp.Doc:
        consts = self.vars(fn.params[:n_consts], types=True)
        params = self.vars(fn.params[n_consts:], types=True)
        eqns = pp.join(pp.brk("; "), [self.eqn(op) for op in fn.ops])
        outs = pp.concat([pp.text("("), self.vars(fn.results, sep=","),
                          pp.text(",)" if len(fn.results) == 1 else ")")])
        return pp.group(pp.nest(2, pp.concat([
            pp.text("{ lambda "), consts, pp.text("; "), params, pp.text(". let"),
            pp.nest(2, pp.brk() + eqns), pp.brk(), pp.text("in "), outs,
        ])) + pp.text(" }"))

    def region(self, fn: Function, op: Op) -> pp.Doc:
        name = self.shared.get(self._key(fn, op))
        return pp.text(name) if name is not None else self.skeleton(fn)

    def param(self, key: str, value: Any, op: Op) -> pp.Doc:
        if isinstance(value, _Region):
            shown = self.region(value.fn, op)
        elif isinstance(value, tuple) and value and all(isinstance(v, _Region) for v in value):
            shown = pp.group(pp.concat([
                pp.nest(2, pp.concat([pp.text("("), pp.brk(""),
                                      pp.join(pp.brk(), [self.region(v.fn, op)
                                                         for v in value])])),
                pp.brk(""), pp.text(")")]))
        else:
            shown = pp.text(param_text(value))
        return pp.text(f"{key}=") + shown

    def eqn(self, op: Op) -> pp.Doc:
        params = eqn_params(op)
        if op.prim.name == "jit" and self._key(op.regions[0], op) not in self.shared:
            region = op.regions[0]
            self.suggest(region.params, op.inputs)
            self.suggest(region.results, op.outputs)
        lhs = self.vars(op.outputs, types=True)
        kvs = pp.nil()
        if params:
            kvs = pp.group(pp.concat([
                pp.nest(2, pp.concat([pp.text("["), pp.brk(""),
                                      pp.join(pp.brk(), [self.param(k, v, op)
                                                         for k, v in params])])),
                pp.brk(""), pp.text("]")]))
        rhs = [pp.text(op.prim.name), kvs, pp.text(" ") + self.vars(op.inputs)]
        if not op.outputs:
            return pp.concat(rhs)
        return pp.concat([lhs, pp.text(" = "), *rhs])


def _unused_outputs(fn: Function) -> set[Var]:
    """Outputs of ``fn``'s own ops that nothing after them reads (JAX prints them ``_``)."""
    used = {a for a in fn.results if isinstance(a, Var)}
    unused: set[Var] = set()
    for op in reversed(fn.ops):
        unused.update(v for v in op.outputs if v not in used)
        used.update(a for a in op.inputs if isinstance(a, Var))
    return unused


__all__ = ["eqn_params", "jaxpr_text", "literal_text", "param_text", "param_rules"]
