"""XLA's CPU numerics, rebuilt from lax operations, so llax gives JAX's numbers.

JAX's random samplers and special functions run through XLA's own approximations
on the CPU (Cephes' ``logf`` and ``expf``, Giles' ``erfinv``, Eigen's ``erf``,
Lanczos' ``lgamma``, the incomplete gamma function's series and continued
fraction), with every multiply feeding an add contracted into a fused
multiply-add and denormals flushed to zero. llax's own primitives are accurate to
an ulp or two but rounded differently, and samplers magnify those last bits
(``-log(-log u)``, accept/reject decisions). The functions here evaluate XLA's
formulas in XLA's order with the ``fma`` primitive, so, traced into a program,
they give JAX's values (bit for bit in float32 on every value tried; see each
module for the exceptions). float64 parts that XLA hands to the C library use
llax's correctly rounded primitives.
"""

from llax.frontend.xla_math.core import flush_denormals, fma, horner
from llax.frontend.xla_math.erf import erf, erf_inv
from llax.frontend.xla_math.exp import exp, pow  # noqa: A004 - the operation's name
from llax.frontend.xla_math.gamma import digamma, lgamma
from llax.frontend.xla_math.igamma import igamma, igamma_grad_a, igammac, random_gamma_grad
from llax.frontend.xla_math.log import log, log1p

__all__ = ["digamma", "erf", "erf_inv", "exp", "flush_denormals", "fma", "horner", "igamma",
           "igamma_grad_a", "igammac", "lgamma", "log", "log1p", "pow", "random_gamma_grad"]
