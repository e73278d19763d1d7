"""``llax.example_libraries.stax`` (JAX's API)."""
