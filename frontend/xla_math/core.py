"""What the XLA-numerics modules share: the fused multiply-add, Horner's rule, constants."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir import prims as P


def fma(x: Any, y: Any, z: Any) -> Any:
    """``x * y + z`` rounded once, as XLA computes it: its CPU compiler contracts a multiply
    feeding an add into a fused multiply-add. Operands share a float dtype; each has the
    result's shape or rank 0. float16 is not fused: XLA computes each float16 op in float32
    and rounds it back, so the product is rounded before the add."""
    if np.dtype(x.dtype).itemsize < 4:
        return lax.add(lax.mul(x, y), z)
    return bind(P.fma, (x, y, z), {})


def horner(coeffs: tuple[float, ...], x: Any) -> Any:
    """The polynomial with ``coeffs`` (highest degree first) at ``x``, in fused steps."""
    p = const(coeffs[0], x.dtype)
    for c in coeffs[1:]:
        p = fma(p, x, const(c, x.dtype))
    return p


def const(value: float, dtype: Any) -> Any:
    """A scalar of ``dtype`` (a literal in the traced program)."""
    return lax.full((), value, dtype)


def flush_denormals(x: Any) -> Any:
    """``x`` with subnormal values replaced by zero of the same sign (XLA's CPU code runs with
    denormals flushed)."""
    tiny = const(np.finfo(x.dtype).tiny, x.dtype)
    return lax.select(lax.lt(lax.abs(x), tiny), lax.mul(x, const(0.0, x.dtype)), x)


def narrow_floats_in_float32(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` on float16 operands in float32 and round its result once, as XLA's CPU
    backend computes every op of a narrow float type."""

    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        dtype = np.dtype(args[0].dtype)
        if dtype.itemsize >= 4:
            return fn(*args)
        wide = [lax.convert_element_type(a, np.float32) for a in args]
        return lax.convert_element_type(fn(*wide), dtype)

    return wrapped
