"""Constant folding and algebraic simplification.

One forward sweep over the ops (and, recursively, over their regions):

- **Folding.** An op whose operands are all Literals and whose outputs are small
  (``max-fold-size``, 16 elements by default) becomes Literals, computed with the
  NumPy reference implementation and cast to the op's exact output type. Ops
  with regions or effects are never folded.
- **Rewrites.** ``RULES`` is a table of (pattern, rewrite) pairs in the style of
  tinygrad's pattern matcher, the algebra in a trailing comment. A pattern
  matches an op and, through the producers of its operands, the ops feeding it;
  the rewrite returns the atom that replaces the op's output (it may build new
  ops with ``m.emit``), or None to decline.

Every rewrite keeps the output type (shape, dtype, weak flag) exactly: a
replacement of any other type is refused, so rules can be written plainly (an
``x + 0`` whose ``x`` is weak but whose result is not simply does not fire).

Floating point is treated as IEEE, with no fast-math licence:

- ``x + 0`` is ``x`` only for integers, or when the zero is ``-0.0``: for
  ``x = -0.0``, ``x + (+0.0)`` is ``+0.0``. XLA simplifies ``x + 0.0`` anyway; we
  keep the bit-exact result (the codegen's loops make the add nearly free).
- ``x - 0`` is ``x`` for ``+0.0`` (``x - +0.0 == x + -0.0``) but not for ``-0.0``.
- ``x * 1``, ``x / 1``, ``-(-x)`` and ``x ** 1`` are exact for every float.
- ``x * 0 -> 0`` and ``x - x -> 0`` hold for integers only (``inf * 0`` and
  ``inf - inf`` are NaN).

The sweep visits each op after its operands, and rules look only upstream, so
one sweep reaches a fixed point. Ops made dead are left for ``dce``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.core import Atom, Function, Literal, Op, Params, Var
from llax.ir.primitive import FusionClass, Primitive, fusion_class, infer_types
from llax.ir.reference import reference
from llax.ir.types import TensorType
from llax.passes.dce import eliminate_dead_code, has_effects
from llax.passes.manager import Pass, PassContext, register_pass

# ---------------------------------------------------------------------------------------------
# Patterns


@dataclass(frozen=True)
class Pat:
    """Matches one operand; ``Pat(prim, args)`` matches the op producing it.

    ``name`` captures the operand (a name used twice must bind the same value);
    ``const`` requires a splat constant: a Literal with all elements equal, or a
    ``broadcast_in_dim`` of one. ``args=None`` accepts any operands.
    """

    prim: Primitive | None = None
    args: tuple[Pat, ...] | None = None
    name: str | None = None
    const: bool = False


def var(name: str) -> Pat:
    return Pat(name=name)


def const(name: str) -> Pat:
    return Pat(name=name, const=True)


def op(prim: Primitive, *args: Pat, name: str | None = None) -> Pat:
    return Pat(prim, tuple(args) if args else None, name)


class Match:
    """What a rewrite sees: captures as attributes (``m.x``), the matched op, a builder."""

    def __init__(self, root: Op, producers: dict[Var, Op]) -> None:
        self.root = root
        self.out: TensorType = root.outputs[0].type
        self.captures: dict[str, Atom] = {}
        self.emitted: list[Op] = []
        self._producers = producers

    def __getattr__(self, name: str) -> Atom:
        try:
            return self.__dict__["captures"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def params(self) -> Params:
        return self.root.params

    def op(self, name: str) -> Op:
        """The op producing the capture ``name``."""
        return self._producers[self.captures[name]]

    def value(self, name: str) -> np.ndarray:
        """The scalar value of the splat-constant capture ``name`` (a 0-d array)."""
        v = splat(self.captures[name], self._producers)
        assert v is not None, f"capture {name!r} is not a constant"
        return v

    def emit(self, prim: Primitive, *inputs: Atom, **params) -> Var:
        """Build a new op (kept only if the rewrite is applied); returns its output.

        If the op does not type-check, the rewrite is abandoned (``Decline``).
        """
        p = Params(params)
        t = _infer(prim, inputs, p)
        if t is None:
            raise Decline(f"{prim.name} does not type-check on these operands")
        new = Op(prim, tuple(inputs), (Var(t),), p)
        self.emitted.append(new)
        return new.out

    def full(self, value: float | np.ndarray) -> Atom:
        """A constant of the op's output type: a Literal, or a broadcast of a scalar one."""
        scalar = Literal.of(value, TensorType((), self.out.dtype, self.out.weak))
        if self.out.shape == ():
            return scalar
        return self.emit(P.broadcast_in_dim, scalar, shape=self.out.shape,
                         broadcast_dimensions=())


