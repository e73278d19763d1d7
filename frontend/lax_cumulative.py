"""``lax``'s cumulative reductions: ``cumsum``, ``cumprod``, ``cummax``, ``cummin`` and
``cumlogsumexp``, with JAX's signatures ``f(operand, axis=0, reverse=False)``.

Each binds its primitive (llax.ir.prims.cumulative) as it is: no dtype promotion, and, as
in JAX, the axis must be non-negative and bools are refused. Importing this module also
registers the primitives' NumPy reference and their native lowering; ``llax.numpy``
registers their transformation rules.
"""

from __future__ import annotations

import operator
from typing import Any

import llax.ir.reference_cumulative  # noqa: F401  (registers the NumPy reference)
from llax.frontend.core import bind
from llax.frontend.jnp._coerce import as_array
from llax.ir import prims as P
from llax.ir.primitive import Primitive

__all__ = ["cumlogsumexp", "cummax", "cummin", "cumprod", "cumsum"]


def _cumulative(prim: Primitive, operand: Any, axis: int, reverse: bool) -> Any:
    x = as_array(operand, prim.name)
    return bind(prim, (x,), {"axis": operator.index(axis), "reverse": bool(reverse)})


def cumsum(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """The running sum of ``operand`` along ``axis`` (from the end if ``reverse``)."""
    return _cumulative(P.cumsum, operand, axis, reverse)


def cumprod(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """The running product of ``operand`` along ``axis`` (from the end if ``reverse``)."""
    return _cumulative(P.cumprod, operand, axis, reverse)


def cummax(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """The running maximum of ``operand`` along ``axis`` (NaN propagates)."""
    return _cumulative(P.cummax, operand, axis, reverse)


def cummin(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """The running minimum of ``operand`` along ``axis`` (NaN propagates)."""
    return _cumulative(P.cummin, operand, axis, reverse)


def cumlogsumexp(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """The running ``log(sum(exp(x)))`` of a float ``operand`` along ``axis``."""
    return _cumulative(P.cumlogsumexp, operand, axis, reverse)


# The native lowering. (The transformation rules, llax.transforms.cumulative_rules, build
# on the autodiff machinery, which imports llax.lax itself: llax.numpy imports them.)
import llax.codegen.cumulative  # noqa: E402,F401
