"""The counter-based random bit generator: ``threefry2x32`` (JAX's primitive of that name).

``threefry2x32(k0, k1, x0, x1) -> (y0, y1)`` applies the Threefry-2x32 block cipher
(20 rounds, Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11)
with the key ``(k0, k1)`` to each counter pair ``(x0[i], x1[i])``. All four operands
are uint32; like every elementwise op, they have equal shapes or rank 0. It is
elementwise with two results, so the fusion pass may put it in a loop with the
iota that makes its counters and the arithmetic that turns its bits into numbers.
"""

from __future__ import annotations

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.prims.elementwise import _common_shape
from llax.ir.types import TensorType

threefry2x32 = primitive("threefry2x32", multiple_results=True, fusion=FusionClass.ELEMENTWISE)

# The cipher's constants: the key-schedule parity word and the rotation distances, the
# first four for rounds 1-4 of every odd group, the last four for the even groups.
KEY_PARITY = 0x1BD11BDA
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _threefry_rule(*types: TensorType) -> tuple[TensorType, TensorType]:
    if len(types) != 4:
        raise TypeError(f"threefry2x32 takes 4 operands (k0, k1, x0, x1), got {len(types)}")
    for name, t in zip(("k0", "k1", "x0", "x1"), types):
        if t.dtype != dtypes.uint32:
            raise TypeError(f"threefry2x32: operand {name} must be uint32, got {t.dtype}")
    out = TensorType(_common_shape("threefry2x32", types), dtypes.uint32)
    return out, out


abstract_eval[threefry2x32] = _threefry_rule
