"""Example llax passes, registered through the ``llax.passes`` entry-point group.

- ``mul2-to-add`` rewrites ``x * 2`` as ``x + x`` (``mul_to_add.py``);
- ``count-ops`` counts the ops of a function by primitive (``count_ops.py``).

llax never needs this package to be imported by hand: naming one of the passes in a
pipeline is enough (see ``pyproject.toml``).
"""

from llax_example_passes.count_ops import CountOps, count_ops
from llax_example_passes.mul_to_add import MulTwoToAdd

__all__ = ["CountOps", "MulTwoToAdd", "count_ops"]
