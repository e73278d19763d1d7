"""Ops whose native code calls their NumPy reference: ``fft`` (pocketfft) and ``eig``
(LAPACK's geev behind ``numpy.linalg.eig``), through the host-call trampoline.

Writing these in LLVM IR would duplicate well-kept libraries for no gain: each is one large
opaque call either way, and taking the GIL for the call costs microseconds against the
routine's milliseconds. What the native lowering buys is that a jitted function holding one
keeps native code for everything around it (windowing, spectra, losses) instead of running
whole in the interpreter; and since the routine is the reference rule itself, compiled and
interpreted results are the same bits.

The routine gets read-only views of the kernel's buffers (no copies) and runs with the GIL
taken for the call only, like a host callback (llax.codegen.callbacks).
"""

from __future__ import annotations

import functools

import llvmlite.ir as ir

from llax.codegen import callbacks  # a module: it may still be loading (it imports lower)
from llax.codegen.lower import OPAQUE_RULES, KernelBuilder
from llax.ir import prims as P
from llax.ir.core import Op
from llax.ir.reference import reference

NUMPY_ROUTINES = (P.fft, P.eig)


def lower_by_reference(kb: KernelBuilder, op: Op, outs: list[ir.Value]) -> None:
    routine = functools.partial(reference[op.prim], **op.rule_params)
    callbacks.lower_host_call(kb, op, outs, routine, trusted=True)


for _prim in NUMPY_ROUTINES:
    OPAQUE_RULES[_prim] = lower_by_reference
