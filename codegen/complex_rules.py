"""Scalar rules for elementwise primitives on complex values (``{T, T}`` structs, ltypes).

``RULES[prim](builder, args, in_types, out_type, params) -> value``, as in
``llax.codegen.scalar_rules``, which dispatches here when an operand or the result is
complex. Each rule computes what the reference (NumPy's ufunc loops) computes, operation
for operation, so that results are bit for bit NumPy's:

- ``mul`` (and ``square``) as NumPy's SIMD loop: ``re = fma(ar, br, -(ai*bi))``,
  ``im = fma(ar, bi, ai*br)`` on a host with FMA (NumPy dispatches to that loop there),
  plain products and sums without it;
- ``div`` by Smith's method, exactly as NumPy's loop (ratio of the smaller to the larger
  part of the divisor; a zero divisor gives ``x / +0`` part by part);
- ``abs`` as NumPy's SIMD ``cabsolute``: infinities first, then NaN, then
  ``larger * sqrt(fma(r, r, 1))`` with ``r = smaller / larger``;
- ``integer_pow`` as NumPy's ``nc_pow`` with an integral exponent (|y| < 100): binary
  powering with plain complex products, ``1 / x**-y`` by Smith's division;
- the transcendental functions in ``llax.codegen.complex_functions``.

No fast-math flags anywhere: LLVM must not reassociate or contract these.
"""

from __future__ import annotations

from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from llax.codegen import ltypes
from llax.codegen.ltypes import intrinsic, make_complex, parts
from llax.ir import dtypes
from llax.ir import prims as P
from llax.ir.primitive import Primitive

Rule = Callable[..., ir.Value]
RULES: dict[Primitive, Rule] = {}


def register(*prims: Primitive) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        for p in prims:
            RULES[p] = fn
        return fn

    return deco


def host_has_fma() -> bool:
    """Whether NumPy's complex loops use fused multiply-adds on this host (its SIMD
    dispatch picks the FMA3 loops where the CPU has FMA, as LLVM's target does)."""
    from llax.codegen import target

    return target.host().has_feature("fma")


def fconst(t: ir.Type, v: float) -> ir.Constant:
    return ir.Constant(t, float(np.asarray(v, dtype=np.float32 if t == ltypes.FLOAT
                                           else np.float64)))


