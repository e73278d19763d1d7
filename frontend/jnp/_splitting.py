"""Splitting and joining: split, array_split, h/v/dsplit, block, append, insert, delete,
concat, unstack, tile, repeat, resize, roll, rollaxis, rot90, flips.
"""

__all__: list[str] = []
