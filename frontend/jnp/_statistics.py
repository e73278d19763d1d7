"""Statistics: median, percentile, quantile, average, cov, corrcoef, ptp and the nan*
reductions.
"""

__all__: list[str] = []
