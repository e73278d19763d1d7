"""Transcendental functions of complex values, branch-free (so loops over them vectorise).

The reference is NumPy, which computes most of them with the C library (glibc: C99 Annex G
special values, results within an ulp or so) and the others with its own formulas over
real functions (``expm1``, ``log1p``, ``exp2`` in ``funcs.inc.src``; ``sign`` in its
loops; ``pow`` in npymath; ``rsqrt`` and ``logistic`` are the reference's ``1 / sqrt(x)``
and ``1 / (1 + exp(-x))``). Here:

- ``exp``, ``log``, ``sqrt``, ``sinh``, ``cosh``, ``tanh``, ``atanh`` follow glibc's
  algorithms (special values case by case, scaling away overflow and underflow, ``log``
  near ``|z| = 1`` through ``log1p`` of an exactly computed ``x^2 + y^2 - 1``); ``sin``,
  ``cos``, ``tan``, ``atan`` through the identities glibc's results satisfy
  (``sin z = -i sinh(iz)`` ...); ``asin``, ``acos`` (and ``asinh``, ``acosh`` from them)
  by Hull, Fairgrieve and Tang's algorithm with C99's special values;
- all of those are evaluated in float64 (complex64 operands are widened and the parts
  rounded once at the end), with vecmath's real functions and an accurate ``hypot``
  (fused-multiply-add correction);
- NumPy's own formulas are followed operation for operation, in the operand's precision.

Measured against NumPy over edge values (zeros of both signs, infinities, NaN, extremes,
branch cuts): special values identical, other results within 4 ulps per part (the
formula-based ones within 8 ulps of the result's magnitude; ``pow`` within 8 (1 + |y log
x|) ulps, its exponent's rounding); tests/test_complex_codegen.py checks both.
"""

from __future__ import annotations

from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from llax.codegen.complex_rules import RULES, cdiv, fconst, register
from llax.codegen.ltypes import DOUBLE, FLOAT, intrinsic, make_complex, parts
from llax.ir import prims as P

LN2 = float(np.log(2.0))


class _F:
    """Float arithmetic on one LLVM type, tersely (no fast-math flags)."""

    def __init__(self, b: ir.IRBuilder, t: ir.Type) -> None:
        self.b, self.t = b, t

    def c(self, v: float) -> ir.Constant:
        return fconst(self.t, v)

    def fn(self, name: str, *args: ir.Value) -> ir.Value:
        from llax.codegen.scalar_rules import math_fn

        return math_fn(self.b, name, *args)

    def abs(self, x):
        return intrinsic(self.b, "fabs", [x], self.t)

    def sqrt(self, x):
        return intrinsic(self.b, "sqrt", [x], self.t)

    def fma(self, x, y, z):
        return intrinsic(self.b, "fma", [x, y, z], self.t)

    def copysign(self, x, y):
        return intrinsic(self.b, "copysign", [x, y], self.t)

    def sel(self, c, x, y):
        return self.b.select(c, x, y)

    def lt(self, x, y):
        return self.b.fcmp_ordered("<", x, y)

    def le(self, x, y):
        return self.b.fcmp_ordered("<=", x, y)

    def gt(self, x, y):
        return self.b.fcmp_ordered(">", x, y)

    def ge(self, x, y):
        return self.b.fcmp_ordered(">=", x, y)

    def eq(self, x, y):
        return self.b.fcmp_ordered("==", x, y)

    def isnan(self, x):
        return self.b.fcmp_unordered("uno", x, x)

    def isinf(self, x):
        return self.eq(self.abs(x), self.c(np.inf))

    def finite(self, x):
        return self.lt(self.abs(x), self.c(np.inf))

    def signbit(self, x):
        ity = ir.IntType(64 if self.t == DOUBLE else 32)
        return self.b.icmp_signed("<", self.b.bitcast(x, ity), ir.Constant(ity, 0))

    def and_(self, *cs):
        r = cs[0]
        for c in cs[1:]:
            r = self.b.and_(r, c)
        return r

    def or_(self, *cs):
        r = cs[0]
        for c in cs[1:]:
            r = self.b.or_(r, c)
        return r

    def not_(self, c):
        return self.b.not_(c)

    def add(self, x, y):
        return self.b.fadd(x, y)

    def sub(self, x, y):
        return self.b.fsub(x, y)

    def mul(self, x, y):
        return self.b.fmul(x, y)

    def div(self, x, y):
        return self.b.fdiv(x, y)


def hypot(f: _F, x: ir.Value, y: ir.Value) -> ir.Value:
    """sqrt(x^2 + y^2) within an ulp, without overflow or underflow on the way (C99's
    hypot: an infinite part gives +inf even with a NaN)."""
    ax, ay = f.abs(x), f.abs(y)
    big = f.gt(ax, ay)
    a, c = f.sel(big, ax, ay), f.sel(big, ay, ax)  # a >= c (NaNs sorted out below)
    # Scale by a power of two so that the squares neither overflow nor underflow.
    emax = 1 << (10 if f.t == DOUBLE else 7)
    half = emax // 2
    large, small = f.gt(a, f.c(2.0 ** half)), f.lt(a, f.c(2.0 ** -half))
    down, up = 2.0 ** -(half + 20), 2.0 ** (half + 20)
    s = f.sel(large, f.c(down), f.sel(small, f.c(up), f.c(1.0)))
    unscale = f.sel(large, f.c(up), f.sel(small, f.c(down), f.c(1.0)))
    a, c = f.mul(a, s), f.mul(c, s)
    c2 = f.mul(c, c)
    h = f.sqrt(f.fma(a, a, c2))
    # One correction step: h += (a^2 + c^2 - h^2) / 2h, the residual from exact products.
    h2 = f.mul(h, h)
    a2 = f.mul(a, a)
    residual = f.add(f.add(f.sub(a2, h2), c2),
                     f.sub(f.add(f.fma(a, a, f.b.fneg(a2)), f.fma(c, c, f.b.fneg(c2))),
                           f.fma(h, h, f.b.fneg(h2))))
    corrected = f.add(h, f.div(residual, f.add(h, h)))
    h = f.sel(f.eq(h, f.c(0.0)), h, corrected)
    h = f.mul(h, unscale)
    h = f.sel(f.or_(f.isnan(ax), f.isnan(ay)), f.c(np.nan), h)
    return f.sel(f.or_(f.isinf(ax), f.isinf(ay)), f.c(np.inf), h)