class Decline(Exception):
    """Raised inside a rewrite to leave the op as it is."""


def _infer(prim: Primitive, inputs: tuple[Atom, ...], params: Params) -> TensorType | None:
    try:
        (t,) = infer_types(prim, tuple(a.type for a in inputs), params)
    except (TypeError, ValueError):
        return None
    return t


def splat(a: Atom, producers: dict[Var, Op]) -> np.ndarray | None:
    """If every element of ``a`` is the same constant, that element as a 0-d array."""
    while isinstance(a, Var):
        src = producers.get(a)
        if src is None or src.prim is not P.broadcast_in_dim:
            return None
        a = src.inputs[0]
    flat = np.ascontiguousarray(a.value).reshape(-1)
    if flat.size == 0:
        return None
    # Compare bits, not values: -0.0 and 0.0 differ, and NaNs equal themselves.
    # (Bytes per element, since no unsigned integer is as wide as a complex128.)
    bits = flat.view(np.uint8).reshape(flat.size, flat.dtype.itemsize)
    return flat[0].reshape(()) if bool((bits == bits[0]).all()) else None


def _same(a: Atom, b: Atom) -> bool:
    if isinstance(a, Var) or isinstance(b, Var):
        return a is b
    return a.key() == b.key()


def _match(pat: Pat, a: Atom, m: Match) -> bool:
    if pat.name is not None and pat.name in m.captures:
        return _same(m.captures[pat.name], a)
    if pat.const and splat(a, m._producers) is None:
        return False
    if pat.prim is not None:
        src = m._producers.get(a) if isinstance(a, Var) else None
        if src is None or src.prim is not pat.prim or not _match_args(pat, src, m):
            return False
    if pat.name is not None:
        m.captures[pat.name] = a
    return True


def _match_args(pat: Pat, target: Op, m: Match) -> bool:
    if pat.args is None:
        return True
    if len(pat.args) != len(target.inputs):
        return False
    return all(_match(p, a, m) for p, a in zip(pat.args, target.inputs, strict=True))


# ---------------------------------------------------------------------------------------------
# Value predicates (on the 0-d arrays of constants)


def _is(c: np.ndarray, value: int) -> bool:
    return bool(c == value)


def _is_int(t: TensorType) -> bool:
    return dtypes.kind(t.dtype) in "iu"


def _add_identity(c: np.ndarray) -> bool:
    # x + c == x for every x: any integer zero; for floats only -0.0 (-0.0 + +0.0 = +0.0).
    return _is(c, 0) and (dtypes.kind(c.dtype) != "f" or bool(np.signbit(c)))


def _sub_identity(c: np.ndarray) -> bool:
    # x - c == x for every x: any integer zero; for floats only +0.0.
    return _is(c, 0) and (dtypes.kind(c.dtype) != "f" or not bool(np.signbit(c)))


def _select_case(m: Match) -> Atom | None:
    which = splat(m.root.inputs[0], m._producers)
    cases = m.root.inputs[1:]
    if which is None:
        return None
    i = int(which)
    return cases[i] if 0 <= i < len(cases) else None


def _all_cases_equal(m: Match) -> Atom | None:
    cases = m.root.inputs[1:]
    return cases[0] if all(_same(c, cases[0]) for c in cases) else None


def _bcast_bcast(m: Match) -> Atom:
    inner = m.op("y").params
    dims = tuple(m.params["broadcast_dimensions"][d] for d in inner["broadcast_dimensions"])
    return m.emit(P.broadcast_in_dim, m.x, shape=m.params["shape"], broadcast_dimensions=dims)


def _transpose_transpose(m: Match) -> Atom:
    inner = m.op("y").params["permutation"]
    perm = tuple(inner[q] for q in m.params["permutation"])
    return m.emit(P.transpose, m.x, permutation=perm)


