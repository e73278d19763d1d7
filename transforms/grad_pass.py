"""``grad``: replace a scalar-valued function by its gradient, as a pass.

The transformation API (``llax.grad``) is the usual way in; as a pass it lets
``llax-dump`` and pipelines show and optimise gradient IR
(``--pipeline grad,simplify,cse,dce``). The gradient is taken with respect to
every floating-point parameter; the result returns one gradient per such
parameter, in order.

It lives with the transformations, not in ``llax.passes``, because it runs the
frontend's autodiff: a lower layer may not import a higher one. ``llax``'s
``__init__`` imports it, which registers it like any built-in pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from llax.ir import dtypes
from llax.ir.core import Function
from llax.passes.manager import Pass, PassContext, register_pass


def gradient_function(fn: Function) -> Function:
    """``fn``'s gradient: same params, one result per floating-point param."""
    from llax.frontend.autodiff import grad_program
    from llax.passes.dce import eliminate_dead_code

    if len(fn.results) != 1 or fn.results[0].type.shape != ():
        raise TypeError(f"grad: {fn.name} must return one scalar, got "
                        f"{', '.join(str(r.type) for r in fn.results)}")
    if not dtypes.is_float(fn.results[0].type.dtype):
        raise TypeError(f"grad: {fn.name} returns {fn.results[0].type}, not a float")
    diff = [dtypes.is_float(v.type.dtype) for v in fn.params]
    program, consts = grad_program(fn, diff)
    grad_fn = program.fn
    if consts:
        raise ValueError(f"grad: {fn.name} has custom derivative rules that close over "
                         "arrays; differentiate it with llax.grad instead")
    return eliminate_dead_code(grad_fn.replace(results=grad_fn.results[1:], name=fn.name))


@register_pass
@dataclass(frozen=True)
class Grad(Pass):
    """Differentiate a scalar-valued function (see the module docstring)."""

    name = "grad"

    def run(self, fn: Function, ctx: PassContext) -> Function:
        return gradient_function(fn)


__all__ = ["Grad", "gradient_function"]
