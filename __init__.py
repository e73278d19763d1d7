"""llax: a JAX-compatible array-program compiler.

``import llax as jax; import llax.numpy as jnp`` runs JAX code: tracing builds a
typed IR, passes rewrite it, and llvmlite turns it into native code.

The public submodules ``llax.numpy``, ``llax.lax`` ... are implemented under
``llax.frontend`` and registered here under their JAX names. They are not
files at the repository root because the root is the package: a root folder
called ``numpy`` would shadow the real NumPy whenever Python runs from there.
"""

import importlib
import sys

from llax.config import config
from llax.frontend.api import ShapeDtypeStruct, eval_shape, jit, make_jaxpr
from llax.frontend.autodiff import grad, jvp, linearize, value_and_grad, vjp
from llax.frontend.callbacks import pure_callback
from llax.frontend.core import Array, ConcretizationTypeError, UnexpectedTracerError
from llax.frontend.custom_derivatives import custom_jvp, custom_vjp
from llax.frontend.jacobians import hessian, jacfwd, jacrev
from llax.frontend.vmap import vmap

__version__ = "0.1.0"

# Public module name -> implementing module.
_ALIASES = {
    "numpy": "llax.frontend.jnp",
    "numpy.linalg": "llax.frontend.jnp.linalg",
    "lax": "llax.frontend.lax",
    "debug": "llax.frontend.debug",
    "experimental": "llax.frontend.experimental",
    "nn": "llax.frontend.nn",
    "random": "llax.frontend.random",
    "scipy": "llax.frontend.scipy",
    "scipy.special": "llax.frontend.scipy.special",
}


def _register_aliases() -> None:
    for public, impl in _ALIASES.items():
        try:
            module = importlib.import_module(impl)
        except ModuleNotFoundError as e:
            if e.name != impl:
                raise
            continue
        sys.modules[f"{__name__}.{public}"] = module
        if "." not in public:
            globals()[public] = module


_register_aliases()

from llax import errors, tree, tree_util  # noqa: E402
from llax.transforms import call_rules  # noqa: E402, F401 - the nested jit op's rules
from llax.transforms import grad_pass  # noqa: E402, F401 - registers the "grad" pass

__all__ = ["Array", "ConcretizationTypeError", "ShapeDtypeStruct", "UnexpectedTracerError",
           "config", "custom_jvp", "custom_vjp", "errors", "eval_shape", "grad", "hessian",
           "jacfwd", "jacrev", "jit", "jvp", "linearize", "make_jaxpr", "pure_callback", "tree",
           "tree_util", "value_and_grad", "vjp", "vmap"]
