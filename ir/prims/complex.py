"""Complex-number primitives, named as JAX's: ``complex`` (from real and imaginary parts),
``real``, ``imag`` and ``conj``.

``complex(x, y)`` takes two float operands of one dtype (rank 0 broadcasts, as for the
other elementwise primitives) and gives the complex dtype whose parts they are; ``real``
and ``imag`` go back; ``conj`` maps a complex dtype to itself.
"""

from __future__ import annotations

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.prims.elementwise import _check_kind, _common_dtype, _common_shape
from llax.ir.types import TensorType

__all__ = ["complex", "real", "imag", "conj"]

EW = FusionClass.ELEMENTWISE

complex = primitive("complex", fusion=EW)  # noqa: A001 - JAX's name for the primitive
real = primitive("real", fusion=EW)
imag = primitive("imag", fusion=EW)
conj = primitive("conj", fusion=EW)


def _complex_rule(x: TensorType, y: TensorType) -> TensorType:
    shape = _common_shape("complex", (x, y))
    dtype = _common_dtype("complex", (x, y))
    if dtype not in (dtypes.float32, dtypes.float64):
        raise TypeError(f"complex takes float32 or float64 parts, got {dtype}")
    return TensorType(shape, dtypes.complex_of(dtype), x.weak and y.weak)


def _part_rule(name: str):
    def rule(x: TensorType) -> TensorType:
        _check_kind(name, x.dtype, "c")
        return TensorType(x.shape, dtypes.real_part(x.dtype), x.weak)

    return rule


def _conj_rule(x: TensorType, *, input_dtype=None) -> TensorType:
    _check_kind("conj", x.dtype, "c")
    return x


abstract_eval[complex] = _complex_rule
abstract_eval[real] = _part_rule("real")
abstract_eval[imag] = _part_rule("imag")
abstract_eval[conj] = _conj_rule
