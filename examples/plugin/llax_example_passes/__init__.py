"""Example llax passes, registered through the ``llax.passes`` entry-point group.

- ``mul2-to-add`` rewrites ``x * 2`` as ``x + x`` (``mul_to_add.py``);
- ``op-counts`` counts the ops of a function by primitive (``op_counts.py``).

llax never needs this package to be imported by hand: naming one of the passes in a
pipeline is enough (see ``pyproject.toml``).
"""

from llax_example_passes.mul_to_add import MulTwoToAdd
from llax_example_passes.op_counts import OpCounts, count_ops

__all__ = ["MulTwoToAdd", "OpCounts", "count_ops"]
