"""Operands of the linear-algebra functions: a stack of float or complex matrices.

``_matrix_ops.matrix_stack`` accepts float32/float64 only (the decompositions written as
loops of llax operations need real numbers); the functions built on LAPACK primitives also
take complex64/complex128, as JAX's do, and check their operands here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array, convert
from llax.frontend.jnp._dtypes import to_inexact
from llax.frontend.jnp._matrix_ops import check_square

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


def square_stack(a: Any, name: str, symmetrize: bool) -> Any:
    """A stack of square float or complex matrices (``_matrix_ops.check_square``)."""
    return check_square(inexact_stack(a, name), name, symmetrize)


def adjoint(x: Any) -> Any:
    """The conjugate transpose of every matrix of a stack (the transpose for real ones)."""
    x = lax.transpose(x, (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))
    return lax.conj(x) if x.dtype.kind == "c" else x


def hermitian_part(x: Any) -> Any:
    """``(x + x^H) / 2``, the Hermitian (symmetric) part JAX factors by default."""
    half = lax.full(x.shape, np.asarray(0.5, x.dtype), x.dtype)
    return lax.mul(lax.add(x, adjoint(x)), half)


def mirrored(x: Any, lower: bool) -> Any:
    """The Hermitian matrix whose ``lower`` (or upper) triangle ``x`` holds: that triangle
    reflected (conjugated) onto the other one."""
    rows = lax.broadcasted_iota(np.int32, x.shape, x.ndim - 2)
    cols = lax.broadcasted_iota(np.int32, x.shape, x.ndim - 1)
    keep = lax.ge(rows, cols) if lower else lax.le(rows, cols)
    return lax.select(keep, x, adjoint(x))
