"""Host callbacks: ops whose meaning is a Python function called with the operands' values.

Four primitives, JAX's names, one shape: ``prim[callback, ...](*operands) -> results``.
``callback`` is a flat host function, ``callback(*arrays) -> sequence of arrays`` (or
None when there are no results), held in the params; compiled code calls it through the
host-callback runtime (llax.codegen.callbacks), eager code and the interpreter directly.

- ``debug_print[callback, fmt, ordered]``: prints; no results (``llax.debug.print``).
- ``debug_callback[callback, ordered]``: calls for its effect; no results.
- ``pure_callback[callback, result_avals, vmap_method]``: returns ``result_avals``; pure,
  so unused ones are removed and equal ones merged like any op.
- ``io_callback[callback, result_avals, ordered]``: returns ``result_avals``, with effects.

The effectful three are never removed or merged (passes/dce.EFFECTFUL), and no pass
changes the order of ops with effects, so ordered callbacks run in program order (and,
today, unordered ones do too; JAX only promises it for ``ordered=True``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llax.ir import dtypes
from llax.ir.primitive import FusionClass, abstract_eval, primitive
from llax.ir.types import TensorType

__all__ = ["debug_print", "debug_callback", "pure_callback", "io_callback", "CALLBACKS",
           "EFFECTFUL_CALLBACKS", "run_callback", "CallbackResultError"]

debug_print = primitive("debug_print", multiple_results=True, fusion=FusionClass.OPAQUE)
debug_callback = primitive("debug_callback", multiple_results=True, fusion=FusionClass.OPAQUE)
pure_callback = primitive("pure_callback", multiple_results=True, fusion=FusionClass.OPAQUE)
io_callback = primitive("io_callback", multiple_results=True, fusion=FusionClass.OPAQUE)

CALLBACKS = frozenset({debug_print, debug_callback, pure_callback, io_callback})
EFFECTFUL_CALLBACKS = frozenset({debug_print, debug_callback, io_callback})


def _no_results(*operands: TensorType, callback: Callable, **params: Any) -> tuple:
    return ()


def _declared_results(*operands: TensorType, callback: Callable,
                      result_avals: tuple[TensorType, ...], **params: Any
                      ) -> tuple[TensorType, ...]:
    return tuple(result_avals)


abstract_eval[debug_print] = _no_results
abstract_eval[debug_callback] = _no_results
abstract_eval[pure_callback] = _declared_results
abstract_eval[io_callback] = _declared_results


class CallbackResultError(RuntimeError):
    """A callback returned values that do not match its declared results."""


def run_callback(callback: Callable, operands: Sequence[np.ndarray],
                 result_avals: Sequence[TensorType] = ()) -> list[np.ndarray]:
    """Call ``callback`` with read-only copies of ``operands`` and check what it returns
    against ``result_avals`` (count, shape, dtype), as JAX checks it.

    A result of a wider type than declared (a Python float for float32, an int64 for int32)
    is accepted when it narrows to the declared dtype (without x64), as JAX accepts it; any
    other dtype is an error.
    """
    args = []
    for a in operands:
        a = np.array(a, copy=True)
        a.flags.writeable = False  # the callback sees a value, not llax's buffer
        args.append(a)
    out = callback(*args)
    if not result_avals:
        return []
    results = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(results) != len(result_avals):
        raise CallbackResultError("Mismatched number of outputs from callback. "
                                  f"Expected: {len(result_avals)}, Actual: {len(results)}")
    checked = []
    for k, (r, t) in enumerate(zip(results, result_avals)):
        r = np.asarray(r)
        if r.shape != t.shape:
            raise CallbackResultError(f"Incorrect output shape for return value #{k}: "
                                      f"Expected: {t.shape}, Actual: {r.shape}")
        if r.dtype != t.dtype and _canonical(r.dtype) != t.dtype:
            raise CallbackResultError(f"Incorrect output dtype for return value #{k}: "
                                      f"Expected: {t.dtype}, Actual: {r.dtype}")
        checked.append(np.asarray(r, dtype=t.dtype, order="C"))
    return checked


def _canonical(dtype: np.dtype) -> np.dtype | None:
    try:
        return dtypes.canonicalize(dtype)
    except TypeError:  # object, str...: no llax dtype at all
        return None
