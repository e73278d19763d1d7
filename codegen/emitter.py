"""Per-element evaluation of a group of ops inside one loop nest.

``Emitter.emit(value, index)`` returns the LLVM value of ``value`` at ``index``,
memoised per (value, index): an elementwise op applies its scalar rule to its
operands at the same index (once for all of its outputs, which are all memoised); an
index-map op asks its rule, which maps the index to its operands' indices; a source
(a buffer or a literal) is a load. A fusion region and a lone op both go through here,
so there is one code path.

Indices are ``Index`` objects. The loop nest may coalesce trailing dimensions
into one induction variable (a "group"), so the innermost loop is long and
unit-stride; a dimension inside the group is only split out (udiv/urem) if some
index map needs it, and index maps that preserve the group's trailing layout
pass it through untouched (``Index.derive``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes
from llax.codegen.ltypes import i64
from llax.ir.core import Atom, Literal, Op, Var
from llax.ir.primitive import FusionClass, fusion_class

Dim = ir.Value | Callable[[], ir.Value]


class LoweringError(NotImplementedError):
    """An op the code generator cannot lower (no rule for its primitive)."""


def suffix_products(shape: Sequence[int]) -> list[int]:
    """prod(shape[s:]) for s = 0..ndim."""
    out = [1] * (len(shape) + 1)
    for d in range(len(shape) - 1, -1, -1):
        out[d] = out[d + 1] * shape[d]
    return out


def group_start(shape: Sequence[int], size: int) -> int | None:
    """The last s with prod(shape[s:]) == size (skipping leading size-1 dims), or None."""
    prods = suffix_products(shape)
    for s in range(len(shape), -1, -1):
        if prods[s] == size:
            return s
        if prods[s] > size:
            return None
    return None


class Index:
    """An element index into a value of a static shape, as i64 LLVM values.

    ``dims[d]`` is a value or a thunk producing one (evaluated at most once, only
    when needed). ``group = (start, iv)`` says dims ``start:`` are the row-major
    decomposition of ``iv``; their ``dims`` entries are ignored.
    """

    def __init__(self, b: ir.IRBuilder, shape: Sequence[int], dims: Sequence[Dim | None],
                 group: tuple[int, ir.Value] | None = None) -> None:
        self.b = b
        self.shape = tuple(shape)
        self._dims = list(dims)
        self.group = group
        self._cache: dict[int, ir.Value] = {}
        self._linear: ir.Value | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def group_size(self) -> int:
        """Elements covered by the group (1 without one)."""
        return math.prod(self.shape[self.group[0]:]) if self.group else 1

    def dim(self, d: int) -> ir.Value:
        if self.shape[d] == 1:
            return i64(0)
        v = self._cache.get(d)
        if v is not None:
            return v
        b = self.b
        if self.group is not None and d >= self.group[0]:
            start, v = self.group
            inner = math.prod(self.shape[d + 1:])
            if inner > 1:
                v = b.udiv(v, i64(inner))
            if math.prod(self.shape[start:d]) > 1:  # dims outside d in the group
                v = b.urem(v, i64(self.shape[d]))
        else:
            v = self._dims[d]
            if callable(v):
                v = v()
        self._cache[d] = v
        return v

    def outer_linear(self) -> ir.Value:
        """Row-major linear index of the dims before the group (all dims without one)."""
        b = self.b
        end = self.group[0] if self.group else self.ndim
        terms, stride = [], 1
        for d in range(end - 1, -1, -1):
            if self.shape[d] != 1:
                v = self.dim(d)
                terms.append(v if stride == 1 else b.mul(v, i64(stride), flags=["nuw", "nsw"]))
            stride *= self.shape[d]
        if not terms:
            return i64(0)
        acc = terms[0]
        for t in terms[1:]:
            acc = b.add(acc, t, flags=["nuw", "nsw"])
        return acc

    def linear(self) -> ir.Value:
        """Row-major linear index into the value's buffer."""
        if self._linear is None:
            b = self.b
            if self.group is None:
                self._linear = self.outer_linear()
            else:
                start, iv = self.group
                if all(n == 1 for n in self.shape[:start]):
                    self._linear = iv
                else:
                    outer = b.mul(self.outer_linear(), i64(self.group_size),
                                  flags=["nuw", "nsw"])
                    self._linear = b.add(outer, iv, flags=["nuw", "nsw"])
        return self._linear

    def derive(self, shape: Sequence[int], dims: Sequence[Dim], carries: bool) -> Index:
        """The operand index of an index map: ``dims`` per operand dim; ``carries`` says
        the map is the identity on the layout of this index's group, which is then kept.
        """
        if not shape:
            return Index(self.b, (), [])
        if carries and self.group is not None:
            start = group_start(shape, self.group_size)
            if start is not None:
                return Index(self.b, shape, dims, (start, self.group[1]))
        return Index(self.b, shape, dims)


