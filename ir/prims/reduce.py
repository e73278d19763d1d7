"""Reductions over axes, arg-reductions, and dot_general (a contraction)."""

from __future__ import annotations

import enum

import numpy as np

from llax.ir import dtypes
from llax.ir.parser import PARAM_ENUMS
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.prims.shape import _check_axes
from llax.ir.types import TensorType

RED = FusionClass.REDUCTION


def _reduced_shape(name: str, x: TensorType, axes: tuple[int, ...]) -> tuple[int, ...]:
    _check_axes(name, axes, x.ndim)
    return tuple(n for i, n in enumerate(x.shape) if i not in axes)


def _reduce_rule(name: str, kinds: str):
    def rule(x: TensorType, *, axes: tuple[int, ...]) -> TensorType:
        kind = "b" if dtypes.is_bool(x.dtype) else dtypes.kind(x.dtype)
        if kind not in kinds:
            raise TypeError(f"{name} does not accept dtype {x.dtype}")
        return TensorType(_reduced_shape(name, x, axes), x.dtype, x.weak)

    return rule


def _reductions(names: str, kinds: str) -> list:
    prims = []
    for name in names.split():
        p = primitive(name, fusion=RED)
        abstract_eval[p] = _reduce_rule(name, kinds)
        prims.append(p)
    return prims


reduce_sum, reduce_prod = _reductions("reduce_sum reduce_prod", "fciu")
reduce_max, reduce_min = _reductions("reduce_max reduce_min", "fiub")
reduce_and, reduce_or, reduce_xor = _reductions("reduce_and reduce_or reduce_xor", "iub")


# argmax/argmin[axes, index_dtype](x): a single axis, first occurrence wins, NaN counts as max.
argmax = primitive("argmax", fusion=RED)
argmin = primitive("argmin", fusion=RED)


def _arg_rule(name: str):
    def rule(x: TensorType, *, axes: tuple[int, ...], index_dtype: np.dtype) -> TensorType:
        if len(axes) != 1:
            raise ValueError(f"{name} takes exactly one axis, got {axes}")
        if x.shape[axes[0]] == 0:
            raise ValueError(f"{name}: attempt to get {name} of an empty sequence "
                             f"(axis {axes[0]} of shape {x.shape})")
        if not dtypes.is_int(index_dtype):
            raise TypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        if dtypes.is_complex(x.dtype):  # JAX's refuse complex (no order on them in lax)
            raise TypeError(f"{name} does not accept dtype {x.dtype}")
        return TensorType(_reduced_shape(name, x, axes), index_dtype)

    return rule


abstract_eval[argmax] = _arg_rule("argmax")
abstract_eval[argmin] = _arg_rule("argmin")


class Precision(enum.Enum):
    """JAX's ``lax.Precision`` (its members, numbers and spellings): the speed/accuracy
    trade-off of matrix products on accelerators. ``dot_general`` records it, as JAX's
    jaxprs do; on the CPU every product computes in full precision, as XLA's CPU backend
    does, whatever it says."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value: object) -> Precision | None:
        return PRECISION_NAMES.get(value)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Precision.{self.name}"

    def __str__(self) -> str:
        return self.name


# The strings JAX accepts for each precision.
PRECISION_NAMES: dict[object, Precision] = {
    "highest": Precision.HIGHEST, "float32": Precision.HIGHEST, "high": Precision.HIGH,
    "bfloat16_3x": Precision.HIGH, "tensorfloat32": Precision.HIGH,
    "default": Precision.DEFAULT, "bfloat16": Precision.DEFAULT, "fastest": Precision.DEFAULT,
    None: Precision.DEFAULT,
}
PARAM_ENUMS["Precision"] = Precision  # the text format reads ``Precision.HIGHEST`` back


# dot_general[dimension_numbers=((lhs_contract, rhs_contract), (lhs_batch, rhs_batch)),
#             precision, preferred_element_type](lhs, rhs)
# out shape = batch dims + lhs free dims + rhs free dims, as in XLA.
dot_general = primitive("dot_general", fusion=FusionClass.OPAQUE)


def _dot_general_rule(lhs: TensorType, rhs: TensorType, *, dimension_numbers, precision=None,
                      preferred_element_type=None) -> TensorType:
    (lc, rc), (lb, rb) = dimension_numbers
    _check_axes("dot_general", tuple(lc) + tuple(lb), lhs.ndim, "lhs dimension")
    _check_axes("dot_general", tuple(rc) + tuple(rb), rhs.ndim, "rhs dimension")
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise TypeError(f"dot_general: dimension_numbers {dimension_numbers} pair up unequal "
                        "numbers of dimensions")
    for a, b in zip(tuple(lc) + tuple(lb), tuple(rc) + tuple(rb)):
        if lhs.shape[a] != rhs.shape[b]:
            raise TypeError(f"dot_general: incompatible shapes {lhs.shape} and {rhs.shape}: lhs "
                            f"dim {a} has size {lhs.shape[a]} but rhs dim {b} has size "
                            f"{rhs.shape[b]}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general: operand dtypes differ: {lhs.dtype} and {rhs.dtype}")
    batch = tuple(lhs.shape[a] for a in lb)
    lfree = tuple(n for i, n in enumerate(lhs.shape) if i not in lc and i not in lb)
    rfree = tuple(n for i, n in enumerate(rhs.shape) if i not in rc and i not in rb)
    dtype = lhs.dtype if preferred_element_type is None else preferred_element_type
    return TensorType(batch + lfree + rfree, dtype, lhs.weak and rhs.weak)


abstract_eval[dot_general] = _dot_general_rule
