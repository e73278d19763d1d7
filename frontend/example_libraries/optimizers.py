"""``llax.example_libraries.optimizers`` (JAX's API)."""