class Emitter:
    """Emits the ops of one group, element by element, at the builder's position."""

    def __init__(self, b: ir.IRBuilder, ops: Sequence[Op],
                 sources: dict[Var, ir.Value | Literal],
                 literal_ptr: Callable[[Literal], ir.Value]) -> None:
        self.b = b
        self.sources = sources
        self.producer: dict[Var, Op] = {v: op for op in ops for v in op.outputs}
        self.literal_ptr = literal_ptr
        self.scalar = Index(b, (), [])
        self.memo: dict[tuple[int, int], tuple[ir.Value, Atom, Index]] = {}

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Values emitted inside (e.g. in an inner loop) are forgotten afterwards: they
        do not dominate the code that follows."""
        saved = dict(self.memo)
        try:
            yield
        finally:
            self.memo = saved

    def index_for(self, atom: Atom, index: Index) -> Index:
        """Rank-0 operands of an elementwise op are read at the scalar index."""
        return self.scalar if not atom.type.shape else index

    def emit(self, atom: Atom, index: Index) -> ir.Value:
        if not atom.type.shape:
            index = self.scalar
        key = (id(atom), id(index))
        hit = self.memo.get(key)
        if hit is not None:
            return hit[0]
        v = self._emit(atom, index)
        self.memo[key] = (v, atom, index)  # keep atom and index alive: ids stay unique
        return v

    def _emit(self, atom: Atom, index: Index) -> ir.Value:
        b = self.b
        if isinstance(atom, Literal):
            value = atom.value
            flat = value.reshape(-1)
            if flat.size and (flat.view(np.uint8).reshape(flat.size, -1) ==
                              flat[:1].view(np.uint8)).all():
                return ltypes.const(atom.type.dtype, flat[0])  # uniform: a constant
            return self.load(self.literal_ptr(atom), atom.type.dtype, index)
        ptr = self.sources.get(atom)
        if isinstance(ptr, Literal):  # a fusion input given inline
            return self.emit(ptr, index)
        if ptr is not None:
            return self.load(ptr, atom.type.dtype, index)
        op = self.producer.get(atom)
        if op is None:
            raise LoweringError(f"value {atom} has no producer in this group")
        cls = fusion_class[op.prim]
        if cls is FusionClass.ELEMENTWISE:
            from llax.codegen import scalar_rules

            if op.prim not in scalar_rules.RULES:
                raise LoweringError(f"no elementwise lowering rule for {op.prim.name!r}")
            args = [self.emit(a, self.index_for(a, index)) for a in op.inputs]
            values = scalar_rules.emit_outputs(b, op, args)
            # One evaluation serves every output at this index (threefry2x32's two words):
            # the others are memoised here, ``emit`` memoises ``atom``'s.
            for v, value in zip(op.outputs, values, strict=True):
                if v is not atom:
                    self.memo[(id(v), id(index))] = (value, v, index)
            return values[op.outputs.index(atom)]
        if cls is FusionClass.INDEX_MAP:
            from llax.codegen.index_rules import RULES

            rule = RULES.get(op.prim)
            if rule is None:
                raise LoweringError(f"no index-map lowering rule for {op.prim.name!r}")
            return rule.emit(self, op, index)
        raise LoweringError(f"{op.prim.name!r} ({cls.value}) cannot be evaluated per element; "
                            "it must be the result of its group")

    def load(self, ptr: ir.Value, dtype: np.dtype, index: Index) -> ir.Value:
        b = self.b
        addr = ptr if not index.shape else ltypes.element_ptr(b, ptr, dtype, index.linear())
        return ltypes.load(b, addr, dtype)

    def store(self, value: ir.Value, ptr: ir.Value, dtype: np.dtype, index: Index) -> None:
        b = self.b
        addr = ptr if not index.shape else ltypes.element_ptr(b, ptr, dtype, index.linear())
        ltypes.store(b, value, addr, dtype)


def loop_index(b: ir.IRBuilder, shape: Sequence[int], group_elems: int,
               ivs: Sequence[ir.Value]) -> Index:
    """The index for loop nest ``loop_shape(shape, group_elems)``'s induction variables."""
    if not shape:
        return Index(b, (), [])
    start = group_start(shape, group_elems)
    assert start is not None
    outer = [d for d in range(start) if shape[d] != 1]
    dims: list[Dim | None] = [None] * len(shape)
    for d, iv in zip(outer, ivs):
        dims[d] = iv
    group = (start, ivs[len(outer)]) if start < len(shape) else None
    return Index(b, shape, dims, group)


def loop_shape(shape: Sequence[int], group_elems: int) -> list[int]:
    """Trip counts: one loop per non-unit dim before the group, then one for the group."""
    start = group_start(shape, group_elems)
    assert start is not None
    sizes = [n for n in shape[:start] if n != 1]
    if start < len(shape):
        sizes.append(group_elems)
    return sizes


def _reachable_ops(results: Sequence[Atom], producer: dict[Var, Op]) -> list[Op]:
    seen: dict[int, Op] = {}
    stack = [a for a in results if isinstance(a, Var)]
    while stack:
        op = producer.get(stack.pop())
        if op is None or id(op) in seen:
            continue
        seen[id(op)] = op
        stack.extend(a for a in op.inputs if isinstance(a, Var))
    return list(seen.values())


def index_maps(ops: Sequence[Op], results: Sequence[Atom]) -> list[Op]:
    """The index-map ops that ``results`` depend on."""
    producer = {v: op for op in ops for v in op.outputs}
    return [op for op in _reachable_ops(results, producer)
            if fusion_class[op.prim] is FusionClass.INDEX_MAP]


def all_carry(maps: Sequence[Op], n: int) -> bool:
    """True if every index map passes a coalesced group of ``n`` elements through unsplit."""
    from llax.codegen.index_rules import RULES

    return all(op.prim in RULES and RULES[op.prim].carries(op, n) for op in maps)


def choose_group(shape: Sequence[int], ops: Sequence[Op], results: Sequence[Atom]) -> int:
    """Elements in the innermost (coalesced) loop: the longest trailing block of ``shape``
    that every index map reachable from ``results`` passes through unsplit."""
    nonunit = [d for d, n in enumerate(shape) if n != 1]
    if not nonunit:
        return 1
    prods = suffix_products(shape)
    smallest = prods[nonunit[-1]]  # one dim: never needs splitting
    maps = index_maps(ops, results)
    for s in range(len(shape)):
        if prods[s] <= smallest:
            break
        if all_carry(maps, prods[s]):
            return prods[s]
    return smallest
