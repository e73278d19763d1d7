"""The IR's data structures: values, ops and functions.

A ``Function`` is typed SSA: parameters, ops in a valid (topological) order,
results. Every object here is immutable; passes build new functions rather than
editing old ones. ``Var`` hashes by identity, so a value is the same value only
if it is the same object, and names exist only when printing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from llax.ir.types import TensorType

if TYPE_CHECKING:
    from llax.ir.primitive import Primitive


class Var:
    """An SSA value. Identity is the value: two Vars are never equal unless identical."""

    __slots__ = ("type",)

    def __init__(self, type: TensorType) -> None:
        self.type = type

    @property
    def aval(self) -> TensorType:
        """JAX's name for a jaxpr variable's type."""
        return self.type

    def __repr__(self) -> str:
        return f"Var({self.type}@{id(self):x})"


@dataclass(frozen=True, slots=True, eq=False)
class Literal:
    """A constant operand written inline in the IR (Python scalars, small folded constants)."""

    value: np.ndarray
    type: TensorType

    @staticmethod
    def of(value: Any, type: TensorType) -> Literal:
        return Literal(np.asarray(value, dtype=type.dtype).reshape(type.shape), type)

    @property
    def aval(self) -> TensorType:
        return self.type

    def key(self) -> tuple:
        """Equality key: same type and same bits (so nan == nan and 0.0 != -0.0)."""
        return (self.type, self.value.tobytes())

    def __repr__(self) -> str:
        return f"Literal({self.value!r}:{self.type})"


Atom = Var | Literal


class Params(Mapping):
    """An immutable, hashable mapping of an op's static parameters.

    Values must be hashable: ints, floats, bools, strings, None, numpy dtypes and
    tuples of those. The hash is computed once because CSE and the jit cache hash
    params often.
    """

    __slots__ = ("_items", "_dict", "_hash")

    def __init__(self, items: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        d = dict(items or {}, **kwargs)
        self._dict = d
        self._items = tuple(sorted(d.items()))
        self._hash = hash(self._items)

    def __getitem__(self, key: str) -> Any:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Params) and self._items == other._items

    def replace(self, **changes: Any) -> Params:
        return Params(self._dict, **changes)

    def __repr__(self) -> str:
        return f"Params({dict(self._items)})"


EMPTY_PARAMS = Params()

# The op param through which the ``inplace`` pass records buffer reuse (see
# llax.passes.inplace): ``aliases=((output, operand), ...)``. It decides where a value is
# stored, never what it is, so the rules of a primitive never see it (``Op.rule_params``).
ALIASES = "aliases"


@dataclass(frozen=True, slots=True, eq=False)
class Op:
    """One operation: ``outputs = prim[params](inputs) { regions }``.

    Regions are sub-functions (branches, loop bodies, fused kernels); an op that
    has them interprets them according to its primitive.
    """

    prim: Primitive
    inputs: tuple[Atom, ...]
    outputs: tuple[Var, ...]
    params: Params = EMPTY_PARAMS
    regions: tuple[Function, ...] = ()

    @property
    def rule_params(self) -> Params:
        """The params that give the op its meaning: all but the buffer assignment."""
        params = self.params
        return params if ALIASES not in params else Params(
            {k: v for k, v in params.items() if k != ALIASES})

    @property
    def aliases(self) -> tuple[tuple[int, int], ...]:
        """``(output, operand)`` pairs: the output is written into that operand's buffer."""
        return self.params.get(ALIASES, ())

    @property
    def out(self) -> Var:
        """The single output of a one-result op."""
        (v,) = self.outputs
        return v

    def replace(self, **changes: Any) -> Op:
        fields = {"prim": self.prim, "inputs": self.inputs, "outputs": self.outputs,
                  "params": self.params, "regions": self.regions}
        fields.update(changes)
        return Op(**fields)


@dataclass(frozen=True, slots=True, eq=False)
class Function:
    """A typed SSA function: ``params -> results`` computed by ``ops`` in order."""

    params: tuple[Var, ...]
    ops: tuple[Op, ...]
    results: tuple[Atom, ...]
    name: str = "main"

    @property
    def in_types(self) -> tuple[TensorType, ...]:
        return tuple(v.type for v in self.params)

    @property
    def out_types(self) -> tuple[TensorType, ...]:
        return tuple(v.type for v in self.results)

    def replace(self, **changes: Any) -> Function:
        fields = {"params": self.params, "ops": self.ops, "results": self.results,
                  "name": self.name}
        fields.update(changes)
        return Function(**fields)

    def __str__(self) -> str:
        from llax.ir.printer import print_function

        return print_function(self)


def alias_roots(fn: Function) -> dict[Var, Var]:
    """Each value of ``fn`` that an ``aliases`` param stores in another's buffer -> the value
    that buffer first belonged to (following chains of aliases; regions not included)."""
    root: dict[Var, Var] = {}
    for op in fn.ops:
        for out, k in op.aliases:
            root[op.outputs[out]] = root.get(op.inputs[k], op.inputs[k])
    return root


def renamed(fn: Function) -> Function:
    """A copy of ``fn`` with fresh variables throughout, regions included: what an op needs
    when it would otherwise share a region (and so its variables) with another op."""
    env: dict[Var, Var] = {}

    def fresh(v: Var) -> Var:
        env[v] = Var(v.type)
        return env[v]

    def sub(a: Atom) -> Atom:
        return env.get(a, a) if isinstance(a, Var) else a

    params = tuple(fresh(v) for v in fn.params)
    ops = []
    for op in fn.ops:
        inputs = tuple(sub(a) for a in op.inputs)
        ops.append(op.replace(inputs=inputs, regions=tuple(renamed(r) for r in op.regions),
                              outputs=tuple(fresh(v) for v in op.outputs)))
    return fn.replace(params=params, ops=tuple(ops), results=tuple(sub(r) for r in fn.results))


def walk_ops(fn: Function) -> Iterator[Op]:
    """Every op of ``fn``, including those nested in regions, outermost first."""
    for op in fn.ops:
        yield op
        for region in op.regions:
            yield from walk_ops(region)
