"""Eigenvalues and eigenvectors of general (non-symmetric) matrices: ``eig`` and
``eigvals`` of ``llax.numpy.linalg`` and ``llax.lax.linalg.eig``, on the ``eig``
primitive (LAPACK's geev; results complex, in geev's order, vectors of unit 2-norm with
their largest component real)."""

from __future__ import annotations

from typing import Any, NamedTuple

import llax.transforms.linalg_rules  # noqa: F401  (registers the primitives' rules)
from llax.frontend.core import bind
from llax.frontend.jnp._linalg_coerce import square_inexact_stack
from llax.ir import prims as P


class EigResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


def lax_eig(x: Any, *, compute_left_eigenvectors: bool = True,
            compute_right_eigenvectors: bool = True, enable_eigvec_derivs: bool = False,
            implementation: Any = None, use_magma: bool | None = None) -> list[Any]:
    """``lax.linalg.eig``: ``[w, vl, vr]``, the eigenvector stacks only where asked for.
    (``implementation`` and ``use_magma`` choose GPU kernels in JAX; the CPU has one.)"""
    x = square_inexact_stack(x, "eig")
    params = {"compute_left_eigenvectors": bool(compute_left_eigenvectors),
              "compute_right_eigenvectors": bool(compute_right_eigenvectors),
              "enable_eigvec_derivs": bool(enable_eigvec_derivs), "implementation": None}
    return list(bind(P.eig, (x,), params))


def eig(a: Any) -> EigResult:
    """Eigenvalues ``w`` and right eigenvectors ``v`` (columns, ``a v = v diag(w)``) of each
    square matrix of a stack; complex64 for 32-bit input, complex128 for 64-bit."""
    w, v = lax_eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a: Any) -> Any:
    """The eigenvalues of each square matrix of a stack (complex, differentiable)."""
    return lax_eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]
