"""Lowering of the window primitives (ir.prims.windows)."""

from __future__ import annotations

from llax.codegen.lower import OPAQUE_RULES
from llax.codegen.numpy_routines import lower_by_reference
from llax.ir import prims as P

for _prim in (*P.REDUCE_WINDOWS, P.select_and_gather_add, P.select_and_scatter_add):
    OPAQUE_RULES[_prim] = lower_by_reference