def _reshape_reshape(m: Match) -> Atom | None:
    if m.params.get("dimensions") is not None or m.op("y").params.get("dimensions") is not None:
        return None
    return m.emit(P.reshape, m.x, new_sizes=m.params["new_sizes"], dimensions=None)


X, Y, C = var("x"), var("y"), const("c")

Rewrite = Callable[[Match], "Atom | None"]

# (pattern, rewrite): the pattern's outermost prim is the op being rewritten.
RULES: list[tuple[Pat, Rewrite]] = [
    # Arithmetic identities (see the module docstring for the floating-point exceptions).
    (op(P.add, X, C), lambda m: m.x if _add_identity(m.value("c")) else None),  # x + 0 -> x
    (op(P.add, C, X), lambda m: m.x if _add_identity(m.value("c")) else None),  # 0 + x -> x
    (op(P.sub, X, C), lambda m: m.x if _sub_identity(m.value("c")) else None),  # x - 0 -> x
    (op(P.mul, X, C), lambda m: m.x if _is(m.value("c"), 1) else None),         # x * 1 -> x
    (op(P.mul, C, X), lambda m: m.x if _is(m.value("c"), 1) else None),         # 1 * x -> x
    (op(P.div, X, C), lambda m: m.x if _is(m.value("c"), 1) else None),         # x / 1 -> x
    (op(P.mul, X, C), lambda m: m.full(0)                                       # x * 0 -> 0
     if _is_int(m.out) and _is(m.value("c"), 0) else None),                    #   (ints only)
    (op(P.mul, C, X), lambda m: m.full(0)                                       # 0 * x -> 0
     if _is_int(m.out) and _is(m.value("c"), 0) else None),                    #   (ints only)
    (op(P.sub, X, X), lambda m: m.full(0) if _is_int(m.out) else None),         # x - x -> 0
    (op(P.xor, X, X), lambda m: m.full(0)),                                     # x ^ x -> 0
    (op(P.max, X, X), lambda m: m.x),                                           # max(x, x) -> x
    (op(P.min, X, X), lambda m: m.x),                                           # min(x, x) -> x
    (op(P.and_, X, X), lambda m: m.x),                                          # x & x -> x
    (op(P.or_, X, X), lambda m: m.x),                                           # x | x -> x
    (op(P.neg, op(P.neg, X)), lambda m: m.x),                                   # -(-x) -> x
    (op(P.not_, op(P.not_, X)), lambda m: m.x),                                 # ~~x -> x
    (op(P.integer_pow, X), lambda m: m.x if m.params["y"] == 1 else None),      # x ** 1 -> x
    (op(P.integer_pow, X), lambda m: m.full(1)                                  # x ** 0 -> 1
     if m.params["y"] == 0 else None),                                          #   (nan**0 = 1)
    # Casts and index maps that do nothing. Where "same type" is the condition, the type
    # guard checks it: these ops are the identity whenever their output type is x's.
    (op(P.convert_element_type, X), lambda m: m.x),                   # convert(x: T, T) -> x
    (op(P.reshape, X), lambda m: m.x),                                # reshape(x, x.shape) -> x
    (op(P.broadcast_in_dim, X), lambda m: m.x),                       # bcast(x, x.shape) -> x
    (op(P.squeeze, X), lambda m: m.x),                                # squeeze(x, ()) -> x
    (op(P.slice, X), lambda m: m.x),                                  # x[0:n] -> x
    (op(P.dynamic_slice, X), lambda m: m.x),                          # x[i:i+n] (n = len) -> x
    (op(P.concatenate, X), lambda m: m.x),                            # concatenate([x]) -> x
    (op(P.transpose, X), lambda m: m.x                                # transpose(x, id) -> x
     if m.params["permutation"] == tuple(range(m.out.ndim)) else None),
    (op(P.rev, X), lambda m: m.x if not m.params["dimensions"] else None),  # rev(x, ()) -> x
    (op(P.pad, X, Y), lambda m: m.x                                   # pad(x, 0, 0, 0) -> x
     if all(c == (0, 0, 0) for c in m.params["padding_config"]) else None),
    # Chains of index maps collapse into one.
    (op(P.reshape, op(P.reshape, X, name="y")), _reshape_reshape),    # rs(rs(x)) -> rs(x)
    (op(P.transpose, op(P.transpose, X, name="y")), _transpose_transpose),  # Tq(Tp(x)) -> T(p.q)(x)
    (op(P.broadcast_in_dim, op(P.broadcast_in_dim, X, name="y")), _bcast_bcast),  # b(b(x)) -> b(x)
    # Selects.
    (op(P.select_n), _select_case),                                   # select_n(k, *cs) -> cs[k]
    (op(P.select_n), _all_cases_equal),                               # select_n(p, x, x) -> x
]


