"""JVP, transpose and batching rules of the cumulative reductions (ir.prims.cumulative).

Imported by llax.frontend.lax_cumulative, which registers them with the transformations.

- ``cumsum`` is linear: its tangent is the cumsum of the tangent, and its transpose sums
  cotangents from the other end, a cumsum in the opposite direction.
- ``cumprod``, ``cummax``, ``cummin`` and ``cumlogsumexp`` are differentiated as JAX does:
  through the parallel prefix scan (``lax.associative_scan``) of their binary operation,
  whose elementwise ops all have rules. That gives the derivative wherever the product
  has zeros, and splits the derivative of tied maxima as ``lax.max``'s rule does. The
  primal result is the primitive's own (one sequential pass, not the scan's rounding).
- Batching: the operation acts along one axis, so the batch axis stays where it is and the
  reduced axis is renumbered past it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llax.frontend import lax
from llax.frontend.control_flow import associative_scan
from llax.frontend.core import aval_of, bind
from llax.ir import prims as P
from llax.ir.primitive import Primitive
from llax.transforms.batching import batching_rules
from llax.transforms.jvp import jvp_function, jvp_rules
from llax.transforms.jvp_rules import linear_jvp
from llax.transforms.staging import build_closed_function, call_function
from llax.transforms.transpose import transpose_rules


def _logaddexp(x: Any, y: Any) -> Any:
    from llax.frontend.jnp._ufuncs import _logaddexp as stable_logaddexp

    return stable_logaddexp(x, y)


# The binary operation each primitive accumulates with.
COMBINE: dict[Primitive, Callable[[Any, Any], Any]] = {
    P.cumsum: lax.add, P.cumprod: lax.mul, P.cummax: lax.max, P.cummin: lax.min,
    P.cumlogsumexp: _logaddexp,
}


# --- JVP -----------------------------------------------------------------------------------

jvp_rules[P.cumsum] = linear_jvp(P.cumsum)


def _scan_jvp(prim: Primitive):
    combine = COMBINE[prim]

    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        y = bind(prim, (x,), {"axis": axis, "reverse": reverse})

        def scan(v: Any) -> list[Any]:
            return [associative_scan(combine, v, reverse=reverse, axis=axis)]

        scan_fn, captured = build_closed_function(scan, [aval_of(x)], f"{prim.name}_scan")
        jvp_fn, consts = jvp_function(scan_fn, [False] * len(captured) + [True])
        _, tangent = call_function(jvp_fn, [*consts, *captured, x, t])
        return y, tangent

    return rule


for _p in (P.cumprod, P.cummax, P.cummin, P.cumlogsumexp):
    jvp_rules[_p] = _scan_jvp(_p)


# --- transpose -----------------------------------------------------------------------------

def _cumsum_transpose(ct, x, *, axis, reverse):
    return [bind(P.cumsum, (ct,), {"axis": axis, "reverse": not reverse})]


transpose_rules[P.cumsum] = _cumsum_transpose


# --- batching ------------------------------------------------------------------------------

def _batch(prim: Primitive):
    def rule(args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        shifted = axis + 1 if d <= axis else axis
        return bind(prim, (x,), {"axis": shifted, "reverse": reverse}), d

    return rule


for _p in P.CUMULATIVE:
    batching_rules[_p] = _batch(_p)
