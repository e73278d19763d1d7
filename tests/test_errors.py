"""Clear errors for misuse, of the exception types JAX raises (JAX itself is the oracle).

Each case runs against both libraries: the exception types must match, and
llax's message must say what was wrong in JAX's words.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jax_jnp
import numpy as np
import pytest

import llax
import llax.numpy as llax_jnp

JAX = SimpleNamespace(api=jax, jnp=jax_jnp, lax=jax.lax)
LLAX = SimpleNamespace(api=llax, jnp=llax_jnp, lax=llax.lax)


def _outcome(case: Callable[[Any], Any], lib: SimpleNamespace) -> BaseException | None:
    try:
        case(lib)
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return e
    return None


def check_like_jax(case: Callable[[Any], Any], message: str) -> None:
    """``case(lib)`` raises the same exception type with llax as with JAX, and llax's
    message matches the regular expression ``message``."""
    expected = _outcome(case, JAX)
    assert expected is not None, "JAX accepts this case: the test is wrong"
    with pytest.raises(type(expected), match=message):
        case(LLAX)


NOT_A_JAX_TYPE = r"of type <class 'str'>.* is not a valid JAX type"

NON_ARRAY_OUTPUTS = {
    "grad of None": (lambda m: m.api.grad(lambda v: None)(3.0),
                     r"Gradient only defined for scalar-output functions\. Output was None\."),
    "grad of ()": (lambda m: m.api.grad(lambda v: ())(3.0), r"Output was \(\)\."),
    "grad of {}": (lambda m: m.api.grad(lambda v: {})(3.0), r"Output was \{\}\."),
    "value_and_grad of None": (lambda m: m.api.value_and_grad(lambda v: None)(3.0),
                               r"Output was None\."),
    "value_and_grad with aux, None": (
        lambda m: m.api.value_and_grad(lambda v: (None, v), has_aux=True)(3.0),
        r"Output was None\."),
    "grad of a string": (lambda m: m.api.grad(lambda v: "s")(3.0), NOT_A_JAX_TYPE),
    "grad of a dict holding a string": (lambda m: m.api.grad(lambda v: {"a": "s"})(3.0),
                                        NOT_A_JAX_TYPE),
    "vjp of a string": (lambda m: m.api.vjp(lambda v: "s", 3.0), NOT_A_JAX_TYPE),
    "jvp of a string": (lambda m: m.api.jvp(lambda v: "s", (3.0,), (1.0,)), NOT_A_JAX_TYPE),
    "linearize of a string": (lambda m: m.api.linearize(lambda v: "s", 3.0), NOT_A_JAX_TYPE),
    "jacrev of a string": (lambda m: m.api.jacrev(lambda v: "s")(3.0), NOT_A_JAX_TYPE),
    "jacfwd of a string": (lambda m: m.api.jacfwd(lambda v: "s")(3.0), NOT_A_JAX_TYPE),
    "jacrev of None": (lambda m: m.api.jacrev(lambda v: None)(3.0),
                       r"jacrev needs a function with at least one array output.*None"),
    "hessian of None": (lambda m: m.api.hessian(lambda v: None)(3.0), r"at least one array"),
    "jit returning a string": (
        lambda m: m.api.jit(lambda v: "s")(1.0),
        r"function <lambda> at .*test_errors\.py:\d+ traced for jit returned a value of type "
        r"<class 'str'>, which is not a valid JAX type"),
    "jit returning an object in a dict": (
        lambda m: m.api.jit(lambda v: {"a": v, "b": object()})(1.0),
        r"returned a value of type <class 'object'> at output component \['b'\], which is not "
        r"a valid JAX type"),
    "jit of grad with a string aux": (
        lambda m: m.api.jit(m.api.grad(lambda v: (v, "s"), has_aux=True))(1.0),
        r"traced for jit returned a value of type <class 'str'> at output component \[1\]"),
    "make_jaxpr returning a string": (lambda m: m.api.make_jaxpr(lambda v: "s")(1.0),
                                      NOT_A_JAX_TYPE),
    "eval_shape returning a string": (lambda m: m.api.eval_shape(lambda v: "s", 1.0),
                                      NOT_A_JAX_TYPE),
    "vmap returning a string": (lambda m: m.api.vmap(lambda v: "s")(m.jnp.ones(3)),
                                NOT_A_JAX_TYPE),
    "vmap returning a string in a tuple": (
        lambda m: m.api.vmap(lambda v: (v, "s"))(m.jnp.ones(3)),
        r"<class 'str'> at output component \[1\], which is not a valid JAX type"),
    "jacfwd with a string aux": (
        lambda m: m.api.jacfwd(lambda v: (v, "s"), has_aux=True)(3.0), NOT_A_JAX_TYPE),
}

NON_ARRAY_INPUTS = {
    "jit of a string": (lambda m: m.api.jit(lambda v: v)("s"), r"v: argument of type str"),
    "jit of a dict holding a string": (lambda m: m.api.jit(lambda v: v)({"a": 1.0, "b": "s"}),
                                       r"v\['b'\]: argument of type str is not a valid JAX"),
    "make_jaxpr of a string": (lambda m: m.api.make_jaxpr(lambda v: v)("s"),
                               r"argument of type str is not a valid JAX type"),
    "grad of a string": (lambda m: m.api.grad(lambda v: v)("s"), NOT_A_JAX_TYPE),
    "vmap of a string": (lambda m: m.api.vmap(lambda v: v)("s"), NOT_A_JAX_TYPE),
    "vjp cotangent a string": (lambda m: m.api.vjp(m.jnp.sin, 1.0)[1]("s"), NOT_A_JAX_TYPE),
    "lax.add of a string": (lambda m: m.lax.add("s", 1.0),
                            r"add requires ndarray or scalar arguments, got <class 'str'>"),
}

MASKED = r"numpy masked arrays are not supported as direct inputs to JAX functions\. Use " \
         r"arr\.filled\(\) to convert the value to a standard numpy array\."


def _masked() -> np.ma.MaskedArray:
    return np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False], dtype=np.float32)


MASKED_INPUTS = {
    "jnp.asarray": lambda m: m.jnp.asarray(_masked()),
    "jit": lambda m: m.api.jit(lambda v: v)(_masked()),
    "jit, in a dict": lambda m: m.api.jit(lambda v: v)({"a": _masked()}),
    "jit, captured": lambda m: m.api.jit(lambda v: v + _masked())(m.jnp.ones(3)),
    "jit, returned": lambda m: m.api.jit(lambda v: _masked())(1.0),
    "make_jaxpr": lambda m: m.api.make_jaxpr(lambda v: v)(_masked()),
    "jnp.sin": lambda m: m.jnp.sin(_masked()),
    "jnp.sum": lambda m: m.jnp.sum(_masked()),
    "jnp.where": lambda m: m.jnp.where(True, _masked(), 0.0),
    "array + masked": lambda m: m.jnp.ones(3) + _masked(),
    "masked + array": lambda m: _masked() + m.jnp.ones(3),
    "lax.add": lambda m: m.lax.add(_masked(), _masked()),
    "grad": lambda m: m.api.grad(lambda v: m.jnp.sum(v))(_masked()),
    "vmap": lambda m: m.api.vmap(lambda v: v)(_masked()),
    "jvp": lambda m: m.api.jvp(m.jnp.sin, (_masked(),), (_masked(),)),
    "a masked scalar": lambda m: m.jnp.sin(np.ma.masked_array(1.0, mask=True)),
    "nothing masked": lambda m: m.jnp.sin(np.ma.masked_array([1.0, 2.0])),
}


@pytest.mark.parametrize("name", NON_ARRAY_OUTPUTS)
def test_non_array_outputs(name):
    check_like_jax(*NON_ARRAY_OUTPUTS[name])


@pytest.mark.parametrize("name", NON_ARRAY_INPUTS)
def test_non_array_inputs(name):
    check_like_jax(*NON_ARRAY_INPUTS[name])


@pytest.mark.parametrize("name", MASKED_INPUTS)
def test_masked_arrays_are_refused(name):
    # JAX is not run as the oracle here: its own check is skipped by its dispatch cache
    # once a function has run on plain arrays of the same shape (after some other tests
    # in the same process, jax.numpy.sin accepts a masked array and drops the mask). The
    # type and message are JAX's, as it raises them in a fresh process.
    with pytest.raises(ValueError, match=MASKED):
        MASKED_INPUTS[name](LLAX)


def test_empty_outputs_where_jax_accepts_them():
    # vjp, jvp, linearize and jacfwd of a function returning None are fine in JAX too.
    out, f_vjp = llax.vjp(lambda v: None, 3.0)
    assert out is None
    (ct,) = f_vjp(None)
    assert float(ct) == 0.0
    assert llax.jvp(lambda v: None, (3.0,), (1.0,)) == (None, None)
    assert llax.linearize(lambda v: None, 3.0)[0] is None
    assert llax.jacfwd(lambda v: None)(3.0) is None
    assert llax.jit(lambda v: None)(1.0) is None
    assert llax.vmap(lambda v: (v, None))(llax_jnp.ones(2))[1] is None


def test_non_array_aux_outputs_are_handed_back_as_in_jax():
    # JAX passes aux leaves that are not arrays through untouched (outside jit).
    marker = object()

    def f(v):
        return v * v, {"tag": "s", "obj": marker, "sq": v * v}

    for lib in (jax, llax):
        (value, aux), g = lib.value_and_grad(f, has_aux=True)(3.0)
        assert (float(value), float(g)) == (9.0, 6.0)
        assert aux["tag"] == "s" and aux["obj"] is marker and float(aux["sq"]) == 9.0
        g, aux = lib.grad(f, has_aux=True)(3.0)
        assert float(g) == 6.0 and aux["obj"] is marker
        out, f_vjp, aux = lib.vjp(f, 3.0, has_aux=True)
        assert float(out) == 9.0 and float(f_vjp(1.0)[0]) == 6.0 and aux["tag"] == "s"
        out, tangent, aux = lib.jvp(f, (3.0,), (1.0,), has_aux=True)
        assert (float(out), float(tangent)) == (9.0, 6.0) and aux["obj"] is marker
        jac, aux = lib.jacrev(f, has_aux=True)(3.0)
        assert float(jac) == 6.0 and aux["tag"] == "s"
