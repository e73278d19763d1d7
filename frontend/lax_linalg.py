"""``llax.lax.linalg``: the linear-algebra primitives as functions (JAX's
``jax.lax.linalg``): ``lu``, ``triangular_solve``, ``lu_pivots_to_permutation``, ``eig``,
``geqrf``, ``householder_product``, ``qr``."""

from __future__ import annotations

from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.jnp._eig import lax_eig as eig
from llax.frontend.jnp._lu import lu, triangular_solve
from llax.frontend.jnp._triangular import geqrf, householder_product
from llax.frontend.jnp._triangular import lax_qr as qr

__all__ = ["eig", "geqrf", "householder_product", "lu", "lu_pivots_to_permutation", "qr",
           "triangular_solve"]


def lu_pivots_to_permutation(pivots: Any, permutation_size: int) -> Any:
    """The permutation that LAPACK-style row swaps ``pivots`` (``(..., k)``, int32) make of
    ``range(permutation_size)``."""
    pivots = lax.convert_element_type(pivots, np.int32)
    *batch, k = pivots.shape
    perm = lax.broadcasted_iota(np.int32, (*batch, permutation_size), len(batch))
    for j in range(k):  # k is static: each swap is a pair of gathers on the small vector
        p = lax.slice_in_dim(pivots, j, j + 1, axis=len(batch))
        at_j = lax.slice_in_dim(perm, j, j + 1, axis=len(batch))
        idx = lax.broadcasted_iota(np.int32, perm.shape, len(batch))
        at_p = lax.reduce_sum(lax.select(lax.eq(idx, lax.broadcast_in_dim(
            p, perm.shape, tuple(range(len(batch) + 1)))), perm, lax.full(perm.shape, 0,
                                                                         np.int32)),
            (len(batch),))
        at_p = lax.expand_dims(at_p, (len(batch),))
        perm = lax.select(lax.eq(idx, lax.full(perm.shape, j, np.int32)),
                          lax.broadcast_in_dim(at_p, perm.shape, tuple(range(len(batch) + 1))),
                          lax.select(lax.eq(idx, lax.broadcast_in_dim(
                              p, perm.shape, tuple(range(len(batch) + 1)))),
                              lax.broadcast_in_dim(at_j, perm.shape,
                                                   tuple(range(len(batch) + 1))), perm))
    return perm
