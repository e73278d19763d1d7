"""Print a Function as text in the style of JAX's jaxprs.

The text is deterministic and ``llax.ir.parser`` reads it back exactly::

    { lambda ; a:f32[8] b:f32[8]. let
        c:f32[8] = mul a b
        d:f32[8] = add c 2.0:f32[]{weak}
        e:f32[] = reduce_sum[axes=(0,)] d
      in (e,) }

Format decisions (the parser's grammar follows them):

- Variables are named a, b, ..., z, ba, bb, ... in order of definition in the text;
  regions continue the same counter, so every name is unique. The names ``in``,
  ``let``, ``lambda``, ``nan`` and ``inf`` are skipped because they are tokens of
  the format. A Var that is used but never defined prints as ``?a``, ``?b``, ...
  (only invalid IR has those; the parser rejects them).
- A function whose name is not ``"main"`` prints it after ``lambda`` as ``@name``
  (``@'<lambda>'``, quoted, when it is not an identifier).
- With ``n_consts``, the first n parameters print before the ``;`` (JAX's constvars):
  ``{ lambda a:f32[3]; b:f32[3]. let``.
- Types print as ``TensorType.__str__``: ``f32[2,3]``, ``f32[]{weak}``.
- Params print in sorted order, ``[axes=(0,) new_dtype=f32]``: dtypes by short name,
  strings quoted, tuples as Python tuples, None/True/False, ints, floats by ``repr``
  (``inf``, ``nan``). A value of any other kind prints by its ``repr`` and will not
  parse back.
- Literals print as ``value:type``; non-scalar literals, whatever their size, as a
  nested list ``[[1.0, 2.0], [3.0, 4.0]]:f32[2,2]``. A float element prints as its
  shortest decimal when that reads back to the same bits (so ``-0.0``, ``inf`` and
  the default ``nan`` do), otherwise as its bit pattern in hex (``0xffc00000``:
  NaNs with another sign or payload).
- Region ops print their regions after the operands, each as a nested function
  whose ops are indented four more spaces than the op's line. Control-flow ops
  (``primitive.region_params``) print them as params instead, as JAX prints
  ``cond[branches=(...)]``, ``while[body_jaxpr={...} ...]`` and ``scan[jaxpr={...} ...]``:
  one param per line, sorted with the others, after ``prim[`` and before ``]``.
- Outputs never used anywhere may print as ``_`` (``drop_unused=True``, off by
  default so numbering matches JAX); the parser makes a fresh Var for each ``_``.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from llax.ir import dtypes
from llax.ir.core import Atom, Function, Literal, Op, Var, walk_ops
from llax.ir.primitive import region_params

# Words the tokeniser treats specially; never generated as variable names.
RESERVED = frozenset({"in", "let", "lambda", "nan", "inf"})


def alpha_name(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba: base 26 with 'a' as the zero digit, as jaxprs count."""
    letters = string.ascii_lowercase
    s = letters[n % 26]
    n //= 26
    while n:
        s = letters[n % 26] + s
        n //= 26
    return s


def print_function(fn: Function, n_consts: int = 0, *, show_name: bool = True,
                   drop_unused: bool = False) -> str:
    """The text of ``fn``; ``show_name=False`` omits every ``@name`` (JAX-identical output)."""
    if not 0 <= n_consts <= len(fn.params):
        raise ValueError(f"n_consts={n_consts} but {fn.name} has {len(fn.params)} parameters")
    printer = Printer(fn, drop_unused=drop_unused, show_names=show_name)
    return printer.function(fn, n_consts=n_consts)


