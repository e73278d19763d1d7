"""Cumulative reductions along one axis: ``cumsum``, ``cumprod``, ``cummax``, ``cummin`` and
``cumlogsumexp`` (JAX's primitives of those names).

``prim[axis, reverse](x)`` has ``x``'s type; element ``i`` along ``axis`` combines elements
``0..i`` (with ``reverse``, elements ``i..n-1``) by the primitive's binary operation, left to
right from the first one (right to left with ``reverse``). The axis is non-negative, as
XLA's; the frontend normalises negative ones. As in JAX, every numeric dtype is accepted
and bool is not; ``cumlogsumexp`` also takes floating values only (JAX's accepts integers
at the type level and then fails in its lowering).

Each is its own kernel (FusionClass.OPAQUE): a sequential loop along the axis.
"""

from __future__ import annotations

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, Primitive, abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = ["CUMULATIVE", "cumlogsumexp", "cummax", "cummin", "cumprod", "cumsum"]

cumsum = primitive("cumsum", fusion=FusionClass.OPAQUE)
cumprod = primitive("cumprod", fusion=FusionClass.OPAQUE)
cummax = primitive("cummax", fusion=FusionClass.OPAQUE)
cummin = primitive("cummin", fusion=FusionClass.OPAQUE)
cumlogsumexp = primitive("cumlogsumexp", fusion=FusionClass.OPAQUE)

# Every cumulative primitive, in one order the rule modules share.
CUMULATIVE: tuple[Primitive, ...] = (cumsum, cumprod, cummax, cummin, cumlogsumexp)


def _cumulative_rule(name: str, kinds: str):
    def rule(x: TensorType, *, axis: int, reverse: bool) -> TensorType:
        kind = "b" if dtypes.is_bool(x.dtype) else dtypes.kind(x.dtype)
        if kind not in "fciu":
            raise TypeError(f"{name} does not accept dtype {x.dtype}. Accepted dtypes are "
                            "subtypes of number.")
        if kind not in kinds:
            raise TypeError(f"{name} does not accept dtype {x.dtype}. Accepted dtypes are "
                            "floating-point types.")
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(f"{name}: axis must be an int, got {axis!r}")
        if axis < 0:
            raise ValueError("XLA operations do not allow negative axes")
        if axis >= x.ndim:
            raise ValueError(f"axis {axis} is out of bounds for array of shape {x.shape}")
        return TensorType(x.shape, x.dtype, x.weak)

    return rule


for _p in (cumsum, cumprod, cummax, cummin):
    abstract_eval[_p] = _cumulative_rule(_p.name, "fciu")
abstract_eval[cumlogsumexp] = _cumulative_rule("cumlogsumexp", "f")
