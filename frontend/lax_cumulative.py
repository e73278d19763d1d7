"""``lax``'s cumulative reductions."""

__all__: list[str] = []
