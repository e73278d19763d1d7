"""Operands of the linear-algebra functions: a stack of float or complex matrices.

``_matrix_ops.matrix_stack`` accepts float32/float64 only (the decompositions written as
loops of llax operations need real numbers); the functions built on LAPACK primitives also
take complex64/complex128, as JAX's do, and check their operands here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend.jnp._coerce import as_array, convert
from llax.frontend.jnp._dtypes import to_inexact

# The four LAPACK types; JAX's CPU kernels have no float16 or bfloat16 either.
INEXACT = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128))


def inexact_stack(a: Any, name: str) -> Any:
    """``a`` as a float or complex Array of rank >= 2 (integers and bools promote as in
    JAX)."""
    x = as_array(a, f"jnp.linalg.{name}")
    x = convert(x, *to_inexact(x.dtype, x.weak_type))
    if x.ndim < 2:
        raise TypeError(f"Input 0 to {name} must have rank at least 2, but got "
                        f"shape={tuple(x.shape)}")
    if np.dtype(x.dtype) not in INEXACT:
        raise NotImplementedError(f"jnp.linalg.{name}: unsupported dtype {x.dtype}")
    return x


def square_inexact_stack(a: Any, name: str) -> Any:
    x = inexact_stack(a, name)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"Argument to {name}() must have shape [..., n, n], got "
                         f"{tuple(x.shape)}")
    return x
