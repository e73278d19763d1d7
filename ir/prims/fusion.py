"""The ``fusion`` op: a group of ops that the code generator emits as one loop nest.

``outs = fusion(*inputs) { region }`` where the region's parameters receive the
inputs and its results are the outputs. The fusion pass creates these; nothing
else does. The region holds elementwise and index-map ops and, at most, one
reduction, which must be its single result (the loop then runs over the
reduction's input shape).
"""

from __future__ import annotations

from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

fusion = primitive("fusion", multiple_results=True, fusion=FusionClass.OPAQUE)


def _fusion_rule(*in_types: TensorType, regions) -> tuple[TensorType, ...]:
    (body,) = regions
    if tuple(in_types) != body.in_types:
        raise TypeError(f"fusion: inputs {in_types} do not match the region's parameters "
                        f"{body.in_types}")
    return body.out_types


abstract_eval[fusion] = _fusion_rule
