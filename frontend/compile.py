"""From a traced Function to something callable on numpy buffers.

The one place that decides how a traced function runs: the optimisation
pipeline, then native code from llax.codegen (or the NumPy interpreter when
asked, which the tests use as an oracle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from llax.config import config
from llax.ir.core import Function
from llax.ir.interpreter import evaluate_function

DEFAULT_PIPELINE = "simplify,cse,dce,fuse"


@dataclass
class Compiled:
    """A compiled function: ``call(buffers) -> buffers`` and its intermediate forms as text."""

    traced: Function
    optimized: Function
    call: Callable[[Sequence[np.ndarray]], list[np.ndarray]]
    stages: dict[str, str] = field(default_factory=dict)


def optimize(fn: Function, pipeline: str | None = None) -> Function:
    """Run the optimisation pipeline, after inlining the custom-derivative call ops, which
    only the transformations (already applied by now) look inside."""
    from llax.passes.inline_calls import inline_calls
    from llax.passes.manager import run_pipeline

    spec = pipeline if pipeline is not None else (config.llax_pipeline or DEFAULT_PIPELINE)
    return run_pipeline(inline_calls(fn), spec)


def compile_function(fn: Function, *, pipeline: str | None = None,
                     backend: str = "native") -> Compiled:
    opt = optimize(fn, pipeline)
    if backend == "interpreter":
        return Compiled(fn, opt, lambda args: evaluate_function(opt, args))
    try:
        from llax.codegen import compile_native
    except ImportError:
        return Compiled(fn, opt, lambda args: evaluate_function(opt, args))
    return compile_native(fn, opt)
