"""Sorting and searching: lexsort, partition, argpartition, searchsorted, digitize,
nonzero/argwhere/flatnonzero with size=, histograms, bincount.
"""

__all__: list[str] = []
