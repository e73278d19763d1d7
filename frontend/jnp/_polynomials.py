"""Polynomials and signals: polyval, polyfit, roots, poly*, convolve, correlate, interp, window
functions.
"""

__all__: list[str] = []
