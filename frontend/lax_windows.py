"""``lax``'s window reductions (pooling) and their gradients' primitives."""

__all__: list[str] = []
