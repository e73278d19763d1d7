"""The table of the float64 logarithm: 1/c and log c for 128 subintervals.

log_core (exp_log.py) writes a positive x as 2^k z with z in [A, 2A), A just
above sqrt(1/2), by integer arithmetic on the bits: the code of z, minus the
code of A, falls in one of SIZE equal runs of codes, and its top bits
(``(bits(z) - OFFSET) >> INDEX_SHIFT``) say which.  Run i has a centre c_i;
the table holds, for each run,

    invc = 1/c   rounded to as few bits as it takes for r = z invc - 1 to be
                 an exact double for every z of the run (so that one fma
                 computes r exactly: z has 53 bits, and z invc - 1 needs
                 53 + bits(invc) - (leading bits cancelled by the - 1));
    log c = -log(invc) exactly, split as hi + lo, hi a multiple of 2^-42
                 (like the high part of ln 2 that k multiplies), so that
                 k ln2_hi + hi is exact for every exponent k.

Then log x = (k ln2_hi + hi) + r + log1p(r) - r + (k ln2_lo + lo) with only
the polynomial for log1p(r) - r approximated, |r| <= R_MAX.  The run that
holds 1 is centred on it and has invc = 1, log c = 0: near x = 1 the result
is log1p(z - 1) with z - 1 exact, so small logarithms keep full accuracy.

Everything is computed here in exact rational arithmetic (and log c to 60
digits), once, when first used (~0.1 s), and the properties above are checked.
"""

from __future__ import annotations

import functools
import math
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

SIZE = 128
INDEX_SHIFT = 45  # 52 mantissa bits - 7 index bits
_ONE = 0x3FF0000000000000  # bits of 1.0
_RUN = 1 << INDEX_SHIFT  # codes per run
ONE_RUN = 74  # the run centred on 1.0; makes A = 0.709, near sqrt(1/2)
OFFSET = _ONE - _RUN // 2 - ONE_RUN * _RUN  # code of A
LN2_HI_ULP = Fraction(1, 1 << 42)  # the grid of log c's high part
R_MAX = (-0.0053, 0.0049)  # every r = z invc - 1 lies in here (checked)


def _value(code: int) -> Fraction:
    return Fraction(struct.unpack("<d", struct.pack("<q", code))[0])


def _ulp(v: Fraction) -> Fraction:
    """Spacing of the doubles at the normal double v."""
    return Fraction(2) ** (math.frexp(float(v))[1] - 53)


def _lowest_bit(v: Fraction) -> Fraction:
    """The value of the last nonzero bit of the dyadic v > 0."""
    den_exp = v.denominator.bit_length() - 1
    num = v.numerator
    return Fraction(num & -num, 1 << den_exp)


def _best_invc(lo: Fraction, hi: Fraction) -> Fraction:
    """The 1/c with the smallest max |z invc - 1| over z in [lo, hi], among the
    short numbers for which every z invc - 1 is an exact double.

    In integers: z = Z 2^-53 (every z in [1/2, 2) is a multiple of 2^-53) and
    invc = I 2^-q, so z invc - 1 = R 2^-(53+q) with R = Z I - 2^(53+q), a
    multiple of ulp(z) = 2^ez times invc's lowest bit 2^(tz(I)-q): exact while
    |R| 2^-(53+q) < 2^53 2^ez 2^(tz(I)-q), i.e. |R| < 2^(106 + ez + tz(I))."""
    zlo, zhi = int(lo * 2**53), int(hi * 2**53)
    ez = min(_ulp(lo), _ulp(hi)).denominator.bit_length() - 1
    ez = -ez
    floor_r = float((hi - lo) / (hi + lo))  # no invc does better than 2 / (lo + hi)
    best, best_r, best_one = 0, 1, 1
    for q in range(1, 64):
        if 2.0 ** (53 + ez - q) <= floor_r:
            break  # invc with a lowest bit of 2^-q or finer cannot keep r exact
        one = 1 << (53 + q)
        centre = (2 * one) // (zlo + zhi)
        for i in (centre, centre + 1):
            r = max(abs(zlo * i - one), abs(zhi * i - one))
            tz = (i & -i).bit_length() - 1
            if r * best_one < best_r * one and r < 1 << (106 + ez + tz):
                best, best_r, best_one = Fraction(i, 1 << q), r, one
    assert best > 0
    return best


def _minus_ln(v: Fraction) -> Decimal:
    """-log(v) to 60 digits (negated inside the context: outside, Decimal would
    round it to the default 28)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return -(Decimal(v.numerator) / Decimal(v.denominator)).ln()


@functools.cache
def entries() -> tuple[tuple[float, float, float], ...]:
    """(invc, log c high part, log c low part) for each run, i = 0 .. SIZE-1."""
    out = []
    for i in range(SIZE):
        lo = _value(OFFSET + i * _RUN)
        hi = _value(OFFSET + (i + 1) * _RUN - 1)
        invc = Fraction(1) if i == ONE_RUN else _best_invc(lo, hi)
        assert float(invc) == invc
        # r = z invc - 1 over the run: within R_MAX, and exact, being a multiple
        # of ulp(z) * lowest bit(invc) smaller than 2^53 of them.
        r_lo, r_hi = lo * invc - 1, hi * invc - 1
        assert R_MAX[0] <= r_lo and r_hi <= R_MAX[1], (i, float(r_lo), float(r_hi))
        z_ulp = min(_ulp(lo), _ulp(hi))
        assert max(-r_lo, r_hi) < 2**53 * z_ulp * _lowest_bit(invc), i
        logc = _minus_ln(invc)
        logc_hi = round(Fraction(logc) / LN2_HI_ULP) * LN2_HI_ULP
        with localcontext() as ctx:
            ctx.prec = 60
            logc_lo = float(logc - Decimal(logc_hi.numerator) / Decimal(logc_hi.denominator))
        out.append((float(invc), float(logc_hi), logc_lo))
    assert out[ONE_RUN] == (1.0, 0.0, 0.0)
    return tuple(out)


# The table holds two words per run (a gather each, the cost of the method):
#   word 0: the bits of invc, which has at most 10 significant bits, with
#           n + 2^41 in its 42 low bits, where log c's high part is n 2^-42;
#   word 1: the bits of log c's low part.
# invc is word 0 with the low bits cleared; OR-ing those low bits into the
# bits of 2^10 (whose ulp is 2^-42) gives 2^10 + (n + 2^41) 2^-42 exactly,
# which is log c's high part plus HI_BIAS.
HI_FIELD = 42
HI_MAGIC = 2.0**10
HI_BIAS = HI_MAGIC + 0.5


def _bits(v: float) -> int:
    return struct.unpack("<q", struct.pack("<d", v))[0]


@functools.cache
def rows() -> tuple[tuple[int, int], ...]:
    """The table's two words for each run, i = 0 .. SIZE-1 (see above)."""
    out = []
    field = 1 << HI_FIELD
    for invc, logc_hi, logc_lo in entries():
        n = Fraction(logc_hi) / LN2_HI_ULP
        assert n.denominator == 1 and abs(n) < field // 2
        assert _bits(invc) % field == 0
        packed = _bits(invc) | (int(n) + field // 2)
        # The unpacking (in integers here) gives back both values exactly.
        assert _value(packed & -field) == invc
        assert _value((packed % field) | _bits(HI_MAGIC)) - Fraction(HI_BIAS) == logc_hi
        out.append((packed, _bits(logc_lo)))
    return tuple(out)
