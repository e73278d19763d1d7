"""From a traced Function to something callable on numpy buffers.

The one place that decides how a traced function runs: the optimisation
pipeline, then native code from llax.codegen (or the NumPy interpreter when
asked, which the tests use as an oracle).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from llax.codegen.compiled import Compiled  # made by the code generator too, so defined there
from llax.config import config
from llax.ir.core import Function
from llax.ir.interpreter import evaluate_function

DEFAULT_PIPELINE = "simplify,cse,dce,fuse,fuse-epilogue,inplace"


def optimize(fn: Function, pipeline: str | None = None,
             donated: frozenset[int] = frozenset()) -> Function:
    """Run the optimisation pipeline, after inlining the custom-derivative call ops, which
    only the transformations (already applied by now) look inside. ``donated``: positions
    of the parameters whose buffers the caller gives up."""
    from llax.passes.inline_calls import inline_calls
    from llax.passes.manager import PassContext, run_pipeline

    spec = pipeline if pipeline is not None else (config.llax_pipeline or DEFAULT_PIPELINE)
    return run_pipeline(inline_calls(fn), spec, PassContext(donated=donated))


def compile_function(fn: Function, *, pipeline: str | None = None,
                     backend: str = "native", donated: frozenset[int] = frozenset()
                     ) -> Compiled:
    opt = optimize(fn, pipeline, donated)
    if backend == "interpreter":
        return Compiled(fn, opt, lambda args: evaluate_function(opt, args))
    try:
        from llax.codegen import compile_native
        from llax.codegen.complex_math import check_native
        from llax.codegen.lowp import check_native as check_native_lowp
    except ImportError:
        return Compiled(fn, opt, lambda args: evaluate_function(opt, args))
    try:
        check_native(opt)
        check_native_lowp(opt)  # bfloat16, float8, int4...: no native lowering
    except NotImplementedError:  # complex or ml_dtypes values the code generator cannot lower
        return Compiled(fn, opt, lambda args: evaluate_function(opt, args))
    return compile_native(fn, opt, donated)


class HotFunction:
    """A Function run over and over by eager code (a cached gradient program, say).

    Inside a trace it is inlined like any Function. Eagerly, it is interpreted
    with NumPy until it has run ``COMPILE_AFTER`` times, then compiled to
    native code: a one-off call never pays for compilation, and a training loop
    runs compiled code after its first few steps.
    """

    COMPILE_AFTER = 3
    __slots__ = ("fn", "calls", "compiled", "interpret_only", "_compiling")

    def __init__(self, fn: Function) -> None:
        self.fn = fn
        self.calls = 0  # (racing threads may lose an increment: compiling a call later)
        self.compiled: Compiled | None = None
        self.interpret_only = False
        self._compiling = threading.Lock()  # one thread compiles; the others interpret

    def __call__(self, args: Sequence) -> list:
        from llax.frontend.core import Array, concrete_value, eager_checks_off, trace_stack
        from llax.transforms.staging import call_function

        if trace_stack() or not eager_checks_off():  # (checked op by op)
            return call_function(self.fn, args)
        self.calls += 1
        if self.compiled is None:
            if (self.calls < self.COMPILE_AFTER or self.interpret_only
                    or not self._compiling.acquire(blocking=False)):
                return call_function(self.fn, args)
            try:
                if self.compiled is None:
                    self.compiled = compile_function(self.fn)
            except Exception:  # noqa: BLE001 - e.g. an op without a lowering: keep interpreting
                self.interpret_only = True
                return call_function(self.fn, args)
            finally:
                self._compiling.release()
        buffers = [np.asarray(concrete_value(a)[0], dtype=v.type.dtype, order="C")
                   for a, v in zip(args, self.fn.params)]
        return [Array(o, r.type.weak) for o, r in zip(self.compiled.call(buffers),
                                                         self.fn.results)]