def _two_sum(f: _F, a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
    s = f.add(a, b)
    bb = f.sub(s, a)
    return s, f.add(f.sub(a, f.sub(s, bb)), f.sub(b, bb))


def _x2y2m1(f: _F, x: ir.Value, y: ir.Value) -> ir.Value:
    """x^2 + y^2 - 1 without cancellation error (products and sums as double-words)."""
    neg = f.b.fneg
    x2, y2 = f.mul(x, x), f.mul(y, y)
    ex, ey = f.fma(x, x, neg(x2)), f.fma(y, y, neg(y2))
    s, e1 = _two_sum(f, x2, f.c(-1.0))
    s, e2 = _two_sum(f, s, y2)
    return f.add(s, f.add(f.add(e1, e2), f.add(ex, ey)))


# --- the C library's functions (glibc's algorithms), in float64 -----------------------------

def _cexp(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    inf, zero = f.c(np.inf), f.c(0.0)
    s, c = f.fn("sin", y), f.fn("cos", y)
    # Where exp(x) alone would overflow, e^(x/2) twice (the product may still be finite).
    t = f.c(np.log(np.finfo(np.float64 if f.t == DOUBLE else np.float32).max))
    halve = f.gt(x, t)
    e = f.fn("exp", f.sel(halve, f.mul(x, f.c(0.5)), x))
    re, im = f.mul(e, c), f.mul(e, s)
    re, im = f.sel(halve, f.mul(re, e), re), f.sel(halve, f.mul(im, e), im)
    x_finite, y_finite = f.finite(x), f.finite(y)
    nan = f.c(np.nan)
    # x = +-inf, y finite: (+-)(inf or 0) in the direction of y
    value = f.sel(f.signbit(x), zero, inf)
    inf_re, inf_im = f.copysign(value, c), f.copysign(value, s)
    # x = +-inf, y not finite
    pos = f.not_(f.signbit(x))
    inf_re = f.sel(y_finite, inf_re, f.sel(pos, inf, zero))
    inf_im = f.sel(y_finite, inf_im, f.sel(pos, nan, f.copysign(zero, y)))
    is_inf = f.isinf(x)
    re = f.sel(x_finite, f.sel(y_finite, re, nan), f.sel(is_inf, inf_re, nan))
    im = f.sel(x_finite, f.sel(y_finite, im, nan), f.sel(is_inf, inf_im, nan))
    # A zero imaginary part is kept as it is (also under an infinite or NaN real part).
    im = f.sel(f.eq(y, zero), y, im)
    return re, im


def _clog(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    ax, ay = f.abs(x), f.abs(y)
    swap = f.lt(ax, ay)
    hi, lo = f.sel(swap, ay, ax), f.sel(swap, ax, ay)
    info = np.finfo(np.float64 if f.t == DOUBLE else np.float32)
    mant = info.nmant + 1
    big, tiny = f.gt(hi, f.c(float(info.max) / 2)), f.lt(hi, f.c(float(info.tiny)))
    s = f.sel(big, f.c(0.5), f.sel(tiny, f.c(2.0 ** mant), f.c(1.0)))
    shift = f.sel(big, f.c(LN2), f.sel(tiny, f.c(-mant * LN2), f.c(0.0)))
    generic = f.add(f.fn("log", hypot(f, f.mul(hi, s), f.mul(lo, s))), shift)
    near = f.and_(f.ge(hi, f.c(0.5)), f.lt(hi, f.c(2.0)), f.lt(lo, f.c(1.0)))
    # (outside ``near`` the argument may be anything: keep it harmless)
    d = f.sel(near, _x2y2m1(f, hi, lo), f.c(0.0))
    re = f.sel(near, f.mul(f.c(0.5), f.fn("log1p", d)), generic)
    im = f.fn("atan2", y, x)
    any_nan = f.or_(f.isnan(x), f.isnan(y))
    any_inf = f.or_(f.isinf(x), f.isinf(y))
    re = f.sel(any_inf, f.c(np.inf), f.sel(any_nan, f.c(np.nan), re))
    im = f.sel(any_nan, f.c(np.nan), im)
    return re, im


def _csqrt(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    info = np.finfo(np.float64 if f.t == DOUBLE else np.float32)
    zero, half, inf, nan = f.c(0.0), f.c(0.5), f.c(np.inf), f.c(np.nan)
    ax, ay = f.abs(x), f.abs(y)
    # Scaling: by 1/4 (results by 2) near overflow, by 2^(2k) (results by 2^-k) when tiny.
    k = (info.nmant + 2) // 2
    big = f.or_(f.gt(ax, f.c(float(info.max) / 4)), f.gt(ay, f.c(float(info.max) / 4)))
    tiny = f.and_(f.lt(ax, f.c(2 * float(info.tiny))), f.lt(ay, f.c(2 * float(info.tiny))))
    s = f.sel(big, f.c(0.25), f.sel(tiny, f.c(2.0 ** (2 * k)), f.c(1.0)))
    out = f.sel(big, f.c(2.0), f.sel(tiny, f.c(2.0 ** -k), f.c(1.0)))
    xs, ys = f.mul(x, s), f.mul(y, s)
    d = hypot(f, xs, ys)
    # (y / r where the result is scaled up by 2: 2 * (0.5 * y / r) without underflow)
    y_half = f.sel(big, ys, f.mul(half, ys))
    # x > 0: r = sqrt((d + x) / 2), s = y / 2r; else s = sqrt((d - x) / 2), r = |y / 2s|
    r1 = f.sqrt(f.mul(half, f.add(d, xs)))
    s1 = f.div(y_half, r1)
    s2 = f.sqrt(f.mul(half, f.sub(d, xs)))
    r2 = f.abs(f.div(y_half, s2))
    positive = f.gt(x, zero)
    # Scaled by 1/4, the square root's part is doubled and the y / 2r part is y / r.
    root_scale = f.sel(big, f.c(2.0), out)
    ratio_scale = f.sel(big, f.c(1.0), out)
    re = f.sel(positive, f.mul(r1, root_scale), f.mul(r2, ratio_scale))
    im_mag = f.sel(positive, f.mul(s1, ratio_scale), f.mul(s2, root_scale))
    im = f.copysign(f.abs(im_mag), y)
    # y = 0
    root = f.sqrt(ax)
    neg_x = f.lt(x, zero)
    re = f.sel(f.eq(y, zero), f.sel(neg_x, zero, root), re)
    im = f.sel(f.eq(y, zero), f.copysign(f.sel(neg_x, root, zero), y), im)
    # x = 0, y != 0
    r0 = f.sel(f.ge(ay, f.c(2 * float(info.tiny))), f.sqrt(f.mul(half, ay)),
               f.mul(half, f.sqrt(f.mul(f.c(2.0), ay))))
    x_zero = f.and_(f.eq(x, zero), f.not_(f.eq(y, zero)))
    re = f.sel(x_zero, r0, re)
    im = f.sel(x_zero, f.copysign(r0, y), im)
    # Infinities and NaNs
    y_nan, x_nan = f.isnan(y), f.isnan(x)
    x_inf = f.isinf(x)
    special_re = f.sel(x_inf, f.sel(f.signbit(x), f.sel(y_nan, nan, zero), x), nan)
    special_im = f.sel(x_inf, f.sel(f.signbit(x), f.copysign(inf, y),
                                    f.sel(y_nan, nan, f.copysign(zero, y))), nan)
    special = f.or_(x_inf, x_nan, y_nan)
    re, im = f.sel(special, special_re, re), f.sel(special, special_im, im)
    y_inf = f.isinf(y)
    return f.sel(y_inf, inf, re), f.sel(y_inf, y, im)


def _half_exp_times(f: _F, ax: ir.Value, v: ir.Value) -> ir.Value:
    """e^ax / 2 * v for ax beyond where exp overflows, as glibc scales it: by exp(t) up to
    twice, then exp of the rest (or the largest float, overflowing as the product does)."""
    t, exp_t = _exp_threshold(f)
    rx = f.sub(ax, f.c(t))
    v = f.mul(v, f.c(exp_t / 2))
    again = f.gt(rx, f.c(t))
    rx = f.sel(again, f.sub(rx, f.c(t)), rx)
    v = f.sel(again, f.mul(v, f.c(exp_t)), v)
    big = float(np.finfo(np.float64 if f.t == DOUBLE else np.float32).max)
    return f.sel(f.gt(rx, f.c(t)), f.mul(f.c(big), v), f.mul(f.fn("exp", rx), v))


def _exp_threshold(f: _F) -> tuple[int, float]:
    """glibc's t = (int)((MAX_EXP - 1) ln 2), and exp(t)."""
    info = np.finfo(np.float64 if f.t == DOUBLE else np.float32)
    t = int((info.maxexp - 1) * LN2)
    return t, float(np.exp(np.asarray(t, info.dtype)))


def _ccosh(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    zero, one, inf, nan = f.c(0.0), f.c(1.0), f.c(np.inf), f.c(np.nan)
    s, c = f.fn("sin", y), f.fn("cos", y)
    ax = f.abs(x)
    t, _ = _exp_threshold(f)
    big = f.gt(ax, f.c(t))
    sign_x = f.copysign(one, x)
    re = f.sel(big, _half_exp_times(f, ax, c), f.mul(f.fn("cosh", x), c))
    im = f.sel(big, _half_exp_times(f, ax, f.mul(s, sign_x)), f.mul(f.fn("sinh", x), s))
    x_fin, y_fin, x_inf = f.finite(x), f.finite(y), f.isinf(x)
    y_zero = f.eq(y, zero)
    # x finite, y not: (NaN, 0 if x = 0 else NaN)
    re = f.sel(x_fin, f.sel(y_fin, re, nan), re)
    im = f.sel(x_fin, f.sel(y_fin, im, f.sel(f.eq(x, zero), zero, nan)), im)
    # x infinite
    inf_re = f.sel(y_fin, f.sel(y_zero, inf, f.copysign(inf, c)), inf)
    inf_im = f.sel(y_fin, f.sel(y_zero, f.mul(y, sign_x), f.mul(f.copysign(inf, s), sign_x)), nan)
    re, im = f.sel(x_inf, inf_re, re), f.sel(x_inf, inf_im, im)
    # x NaN
    x_nan = f.isnan(x)
    return f.sel(x_nan, nan, re), f.sel(x_nan, f.sel(y_zero, y, nan), im)


def _csinh(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    zero, inf, nan = f.c(0.0), f.c(np.inf), f.c(np.nan)
    s, c = f.fn("sin", y), f.fn("cos", y)
    negate = f.signbit(x)
    ax = f.abs(x)
    c_neg = f.sel(negate, f.b.fneg(c), c)
    t, _ = _exp_threshold(f)
    big = f.gt(ax, f.c(t))
    re = f.sel(big, _half_exp_times(f, ax, c_neg), f.mul(f.fn("sinh", ax), c_neg))
    im = f.sel(big, _half_exp_times(f, ax, s), f.mul(f.fn("cosh", ax), s))
    x_fin, y_fin, x_inf = f.finite(x), f.finite(y), f.isinf(x)
    y_zero = f.eq(y, zero)
    # x finite, y not: (x, NaN) for x = 0, else NaN
    x_zero = f.eq(x, zero)
    re = f.sel(x_fin, f.sel(y_fin, re, f.sel(x_zero, x, nan)), re)
    im = f.sel(x_fin, f.sel(y_fin, im, nan), im)
    # x infinite
    signed_inf = f.sel(negate, f.c(-np.inf), inf)
    inf_re = f.sel(y_fin, f.sel(y_zero, signed_inf, f.copysign(inf, c_neg)), inf)
    inf_im = f.sel(y_fin, f.sel(y_zero, y, f.copysign(inf, s)), nan)
    re, im = f.sel(x_inf, inf_re, re), f.sel(x_inf, inf_im, im)
    x_nan = f.isnan(x)
    return f.sel(x_nan, nan, re), f.sel(x_nan, f.sel(y_zero, y, nan), im)


def _ctanh(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    zero, one, nan = f.c(0.0), f.c(1.0), f.c(np.nan)
    info = np.finfo(np.float64 if f.t == DOUBLE else np.float32)
    s, c = f.fn("sin", y), f.fn("cos", y)
    ax = f.abs(x)
    t = int((info.maxexp - 1) * LN2 / 2)
    exp_2t = f.c(float(np.exp(np.asarray(2 * t, info.dtype))))
    big = f.gt(ax, f.c(t))
    # |x| large: (+-1, 4 sin y cos y / e^2|x|), divided in two steps against overflow
    im_big = f.div(f.mul(f.mul(f.c(4.0), s), c), exp_2t)
    rest = f.sub(ax, f.c(t))
    im_big = f.sel(f.gt(rest, f.c(t)), f.div(im_big, exp_2t),
                   f.div(im_big, f.fn("exp", f.mul(f.c(2.0), rest))))
    # otherwise (sinh x cosh x + i sin y cos y) / (sinh^2 x + cos^2 y)
    sh, ch = f.fn("sinh", x), f.fn("cosh", x)
    tiny_x = f.le(ax, f.c(float(info.tiny)))
    sh, ch = f.sel(tiny_x, x, sh), f.sel(tiny_x, one, ch)
    cc = f.mul(c, c)
    den = f.sel(f.gt(f.abs(sh), f.mul(f.abs(c), f.c(float(info.eps)))),
                f.add(f.mul(sh, sh), cc), cc)
    re = f.sel(big, f.copysign(one, x), f.div(f.mul(sh, ch), den))
    im = f.sel(big, im_big, f.div(f.mul(s, c), den))
    # Infinities and NaNs
    x_inf, y_fin = f.isinf(x), f.finite(y)
    inf_im = f.sel(f.and_(y_fin, f.gt(f.abs(y), one)), f.copysign(zero, f.mul(s, c)),
                   f.copysign(zero, y))
    y_zero = f.eq(y, zero)
    other_re = f.sel(y_zero, x, f.sel(f.eq(x, zero), x, nan))
    other_im = f.sel(y_zero, y, nan)
    special = f.not_(f.and_(f.finite(x), y_fin))
    re = f.sel(special, f.sel(x_inf, f.copysign(one, x), other_re), re)
    im = f.sel(special, f.sel(x_inf, inf_im, other_im), im)
    return re, im


def _rotated(core):
    """f(z) = -i g(iz) (sin from sinh, tan from tanh)."""

    def rotated(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
        re, im = core(f, f.b.fneg(y), x)
        return im, f.b.fneg(re)

    return rotated


def _csin(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    re, im = _rotated(_csinh)(f, x, y)
    # glibc's csin (not -i csinh(iz)): an infinite y under an infinite or NaN x gives +inf.
    return re, f.sel(f.and_(f.isinf(y), f.not_(f.finite(x))), f.c(np.inf), im)


def _ccos(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    return _ccosh(f, f.b.fneg(y), x)  # cos z = cosh(iz)


def _widened(core: Callable[[_F, ir.Value, ir.Value], tuple[ir.Value, ir.Value]]):
    """A float64 core as a rule: complex64 parts widened, results rounded once."""

    def rule(b, args, it, ot, params):
        x, y = parts(b, args[0])
        t = x.type
        if t == FLOAT:
            x, y = b.fpext(x, DOUBLE), b.fpext(y, DOUBLE)
        re, im = core(_F(b, DOUBLE), x, y)
        if t == FLOAT:
            re, im = b.fptrunc(re, FLOAT), b.fptrunc(im, FLOAT)
        return make_complex(b, re, im)

    return rule


register(P.exp)(_widened(_cexp))
register(P.log)(_widened(_clog))
register(P.sqrt)(_widened(_csqrt))
register(P.cosh)(_widened(_ccosh))
register(P.sinh)(_widened(_csinh))
register(P.tanh)(_widened(_ctanh))
register(P.cos)(_widened(_ccos))
register(P.sin)(_widened(_csin))
register(P.tan)(_widened(_rotated(_ctanh)))


# --- NumPy's own formulas, in the operand's precision ----------------------------------------

@register(P.exp2)
def _exp2(b, args, it, ot, params):
    # nc_exp2: exp of (x * ln2) part by part.
    x, y = parts(b, args[0])
    ln2 = fconst(x.type, LN2)
    z = make_complex(b, b.fmul(x, ln2), b.fmul(y, ln2))
    return RULES[P.exp](b, [z], it, ot, params)


@register(P.expm1)
def _expm1(b, args, it, ot, params):
    # nc_expm1: (expm1(x) cos y - 2 sin^2(y/2), exp(x) sin y)
    x, y = parts(b, args[0])
    f = _F(b, x.type)
    a = f.fn("sin", f.div(y, f.c(2.0)))
    re = f.sub(f.mul(f.fn("expm1", x), f.fn("cos", y)), f.mul(f.mul(f.c(2.0), a), a))
    im = f.mul(f.fn("exp", x), f.fn("sin", y))
    return make_complex(b, re, im)


@register(P.log1p)
def _log1p(b, args, it, ot, params):
    # nc_log1p: (log(hypot(x + 1, y)), atan2(y, x + 1))
    x, y = parts(b, args[0])
    f = _F(b, x.type)
    x1 = f.add(x, f.c(1.0))
    if x.type == FLOAT:
        d = _F(b, DOUBLE)
        h = b.fptrunc(hypot(d, b.fpext(x1, DOUBLE), b.fpext(y, DOUBLE)), FLOAT)
    else:
        h = hypot(f, x1, y)
    return make_complex(b, f.fn("log", h), f.fn("atan2", y, x1))


@register(P.sign)
def _sign(b, args, it, ot, params):
    # NumPy 2's complex sign: z / |z| (|z| as its absolute), 0 at 0, NaN for NaN, and a
    # unit direction along an infinite part.
    from llax.codegen.complex_rules import cabs

    x, y = parts(b, args[0])
    f = _F(b, x.type)
    a = cabs(b, args[0])
    one, zero, nan = f.c(1.0), f.c(0.0), f.c(np.nan)
    re, im = f.div(x, a), f.div(y, a)
    x_inf, y_inf = f.isinf(x), f.isinf(y)
    inf_re = f.sel(x_inf, f.sel(y_inf, nan, f.copysign(one, x)), zero)
    inf_im = f.sel(x_inf, f.sel(y_inf, nan, zero), f.copysign(one, y))
    a_inf, a_zero = f.isinf(a), f.eq(a, zero)
    re = f.sel(a_inf, inf_re, f.sel(a_zero, zero, re))
    im = f.sel(a_inf, inf_im, f.sel(a_zero, zero, im))
    a_nan = f.isnan(a)
    return make_complex(b, f.sel(a_nan, nan, re), f.sel(a_nan, nan, im))


@register(P.rsqrt)
def _rsqrt(b, args, it, ot, params):
    # The reference: 1 / sqrt(x), Smith's division.
    from llax.codegen.ltypes import const

    return cdiv(b, const(ot.dtype, 1.0), RULES[P.sqrt](b, args, it, ot, params))


@register(P.logistic)
def _logistic(b, args, it, ot, params):
    # The reference: 1 / (1 + exp(-x)), each step a NumPy complex operation.
    from llax.codegen.ltypes import const

    x, y = parts(b, args[0])
    e = RULES[P.exp](b, [make_complex(b, b.fneg(x), b.fneg(y))], it, ot, params)
    er, ei = parts(b, e)
    one, zero = fconst(x.type, 1.0), fconst(x.type, 0.0)
    d = make_complex(b, b.fadd(one, er), b.fadd(zero, ei))
    return cdiv(b, const(ot.dtype, 1.0), d)


# --- pow: NumPy's npy_cpow --------------------------------------------------------------------

def _muldc3(f: _F, a, b, c, d) -> tuple[ir.Value, ir.Value]:
    """(a + ib)(c + id) as C computes a complex product (libgcc's __muldc3): the plain
    formula, and where both parts come out NaN, infinities recovered from the operands."""
    ac, bd, ad, bc = f.mul(a, c), f.mul(b, d), f.mul(a, d), f.mul(b, c)
    x, y = f.sub(ac, bd), f.add(ad, bc)
    zero, one, inf = f.c(0.0), f.c(1.0), f.c(np.inf)

    def box(v):  # an infinity becomes +-1, anything else +-0 (C's copysign(isinf ? 1 : 0))
        return f.copysign(f.sel(f.isinf(v), one, zero), v)

    def nan_to_zero(v):
        return f.sel(f.isnan(v), f.copysign(zero, v), v)

    ab_inf = f.or_(f.isinf(a), f.isinf(b))
    a1, b1 = f.sel(ab_inf, box(a), a), f.sel(ab_inf, box(b), b)
    c1, d1 = f.sel(ab_inf, nan_to_zero(c), c), f.sel(ab_inf, nan_to_zero(d), d)
    cd_inf = f.or_(f.isinf(c1), f.isinf(d1))
    c2, d2 = f.sel(cd_inf, box(c1), c1), f.sel(cd_inf, box(d1), d1)
    a2, b2 = f.sel(cd_inf, nan_to_zero(a1), a1), f.sel(cd_inf, nan_to_zero(b1), b1)
    products_inf = f.or_(f.isinf(ac), f.isinf(bd), f.isinf(ad), f.isinf(bc))
    third = f.and_(f.not_(f.or_(ab_inf, cd_inf)), products_inf)
    a3, b3 = f.sel(third, nan_to_zero(a2), a2), f.sel(third, nan_to_zero(b2), b2)
    c3, d3 = f.sel(third, nan_to_zero(c2), c2), f.sel(third, nan_to_zero(d2), d2)
    recalc = f.and_(f.isnan(x), f.isnan(y), f.or_(ab_inf, cd_inf, third))
    rx = f.mul(inf, f.sub(f.mul(a3, c3), f.mul(b3, d3)))
    ry = f.mul(inf, f.add(f.mul(a3, d3), f.mul(b3, c3)))
    return f.sel(recalc, rx, x), f.sel(recalc, ry, y)


# nc_pow's exponents computed by repeated products: |n| < 100, i.e. 7 bits.
_POW_BITS = 7


@register(P.pow)
def _pow(b, args, it, ot, params):
    from llax.codegen.complex_rules import MAX_INTEGER_POW, cmul_plain
    from llax.codegen.ltypes import I64, const

    x, y = args
    xr, xi = parts(b, x)
    yr, yi = parts(b, y)
    t = xr.type
    f = _F(b, t)
    # The C library's cpow: cexp(y * clog(x)). clog and cexp in float64 (rounded to the
    # operand's precision), the product in it: where that overflows decides the result.
    d = _F(b, DOUBLE)
    wide = (lambda v: b.fpext(v, DOUBLE)) if t == FLOAT else (lambda v: v)
    narrow = (lambda v: b.fptrunc(v, FLOAT)) if t == FLOAT else (lambda v: v)
    lr, li = (narrow(v) for v in _clog(d, wide(xr), wide(xi)))
    wr, wi = _muldc3(f, yr, yi, lr, li)
    general = make_complex(b, *(narrow(v) for v in _cexp(d, wide(wr), wide(wi))))
    # An integral real exponent |n| < 100: products (n = 1, 2, 3 directly), 1 / x^-n.
    n_float = f.sel(f.lt(f.abs(yr), f.c(MAX_INTEGER_POW)), yr, f.c(0.0))
    n = b.fptosi(n_float, I64)
    integral = f.and_(f.eq(yi, f.c(0.0)), f.lt(f.abs(yr), f.c(MAX_INTEGER_POW)),
                      f.eq(b.sitofp(n, t), yr))
    m = b.select(b.icmp_signed("<", n, ir.Constant(I64, 0)), b.neg(n), n)
    one = const(ot.dtype, 1.0)
    acc, p = one, x
    for bit in range(_POW_BITS):
        on = b.icmp_unsigned("!=", b.and_(m, ir.Constant(I64, 1 << bit)), ir.Constant(I64, 0))
        acc = make_complex(b, *(b.select(on, v, w) for v, w in zip(
            parts(b, cmul_plain(b, acc, p)), parts(b, acc))))
        if bit + 1 < _POW_BITS:
            p = cmul_plain(b, p, p)
    acc = _select_c(b, b.icmp_signed("<", n, ir.Constant(I64, 0)), _cdiv_npymath(b, one, acc),
                    acc)
    square = cmul_plain(b, x, x)
    for k, v in ((1, x), (2, square), (3, cmul_plain(b, x, square))):
        acc = _select_c(b, b.icmp_signed("==", n, ir.Constant(I64, k)), v, acc)
    r = _select_c(b, integral, acc, general)
    # y = 0 gives 1 (whatever x); a zero x, as XLA: 1, 0 for a positive real y, else NaN.
    y_zero = f.and_(f.eq(yr, f.c(0.0)), f.eq(yi, f.c(0.0)))
    x_zero = f.and_(f.eq(xr, f.c(0.0)), f.eq(xi, f.c(0.0)))
    at_zero = _select_c(b, f.and_(f.eq(yi, f.c(0.0)), f.gt(yr, f.c(0.0))),
                        const(ot.dtype, 0.0), const(ot.dtype, complex(np.nan, np.nan)))
    r = _select_c(b, x_zero, at_zero, r)
    return _select_c(b, y_zero, one, r)


def _select_c(b: ir.IRBuilder, cond: ir.Value, x: ir.Value, y: ir.Value) -> ir.Value:
    from llax.codegen.ltypes import select

    return select(b, cond, x, y)


def _cdiv_npymath(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """npymath's cdiv: Smith's method, a zero divisor giving (xr / |yr|, xi / |yi|)."""
    (ar, ai), (br, bi) = parts(b, x), parts(b, y)
    f = _F(b, br.type)
    q = cdiv(b, x, y)
    zero = f.and_(f.eq(br, f.c(0.0)), f.eq(bi, f.c(0.0)))
    qr, qi = parts(b, q)
    return make_complex(b, f.sel(zero, f.div(ar, f.abs(br)), qr),
                        f.sel(zero, f.div(ai, f.abs(bi)), qi))


# --- atanh and atan (glibc's catanh; catan(z) = -i catanh(iz)) -------------------------------

def _catanh(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    eps = float(np.finfo(np.float64 if f.t == DOUBLE else np.float32).eps)
    zero, one, half, nan = f.c(0.0), f.c(1.0), f.c(0.5), f.c(np.nan)
    pi_2 = f.c(np.pi / 2)
    neg = f.b.fneg
    ax, ay = f.abs(x), f.abs(y)
    # Huge arguments: atanh z ~ 1/z.
    huge = f.or_(f.ge(ax, f.c(16 / eps)), f.ge(ay, f.c(16 / eps)))
    h = hypot(f, f.mul(x, half), f.mul(y, half))
    re_huge = f.sel(f.le(ay, one), f.div(one, x),
                    f.sel(f.le(ax, one), f.div(f.div(x, y), y),
                          f.div(f.div(f.div(x, h), h), f.c(4.0))))
    # The real part: log((1 + x)^2 + y^2) / ((1 - x)^2 + y^2) / 4.
    eps2 = f.c(eps * eps)
    at_one = f.and_(f.eq(ax, one), f.lt(ay, eps2))
    re_one = f.mul(f.copysign(half, x), f.sub(f.c(LN2), f.fn("log", ay)))
    i2 = f.sel(f.ge(ay, eps2), f.mul(y, y), zero)
    num = f.add(one, x)
    num = f.add(i2, f.mul(num, num))
    den = f.sub(one, x)
    den = f.add(i2, f.mul(den, den))
    q = f.div(num, den)
    re = f.sel(f.lt(q, half), f.mul(f.c(0.25), f.fn("log", q)),
               f.mul(f.c(0.25), f.fn("log1p", f.div(f.mul(f.c(4.0), x), den))))
    re = f.sel(at_one, re_one, re)
    # The imaginary part: atan2(2y, 1 - x^2 - y^2) / 2, the denominator without cancellation.
    swap = f.lt(ax, ay)
    hi, lo = f.sel(swap, ay, ax), f.sel(swap, ax, ay)
    plain = f.mul(f.sub(one, hi), f.add(one, hi))
    d = f.sel(f.lt(lo, f.c(eps / 2)), plain,
              f.sel(f.ge(hi, one), f.sub(plain, f.mul(lo, lo)),
                    f.sel(f.or_(f.ge(hi, f.c(0.75)), f.ge(lo, half)),
                          neg(_x2y2m1(f, hi, lo)), f.sub(plain, f.mul(lo, lo)))))
    d = f.sel(f.eq(d, zero), zero, d)  # +0: atan2 must not see -0
    im = f.mul(half, f.fn("atan2", f.mul(f.c(2.0), y), d))
    re, im = f.sel(huge, re_huge, re), f.sel(huge, f.copysign(pi_2, y), im)
    # Zeros, infinities and NaNs
    both_zero = f.and_(f.eq(x, zero), f.eq(y, zero))
    re, im = f.sel(both_zero, x, re), f.sel(both_zero, y, im)
    y_inf, x_inf, y_fin = f.isinf(y), f.isinf(x), f.finite(y)
    edge = f.or_(x_inf, f.eq(x, zero))
    special_re = f.sel(f.or_(y_inf, edge), f.copysign(zero, x), nan)
    special_im = f.sel(y_inf, f.copysign(pi_2, y),
                       f.sel(edge, f.sel(y_fin, f.copysign(pi_2, y), nan), nan))
    special = f.not_(f.and_(f.finite(x), y_fin))
    return f.sel(special, special_re, re), f.sel(special, special_im, im)


register(P.atanh)(_widened(_catanh))
register(P.atan)(_widened(_rotated(_catanh)))


# --- asin and asinh (Hull, Fairgrieve and Tang's algorithm; asinh(z) = -i asin(iz)) -------

def _casin(f: _F, x0: ir.Value, y0: ir.Value) -> tuple[ir.Value, ir.Value]:
    """asin in the first quadrant of |x|, |y|, the signs put back (C99's symmetries)."""
    info = np.finfo(np.float64 if f.t == DOUBLE else np.float32)
    eps = float(info.eps)
    zero, one, half = f.c(0.0), f.c(1.0), f.c(0.5)
    pi_2, log2 = f.c(np.pi / 2), f.c(LN2)
    x, y = f.abs(x0), f.abs(y0)
    xp1, xm1 = f.add(one, x), f.sub(x, one)
    # The main range (nothing over- or underflows on the way).
    r, s = hypot(f, xp1, y), hypot(f, xm1, y)
    a = f.mul(half, f.add(r, s))
    b = f.div(x, a)
    y2 = f.mul(y, y)
    apx = f.add(a, x)
    below = f.le(x, one)
    re_big_b = f.sel(below,
                     f.fn("atan", f.div(x, f.sqrt(f.mul(half, f.mul(apx, f.add(
                         f.div(y2, f.add(r, xp1)), f.sub(s, xm1))))))),
                     f.fn("atan", f.div(x, f.mul(y, f.sqrt(f.mul(half, f.add(
                         f.div(apx, f.add(r, xp1)), f.div(apx, f.add(s, xm1)))))))))
    re = f.sel(f.le(b, f.c(0.6417)), f.fn("asin", f.sel(f.le(b, one), b, one)), re_big_b)
    am1 = f.sel(f.lt(x, one),
                f.mul(half, f.add(f.div(y2, f.add(r, xp1)), f.div(y2, f.sub(s, xm1)))),
                f.mul(half, f.add(f.div(y2, f.add(r, xp1)), f.add(s, xm1))))
    im = f.sel(f.le(a, f.c(1.5)),
               f.fn("log1p", f.add(am1, f.sqrt(f.mul(am1, f.add(a, one))))),
               f.fn("log", f.add(a, f.sqrt(f.sub(f.mul(a, a), one)))))
    # y = 0, x <= 1: the real asin
    on_segment = f.and_(f.eq(y, zero), f.le(x, one))
    re = f.sel(on_segment, f.fn("asin", x), re)
    im = f.sel(on_segment, zero, im)
    # Outside the main range
    safe_max = f.c(float(np.sqrt(info.max)) / 8)
    safe_min = f.c(float(np.sqrt(info.tiny)) * 4)
    main = f.and_(f.gt(x, safe_min), f.lt(x, safe_max), f.gt(y, safe_min), f.lt(y, safe_max))
    # y negligible beside |x - 1|
    y_small = f.le(y, f.mul(f.c(eps), f.abs(xm1)))
    re1 = f.sel(f.lt(x, one), f.fn("asin", f.sel(f.lt(x, one), x, zero)), pi_2)
    im1 = f.sel(f.lt(x, one), f.div(y, f.sqrt(f.mul(xp1, f.sub(one, x)))),
                f.sel(f.gt(f.div(f.c(float(info.max)), xp1), xm1),
                      f.fn("log1p", f.add(xm1, f.sqrt(f.mul(xp1, xm1)))),
                      f.add(log2, f.fn("log", x))))
    # y tiny, x near 1
    sy = f.sqrt(y)
    re2, im2 = f.sub(pi_2, sy), sy
    # y huge beside x
    y_huge = f.ge(f.sub(f.mul(f.c(eps), y), one), x)
    re3, im3 = f.div(x, y), f.add(log2, f.fn("log", y))
    # x > 1 (both large)
    xoy = f.div(x, y)
    re4 = f.fn("atan", xoy)
    im4 = f.add(f.add(log2, f.fn("log", y)), f.mul(half, f.fn("log1p", f.mul(xoy, xoy))))
    # otherwise (x <= 1, y large)
    a5 = f.sqrt(f.add(one, y2))
    re5, im5 = f.div(x, a5), f.mul(half, f.fn("log1p", f.mul(f.mul(f.c(2.0), y), f.add(y, a5))))
    ext_re = f.sel(y_small, re1, f.sel(f.le(y, safe_min), re2, f.sel(
        y_huge, re3, f.sel(f.gt(x, one), re4, re5))))
    ext_im = f.sel(y_small, im1, f.sel(f.le(y, safe_min), im2, f.sel(
        y_huge, im3, f.sel(f.gt(x, one), im4, im5))))
    re = f.sel(f.or_(main, on_segment), re, ext_re)
    im = f.sel(f.or_(main, on_segment), im, ext_im)
    # Infinities and NaNs (C99: casin(z) = -i casinh(iz)), in the first quadrant
    nan, inf = f.c(np.nan), f.c(np.inf)
    x_inf, y_inf, x_nan, y_nan = f.isinf(x), f.isinf(y), f.isnan(x), f.isnan(y)
    # casinh(w) with w = iz: its real part is our imaginary part (|y|), and back.
    sp_re = f.sel(f.and_(x_inf, y_inf), f.c(np.pi / 4),
                  f.sel(x_inf, f.sel(y_nan, nan, pi_2),
                        f.sel(y_inf, f.sel(x_nan, nan, zero), nan)))
    sp_im = f.sel(f.or_(x_inf, y_inf), inf, nan)
    # asin(0 + NaN i) keeps the zero (glibc: asin(NaN + 0i) does not)
    sp_re = f.sel(f.and_(y_nan, f.eq(x, zero)), zero, sp_re)
    special = f.or_(x_inf, y_inf, x_nan, y_nan)
    re, im = f.sel(special, sp_re, re), f.sel(special, sp_im, im)
    return f.copysign(re, x0), f.copysign(im, y0)


def _casinh(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    # asinh(z) = -i asin(iz): asin(-y + ix) = (a, b) gives (b, -a)
    re, im = _casin(f, f.b.fneg(y), x)
    return im, f.b.fneg(re)


register(P.asin)(_widened(_casin))
register(P.asinh)(_widened(_casinh))


def _cacos(f: _F, x0: ir.Value, y0: ir.Value) -> tuple[ir.Value, ir.Value]:
    """acos by the same algorithm (first quadrant of |x|, |y|; pi - re for a negative x,
    the imaginary part opposite to y)."""
    info = np.finfo(np.float64 if f.t == DOUBLE else np.float32)
    eps = float(info.eps)
    zero, one, half = f.c(0.0), f.c(1.0), f.c(0.5)
    pi_2, log2 = f.c(np.pi / 2), f.c(LN2)
    x, y = f.abs(x0), f.abs(y0)
    xp1, xm1 = f.add(one, x), f.sub(x, one)
    r, s = hypot(f, xp1, y), hypot(f, xm1, y)
    a = f.mul(half, f.add(r, s))
    b = f.div(x, a)
    y2 = f.mul(y, y)
    apx = f.add(a, x)
    below = f.le(x, one)
    re_big_b = f.sel(below,
                     f.fn("atan", f.div(f.sqrt(f.mul(half, f.mul(apx, f.add(
                         f.div(y2, f.add(r, xp1)), f.sub(s, xm1))))), x)),
                     f.fn("atan", f.div(f.mul(y, f.sqrt(f.mul(half, f.add(
                         f.div(apx, f.add(r, xp1)), f.div(apx, f.add(s, xm1)))))), x)))
    re = f.sel(f.le(b, f.c(0.6417)), f.fn("acos", f.sel(f.le(b, one), b, one)), re_big_b)
    am1 = f.sel(f.lt(x, one),
                f.mul(half, f.add(f.div(y2, f.add(r, xp1)), f.div(y2, f.sub(s, xm1)))),
                f.mul(half, f.add(f.div(y2, f.add(r, xp1)), f.add(s, xm1))))
    im = f.sel(f.le(a, f.c(1.5)),
               f.fn("log1p", f.add(am1, f.sqrt(f.mul(am1, f.add(a, one))))),
               f.fn("log", f.add(a, f.sqrt(f.sub(f.mul(a, a), one)))))
    on_segment = f.and_(f.eq(y, zero), f.le(x, one))
    re = f.sel(on_segment, f.fn("acos", x), re)
    im = f.sel(on_segment, zero, im)
    safe_max = f.c(float(np.sqrt(info.max)) / 8)
    safe_min = f.c(float(np.sqrt(info.tiny)) * 4)
    main = f.and_(f.gt(x, safe_min), f.lt(x, safe_max), f.gt(y, safe_min), f.lt(y, safe_max))
    y_small = f.le(y, f.mul(f.c(eps), f.abs(xm1)))
    fits = f.gt(f.div(f.c(float(info.max)), xp1), xm1)
    re1 = f.sel(f.lt(x, one), f.fn("acos", f.sel(f.lt(x, one), x, zero)),
                f.sel(fits, f.div(y, f.sqrt(f.mul(xm1, xp1))), f.div(y, x)))
    im1 = f.sel(f.lt(x, one), f.div(y, f.sqrt(f.mul(xp1, f.sub(one, x)))),
                f.sel(fits, f.fn("log1p", f.add(xm1, f.sqrt(f.mul(xp1, xm1)))),
                      f.add(log2, f.fn("log", x))))
    sy = f.sqrt(y)
    y_huge = f.ge(f.sub(f.mul(f.c(eps), y), one), x)
    im3 = f.add(log2, f.fn("log", y))
    xoy = f.div(x, y)
    re4 = f.fn("atan", f.div(y, x))
    im4 = f.add(f.add(log2, f.fn("log", y)), f.mul(half, f.fn("log1p", f.mul(xoy, xoy))))
    a5 = f.sqrt(f.add(one, y2))
    im5 = f.mul(half, f.fn("log1p", f.mul(f.mul(f.c(2.0), y), f.add(y, a5))))
    ext_re = f.sel(y_small, re1, f.sel(f.le(y, safe_min), sy, f.sel(
        y_huge, pi_2, f.sel(f.gt(x, one), re4, pi_2))))
    ext_im = f.sel(y_small, im1, f.sel(f.le(y, safe_min), sy, f.sel(
        y_huge, im3, f.sel(f.gt(x, one), im4, im5))))
    re = f.sel(f.or_(main, on_segment), re, ext_re)
    im = f.sel(f.or_(main, on_segment), im, ext_im)
    # Infinities and NaNs (C99's cacos, first quadrant)
    nan, inf = f.c(np.nan), f.c(np.inf)
    x_inf, y_inf, x_nan, y_nan = f.isinf(x), f.isinf(y), f.isnan(x), f.isnan(y)
    sp_re = f.sel(f.and_(x_inf, y_inf), f.c(np.pi / 4),
                  f.sel(x_inf, f.sel(y_nan, nan, zero),
                        f.sel(y_inf, f.sel(x_nan, nan, pi_2), nan)))
    sp_re = f.sel(f.and_(y_nan, f.eq(x, zero)), pi_2, sp_re)
    sp_im = f.sel(f.or_(x_inf, y_inf), inf, nan)
    special = f.or_(x_inf, y_inf, x_nan, y_nan)
    re, im = f.sel(special, sp_re, re), f.sel(special, sp_im, im)
    re = f.sel(f.signbit(x0), f.sub(f.c(np.pi), re), re)
    return re, f.copysign(im, f.b.fneg(y0))


register(P.acos)(_widened(_cacos))


def _cacosh(f: _F, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    # acosh z = +-i acos z, the sign making the real part non-negative: with acos z = (a, b),
    # (|b|, a with y's sign).
    a, b = _cacos(f, x, y)
    return f.abs(b), f.copysign(a, y)


register(P.acosh)(_widened(_cacosh))
