"""Jacobians and Hessians: a vmap of ``jvp`` over the standard basis of the inputs
(``jacfwd``) or of a ``vjp`` pullback over that of the outputs (``jacrev``).

Results nest as JAX's do: the output structure outside, the input structure inside,
each block of shape ``output shape + input shape``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.frontend.autodiff import (
    _argnums_tuple,
    _check_argnums,
    _check_leaf,
    _leaf_function,
    _name,
    check_holomorphic_inputs,
    check_output_dtype,
    jvp,
    vjp,
)
from llax.frontend.core import Array, aval_of
from llax.frontend.tree_util import PyTreeDef, tree_flatten, tree_unflatten
from llax.ir import dtypes
from llax.ir.types import TensorType
from llax.transforms.jvp import has_tangent


def _jacobian_args(name: str, args: tuple, argnums: int | Sequence[int],
                   allow_int: bool = False, holomorphic: bool = False
                   ) -> tuple[list[int], list[Any], PyTreeDef]:
    nums = _argnums_tuple(argnums)
    _check_argnums(nums, len(args))
    picked = [i % len(args) for i in nums]
    dyn = [args[i] for i in picked]
    leaves, tree = tree_flatten(dyn[0] if isinstance(argnums, int) else tuple(dyn))
    leaves = [_check_leaf(x) for x in leaves]
    if holomorphic:
        check_holomorphic_inputs(name, [aval_of(x) for x in leaves])
        return picked, leaves, tree
    for x in leaves:
        t = aval_of(x)
        if dtypes.is_float(t.dtype) or allow_int:
            continue
        if name == "jacrev" and dtypes.is_complex(t.dtype):  # reverse mode takes them
            continue
        if name == "jacrev":  # the same wording as grad's, as in JAX
            raise TypeError(
                "jacrev requires real- or complex-valued inputs (input dtype that is a "
                f"sub-dtype of np.inexact), but got {t.dtype.name}. If you want to use "
                "Boolean- or integer-valued inputs, use vjp or set allow_int to True.")
        raise TypeError(f"{name} requires real-valued inputs (input dtype that is a "
                        f"sub-dtype of np.floating), but got {t.dtype.name}. For "
                        "holomorphic differentiation, pass holomorphic=True. For "
                        "differentiation of non-holomorphic functions involving complex "
                        "inputs or integer inputs, use jax.jvp directly.")
    return picked, leaves, tree


def _basis(types: Sequence[TensorType]) -> list[Any]:
    """The standard basis of the flattened (inexact) values of ``types``, split per value:
    value j gets shape (N, *shape_j) and its own dtype, where N is the total size."""
    total = sum(t.size for t in types)
    out, start = [], 0
    for t in types:
        block = np.eye(total, dtype=t.dtype)[:, start:start + t.size]
        out.append(Array(np.ascontiguousarray(block).reshape(total, *t.shape)))
        start += t.size
    return out


def _split(flat: Any, types: Sequence[TensorType], first: bool) -> list[Any]:
    """Cut ``flat``'s first (or last) axis, the flattened values of ``types``, into one
    slice per type."""
    parts, start = [], 0
    for t in types:
        parts.append(flat[start:start + t.size] if first else flat[..., start:start + t.size])
        start += t.size
    return parts


def _assemble(rows: list[list[Any]], out_tree: PyTreeDef, in_tree: PyTreeDef) -> Any:
    """Nest the blocks ``rows[i][j]`` (output leaf i, input leaf j) as JAX does: the output
    structure outside, the input structure inside."""
    return tree_unflatten(out_tree, [tree_unflatten(in_tree, row) for row in rows])


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable:
    """The Jacobian of ``fun`` by forward mode: one JVP per input element, batched.

    Integer outputs get blocks of integer zeros, as in JAX."""
    from llax.frontend.vmap import vmap

    @functools.wraps(fun)
    def jacfun(*args, **kwargs):
        picked, leaves, in_tree = _jacobian_args("jacfwd", args, argnums,
                                                 holomorphic=holomorphic)
        f = _leaf_function(fun, args, kwargs, picked, isinstance(argnums, int), in_tree)
        types = [aval_of(x) for x in leaves]
        outs: dict[str, Any] = {}

        def pushforward(*tangents):
            result = jvp(f, tuple(leaves), tuple(tangents), has_aux=has_aux)
            out_leaves, outs["tree"] = tree_flatten(result[0])
            outs["types"] = [aval_of(o) for o in out_leaves]
            if holomorphic:
                for o in outs["types"]:
                    check_output_dtype("jacfwd", o.dtype, True)
            floats = [t for t, o in zip(tree_flatten(result[1])[0], outs["types"])
                      if has_tangent(o)]
            return (floats, result[2]) if has_aux else floats

        result = vmap(pushforward, out_axes=(-1, None) if has_aux else -1)(*_basis(types))
        tangents, aux = result if has_aux else (result, None)
        tangents = iter(tangents)
        rows = []
        for o in outs["types"]:  # each float output's tangents: (*out shape, N_in)
            parts = _split(next(tangents), types, first=False) if has_tangent(o) else None
            rows.append([_int_zeros((*o.shape, *t.shape), o) if parts is None else
                         _reshape(p, (*o.shape, *t.shape)) for p, t in zip(parts or types, types)])
        jac = _assemble(rows, outs["tree"], in_tree)
        return (jac, aux) if has_aux else jac

    return jacfun


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False) -> Callable:
    """The Jacobian of ``fun`` by reverse mode: one VJP per output element, batched.

    Integer inputs (with ``allow_int``) get blocks of integer zeros, as in JAX."""
    from llax.frontend.vmap import vmap

    @functools.wraps(fun)
    def jacfun(*args, **kwargs):
        picked, leaves, in_tree = _jacobian_args("jacrev", args, argnums, allow_int,
                                                 holomorphic)
        f = _leaf_function(fun, args, kwargs, picked, isinstance(argnums, int), in_tree)
        in_types = [aval_of(x) for x in leaves]
        result = vjp(f, *leaves, has_aux=has_aux)
        out, f_vjp = result[0], result[1]
        out_leaves, out_tree = tree_flatten(out)
        if not out_leaves:  # JAX raises ValueError too (from its result_type)
            raise ValueError("jacrev needs a function with at least one array output, but "
                             f"{_name(fun)} returned {out!r}, which has none.")
        out_types = [aval_of(o) for o in out_leaves]
        for o in out_types:
            check_output_dtype("jacrev", o.dtype, holomorphic)

        def pullback(*cts):
            in_cts = f_vjp(tree_unflatten(out_tree, cts))
            return [c for c, t in zip(in_cts, in_types) if has_tangent(t)]

        # Per differentiable input leaf: (N_out, *in_shape).
        in_cts = iter(vmap(pullback)(*_basis(out_types)) if out_types else ())
        rows = [[None] * len(in_types) for _ in out_types]
        for j, t in enumerate(in_types):
            parts = iter(_split(next(in_cts), out_types, first=True)) if has_tangent(t) else None
            for i, o in enumerate(out_types):
                rows[i][j] = (_int_zeros((*o.shape, *t.shape), t) if parts is None
                              else _reshape(next(parts), (*o.shape, *t.shape)))
        jac = _assemble(rows, out_tree, in_tree)
        return (jac, result[2]) if has_aux else jac

    return jacfun


def _int_zeros(shape: tuple[int, ...], like: TensorType) -> Array:
    """A Jacobian block for an integer output (jacfwd) or input (jacrev, allow_int): zeros of
    its dtype, as JAX returns them."""
    return Array(np.zeros(shape, like.dtype), like.weak)


def _reshape(x: Any, shape: tuple[int, ...]) -> Any:
    from llax.frontend import jnp

    return jnp.reshape(x, shape)


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False) -> Callable:
    """The Hessian of scalar ``fun``: forward over reverse mode."""
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)
