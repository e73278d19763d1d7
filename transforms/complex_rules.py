"""JVP, transpose and batching rules of the complex primitives (complex, real, imag, conj),
and of abs on complex operands.

The four primitives are linear over the reals, so each tangent is the primitive applied to
the tangents. Their transposes follow JAX's convention: plain transposes of R-linear maps
(no conjugation added), so ``grad`` of a real-valued function of a complex input gives the
conjugate of the usual gradient, as JAX's does: real's transpose embeds the cotangent as
``complex(ct, 0)``, imag's as ``complex(0, -ct)``, complex's splits into ``real(ct)`` and
``-imag(ct)``, conj's is conj.
"""

from __future__ import annotations

from typing import Any

from llax.frontend import lax
from llax.frontend.core import bind
from llax.ir import dtypes
from llax.ir import prims as P
from llax.transforms.batching import batching_rules
from llax.transforms.jvp import jvp_rules
from llax.transforms.transpose import is_linear, transpose_rules
from llax.transforms.transpose_rules import unbroadcast

_NO_PARAMS: dict = {}


def _b(prim, *args: Any) -> Any:
    return bind(prim, args, _NO_PARAMS)


def conj(x: Any) -> Any:
    """``conj`` with JAX's param."""
    return bind(P.conj, (x,), {"input_dtype": x.dtype})


def _zeros_of(x: Any) -> Any:
    return lax.full_like(x, 0.0)


# --- JVP -----------------------------------------------------------------------------------

def _unary_linear_jvp(prim):
    def rule(primals, tangents, **params):
        (t,) = tangents
        out = bind(prim, primals, params)
        return out, None if t is None else bind(prim, (t,), params)

    return rule


for _p in (P.real, P.imag, P.conj):
    jvp_rules[_p] = _unary_linear_jvp(_p)


def _complex_jvp(primals, tangents):
    x, y = primals
    tx, ty = tangents
    out = _b(P.complex, x, y)
    if tx is None and ty is None:
        return out, None
    shape = out.shape

    def spread(t: Any, like: Any) -> Any:
        t = _zeros_of(like) if t is None else t
        return t if tuple(t.shape) == tuple(shape) else lax.broadcast_in_dim(t, shape, ())

    return out, _b(P.complex, spread(tx, x), spread(ty, y))


jvp_rules[P.complex] = _complex_jvp

_real_abs_jvp = jvp_rules[P.abs]


def _abs_jvp(primals, tangents):
    (x,) = primals
    if not dtypes.is_complex(x.dtype):
        return _real_abs_jvp(primals, tangents)
    (t,) = tangents
    y = _b(P.abs, x)
    # d|x| = Re(conj(x) dx) / |x|, taken as 0 at x = 0 (JAX's choice).
    safe = lax.select(lax.eq(y, 0.0), lax.full_like(y, 1.0), y)
    direction = lax.div(conj(x), _b(P.complex, safe, _zeros_of(safe)))
    return y, _b(P.real, lax.mul(t, direction))


jvp_rules[P.abs] = _abs_jvp


# --- transpose -----------------------------------------------------------------------------

def _real_t(ct, x):
    return [_b(P.complex, ct, _zeros_of(ct))]


def _imag_t(ct, x):
    return [_b(P.complex, _zeros_of(ct), lax.neg(ct))]


def _conj_t(ct, x, **params):
    return [conj(ct)]


def _complex_t(ct, x, y):
    return [unbroadcast(_b(P.real, ct), x) if is_linear(x) else None,
            unbroadcast(lax.neg(_b(P.imag, ct)), y) if is_linear(y) else None]


transpose_rules[P.real] = _real_t
transpose_rules[P.imag] = _imag_t
transpose_rules[P.conj] = _conj_t
transpose_rules[P.complex] = _complex_t


# --- batching ------------------------------------------------------------------------------

def _unary_batch(prim):
    def rule(args, dims, **params):
        return bind(prim, args, params), dims[0]

    return rule


for _p in (P.real, P.imag, P.conj):
    batching_rules[_p] = _unary_batch(_p)


def _complex_batch(args, dims):
    from llax.transforms.batching_rules import align_elementwise

    args, d = align_elementwise(args, dims)
    return _b(P.complex, *args), d


batching_rules[P.complex] = _complex_batch
