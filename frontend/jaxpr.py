"""``make_jaxpr``'s result: views of a traced Function shaped like JAX's ClosedJaxpr.

Only views: they hold the Function and present JAX's field names
(``.jaxpr.eqns[i].primitive.name``, ``.invars``, ``.outvars``, ``.consts``...)
so code written against JAX's jaxpr API reads llax's IR unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llax.ir.core import Atom, Function, Op, Var
from llax.ir.primitive import Primitive, region_params
from llax.ir.types import TensorType


@dataclass(frozen=True)
class JaxprEqn:
    op: Op

    @property
    def primitive(self) -> Primitive:
        return self.op.prim

    @property
    def invars(self) -> list[Atom]:
        return list(self.op.inputs)

    @property
    def outvars(self) -> list[Var]:
        return list(self.op.outputs)

    @property
    def params(self) -> dict[str, Any]:
        """The op's params, and its regions as JAX's jaxpr-valued params (``jaxpr``,
        ``branches``, ``body_jaxpr``..., ``call_jaxpr`` of a custom function)."""
        params = dict(self.op.params)
        names = region_params.get(self.op.prim)
        regions = [ClosedJaxpr(r, []) for r in self.op.regions]
        if isinstance(names, str):
            params[names] = tuple(regions)
        elif names is not None:
            params.update(zip(names, regions))
        elif len(regions) == 1:
            params["call_jaxpr"] = regions[0]
        return params


class Jaxpr:
    def __init__(self, fn: Function, n_consts: int) -> None:
        self.function = fn
        self.n_consts = n_consts

    @property
    def constvars(self) -> list[Var]:
        return list(self.function.params[: self.n_consts])

    @property
    def invars(self) -> list[Var]:
        return list(self.function.params[self.n_consts:])

    @property
    def outvars(self) -> list[Atom]:
        return list(self.function.results)

    @property
    def eqns(self) -> list[JaxprEqn]:
        return [JaxprEqn(op) for op in self.function.ops]

    def __str__(self) -> str:
        from llax.frontend.jaxpr_text import jaxpr_text

        return jaxpr_text(self.function, self.n_consts)

    __repr__ = __str__

    def pretty_print(self, *, width: int = 80, **unused: Any) -> str:
        """The text, laid out for ``width`` columns (JAX's other options are accepted and
        change nothing: llax has no source info, name stacks or effects to show)."""
        from llax.frontend.jaxpr_text import jaxpr_text

        return jaxpr_text(self.function, self.n_consts, width=width)


class ClosedJaxpr:
    def __init__(self, fn: Function, consts: list[Any], out_tree: Any = None) -> None:
        self.jaxpr = Jaxpr(fn, len(consts))
        self.consts = consts
        self.out_tree = out_tree

    @property
    def in_avals(self) -> list[TensorType]:
        return [v.type for v in self.jaxpr.invars]

    @property
    def out_avals(self) -> list[TensorType]:
        return [a.type for a in self.jaxpr.outvars]

    @property
    def eqns(self) -> list[JaxprEqn]:
        return self.jaxpr.eqns

    def __str__(self) -> str:
        return str(self.jaxpr)

    __repr__ = __str__

    def pretty_print(self, *, width: int = 80, **unused: Any) -> str:
        return self.jaxpr.pretty_print(width=width, **unused)
