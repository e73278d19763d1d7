"""Payne-Hanek reduction of a huge double by pi/2, in exact integer arithmetic.

``reduce(builder, x) -> (r, r_lo, q)`` with x = q pi/2 + r + r_lo, |r| <= pi/4
(to within 2^-18), for every finite double x, as straight-line scalar IR.  It
is the rare path of sin, cos and tan (see trig.py and rare_lanes.py), in a
scalar function of their runtime, so it may use what vectors lack (64 x 64
-> 128-bit products, a table load at a computed index).

Write |x| = X 2^e with X a 53-bit integer and 2/pi = sum b_i 2^-i.  Bits with
i <= e - 2 add multiples of 4 to x 2/pi, which change nothing mod 4, so only
the 192 bits b_(e-1) ... b_(e+190) are read, as an integer W, from a table
of 2/pi's bits; then

    x 2/pi = X W 2^-190  (mod 4),  error < X 2^-191 <= 2^-138,

and X W mod 2^192 (three products of 64-bit words) is the fixed-point value
y in [0, 4) with 190 fraction bits: q = round(y) mod 4, f = y - q in
[-1/2, 1/2].  f's top 128 bits, as four 32-bit limbs, are each exact as a
double and summed without cancellation into a double-word (~106 bits relative
to f), and r + r_lo = f pi/2.  (Normalising with ctlz and i128 variable
shifts did the same at more compile time.)  The closest
a double comes to a multiple of pi/2 is about 2^-61 (x = 6381956970095103
2^797), so f keeps at least 2^-64 relative accuracy: r + r_lo is good to
well below an ulp of r for every x.
"""

from __future__ import annotations

from llvmlite import ir

from llax.codegen.vecmath.core import PI, pi_fixed, split

_I64, _I128 = ir.IntType(64), ir.IntType(128)
# 2/pi's bits as 64-bit words, after _PAD zero bits: word k holds b_(64k - _PAD + 1)
# ... b_(64k - _PAD + 64).  The padding lets a window start before 2/pi's first
# bit (x down to 2^-10); 20 words reach the last bit any double (and inf) reads.
_PAD, _NWORDS = 64, 20


def _two_over_pi_words() -> tuple[int, ...]:
    """floor(2/pi 2^(64 NWORDS - PAD)) split into words, from pi's bits (with guard bits)."""
    nbits = 64 * _NWORDS - _PAD
    guard = 64
    value = (1 << (nbits + 1 + nbits + guard)) // pi_fixed(nbits + guard)
    return tuple((value >> (64 * (_NWORDS - 1 - k))) & ((1 << 64) - 1) for k in range(_NWORDS))


TWO_OVER_PI_WORDS = _two_over_pi_words()
_PIO2 = split(PI / 2, 64, 2)


def _table(module: ir.Module) -> ir.GlobalVariable:
    name = "llax.vecmath.two_over_pi"
    g = module.globals.get(name)
    if g is None:
        ty = ir.ArrayType(_I64, _NWORDS)
        g = ir.GlobalVariable(module, ty, name)
        g.linkage = "private"
        g.global_constant = True
        g.initializer = ir.Constant(ty, [ir.Constant(_I64, w) for w in TWO_OVER_PI_WORDS])
    return g


def _intrinsic(b: ir.IRBuilder, name: str, ty: ir.Type, args: list[ir.Value]) -> ir.Value:
    module = b.module
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ty, [a.type for a in args]), name)
    return b.call(fn, args)