def print_param(value: Any) -> str:
    """One param value in the text format."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        items = [print_param(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    try:
        dt = np.dtype(value) if isinstance(value, (np.dtype, type)) else None
    except TypeError:
        dt = None
    if dt is not None and dt in dtypes.SHORT_NAMES:
        return dtypes.short_name(dt)
    return repr(value)


def print_literal(lit: Literal) -> str:
    value = np.asarray(lit.value)
    if value.ndim == 0:
        return f"{_element(value)}:{lit.type}"
    return f"{_nested(value)}:{lit.type}"


def _nested(value: np.ndarray) -> str:
    if value.ndim == 0:
        return _element(value)
    return "[" + ", ".join(_nested(value[i]) for i in range(value.shape[0])) + "]"


def _element(x: np.ndarray) -> str:
    """One array element, written so that it parses back to the same bits."""
    x = np.asarray(x)
    dt = x.dtype
    if dt == np.bool_:
        return str(bool(x))
    if dtypes.is_int(dt):
        return str(int(x))
    if not dtypes.is_float(dt):
        return repr(x.item())
    bits = x.tobytes()
    for text in (str(x[()]), repr(float(x))):  # numpy's shortest for the dtype, then float64's
        if text.lstrip("-").isdigit():
            text += ".0"  # keep floats distinguishable from ints
        if np.array(float(text), dt).tobytes() == bits:
            return text
    # NaN with a non-default sign or payload: spell the bits.
    return hex(int(x.view(f"u{dt.itemsize}")))


class Printer:
    """Names every Var of a function tree, then prints it; ``op_lines`` maps each op to its line.

    The verifier uses ``name`` and ``op_line`` to quote ops with the same names as
    the full printout.
    """

    def __init__(self, fn: Function, *, drop_unused: bool = False,
                 show_names: bool = True) -> None:
        self.show_names = show_names
        self.names: dict[Var, str] = {}
        self.op_lines: dict[Op, str] = {}
        self._count = 0
        self._unbound: dict[Var, str] = {}
        self._used: set[Var] | None = _used_vars(fn) if drop_unused else None
        self._assign(fn)

    def _fresh(self) -> str:
        while True:
            name = alpha_name(self._count)
            self._count += 1
            if name not in RESERVED:
                return name

    def _define(self, v: Var) -> None:
        # A Var defined twice keeps its first name: the printout then shows the duplicate.
        if v not in self.names and (self._used is None or v in self._used):
            self.names[v] = self._fresh()

    def _assign(self, fn: Function) -> None:
        # Textual order: params, then each op's outputs before its regions.
        for v in fn.params:
            if v not in self.names:
                self.names[v] = self._fresh()
        for op in fn.ops:
            for v in op.outputs:
                self._define(v)
            for region in _printed_order(op):
                self._assign(region)

    def name(self, a: Atom) -> str:
        if isinstance(a, Literal):
            return print_literal(a)
        if a in self.names:
            return self.names[a]
        if a not in self._unbound:
            self._unbound[a] = "?" + alpha_name(len(self._unbound))
        return self._unbound[a]

    def _binder(self, v: Var) -> str:
        return f"{self.names.get(v, '_')}:{v.type}"

    def op_line(self, op: Op) -> str:
        """The op's line without its regions (``{ ... }`` marks where they are)."""
        if op not in self.op_lines:
            self._op_header(op)
        return self.op_lines[op]

    def _op_header(self, op: Op) -> str:
        params = " ".join(f"{k}={print_param(v)}" for k, v in op.params.items())
        head = " ".join(self._binder(v) for v in op.outputs)
        text = f"{head} = {op.prim.name}" + (f"[{params}]" if params else "")
        text += "".join(" " + self.name(a) for a in op.inputs)
        self.op_lines[op] = text + (" { ... }" * len(op.regions))
        return text

    def _named_regions_op(self, op: Op, indent: int) -> str:
        """An op whose regions print as params, one per line (JAX's layout)."""
        names = region_params[op.prim]
        items: dict[str, str] = {k: print_param(v) for k, v in op.params.items()}
        inner = " " * (indent + 2)
        if isinstance(names, str):
            body = "".join(f"{inner}  {self.function(r, indent=indent + 4)}\n"
                           for r in op.regions)
            items[names] = f"(\n{body}{inner})"
        else:
            for name, r in zip(names, op.regions, strict=True):
                items[name] = self.function(r, indent=indent + 2)
        self._op_header(op)  # names the quoted line for the verifier
        head = " ".join(self._binder(v) for v in op.outputs)
        lines = "".join(f"{inner}{k}={items[k]}\n" for k in sorted(items))
        operands = "".join(" " + self.name(a) for a in op.inputs)
        return f"{head} = {op.prim.name}[\n{lines}{' ' * indent}]{operands}"

    def function(self, fn: Function, *, indent: int = 0, n_consts: int = 0) -> str:
        pad = " " * indent
        name = ""
        if self.show_names and fn.name != "main":
            name = "@" + (fn.name if fn.name.isidentifier() else repr(fn.name)) + " "
        consts = " ".join(self._binder(v) for v in fn.params[:n_consts])
        params = " ".join(self._binder(v) for v in fn.params[n_consts:])
        lines = [f"{{ lambda {name}{consts}; {params}. let"]
        for op in fn.ops:
            if op.regions and op.prim in region_params:
                lines.append(pad + "    " + self._named_regions_op(op, indent + 4))
                continue
            text = pad + "    " + self._op_header(op)
            for region in op.regions:
                text += " " + self.function(region, indent=indent + 4)
            lines.append(text)
        results = [self.name(a) for a in fn.results]
        out = f"({results[0]},)" if len(results) == 1 else f"({', '.join(results)})"
        lines.append(f"{pad}  in {out} }}")
        return "\n".join(lines)


def _printed_order(op: Op) -> list[Function]:
    """``op``'s regions in the order they appear in the text (named ones sort by name)."""
    names = region_params.get(op.prim)
    if not isinstance(names, tuple) or len(names) != len(op.regions):
        return list(op.regions)
    return [r for _, r in sorted(zip(names, op.regions), key=lambda nr: nr[0])]


def _used_vars(fn: Function) -> set[Var]:
    used: set[Var] = set()

    def results(f: Function) -> None:
        used.update(a for a in f.results if isinstance(a, Var))
        for op in f.ops:
            for region in op.regions:
                results(region)

    results(fn)
    for op in walk_ops(fn):
        used.update(a for a in op.inputs if isinstance(a, Var))
    return used
