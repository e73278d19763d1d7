"""``llax.debug``: seeing values inside transformed and compiled code (JAX's ``jax.debug``).

``print`` and ``callback`` work eagerly, under ``jit`` (the compiled code calls back into
Python), ``vmap`` (once per example), ``grad`` (primal values) and inside ``cond``,
``while_loop``, ``fori_loop`` and ``scan`` bodies (once per iteration). JAX's
``debug.breakpoint`` is not provided: use ``llax.disable_jit()`` and ``pdb`` instead.
"""

from llax.frontend.callbacks import debug_callback as callback
from llax.frontend.callbacks import debug_print as print  # noqa: A004 - JAX's name

__all__ = ["callback", "print"]