def muladd(b: ir.IRBuilder, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
    """``x * y + z`` as NumPy's SIMD loops compute it: fused where the host has FMA."""
    if host_has_fma():
        return intrinsic(b, "fma", [x, y, z], x.type)
    return b.fadd(b.fmul(x, y), z)


def cmul_simd(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """NumPy's ``multiply`` loop."""
    (ar, ai), (br, bi) = parts(b, x), parts(b, y)
    return make_complex(b, muladd(b, ar, br, b.fneg(b.fmul(ai, bi))),
                        muladd(b, ar, bi, b.fmul(ai, br)))


def cmul_plain(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """npymath's complex product (power, and the transcendental formulas): no fusion."""
    (ar, ai), (br, bi) = parts(b, x), parts(b, y)
    return make_complex(b, b.fsub(b.fmul(ar, br), b.fmul(ai, bi)),
                        b.fadd(b.fmul(ar, bi), b.fmul(ai, br)))


def cdiv(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """NumPy's ``divide`` loop: Smith's method, both branches computed and selected."""
    (ar, ai), (br, bi) = parts(b, x), parts(b, y)
    t = br.type
    one = fconst(t, 1.0)
    abr, abi = (intrinsic(b, "fabs", [v], t) for v in (br, bi))
    real_big = b.fcmp_ordered(">=", abr, abi)  # NaN: the other branch, as in C
    zero = b.and_(b.fcmp_ordered("==", abr, fconst(t, 0.0)),
                  b.fcmp_ordered("==", abi, fconst(t, 0.0)))
    # |br| >= |bi|
    rat1 = b.fdiv(bi, br)
    scl1 = b.fdiv(one, b.fadd(br, b.fmul(bi, rat1)))
    re1 = b.fmul(b.fadd(ar, b.fmul(ai, rat1)), scl1)
    im1 = b.fmul(b.fsub(ai, b.fmul(ar, rat1)), scl1)
    # |br| < |bi|
    rat2 = b.fdiv(br, bi)
    scl2 = b.fdiv(one, b.fadd(bi, b.fmul(br, rat2)))
    re2 = b.fmul(b.fadd(b.fmul(ar, rat2), ai), scl2)
    im2 = b.fmul(b.fsub(b.fmul(ai, rat2), ar), scl2)
    # 0 divisor: x / |0| part by part (a complex infinity or NaN)
    re0, im0 = b.fdiv(ar, abr), b.fdiv(ai, abr)
    re = b.select(zero, re0, b.select(real_big, re1, re2))
    im = b.select(zero, im0, b.select(real_big, im1, im2))
    return make_complex(b, re, im)


def cabs(b: ir.IRBuilder, z: ir.Value) -> ir.Value:
    """NumPy's SIMD complex ``absolute``."""
    re, im = parts(b, z)
    t = re.type
    inf, nan, zero = fconst(t, np.inf), fconst(t, np.nan), fconst(t, 0.0)
    re, im = intrinsic(b, "fabs", [re], t), intrinsic(b, "fabs", [im], t)
    re_inf, im_inf = b.fcmp_ordered("==", re, inf), b.fcmp_ordered("==", im, inf)
    im = b.select(re_inf, inf, im)
    re = b.select(im_inf, inf, re)
    re_nan, im_nan = b.fcmp_unordered("uno", re, re), b.fcmp_unordered("uno", im, im)
    im = b.select(re_nan, nan, im)
    re = b.select(im_nan, nan, re)
    # Both NaN or neither from here: a plain compare picks max and min.
    re_larger = b.fcmp_ordered(">", re, im)
    larger, smaller = b.select(re_larger, re, im), b.select(re_larger, im, re)
    divide = b.not_(b.or_(b.fcmp_ordered("==", larger, zero),
                          b.fcmp_ordered("==", smaller, inf)))
    ratio = b.select(divide, b.fdiv(smaller, b.select(divide, larger, fconst(t, 1.0))), zero)
    root = intrinsic(b, "sqrt", [muladd(b, ratio, ratio, fconst(t, 1.0))], t)
    return b.fmul(root, larger)


def _parts_rule(fn: Callable[[ir.IRBuilder, ir.Value, ir.Value], ir.Value]) -> Rule:
    def rule(b, args, it, ot, params):
        (xr, xi), (yr, yi) = (parts(b, a) for a in args)
        return make_complex(b, fn(b, xr, yr), fn(b, xi, yi))

    return rule


def _promote(b: ir.IRBuilder, args: list[ir.Value], it, ot) -> list[ir.Value]:
    """Operands as complex values of the result's dtype (a real operand gets im = +0)."""
    out = []
    for a, t in zip(args, it):
        if dtypes.is_complex(t.dtype):
            out.append(a)
        else:
            part = dtypes.real_part(ot.dtype)
            out.append(make_complex(b, a, ltypes.const(part, 0.0)))
    return out


register(P.add)(_parts_rule(lambda b, x, y: b.fadd(x, y)))
register(P.sub)(_parts_rule(lambda b, x, y: b.fsub(x, y)))


@register(P.mul)
def _mul(b, args, it, ot, params):
    return cmul_simd(b, *args)


@register(P.square)
def _square(b, args, it, ot, params):
    return cmul_simd(b, args[0], args[0])


@register(P.div)
def _div(b, args, it, ot, params):
    return cdiv(b, *args)


@register(P.neg)
def _neg(b, args, it, ot, params):
    re, im = parts(b, args[0])
    return make_complex(b, b.fneg(re), b.fneg(im))


@register(P.conj)
def _conj(b, args, it, ot, params):
    if not dtypes.is_complex(it[0].dtype):  # conj of a real operand: itself, made complex
        part = dtypes.real_part(ot.dtype)
        x = convert(b, args[0], it[0].dtype, part)
        return make_complex(b, x, ltypes.const(part, -0.0))
    re, im = parts(b, args[0])
    return make_complex(b, re, b.fneg(im))


register(P.real)(lambda b, args, it, ot, params: parts(b, args[0])[0])
register(P.imag)(lambda b, args, it, ot, params: parts(b, args[0])[1])
register(P.complex)(lambda b, args, it, ot, params: make_complex(b, *args))
register(P.stop_gradient)(lambda b, args, it, ot, params: args[0])
register(P.abs)(lambda b, args, it, ot, params: cabs(b, args[0]))


@register(P.eq)
def _eq(b, args, it, ot, params):
    (xr, xi), (yr, yi) = parts(b, args[0]), parts(b, args[1])
    return b.and_(b.fcmp_ordered("==", xr, yr), b.fcmp_ordered("==", xi, yi))


@register(P.ne)
def _ne(b, args, it, ot, params):
    (xr, xi), (yr, yi) = parts(b, args[0]), parts(b, args[1])
    return b.or_(b.fcmp_unordered("!=", xr, yr), b.fcmp_unordered("!=", xi, yi))


def _max_min(is_max: bool) -> Rule:
    """NumPy's complex maximum/minimum: x unless y is lexicographically greater (smaller),
    and x when x has a NaN part (its loop's CGE/CLE)."""

    def rule(b, args, it, ot, params):
        (xr, xi), (yr, yi) = parts(b, args[0]), parts(b, args[1])
        op = ">" if is_max else "<"
        no_nan_im = b.and_(b.fcmp_ordered("ord", xi, xi), b.fcmp_ordered("ord", yi, yi))
        keep = b.or_(b.and_(b.fcmp_ordered(op, xr, yr), no_nan_im),
                     b.and_(b.fcmp_ordered("==", xr, yr), b.fcmp_ordered(op + "=", xi, yi)))
        keep = b.or_(keep, b.or_(b.fcmp_unordered("uno", xr, xr),
                                 b.fcmp_unordered("uno", xi, xi)))
        return ltypes.select(b, keep, args[0], args[1])

    return rule


register(P.max)(_max_min(True))
register(P.min)(_max_min(False))


@register(P.select_n)
def _select_n(b, args, it, ot, params):
    from llax.codegen.scalar_rules import RULES as SCALAR

    return SCALAR[P.select_n](b, args, it, ot, params)


def convert(b: ir.IRBuilder, x: ir.Value, src: np.dtype, dst: np.dtype) -> ir.Value:
    """``convert_element_type`` where either side is complex, as the reference: a complex
    value becomes real by dropping its imaginary part (bool: nonzero if either part is)."""
    from llax.codegen.scalar_rules import convert as real_convert

    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return x
    if dtypes.is_complex(src):
        re, im = parts(b, x)
        if dtypes.is_complex(dst):
            part_src, part_dst = dtypes.real_part(src), dtypes.real_part(dst)
            return make_complex(b, real_convert(b, re, part_src, part_dst),
                                real_convert(b, im, part_src, part_dst))
        if dtypes.is_bool(dst):
            zero = fconst(re.type, 0.0)
            return b.or_(b.fcmp_unordered("!=", re, zero), b.fcmp_unordered("!=", im, zero))
        return real_convert(b, re, dtypes.real_part(src), dst)
    if dtypes.is_complex(dst):
        part = dtypes.real_part(dst)
        return make_complex(b, real_convert(b, x, src, part), ltypes.const(part, 0.0))
    return real_convert(b, x, src, dst)


@register(P.convert_element_type)
def _convert(b, args, it, ot, params):
    return convert(b, args[0], it[0].dtype, ot.dtype)


# Exponents NumPy's nc_pow computes by repeated products (others call cpow).
MAX_INTEGER_POW = 100


def cpow_int(b: ir.IRBuilder, x: ir.Value, n: int, dtype: np.dtype) -> ir.Value:
    """NumPy's ``nc_pow(x, n)`` for an integer ``0 <= n < 100``."""
    one = ltypes.const(dtype, 1.0)
    if n == 0:
        return one
    re, im = parts(b, x)
    t = re.type
    zero_base = b.and_(b.fcmp_ordered("==", re, fconst(t, 0.0)),
                       b.fcmp_ordered("==", im, fconst(t, 0.0)))
    at_zero = ltypes.const(dtype, 0.0)
    if n == 1:
        r = x
    elif n == 2:
        r = cmul_plain(b, x, x)
    elif n == 3:
        r = cmul_plain(b, x, cmul_plain(b, x, x))
    else:
        m, mask, acc, p = abs(n), 1, one, x
        while True:
            if m & mask:
                acc = cmul_plain(b, acc, p)
            mask <<= 1
            if m < mask:
                break
            p = cmul_plain(b, p, p)
        r = acc
    return ltypes.select(b, zero_base, at_zero, r)


@register(P.integer_pow)
def _integer_pow(b, args, it, ot, params):
    y = params["y"]
    if y >= 0:
        return cpow_int(b, args[0], y, ot.dtype)
    # The reference is 1 / x**-y: Smith's division of one by the positive power.
    return cdiv(b, ltypes.const(ot.dtype, 1.0), cpow_int(b, args[0], -y, ot.dtype))


def integer_pow_is_native(op) -> bool:
    return abs(op.params["y"]) < MAX_INTEGER_POW


def emit(b: ir.IRBuilder, prim: Primitive, args: list[ir.Value], it, ot, params) -> ir.Value:
    """The complex rule for ``prim`` (real operands of a complex op made complex first)."""
    rule = RULES[prim]
    if prim in (P.add, P.sub, P.mul, P.div) and not all(dtypes.is_complex(t.dtype)
                                                        for t in it):
        args = _promote(b, args, it, ot)
    return rule(b, args, it, ot, params)



def _register_complex_only() -> None:
    """Primitives that only exist on complex values get their rule in the scalar table
    too (``scalar_rules.emit`` sends every complex op here anyway)."""
    from llax.codegen import scalar_rules

    for prim in (P.complex, P.real, P.imag, P.conj):
        scalar_rules.RULES.setdefault(prim, RULES[prim])


_register_complex_only()

# The transcendental functions register themselves in RULES.
import llax.codegen.complex_functions  # noqa: E402,F401
