"""Collectives over named mapped axes: ``psum``, ``pmax``, ``pmin`` and ``axis_index``.

They only mean something inside a transformation that binds the axis name
(``vmap(f, axis_name="i")`` now, ``pmap`` later): the batching pass replaces a
collective over its own axis by a reduction over the batch dimension (or an
``iota`` for ``axis_index``) and leaves collectives over other names to the
enclosing transformation. A collective that survives every transformation
names an unbound axis: evaluating it raises NameError, as in JAX, and the code
generator has no rule for it.

psum/pmax/pmin[axes](x): ``axes`` is the tuple of axis names reduced over.
axis_index[axis_name](): the int32 position along the named axis.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = ["COLLECTIVES", "axis_index", "axis_names", "pmax", "pmin", "psum", "unbound_axis"]

psum = primitive("psum", fusion=FusionClass.OPAQUE)
pmax = primitive("pmax", fusion=FusionClass.OPAQUE)
pmin = primitive("pmin", fusion=FusionClass.OPAQUE)
axis_index = primitive("axis_index", fusion=FusionClass.OPAQUE)
COLLECTIVES = (psum, pmax, pmin, axis_index)


def axis_names(params) -> tuple[Hashable, ...]:
    """The axis names a collective's params refer to."""
    return tuple(params["axes"]) if "axes" in params else (params["axis_name"],)


def _reduction_rule(name: str, kinds: str):
    def rule(x: TensorType, *, axes: tuple[Hashable, ...]) -> TensorType:
        if not isinstance(axes, tuple) or not axes:
            raise TypeError(f"{name}: axes must be a non-empty tuple of axis names, got {axes!r}")
        kind = "b" if dtypes.is_bool(x.dtype) else dtypes.kind(x.dtype)
        if kind not in kinds:
            raise TypeError(f"{name} does not accept dtype {x.dtype}")
        return x

    return rule


abstract_eval[psum] = _reduction_rule("psum", "fiu")
abstract_eval[pmax] = _reduction_rule("pmax", "fiub")
abstract_eval[pmin] = _reduction_rule("pmin", "fiub")


def _axis_index_rule(*, axis_name: Hashable) -> TensorType:
    return TensorType((), np.dtype(np.int32))


abstract_eval[axis_index] = _axis_index_rule


def unbound_axis(*args, axes: tuple[Hashable, ...] = (), axis_name: Hashable = None):
    """The reference implementation of every collective: reaching it means no
    transformation bound the axis (JAX raises the same NameError)."""
    name = axes[0] if axes else axis_name
    raise NameError(f"unbound axis name: {name}")
