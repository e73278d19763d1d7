"""``llax.example_libraries``: JAX's ``stax`` (neural-network layers as ``(init_fun,
apply_fun)`` pairs) and ``optimizers`` (``(init, update, get_params)`` triples)."""
