"""Passes over the IR and the machinery to run them (see ``llax.passes.manager``).

Importing this package registers the built-in passes: ``simplify``, ``cse``,
``dce``, ``fuse``, ``inline-calls`` and ``inplace``.
"""

# Built-ins register themselves on import; these imports must follow the manager's.
from llax.passes.cse import CommonSubexpressionElimination  # noqa: E402, I001
from llax.passes.dce import EFFECTFUL, DeadCodeElimination  # noqa: E402
from llax.passes.fuse import Fuse  # noqa: E402
from llax.passes.inline_calls import InlineCalls  # noqa: E402
from llax.passes.inplace import InPlace  # noqa: E402
from llax.passes.manager import (
    Pass,
    PassContext,
    available_passes,
    get_pass,
    map_regions,
    parse_pipeline,
    pipeline_text,
    register_pass,
    run_pipeline,
)
from llax.passes.simplify import Simplify  # noqa: E402

__all__ = ["EFFECTFUL", "CommonSubexpressionElimination", "DeadCodeElimination", "Fuse",
           "InPlace", "InlineCalls", "Pass", "PassContext", "Simplify", "available_passes",
           "get_pass", "map_regions", "parse_pipeline", "pipeline_text", "register_pass",
           "run_pipeline"]
