"""Calling Python from llax programs: ``debug.print``, ``debug.callback``, ``pure_callback``
and ``io_callback`` (JAX's API).

Each flattens its arguments (any pytree of arrays and scalars) and binds one host-callback
op (llax.ir.prims.callbacks) whose ``callback`` param rebuilds the pytree from the arrays
the op receives and calls the user's function. Eagerly the op runs at once; under ``jit``
the compiled code calls back into Python (llax.codegen.callbacks), taking the GIL only for
the call. The callback gets read-only NumPy arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from llax.config import config
from llax.frontend.core import bind
from llax.frontend.tree_util import tree_flatten, tree_leaves, tree_unflatten
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.types import TensorType
from llax.transforms import callback_rules  # noqa: F401  (registers JVP and batching rules)

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized", None)


def _operands(args: tuple, kwargs: dict) -> tuple[list[Any], Any]:
    """The leaves of ``(args, kwargs)`` as llax values, and the tree to rebuild them."""
    from llax.frontend.jnp import asarray

    leaves, tree = tree_flatten((args, kwargs))
    return [asarray(x) for x in leaves], tree


def _caller(callback: Callable, tree: Any) -> Callable[..., Any]:
    """``callback`` taking the flat arrays of ``tree``'s leaves."""

    def flat(*arrays: np.ndarray) -> Any:
        args, kwargs = tree_unflatten(tree, arrays)
        return callback(*args, **kwargs)

    flat.__name__ = getattr(callback, "__name__", "callback")
    flat.__qualname__ = getattr(callback, "__qualname__", flat.__name__)
    return flat


def debug_callback(callback: Callable[..., None] | None = None, *args: Any,
                   ordered: bool = False, partitioned: bool = False,
                   **kwargs: Any) -> Callable[..., None] | None:
    """Call ``callback(*args, **kwargs)`` with the arguments' values, for its effect.

    Under ``jit`` it runs each time the compiled function runs; under ``vmap`` once per
    example; under ``grad`` with the primal values. ``ordered=True`` keeps it in program
    order with the other ordered callbacks. With no ``callback``, returns a decorator.
    """
    if callback is None:
        return functools.partial(debug_callback, ordered=ordered, partitioned=partitioned)
    if not callable(callback):
        raise TypeError(f"debug.callback: callback must be callable, got {callback!r}")
    operands, tree = _operands(args, kwargs)
    bind(P.debug_callback, operands, {"callback": _caller(callback, tree),
                                      "ordered": bool(ordered)})
    return None


class _Blank:
    """Stands for an argument when a format string is checked: formats as nothing."""

    def __format__(self, spec: str) -> str:
        return ""


def debug_print(fmt: str, *args: Any, ordered: bool = False, partitioned: bool = False,
                skip_format_check: bool = False, **kwargs: Any) -> None:
    """Print ``fmt.format(*args, **kwargs)`` with the arguments' values (NumPy arrays),
    eagerly and from compiled code alike."""
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print: fmt must be a str, got {type(fmt).__name__}")
    if not skip_format_check:
        # str.format's own errors (a missing positional or keyword argument), raised now,
        # where the program is written, not when the compiled code prints.
        blank = _Blank()
        fmt.format(*[blank] * len(args), **{k: blank for k in kwargs})
    operands, tree = _operands(args, kwargs)

    def show(*arrays: np.ndarray) -> None:
        a, k = tree_unflatten(tree, arrays)
        print(fmt.format(*a, **k))

    bind(P.debug_print, operands, {"callback": show, "fmt": fmt, "ordered": bool(ordered)})


def _result_avals(result_shape_dtypes: Any, who: str) -> tuple[list[TensorType], Any]:
    leaves, tree = tree_flatten(result_shape_dtypes)
    avals = []
    for leaf in leaves:
        try:
            shape, dtype = tuple(leaf.shape), np.dtype(leaf.dtype)
        except (AttributeError, TypeError):
            raise TypeError(f"{who}: result_shape_dtypes must be a pytree of values with "
                            f".shape and .dtype (e.g. ShapeDtypeStruct), got {leaf!r}") from None
        if dtype.itemsize == 8 and dtypes.kind(dtype) in "iuf" and not config.jax_enable_x64:
            raise ValueError("result_shape_dtypes cannot specify 64-bit types when "
                             "`jax_enable_x64` is disabled")
        avals.append(TensorType(shape, dtype))
    return avals, tree


def _returning(callback: Callable, tree: Any) -> Callable[..., list[Any]]:
    """``callback`` on flat arrays, returning the leaves of its result."""
    call = _caller(callback, tree)

    def flat(*arrays: np.ndarray) -> list[Any]:
        return tree_leaves(call(*arrays))

    flat.__name__, flat.__qualname__ = call.__name__, call.__qualname__
    return flat


def _bind_returning(prim: Any, who: str, callback: Callable, result_shape_dtypes: Any,
                    args: tuple, kwargs: dict, params: dict) -> Any:
    if not callable(callback):
        raise TypeError(f"{who}: callback must be callable, got {callback!r}")
    avals, out_tree = _result_avals(result_shape_dtypes, who)
    operands, tree = _operands(args, kwargs)
    outs = bind(prim, operands, {"callback": _returning(callback, tree),
                                 "result_avals": tuple(avals), **params})
    return tree_unflatten(out_tree, outs)


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None, **kwargs: Any) -> Any:
    """Call a side-effect-free Python function from llax code: ``callback(*args, **kwargs)``
    must return arrays matching ``result_shape_dtypes``. Unused results may skip the call;
    ``vmap_method`` says how it is batched (JAX's options)."""
    if vmap_method not in VMAP_METHODS:
        raise ValueError(f"vmap_method must be on of the allowed methods {list(VMAP_METHODS)}, "
                         f"but got: {vmap_method}")
    return _bind_returning(P.pure_callback, "pure_callback", callback, result_shape_dtypes,
                           args, kwargs, {"vmap_method": vmap_method})


def io_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                sharding: Any = None, ordered: bool = False, **kwargs: Any) -> Any:
    """Call a Python function with effects (I/O, state) from llax code; it always runs, in
    program order among ordered callbacks when ``ordered=True``."""
    return _bind_returning(P.io_callback, "io_callback", callback, result_shape_dtypes,
                           args, kwargs, {"ordered": bool(ordered)})


def effects_barrier() -> None:
    """Wait until every callback issued so far has run (JAX's ``effects_barrier``). llax runs
    callbacks synchronously, inside the call that issues them, so there is nothing to wait
    for."""


__all__ = ["debug_callback", "debug_print", "effects_barrier", "io_callback", "pure_callback"]