def reduce(b: ir.IRBuilder, x: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(r, r_lo, q mod 4 as i64) for a scalar double x (|x| >= 2^-10; inf gives garbage)."""
    dbl = ir.DoubleType()
    bits = b.bitcast(x, _I64)
    negative = b.icmp_signed("<", bits, _I64(0))
    biased = b.and_(b.lshr(bits, _I64(52)), _I64(0x7FF))
    big_x = b.or_(b.and_(bits, _I64((1 << 52) - 1)), _I64(1 << 52))  # X; |x| = X 2^e
    # The window starts at b_(e-1), bit j0 = e - 2 + PAD of the table, e = biased - 1075.
    j0 = b.add(biased, _I64(-1075 - 2 + _PAD))
    word, shift = b.lshr(j0, _I64(6)), b.and_(j0, _I64(63))
    table = _table(b.module)
    words = [b.load(b.gep(table, [_I64(0), b.add(word, _I64(k))], inbounds=True))
             for k in range(4)]
    # The window's words, most significant first: words[k] and words[k + 1] shifted
    # left by `shift` (">> 1 >> 63 - shift" is 0, not poison, at shift 0).
    w2, w1, w0 = (b.or_(b.shl(words[k], shift),
                        b.lshr(b.lshr(words[k + 1], _I64(1)), b.sub(_I64(63), shift)))
                  for k in range(3))

    def wide(v: ir.Value) -> ir.Value:
        return b.zext(v, _I128)

    # y = X (w2 2^128 + w1 2^64 + w0) mod 2^192 = y2 2^128 + y1 2^64 + (y0, not needed).
    p0 = b.mul(wide(big_x), wide(w0))
    p1 = b.mul(wide(big_x), wide(w1))
    mid = b.add(b.lshr(p0, _I128(64)), wide(b.trunc(p1, _I64)))
    y1 = b.trunc(mid, _I64)
    y2 = b.add(b.add(b.trunc(b.lshr(p1, _I128(64)), _I64), b.trunc(b.lshr(mid, _I128(64)), _I64)),
               b.mul(big_x, w2))
    # q = y rounded to an integer (mod 4: the top two bits); f = y - q, signed.
    q = b.lshr(b.add(y2, _I64(1 << 61)), _I64(62))
    f2 = b.sub(y2, b.shl(q, _I64(62)))
    f = b.or_(b.shl(b.sext(f2, _I128), _I128(64)), wide(y1))  # f 2^126
    f_negative = b.icmp_signed("<", f2, _I64(0))
    mag = b.select(f_negative, b.neg(f), f)
    # |f| = L3 2^-30 + L2 2^-62 + L1 2^-94 + L0 2^-126 with 32-bit limbs L (L3 < 2^29),
    # each exact as a double; summed exactly in pairs (Fast2Sum: the larger part first,
    # or 0), then the pairs into a double-word with ~106 bits relative to |f|.
    limbs = [b.uitofp(b.and_(b.trunc(b.lshr(mag, _I128(32 * k)), _I64), _I64(0xFFFFFFFF)), dbl)
             for k in range(4)]
    parts = [b.fmul(v, ir.Constant(dbl, 2.0 ** (32 * k - 126))) for k, v in enumerate(limbs)]

    def fast2sum(a: ir.Value, c: ir.Value) -> tuple[ir.Value, ir.Value]:
        s = b.fadd(a, c)
        return s, b.fsub(c, b.fsub(s, a))

    h, h_lo = fast2sum(parts[3], parts[2])
    m, m_lo = fast2sum(parts[1], parts[0])
    s, s_lo = fast2sum(h, m)
    f_hi, f_lo = fast2sum(s, b.fadd(s_lo, b.fadd(h_lo, m_lo)))
    # r + r_lo = (f_hi + f_lo) pi/2, rounded about once.
    c_hi, c_lo = (ir.Constant(dbl, v) for v in _PIO2)
    r = b.fmul(f_hi, c_hi)
    fma = "llvm.fma.f64"
    r_err = _intrinsic(b, fma, dbl, [f_hi, c_hi, b.fneg(r)])
    r_lo = b.fadd(r_err, _intrinsic(b, fma, dbl, [f_hi, c_lo, b.fmul(f_lo, c_hi)]))
    r, r_lo = fast2sum(r, r_lo)
    # Signs: f was for |x|, negated if y rounded up; x < 0 negates both again.  (Integer
    # xors: x86 has no conditional move for doubles, and a branch would be mispredicted
    # half the time.)
    sign = b.shl(b.zext(b.xor(negative, f_negative), _I64), _I64(63))
    r, r_lo = (b.bitcast(b.xor(b.bitcast(v, _I64), sign), dbl) for v in (r, r_lo))
    q = b.and_(b.select(negative, b.neg(q), q), _I64(3))
    return r, r_lo, q
