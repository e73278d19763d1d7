"""Lowering of ``conv_general_dilated``."""

from __future__ import annotations

import llvmlite.ir as ir

from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.codegen.numpy_routines import lower_by_reference
from llax.ir import prims as P
from llax.ir.core import Op


def _lower_conv(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    lower_by_reference(kb, op, outs)


OPAQUE_RULES[P.conv_general_dilated] = _lower_conv
