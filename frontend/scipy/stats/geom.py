"""The geometric distribution (trials up to the first success)."""

from __future__ import annotations

import math
from typing import Any

from llax.frontend import jnp
from llax.frontend.scipy.special import xlog1py
from llax.frontend.scipy.stats._common import const, inexact


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    k, p, loc = inexact("geom.logpmf", k, p, loc)
    x = k - loc
    return jnp.where(x <= const(k, 0), -math.inf, xlog1py(x - const(k, 1), -p) + jnp.log(p))


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    return jnp.exp(logpmf(k, p, loc))
