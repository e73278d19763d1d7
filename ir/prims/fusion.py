"""The ``fusion`` op: a group of ops that the code generator emits as one loop nest.

``outs = fusion(*inputs) { region }`` where the region's parameters receive the
inputs and its results are the outputs. The fusion pass creates these; nothing
else does. The region holds elementwise and index-map ops and, at most, one
reduction, which must be its single result (the loop then runs over the
reduction's input shape).
"""

from __future__ import annotations

from llax.ir.core import Function
from llax.ir.primitive import FusionClass, abstract_eval, fusion_class, primitive
from llax.ir.types import TensorType

fusion = primitive("fusion", multiple_results=True, fusion=FusionClass.OPAQUE)


def _fusion_rule(*in_types: TensorType, regions) -> tuple[TensorType, ...]:
    (body,) = regions
    if tuple(in_types) != body.in_types:
        raise TypeError(f"fusion: inputs {in_types} do not match the region's parameters "
                        f"{body.in_types}")
    return body.out_types


abstract_eval[fusion] = _fusion_rule


def reads_pointwise(region: Function, k: int) -> bool:
    """Whether parameter ``k`` of a fusion region reaches the results through elementwise
    ops only, so the loop reads each of its elements at the result's own index (an index
    map on the way, a flip say, would read elements already overwritten in place)."""
    reached = {region.params[k]}
    for op in region.ops:
        if any(a in reached for a in op.inputs):
            if fusion_class.get(op.prim) is not FusionClass.ELEMENTWISE:
                return False
            reached.update(op.outputs)
    return True
