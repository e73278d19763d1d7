"""Every registered primitive has the rules every interpretation needs.

Lowering rules are checked in test_codegen.py (test_every_primitive_lowers);
here: shape/dtype inference, a NumPy reference implementation (or a region rule
in the interpreter for ops with regions), a fusion class, and a batching rule
(or an entry in ``never_batched`` saying why it needs none).
"""

import pytest

import llax  # noqa: F401  (registers every primitive, including the frontend's)
from llax.ir.interpreter import region_rules
from llax.ir.primitive import PRIMITIVES, FusionClass, abstract_eval, fusion_class
from llax.ir.reference import reference
from llax.transforms.batching import axis_batching_rules, batching_rules, never_batched


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_every_rule(name: str) -> None:
    prim = PRIMITIVES[name]
    assert prim in abstract_eval, f"{name} has no abstract evaluation rule"
    assert prim in reference or prim in region_rules, f"{name} has no reference implementation"
    assert isinstance(fusion_class.get(prim), FusionClass), f"{name} has no fusion class"
    assert (prim in batching_rules or prim in axis_batching_rules
            or prim in never_batched), f"{name} has no batching rule (vmap)"


def test_registry_is_not_trivially_small() -> None:
    # The minimum set: a rename or a lost import would shrink the registry silently.
    required = {"add", "sub", "mul", "div", "rem", "pow", "neg", "abs", "sign", "max", "min",
                "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "logistic", "sqrt",
                "rsqrt", "floor", "ceil", "round", "erf", "eq", "ne", "lt", "le", "gt", "ge",
                "and", "or", "xor", "not", "select_n", "convert_element_type",
                "broadcast_in_dim", "reshape", "transpose", "squeeze", "slice", "dynamic_slice",
                "dynamic_update_slice", "concatenate", "pad", "iota", "reduce_sum", "reduce_max",
                "reduce_min", "reduce_prod", "argmax", "argmin", "dot_general", "gather"}
    assert required <= set(PRIMITIVES), sorted(required - set(PRIMITIVES))
