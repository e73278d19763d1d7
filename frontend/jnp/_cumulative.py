"""Cumulative ops: cumsum, cumprod, cumulative_sum/prod, nancumsum, diff, ediff1d, gradient,
trapezoid.
"""

__all__: list[str] = []
