"""``llax.experimental``: JAX's ``jax.experimental`` names llax provides (``io_callback``)."""

from llax.frontend.callbacks import io_callback

__all__ = ["io_callback"]
