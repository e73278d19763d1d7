"""Primitives and the rule tables that give them meaning.

A ``Primitive`` is only a name. What it means lives in tables keyed by the
primitive, one table per interpretation (autodidax style):

- ``abstract_eval`` here: input types + params -> output types (shape/dtype inference);
- ``reference`` (llax.ir.reference): a NumPy implementation, used eagerly and as an oracle;
- ``fusion_class`` here: how the fusion pass may group it;
- lowering to LLVM (llax.codegen), JVP/transpose (autodiff), batching (vmap)
  live beside their transformation.

Rules are plain functions ``rule(*inputs, **params)``, each written right above
its one-line registration.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from llax.ir.types import TensorType


class Primitive:
    __slots__ = ("name", "multiple_results")

    def __init__(self, name: str, multiple_results: bool = False) -> None:
        self.name = name
        self.multiple_results = multiple_results

    def __repr__(self) -> str:
        return self.name

    def bind(self, *args, **params):
        """Apply the primitive: eagerly on concrete arrays, or staged into the current trace."""
        return _binder(self, args, params)


def _no_binder(prim: Primitive, args: tuple, params: dict):
    raise RuntimeError(f"cannot bind {prim.name}: no binder is installed (import llax first)")


# How ``Primitive.bind`` applies a primitive. The IR does not know about traces: the frontend,
# a layer above, installs its ``bind`` here when it is imported (``set_binder``).
_binder: Callable[[Primitive, tuple, dict], Any] = _no_binder


def set_binder(binder: Callable[[Primitive, tuple, dict], Any]) -> None:
    """Make ``Primitive.bind`` call ``binder(prim, args, params)``."""
    global _binder
    _binder = binder


class FusionClass(enum.Enum):
    ELEMENTWISE = "elementwise"  # out[i] = f(in0[i], in1[i], ...)
    INDEX_MAP = "index_map"      # out[i] = in[g(i)]: broadcasts, views, gathers
    REDUCTION = "reduction"      # out[i] = reduce over a slice of in
    OPAQUE = "opaque"            # its own kernel (matmul, ...)


# Threads: these tables, and every other rule table (reference, jvp_rules, batching_rules,
# ...), are filled when their modules are imported and only read afterwards. Python's import
# lock runs a module's body once, and a thread importing a module another thread is
# importing waits for it to finish, so no thread sees a half-filled table.
PRIMITIVES: dict[str, Primitive] = {}
abstract_eval: dict[Primitive, Callable[..., tuple[TensorType, ...]]] = {}
fusion_class: dict[Primitive, FusionClass] = {}
# Ops whose regions print as params, as JAX prints its jaxpr-valued params: a tuple of names
# gives one param per region (``while``: cond_jaxpr, body_jaxpr); a single name, one param
# holding the tuple of all regions (``cond``: branches).
region_params: dict[Primitive, tuple[str, ...] | str] = {}


def primitive(name: str, *, multiple_results: bool = False,
              fusion: FusionClass = FusionClass.OPAQUE) -> Primitive:
    """Create and register a primitive under its (JAX) name."""
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} is already registered")
    prim = Primitive(name, multiple_results)
    PRIMITIVES[name] = prim
    fusion_class[prim] = fusion
    return prim


def infer_types(prim: Primitive, in_types: tuple[TensorType, ...], params,
                regions: tuple = ()) -> tuple[TensorType, ...]:
    """Run the abstract-evaluation rule; always returns a tuple of output types.

    Ops with regions (fusion, control flow) get them as the ``regions`` keyword.
    """
    try:
        rule = abstract_eval[prim]
    except KeyError:
        raise NotImplementedError(
            f"primitive {prim.name!r} has no abstract evaluation rule") from None
    if "aliases" in params:  # buffer assignment (ir.core.ALIASES) is no part of the type
        params = {k: v for k, v in params.items() if k != "aliases"}
    out = rule(*in_types, regions=regions, **params) if regions else rule(*in_types, **params)
    out = tuple(out) if prim.multiple_results else (out,)
    for t in out:
        if t.nbytes > MAX_BYTES:
            raise ValueError(_too_large(prim, t))
    return out


# Native code indexes every array with 64-bit byte offsets, so no value may be larger than
# this: a bigger shape would wrap its element count and loop for ever (or address garbage).
MAX_BYTES = (1 << 63) - 1


def _too_large(prim: Primitive, t: TensorType) -> str:
    return (f"{prim.name}: the result shape {t.shape} of {t.dtype} has {t.size} elements "
            f"({t.nbytes} bytes), more than 64-bit indexing can address (at most {MAX_BYTES} "
            "bytes)")
