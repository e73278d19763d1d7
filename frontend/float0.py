"""float0: JAX's dtype of the tangent of an integer or boolean value (no bytes per element).

Float0 arrays are NumPy arrays; no llax value has this dtype. A function that returns
some (``jvp`` of integer outputs, ``grad(..., allow_int=True)``) under ``jit`` hands
them back as structure rather than as results: ``float0_outputs_as_structure``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend.tree_util import register_pytree_node, tree_flatten, tree_unflatten

float0 = np.dtype([("float0", np.void, 0)])


def is_float0(x: Any) -> bool:
    """Whether ``x`` is a float0 array."""
    return isinstance(x, np.ndarray) and x.dtype == float0


class Float0Output:
    """A float0 array in the output of a traced function: float0 holds no data, so it is a
    pytree node with no children, and unflattening the results makes the float0 zeros
    again (NumPy arrays, as JAX returns them)."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def __repr__(self) -> str:
        return f"Float0Output({self.shape})"


register_pytree_node(Float0Output, lambda x: ((), x.shape),
                     lambda shape, _: np.zeros(shape, dtype=float0))


def float0_outputs_as_structure(out: Any) -> Any:
    """``out`` with every float0 array replaced by a ``Float0Output``."""
    leaves, tree = tree_flatten(out)
    if not any(map(is_float0, leaves)):
        return out
    return tree_unflatten(tree, [Float0Output(x.shape) if is_float0(x) else x for x in leaves])