def _elementwise_splats(m: Match) -> Atom | None:
    # f(splat(a), splat(b)) -> splat(f(a, b)): fold on the scalars, whatever the shape.
    # Otherwise f(bcast(s), y) -> f(s, y): a rank-0 operand broadcasts implicitly, which
    # saves the broadcast op (one operand keeps the full shape so the result's does).
    values = [splat(a, m._producers) for a in m.root.inputs]
    if m.out.size and all(v is not None for v in values):
        with np.errstate(all="ignore"):
            value = reference[m.root.prim](*values, **m.params)
        return m.full(np.asarray(value, dtype=m.out.dtype))
    original = m.root.inputs
    scalars = list(original)
    for i, a in enumerate(original):
        src = m._producers.get(a) if isinstance(a, Var) else None
        if src is not None and src.prim is P.broadcast_in_dim and src.inputs[0].type.shape == ():
            scalars[i] = src.inputs[0]
    dropped = [i for i, (a, b) in enumerate(zip(scalars, original, strict=True)) if a is not b]
    if not dropped:
        return None
    # Drop every broadcast if the op still has the same type; otherwise keep one (which
    # one matters: select_n takes its shape from the cases, not the predicate).
    for keep in [None, *dropped]:
        inputs = tuple(original[i] if i == keep else a for i, a in enumerate(scalars))
        if dropped != [keep] and _infer(m.root.prim, inputs, m.params) == m.out:
            return m.emit(m.root.prim, *inputs, **m.params)
    return None


for _prim, _cls in fusion_class.items():
    if _cls is FusionClass.ELEMENTWISE:
        RULES.append((op(_prim), _elementwise_splats))  # f(bcast(s), y) -> f(s, y)
for _reduce in (P.reduce_sum, P.reduce_prod, P.reduce_max, P.reduce_min, P.reduce_and,
                P.reduce_or, P.reduce_xor):
    RULES.append((op(_reduce, X), lambda m: m.x if not m.params["axes"] else None))  # r(x, ()) -> x


def _index_rules(rules: list[tuple[Pat, Rewrite]]) -> dict[Primitive, list[tuple[Pat, Rewrite]]]:
    by_prim: dict[Primitive, list[tuple[Pat, Rewrite]]] = {}
    for pat, rewrite in rules:
        by_prim.setdefault(pat.prim, []).append((pat, rewrite))
    return by_prim


# ---------------------------------------------------------------------------------------------
# The sweep


def fold(op_: Op, max_size: int = 16) -> tuple[Literal, ...] | None:
    """The op's outputs as Literals if its operands are all Literals and outputs small."""
    if op_.regions or has_effects(op_) or op_.prim not in reference:
        return None
    if not all(isinstance(a, Literal) for a in op_.inputs):
        return None
    if any(v.type.size > max_size for v in op_.outputs):
        return None
    if op_.prim is P.broadcast_in_dim and op_.inputs[0].type.shape == ():
        return None  # a broadcast scalar is the canonical form of a splat constant: keep it
    try:
        with np.errstate(all="ignore"):
            out = reference[op_.prim](*(a.value for a in op_.inputs), **op_.params)
    except Exception:  # noqa: BLE001 - an op the reference cannot fold is simply kept
        return None
    outs = out if op_.prim.multiple_results else (out,)
    # np.array copies: the literal must not alias a broadcast view or an input.
    return tuple(Literal(np.array(o, dtype=v.type.dtype).reshape(v.type.shape), v.type)
                 for o, v in zip(outs, op_.outputs, strict=True))


