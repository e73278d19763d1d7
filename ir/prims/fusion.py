"""The ``fusion`` op: a group of ops that the code generator emits as one loop nest.

``outs = fusion(*inputs) { region }`` where the region's parameters receive the
inputs and its results are the outputs. The fusion passes create these; nothing
else does. The region holds elementwise and index-map ops and, at most, one
reduction, which must be its single result (the loop then runs over the
reduction's input shape).

An *epilogue region* (passes/fuse_epilogue.py) instead starts with one op of a
primitive in ``EPILOGUE_PRODUCERS`` (a convolution) reading region parameters; the ops
after it are as above without a reduction, read its output only through elementwise
ops, and every result has its output's shape. The code generator applies them to each
block of the producer's output as it is computed.
"""

from __future__ import annotations

from llax.ir.core import Function, Op
from llax.ir.primitive import FusionClass, Primitive, abstract_eval, fusion_class, primitive
from llax.ir.types import TensorType

fusion = primitive("fusion", multiple_results=True, fusion=FusionClass.OPAQUE)

# Opaque primitives whose lowering can apply an elementwise epilogue to its output
# (each registers itself beside its definition).
EPILOGUE_PRODUCERS: set[Primitive] = set()


def epilogue_head(region: Function) -> Op | None:
    """The producer that opens an epilogue region, or None for an ordinary region."""
    if region.ops and region.ops[0].prim in EPILOGUE_PRODUCERS:
        return region.ops[0]
    return None


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
