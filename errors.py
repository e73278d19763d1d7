"""``llax.errors``: the exceptions raised when traced values are misused (as ``jax.errors``)."""

from llax.frontend.core import (
    ConcretizationTypeError,
    TracerArrayConversionError,
    TracerBoolConversionError,
    TracerError,
    TracerIntegerConversionError,
    UnexpectedTracerError,
)
from llax.frontend.indexing import NonConcreteBooleanIndexError

__all__ = ["ConcretizationTypeError", "NonConcreteBooleanIndexError",
           "TracerArrayConversionError", "TracerBoolConversionError", "TracerError",
           "TracerIntegerConversionError", "UnexpectedTracerError"]