@dataclass
class _Sweep:
    max_fold_size: int
    rules: dict[Primitive, list[tuple[Pat, Rewrite]]]
    subst: dict[Var, Atom] = field(default_factory=dict)
    producers: dict[Var, Op] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    changed: bool = False

    def sub(self, a: Atom) -> Atom:
        return self.subst.get(a, a) if isinstance(a, Var) else a

    def keep(self, op_: Op) -> None:
        self.ops.append(op_)
        self.producers.update((v, op_) for v in op_.outputs)

    def replace(self, old: Var, new: Atom) -> None:
        self.subst[old] = new
        self.changed = True

    def visit(self, op_: Op) -> None:
        inputs = tuple(self.sub(a) for a in op_.inputs)
        if any(a is not b for a, b in zip(inputs, op_.inputs, strict=True)):
            op_ = op_.replace(inputs=inputs)
            self.changed = True
        if op_.regions:
            self.visit_regions(op_)
            return
        folded = fold(op_, self.max_fold_size)
        if folded is not None:
            for v, lit in zip(op_.outputs, folded, strict=True):
                self.replace(v, lit)
            return
        if len(op_.outputs) == 1 and not has_effects(op_):
            for pat, rewrite in self.rules.get(op_.prim, ()):
                m = Match(op_, self.producers)
                if not _match_args(pat, op_, m):
                    continue
                try:
                    result = rewrite(m)
                except Decline:
                    continue
                # The type guard: a rewrite never changes the output type.
                if result is None or result.type != op_.out.type:
                    continue
                for new in m.emitted:  # emitted ops get simplified (and folded) too
                    self.visit(new)
                self.replace(op_.out, self.sub(result))
                return
        self.keep(op_)

    def visit_regions(self, op_: Op) -> None:
        original = op_.regions
        regions = tuple(simplify_function(r, self.max_fold_size, self.rules) for r in original)
        if any(a is not b for a, b in zip(regions, original, strict=True)):
            op_ = op_.replace(regions=regions)
            self.changed = True
        if op_.prim is P.fusion and regions[0] is not original[0]:
            # Judge the kernel by the ops that still matter.
            op_ = op_.replace(regions=(eliminate_dead_code(op_.regions[0]),))
            if _degenerate(op_.regions[0]):
                self.inline(op_)
                return
        self.keep(op_)

    def inline(self, op_: Op) -> None:
        # A fusion whose region shrank below two ops, or whose result became a parameter
        # or a literal, is no longer a kernel worth its name: put its ops back in line.
        # Fresh output Vars: the region's own may be shared with another op's region.
        (region,) = op_.regions
        self.subst.update(zip(region.params, op_.inputs, strict=True))
        for inner in region.ops:
            fresh = tuple(Var(v.type) for v in inner.outputs)
            self.visit(inner.replace(outputs=fresh))
            for old, new in zip(inner.outputs, fresh, strict=True):
                self.subst[old] = self.sub(new)
        for v, r in zip(op_.outputs, region.results, strict=True):
            self.replace(v, self.sub(r))


def _degenerate(region: Function) -> bool:
    defined = {v for o in region.ops for v in o.outputs}
    return len(region.ops) < 2 or any(r not in defined for r in region.results
                                       if isinstance(r, Var)) \
        or any(isinstance(r, Literal) for r in region.results)


def simplify_function(fn: Function, max_fold_size: int = 16,
                      rules: dict[Primitive, list[tuple[Pat, Rewrite]]] | None = None,
                      ) -> Function:
    """``fn`` with constants folded and ``RULES`` applied; ``fn`` itself if nothing changed."""
    sweep = _Sweep(max_fold_size, _RULES_BY_PRIM if rules is None else rules)
    for op_ in fn.ops:
        sweep.visit(op_)
    if not sweep.changed:
        return fn
    return fn.replace(ops=tuple(sweep.ops), results=tuple(sweep.sub(a) for a in fn.results))


_RULES_BY_PRIM = _index_rules(RULES)


@register_pass
@dataclass(frozen=True)
class Simplify(Pass):
    """Fold constants and apply the algebraic rewrites of ``RULES``."""

    name = "simplify"
    max_fold_size: int = 16

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return simplify_function(fn, self.max_fold_size)
