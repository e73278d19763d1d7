"""``llax.nn.initializers`` (all of ``jax.nn.initializers``)."""
