"""``op-counts``: count a function's ops by primitive, regions included; change nothing.

Each run logs one line on the ``llax_example_passes.op_counts`` logger, at INFO::

    op-counts @f: add=1 fusion=1 tanh=1

and the record carries the counts as its ``counts`` attribute (a dict, primitive
name -> number). With ``verbose=true`` the line is printed on stderr as well, so a
pipeline such as ``op-counts{verbose=true},simplify,op-counts{verbose=true}`` shows
what the passes between did.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import dataclass

from llax.ir.core import Function, walk_ops
from llax.passes import Pass, PassContext, register_pass

logger = logging.getLogger(__name__)


def count_ops(fn: Function) -> dict[str, int]:
    """Primitive name -> how many ops of ``fn`` (regions included) use it, sorted by name."""
    return dict(sorted(Counter(op.prim.name for op in walk_ops(fn)).items()))


@register_pass
@dataclass(frozen=True)
class OpCounts(Pass):
    """Report the op counts of the function (see the module docstring)."""

    name = "op-counts"
    verbose: bool = False

    def run(self, fn: Function, ctx: PassContext) -> Function:
        counts = count_ops(fn)
        line = f"op-counts @{fn.name}: " + " ".join(f"{k}={n}" for k, n in counts.items())
        logger.info(line, extra={"counts": counts})
        if self.verbose:
            print(line, file=sys.stderr, flush=True)
        return fn
