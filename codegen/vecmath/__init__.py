"""Branch-free elementwise math emitted as LLVM IR.

``emit_<op>(builder, x) -> value`` appends IR computing ``op(x)`` at the
builder's position; ``emit_atan2(builder, x1, x2)`` and ``emit_pow(builder, x,
y)`` take two operands of the same type.  ``x`` is a ``float`` or ``double``
value, or a vector of either (``<8 x float>``), and the result has the same
type.  ``EMITTERS`` maps JAX's lax primitive names to the emitters.
``atan2(x1, x2)`` is numpy.arctan2 / lax.atan2: the angle of the point (x2, x1).

The code is arithmetic, ``select``, integer bit manipulation and only
intrinsics that LLVM vectorises (``llvm.fma``, ``llvm.fabs``, ``llvm.floor``,
``llvm.rint``, ``llvm.sqrt``, ``llvm.copysign``), and no int<->float conversions
that lack AVX2 vector forms. One family reads a table: float64 ``log`` (and so
``log1p``) looks up 1/c and log(c) by the mantissa's top bits (tables.py,
log_table.py), loads that LLVM vectorises as gathers.  So an elementwise
loop that calls an emitter is vectorised by LLVM's loop vectoriser, unlike a
loop calling ``llvm.exp`` & co., which stays a scalar libm call per element.
The one exception is the rare path of sin, cos and tan for huge arguments: a
branch to a scalar function that vectorised loops reach through a masked
vector call, only for the lanes that need it (rare_lanes.py).

One module per family, each with its own coefficient tables, the fits that
made them, and its accuracy table (maximum error in ulps, float32 and
float64, over every binade; the tests assert them):

    core.py          formats, exact constants, the IR builder, double-words
    exp_log.py       exp, exp2, expm1, log, log1p
    hyperbolic.py    tanh, logistic, sinh, cosh, asinh, acosh, atanh
    trig.py          sin, cos, tan (payne_hanek.py, rare_lanes.py)
    inverse_trig.py  atan, asin, acos, atan2
    erf.py           erf, erfc, erf_inv
    cbrt_pow.py      cbrt, pow
    remez.py         the coefficient generator (python -m llax.codegen.vecmath)

Special values follow numpy (C99 Annex F): NaN in gives NaN out; infinities,
signed zeros, overflow to inf, gradual underflow (subnormal results),
subnormal inputs, log(0) = -inf, log(x < 0) = nan, and the special cases of
pow and atan2 are exact.  erf_inv(+-1) = +-inf and erf_inv(-0) = -0.
Floating-point exception flags are not meaningful.

Caveats: ``llvm.fma`` must be a hardware instruction (x86-64 with FMA3,
AArch64); on other targets LLVM turns it into a (slow, scalar) libm call.  The
code assumes round-to-nearest and no flushing of subnormals (no DAZ/FTZ), and
fast-math flags must not be added to these instructions: the double-word
tricks rely on exact IEEE rounding.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from llax.codegen.vecmath import cbrt_pow, erf, exp_log, hyperbolic, inverse_trig, trig
from llax.codegen.vecmath.cbrt_pow import emit_cbrt, emit_pow
from llax.codegen.vecmath.erf import emit_erf, emit_erf_inv, emit_erfc
from llax.codegen.vecmath.exp_log import emit_exp, emit_exp2, emit_expm1, emit_log, emit_log1p
from llax.codegen.vecmath.hyperbolic import (
    emit_acosh,
    emit_asinh,
    emit_atanh,
    emit_cosh,
    emit_logistic,
    emit_sinh,
    emit_tanh,
)
from llax.codegen.vecmath.inverse_trig import emit_acos, emit_asin, emit_atan, emit_atan2
from llax.codegen.vecmath.trig import emit_cos, emit_sin, emit_tan

__all__ = [
    "EMITTERS",
    "FAMILIES",
    "emit_acos",
    "emit_acosh",
    "emit_asin",
    "emit_asinh",
    "emit_atan",
    "emit_atan2",
    "emit_atanh",
    "emit_cbrt",
    "emit_cos",
    "emit_cosh",
    "emit_erf",
    "emit_erf_inv",
    "emit_erfc",
    "emit_exp",
    "emit_exp2",
    "emit_expm1",
    "emit_log",
    "emit_log1p",
    "emit_logistic",
    "emit_pow",
    "emit_sin",
    "emit_sinh",
    "emit_tan",
    "emit_tanh",
]

# The modules with coefficient tables (each has fits() and a generated block).
FAMILIES = (exp_log, hyperbolic, trig, inverse_trig, erf, cbrt_pow)

EMITTERS: dict[str, Callable[..., ir.Value]] = {
    "exp": emit_exp,
    "exp2": emit_exp2,
    "expm1": emit_expm1,
    "log": emit_log,
    "log1p": emit_log1p,
    "tanh": emit_tanh,
    "logistic": emit_logistic,
    "sin": emit_sin,
    "cos": emit_cos,
    "tan": emit_tan,
    "erf": emit_erf,
    "erfc": emit_erfc,
    "erf_inv": emit_erf_inv,
    "atan": emit_atan,
    "asin": emit_asin,
    "acos": emit_acos,
    "atan2": emit_atan2,
    "sinh": emit_sinh,
    "cosh": emit_cosh,
    "asinh": emit_asinh,
    "acosh": emit_acosh,
    "atanh": emit_atanh,
    "cbrt": emit_cbrt,
    "pow": emit_pow,
}
