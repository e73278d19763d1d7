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

from llax.config import (
    config,
    debug_infs,
    debug_nans,
    default_matmul_precision,
    explain_cache_misses,
    log_compiles,
    numpy_rank_promotion,
)
from llax.frontend.api import ShapeDtypeStruct, disable_jit, eval_shape, jit, make_jaxpr
from llax.frontend.autodiff import grad, jvp, linearize, value_and_grad, vjp
from llax.frontend.callbacks import effects_barrier, pure_callback
from llax.frontend.core import Array, ConcretizationTypeError, UnexpectedTracerError
from llax.frontend.custom_derivatives import custom_jvp, custom_vjp
from llax.frontend.devices import (
    Device,
    block_until_ready,
    default_backend,
    device_count,
    device_get,
    device_put,
    devices,
    local_device_count,
    local_devices,
    process_count,
    process_index,
)
from llax.frontend.jacobians import hessian, jacfwd, jacrev
from llax.frontend.vmap import vmap

__version__ = "0.1.0"

jacobian = jacrev  # JAX's alias

# The derivative and batching rules of primitives that llax.frontend.lax binds itself. The
# transformations import lax, so lax cannot import these: they load once all three exist.
import llax.transforms.conv_rules  # noqa: E402,F401
import llax.transforms.window_rules  # noqa: E402,F401

# Public module name -> implementing module.
_ALIASES = {
    "numpy": "llax.frontend.jnp",
    "numpy.linalg": "llax.frontend.jnp.linalg",
    "numpy.fft": "llax.frontend.jnp.fft",
    "lax": "llax.frontend.lax",
    "lax.linalg": "llax.frontend.lax_linalg",
    "debug": "llax.frontend.debug",
    "experimental": "llax.frontend.experimental",
    "nn": "llax.frontend.nn",
    "nn.initializers": "llax.frontend.nn_initializers",
    "example_libraries": "llax.frontend.example_libraries",
    "example_libraries.stax": "llax.frontend.example_libraries.stax",
    "example_libraries.optimizers": "llax.frontend.example_libraries.optimizers",
    "random": "llax.frontend.random",
    "scipy": "llax.frontend.scipy",
    "scipy.special": "llax.frontend.scipy.special",
    "scipy.linalg": "llax.frontend.scipy.linalg",
    "scipy.stats": "llax.frontend.scipy.stats",
    "scipy.stats.bernoulli": "llax.frontend.scipy.stats.bernoulli",
    "scipy.stats.beta": "llax.frontend.scipy.stats.beta",
    "scipy.stats.binom": "llax.frontend.scipy.stats.binom",
    "scipy.stats.cauchy": "llax.frontend.scipy.stats.cauchy",
    "scipy.stats.chi2": "llax.frontend.scipy.stats.chi2",
    "scipy.stats.dirichlet": "llax.frontend.scipy.stats.dirichlet",
    "scipy.stats.expon": "llax.frontend.scipy.stats.expon",
    "scipy.stats.gamma": "llax.frontend.scipy.stats.gamma",
    "scipy.stats.geom": "llax.frontend.scipy.stats.geom",
    "scipy.stats.laplace": "llax.frontend.scipy.stats.laplace",
    "scipy.stats.logistic": "llax.frontend.scipy.stats.logistic",
    "scipy.stats.multivariate_normal": "llax.frontend.scipy.stats.multivariate_normal",
    "scipy.stats.norm": "llax.frontend.scipy.stats.norm",
    "scipy.stats.poisson": "llax.frontend.scipy.stats.poisson",
    "scipy.stats.t": "llax.frontend.scipy.stats.t",
    "scipy.stats.uniform": "llax.frontend.scipy.stats.uniform",
    "test_util": "llax.frontend.test_util",
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
        parent, _, name = public.rpartition(".")
        # `import llax.lax.linalg` looks the submodule up as an attribute of its parent.
        setattr(sys.modules[f"{__name__}.{parent}"] if parent else sys.modules[__name__],
                name, module)


_register_aliases()

from llax import errors, tree, tree_util  # noqa: E402

# The nested jit op's transformation rules, and the "grad" pass (registered on import).
from llax.transforms import call_rules, grad_pass  # noqa: E402, F401

__all__ = ["Array", "ConcretizationTypeError", "Device", "ShapeDtypeStruct",
           "UnexpectedTracerError", "block_until_ready", "config", "custom_jvp", "custom_vjp",
           "debug_infs", "debug_nans", "default_backend", "default_matmul_precision",
           "device_count", "device_get", "device_put", "devices", "disable_jit",
           "effects_barrier", "errors", "eval_shape", "explain_cache_misses", "grad", "hessian",
           "jacfwd", "jacobian", "jacrev", "jit", "jvp", "linearize", "local_device_count",
           "local_devices", "log_compiles", "make_jaxpr", "numpy_rank_promotion",
           "process_count", "process_index", "pure_callback", "tree", "tree_util",
           "value_and_grad", "vjp", "vmap"]
