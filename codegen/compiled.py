"""``Compiled``: what compiling a traced function gives, natively or for the interpreter.

It lives here, below the frontend, because the code generator makes it
(llax.codegen.executable) and the frontend makes it too when it interprets
instead (llax.frontend.compile); neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from llax.ir.core import Function


@dataclass
class Compiled:
    """A compiled function: ``call(buffers) -> buffers`` and its intermediate forms as text."""

    traced: Function
    optimized: Function
    call: Callable[[Sequence[np.ndarray]], list[np.ndarray]]
    stages: dict[str, str] = field(default_factory=dict)
    # Native code only: the raw builtin (returns an array, or a tuple of them), and seconds
    # spent lowering and in the JIT.
    entry: Callable[..., object] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # Positions of the inputs the code may write (their caller donated them): ``call`` must
    # get arrays nothing else uses there, and may return them as outputs.
    donated: frozenset[int] = frozenset()
