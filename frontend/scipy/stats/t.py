"""Student's t distribution with ``df`` degrees of freedom."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.stats._common import const, inexact, lgamma


def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    x, df, loc, scale = inexact("t.logpdf", x, df, loc, scale)
    z = (x - loc) / scale
    half_df = df / const(x, 2)
    half_df_plus_half = half_df + const(x, 0.5)
    normalizer = (lgamma(half_df) + jnp.log(scale * scale * const(x, math.pi) * df) / const(x, 2)
                  - lgamma(half_df_plus_half))
    return -(normalizer + half_df_plus_half * jnp.log1p(z * z / df))


def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    return jnp.exp(logpdf(x, df, loc, scale))
