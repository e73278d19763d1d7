"""The one type of the IR: a tensor with a static shape, a dtype and a weak flag.

``weak`` marks values that came from Python scalars; JAX's promotion lets them
take the dtype of the other operand (``int8_array + 1 -> int8``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from llax.ir import dtypes


@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: np.dtype
    weak: bool = False

    def __post_init__(self) -> None:
        # Normalise so equal types compare and hash equal whatever the caller passed.
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def with_shape(self, shape: tuple[int, ...]) -> TensorType:
        return TensorType(shape, self.dtype, self.weak)

    def with_dtype(self, dtype: np.dtype, weak: bool = False) -> TensorType:
        return TensorType(self.shape, dtype, weak)

    def strong(self) -> TensorType:
        return TensorType(self.shape, self.dtype, False) if self.weak else self

    def __str__(self) -> str:
        text = f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"
        return text + "{weak}" if self.weak else text

    __repr__ = __str__


def scalar(dtype: np.dtype, weak: bool = False) -> TensorType:
    return TensorType((), dtype, weak)
