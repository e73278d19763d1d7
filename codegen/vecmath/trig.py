"""Trigonometric functions: sin, cos, tan, accurate for every finite argument.

x = q pi/2 + r + r_lo with |r| <= pi/4 (plus a margin), then sin r and cos r
(polynomials of degree 9/8 for float32, 13/14 for float64) as double-words,
combined by the quadrant q mod 4; tan divides the double-words.

Two reductions.  Below TRIG_LIMIT (2^17 for float32, 2^40 for float64) the
fast one, vectorised: Cody-Waite with pi/2 in three parts of the format,
q from fma(x, 2/pi, SHIFT), the parts subtracted exactly (fma residuals and
TwoSum) so that r + r_lo keeps its accuracy through the cancellation.  At and
beyond TRIG_LIMIT, Payne-Hanek (payne_hanek.py: exact integer arithmetic on
the 192 bits of 2/pi that matter for x's exponent) followed by the float64
kernels, in a scalar function that a vectorised loop calls only for the
lanes that need it (rare_lanes.py); float32 results are that float64 value
rounded.  Ordinary arguments pay a compare and an (almost always empty) call
per vector: sin over 10^6 float32 in [-10, 10] took 0.99 ms before and
1.03 ms after on an AVX2 machine; a huge argument costs tens of nanoseconds.

That function, ``huge_name(bits)``, serves sin, cos and tan (an argument
selects the op) and lives in a runtime compiled once per process per format
(``load_huge_runtime``, llax.codegen.runtime), which kernels only declare.
Measured (LLVM CPU time of the module of jit(sin) on float32[1000]): 14 ms
without the huge path, 32 ms with it compiled into the kernel, 14 ms now; the
runtime costs ~23 ms of CPU once, at the first kernel of that format that uses
sin, cos or tan (~7 ms building its IR in Python, ~15 ms in LLVM).

Accuracy: maximum error in ulps of the result.  float32: exhaustive below
TRIG_LIMIT against numpy in float64, and over every binade above it (plus
the floats closest to multiples of pi/2); float64: ~2 10^6 samples against
x87 long double, over every binade, and the doubles closest to multiples of
pi/2 (found by continued fractions) up to 1.7e308.
tests/test_vecmath_trig.py asserts them rounded up.

    ========  =====  =====  ==================================================
    op        f32    f64    method
    ========  =====  =====  ==================================================
    sin       1.18   1.14   x = q pi/2 + r, pi/2 in 3 parts, r double-word;
    cos       1.19   1.15   sin/cos kernels of degree 9/8 (f32), 13/14 (f64)
    tan       1.60   1.48   same kernels, quotient of double-words
    ========  =====  =====  ==================================================

sin(+-0) = +-0, tan(+-0) = +-0; +-inf and NaN give NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from llvmlite import ir

from llax.codegen.runtime import load_runtime
from llax.codegen.target import CompiledModule
from llax.codegen.vecmath import payne_hanek, rare_lanes
from llax.codegen.vecmath.core import (
    PI,
    SHIFT,
    Emitter,
    Value,
    const,
    div_dw,
    emitter,
    fast2sum,
    float_bits,
    per_format,
    split,
    two_sum,
)
from llax.codegen.vecmath.remez import Fit

_K = per_format(lambda bits: {
    "PIO2_3": tuple(v / 2 for v in split(PI, bits, 3)),
    "TWO_OVER_PI": const(2 / PI, bits),
    "SHIFT": SHIFT[bits],
})
# The fast reduction is accurate below TRIG_LIMIT (float32: checked exhaustively;
# float64: sampled, with the doubles closest to multiples of pi/2); Payne-Hanek
# takes over at and above it.
TRIG_LIMIT = {32: 2.0**17, 64: 2.0**40}
# q = rint(x * 2/pi) uses 2/pi rounded to the format, so below TRIG_LIMIT the
# reduced argument may exceed pi/4 by up to |x| 2^-(mbits+2) pi/2 (< TRIG_MARGIN / 3);
# the SIN and COS polynomials are fitted on the widened interval.
TRIG_MARGIN = {32: 0.02, 64: 3e-4}

# ---------------------------------------------------------------------------
# Coefficient tables, lowest order first, {bits: coefficients}: the output of
# remez.regenerate() for fits() below.  "max weighted error" is the relative
# error of the approximated function before rounding the coefficients.
# ---------------------------------------------------------------------------

# BEGIN GENERATED TABLES
# sin t = t + t^3 P(t^2), |t| <= pi/4 + TRIG_MARGIN
SIN: dict[int, tuple] = {
    32: (
        # degree 3 on [0, 0.648666], max weighted error 6.65e-12
        -0.1666666716337204,
        0.008333329111337662,
        -0.00019839104788843542,
        2.7161840989720076e-06,
    ),
    64: (
        # degree 5 on [0, 0.617322], max weighted error 3.64e-18
        -0.1666666666666663,
        0.008333333333322075,
        -0.00019841269829553595,
        2.7557313608472324e-06,
        -2.505074567552549e-08,
        1.589610557032558e-10,
    ),
}

# cos t = 1 + t^2 P(t^2), |t| <= pi/4 + TRIG_MARGIN
COS: dict[int, tuple] = {
    32: (
        # degree 3 on [0, 0.648666], max weighted error 8.27e-11
        -0.5,
        0.04166661202907562,
        -0.0013886444503441453,
        2.4361759642488323e-05,
    ),
    64: (
        # degree 6 on [0, 0.617322], max weighted error 3.90e-20
        -0.5,
        0.04166666666666647,
        -0.0013888888888861895,
        2.4801587284040475e-05,
        -2.755731310312617e-07,
        2.087558031266631e-09,
        -1.1353190752948607e-11,
    ),
}
# END GENERATED TABLES


def _reduce(e: Emitter, x: Value) -> tuple[Value, Value, Value]:
    """x = q pi/2 + r + r_lo, q = rint(2x/pi), |r| <= pi/4 (+ TRIG_MARGIN), for |x| < TRIG_LIMIT.

    fma(x, 2/pi, SHIFT) rounds the exact product to an integer; q is then
    read from the low bits.  pi/2 = A + B + C (three parts of the format):
    x - q A is exact (fma), x - q A - q B is formed exactly as a double-word
    (product error by fma, sum by TwoSum) and q C is folded into the low
    part, so r + r_lo is accurate to far below an ulp of r even when
    cancellation makes r small.  (Beyond TRIG_LIMIT the result is garbage,
    replaced by the Payne-Hanek path's.)
    Returns (r, r_lo, q as an integer of the float's width).
    """
    k = _K[e.bits]
    kd = e.fma(x, k["TWO_OVER_PI"], k["SHIFT"])
    q = e.sub(kd, k["SHIFT"])
    a, b, c = k["PIO2_3"]
    r1 = e.fma(q, -a, x)
    p = e.mul(q, b)
    p_lo = e.fma(q, b, e.neg(p))
    r2, r2_lo = two_sum(e, r1, e.neg(p))
    r, r_lo = fast2sum(e, r2, e.fma(q, -c, e.sub(r2_lo, p_lo)))
    return r, r_lo, e.isub(e.to_int(kd), float_bits(k["SHIFT"], e.bits))


Kernels = tuple[Value, Value, Value, Value]


def _sin_cos_kernels(e: Emitter, r: Value, r_lo: Value) -> Kernels:
    """(sin, cos)(r + r_lo) for |r| <= pi/4 + TRIG_MARGIN as double-words
    (s, s_lo), (c, c_lo), from the SIN and COS tables; r_lo enters to first
    order (sin += r_lo, cos -= r r_lo)."""
    z = e.mul(r, r)
    s, s_lo = fast2sum(e, r, e.fma(e.mul(r, z), e.poly(z, SIN[e.bits]), r_lo))
    c, c_lo = fast2sum(e, e.c(1.0), e.fma(z, e.poly(z, COS[e.bits]), e.mul(e.neg(r), r_lo)))
    return s, s_lo, c, c_lo


def _sin_cos(e: Emitter, kernels: Kernels, q: Value, cos: bool) -> Value:
    """sin x, cos x = +-sin r or +-cos r by the quadrant q mod 4:
        q mod 4:   0       1       2       3
        sin x:   sin r   cos r  -sin r  -cos r
        cos x:   cos r  -sin r  -cos r   sin r
    The sign is applied by xor-ing bit 1 of q (q + 1 for cos) into the sign.
    """
    s, _, c, _ = kernels
    odd = e.b.icmp_unsigned("!=", e.iand(q, 1), e.i(0))
    if cos:
        val, q = e.sel(odd, s, c), e.iadd(q, 1)
    else:
        val = e.sel(odd, c, s)
    sign = e.shl(e.iand(q, 2), e.bits - 2)
    return e.to_float(e.b.xor(e.to_int(val), sign))


def _tan(e: Emitter, kernels: Kernels, q: Value) -> Value:
    """tan x = sin r / cos r (q even) or -cos r / sin r (q odd), dividing the
    double-words so that the quotient is rounded about once."""
    s, s_lo, c, c_lo = kernels
    odd = e.b.icmp_unsigned("!=", e.iand(q, 1), e.i(0))
    return div_dw(
        e,
        e.sel(odd, e.neg(c), s), e.sel(odd, e.neg(c_lo), s_lo),
        e.sel(odd, s, c), e.sel(odd, s_lo, c_lo),
    )


# The ops, in the order of the huge-argument function's selector argument.
_FROM_QUADRANT: dict[str, Callable[[Emitter, Kernels, Value], Value]] = {
    "sin": lambda e, kernels, q: _sin_cos(e, kernels, q, cos=False),
    "cos": lambda e, kernels, q: _sin_cos(e, kernels, q, cos=True),
    "tan": _tan,
}
_OPS = tuple(_FROM_QUADRANT)
_I32 = ir.IntType(32)


def _splat(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """<v, v>."""
    vec = ir.Constant(ir.VectorType(v.type, 2), None)
    return b.insert_element(b.insert_element(vec, v, _I32(0)), v, _I32(1))


def _huge(b: ir.IRBuilder, x: ir.Value, op: ir.Value) -> ir.Value:
    """The body of the runtime function for |x| >= TRIG_LIMIT (and +-inf): Payne-Hanek
    and the float64 kernels for the op numbered ``op`` (an i32 index of _OPS), rounded
    once to float32 for a float argument."""
    dbl = ir.DoubleType()
    xd = b.fpext(x, dbl) if x.type != dbl else x
    r, r_lo, q = payne_hanek.reduce(b, xd)
    # The kernels run on 2-lane vectors (lane 0 used): there a select is a blend,
    # where a scalar double select becomes a branch (x86 has no conditional move
    # for doubles) that random arguments mispredict half the time (measured: 64 ns
    # per float32 argument with branches, 22 ns with blends).
    e = Emitter(b, ir.VectorType(dbl, 2))
    r, r_lo, q, xv = (_splat(b, v) for v in (r, r_lo, q, xd))
    kernels = _sin_cos_kernels(e, r, r_lo)
    # A branch on the op (the same at every call of a kernel, so predicted): selecting
    # among all three results cost 5 ns more per argument (31 ns for sin).
    blocks = [b.function.append_basic_block(name) for name in _OPS]
    done = b.function.append_basic_block("done")
    switch = b.switch(op, blocks[0])
    results = []
    for k, name in enumerate(_OPS):
        if k:
            switch.add_case(_I32(k), blocks[k])
        b.position_at_end(blocks[k])
        results.append((_FROM_QUADRANT[name](e, kernels, q), b.block))
        b.branch(done)
    b.position_at_end(done)
    res = b.phi(xv.type)
    for value, block in results:
        res.add_incoming(value, block)
    res = b.extract_element(e.sel(e.eq(e.abs(xv), math.inf), math.nan, res), _I32(0))
    return b.fptrunc(res, x.type) if x.type != dbl else res


def huge_name(bits: int) -> str:
    """The runtime function for sin, cos and tan of arguments at and beyond TRIG_LIMIT."""
    return f"llax.vecmath.trig.huge.f{bits}"


def load_huge_runtime(bits: int) -> CompiledModule:
    """The huge-argument path of one format, compiled once per process."""
    # Not optimised: every function is optnone but the variants' early returns, whose
    # machine code O3 leaves as it is (checked), and skipping it saves 3.5 of 19 ms.
    return load_runtime(f"llax_vecmath_trig_f{bits}", lambda: huge_runtime_module(bits),
                        rare_lanes.exported_names(huge_name(bits)), opt=False)


def huge_runtime_module(bits: int) -> ir.Module:
    """The runtime module of ``load_huge_runtime``."""
    module = ir.Module(name=f"llax_vecmath_trig_f{bits}")
    ty = ir.FloatType() if bits == 32 else ir.DoubleType()
    rare_lanes.define_rare(module, huge_name(bits), ty, [_I32], _huge)
    return module


def _emit(op: str, builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    e = emitter(builder, x)
    huge = e.ge(e.abs(x), TRIG_LIMIT[e.bits])
    # Huge lanes run the fast path on 0 instead: their garbage could be subnormal,
    # which is slow (measured: tan of float32 1e30, 65 ns -> 25 ns per element).
    r, r_lo, q = _reduce(e, e.sel(huge, 0.0, x))
    res = _FROM_QUADRANT[op](e, _sin_cos_kernels(e, r, r_lo), q)
    if op != "cos":
        res = e.sel(e.eq(x, 0.0), x, res)  # sin(-0) = tan(-0) = -0
    load_huge_runtime(e.bits)  # the kernel links against it when it is loaded
    return rare_lanes.select_rare(builder, huge_name(e.bits), x, huge, res,
                                  [_I32(_OPS.index(op))])


def emit_sin(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return _emit("sin", builder, x)


def emit_cos(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return _emit("cos", builder, x)


def emit_tan(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return _emit("tan", builder, x)


# ---------------------------------------------------------------------------
# How the tables are made (see remez.py)
# ---------------------------------------------------------------------------


def fits() -> list[Fit]:
    """SIN: weight t^3 / sin t; COS: weight t^2 / cos t (relative errors), on
    |t| <= pi/4 + TRIG_MARGIN."""
    import mpmath as mp

    sq = mp.sqrt
    out = []
    for bits, n in ((32, 3), (64, 5)):
        out.append(Fit(
            "SIN", "sin t = t + t^3 P(t^2), |t| <= pi/4 + TRIG_MARGIN", bits,
            lambda u: -mp.mpf(1) / 6 if u == 0 else (mp.sin(sq(u)) - sq(u)) / sq(u) ** 3,
            lambda u: mp.mpf(0) if u == 0 else sq(u) ** 3 / mp.sin(sq(u)),
            0, (math.pi / 4 + TRIG_MARGIN[bits]) ** 2, n))
    for bits, n in ((32, 3), (64, 6)):
        out.append(Fit(
            "COS", "cos t = 1 + t^2 P(t^2), |t| <= pi/4 + TRIG_MARGIN", bits,
            lambda u: mp.mpf(-0.5) if u == 0 else (mp.cos(sq(u)) - 1) / u,
            lambda u: u / mp.cos(sq(u)), 0, (math.pi / 4 + TRIG_MARGIN[bits]) ** 2, n))
    return out
