"""The scalar rule of ``threefry2x32``: the Threefry-2x32 cipher on one counter pair.

It is an elementwise rule with two results, (y0, y1), both computed by one chain of
instructions; the emitter evaluates it once per element and hands out both words
(``Emitter`` memoises every output of a multi-output op). Everything is wrapping i32
arithmetic: adds, xors and rotations. A rotation is ``llvm.fshl(x, x, r)`` (a funnel
shift of a value with itself), which LLVM turns into one ``vprold`` on AVX-512 and into
two shifts and an or elsewhere, and which vectorises like any other integer op.
"""

from __future__ import annotations

import llvmlite.ir as ir

from llax.codegen.ltypes import intrinsic
from llax.codegen.scalar_rules import INTERLEAVE, register
from llax.ir import prims as P
from llax.ir.prims.random import KEY_PARITY, ROTATIONS

GROUPS = 5  # of 4 rounds each: the 20-round variant


def _const_like(x: ir.Value, v: int) -> ir.Constant:
    return ir.Constant(x.type, v)


def _rotl(b: ir.IRBuilder, x: ir.Value, r: int) -> ir.Value:
    return intrinsic(b, "fshl", [x, x, _const_like(x, r)], x.type)


def threefry2x32(b: ir.IRBuilder, k0: ir.Value, k1: ir.Value, x0: ir.Value,
                 x1: ir.Value) -> tuple[ir.Value, ir.Value]:
    """Threefry-2x32 (20 rounds) of the counter pair ``(x0, x1)`` under key ``(k0, k1)``."""
    ks = (k0, k1, b.xor(b.xor(k0, k1), _const_like(k0, KEY_PARITY)))
    x0, x1 = b.add(x0, ks[0]), b.add(x1, ks[1])
    for group in range(1, GROUPS + 1):
        for r in ROTATIONS[(group - 1) % 2]:
            x0 = b.add(x0, x1)
            x1 = b.xor(_rotl(b, x1, r), x0)
        # Key injection: the schedule word for this group, plus the group number on x1.
        x0 = b.add(x0, ks[group % 3])
        x1 = b.add(x1, b.add(ks[(group + 1) % 3], _const_like(x1, group)))
    return x0, x1


@register(P.threefry2x32)
def _threefry_rule(b, args, it, ot, params):
    return threefry2x32(b, *args)


INTERLEAVE[P.threefry2x32] = 4
