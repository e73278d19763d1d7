"""Python conversions of traced values under jit raise JAX's errors (JAX is the oracle):
``int``/``float``/``complex`` a ConcretizationTypeError, ``operator.index`` (``range``, an
index) a TracerIntegerConversionError, which is not a ConcretizationTypeError, and a traced
value used as a shape a plain TypeError."""

import operator
import re

import jax
import jax.numpy as jnp_ref
import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax import lax


def error_of(fn, *args):
    with pytest.raises(TypeError) as info:
        fn(*args)
    return info.value


def without_source_info(text):
    """JAX names the traced function's file and line and the API ("at f.py:3 for jit");
    llax names the function only."""
    return re.sub(r" at \S+:\d+ for jit\.", ".", text)


def class_tree(e, errors_module):
    """Which of the library's error classes ``e`` is an instance of."""
    names = ("ConcretizationTypeError", "TracerIntegerConversionError",
             "TracerBoolConversionError", "TracerArrayConversionError")
    return {n for n in names if isinstance(e, getattr(errors_module, n))}


CONVERSIONS = {
    "int": (lambda lib, np_, lax_: lib.jit(lambda x: int(x)), 1.0),
    "float": (lambda lib, np_, lax_: lib.jit(lambda x: float(x)), 1.0),
    "complex": (lambda lib, np_, lax_: lib.jit(lambda x: complex(x)), 1.0),
    "int of int": (lambda lib, np_, lax_: lib.jit(lambda n: int(n) + 1), 3),
    "index": (lambda lib, np_, lax_: lib.jit(lambda x: operator.index(x)), 1),
    "range": (lambda lib, np_, lax_: lib.jit(lambda n: list(range(n))), 3),
    "scan length": (lambda lib, np_, lax_: lib.jit(
        lambda n: lax_.scan(lambda c, _: (c, c), 0.0, None, length=n)), 3),
    "second argument": (lambda lib, np_, lax_: lib.jit(lambda a, b: a + int(b)), 1.0, 2.0),
}


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
def test_conversion_errors_as_jax(name):
    program, *args = CONVERSIONS[name]
    theirs = error_of(program(jax, jnp_ref, jax.lax), *args)
    mine = error_of(program(llax, jnp, lax), *args)
    assert type(mine).__name__ == type(theirs).__name__
    assert class_tree(mine, llax.errors) == class_tree(theirs, jax.errors)
    assert str(mine) == without_source_info(str(theirs))


SHAPES = {
    "ones": (lambda lib, np_: lib.jit(lambda n: np_.ones(n)), 3),
    "zeros tuple": (lambda lib, np_: lib.jit(lambda n: np_.zeros((n, 2))), 3),
    "full": (lambda lib, np_: lib.jit(lambda n: np_.full((n,), 1.0)), 3),
    "empty": (lambda lib, np_: lib.jit(lambda n: np_.empty(n)), 3),
    "reshape method": (lambda lib, np_: lib.jit(lambda x, n: x.reshape(n)), np.ones(4), 4),
    "reshape -1": (lambda lib, np_: lib.jit(lambda x, n: x.reshape((n, -1))), np.ones(4), 2),
    "jnp.reshape": (lambda lib, np_: lib.jit(lambda x, n: np_.reshape(x, (n, 2))),
                    np.ones(4), 2),
    "broadcast_to": (lambda lib, np_: lib.jit(lambda x, n: np_.broadcast_to(x, (n,))), 1.0, 3),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_traced_shapes_are_type_errors_as_jax(name):
    program, *args = SHAPES[name]
    theirs = error_of(program(jax, jnp_ref), *args)
    mine = error_of(program(llax, jnp), *args)
    assert type(theirs) is TypeError and type(mine) is TypeError
    assert not isinstance(mine, llax.errors.ConcretizationTypeError)
    phrase = "hapes must be 1D sequences of concrete values of integer type"
    assert phrase in str(theirs) and phrase in str(mine)


def test_hierarchy_matches_jax():
    for name in ("ConcretizationTypeError", "TracerIntegerConversionError",
                 "TracerBoolConversionError", "TracerArrayConversionError"):
        mine, theirs = getattr(llax.errors, name), getattr(jax.errors, name)
        assert issubclass(mine, TypeError) == issubclass(theirs, TypeError), name
    assert not issubclass(llax.errors.TracerIntegerConversionError,
                          llax.errors.ConcretizationTypeError)
    assert issubclass(llax.errors.TracerBoolConversionError,
                      llax.errors.ConcretizationTypeError)


def test_known_values_still_convert():
    # Outside jit values are concrete: eager grad traces with known values, as JAX.
    assert float(llax.grad(lambda x: x * int(x))(3.0)) == float(jax.grad(lambda x: x * int(x))(3.0))
    assert llax.jit(lambda x, n: x * float(n), static_argnums=1)(2.0, 3) == 6.0
    assert int(jnp.asarray(3.7)) == 3 and float(jnp.asarray(2)) == 2.0
    assert complex(jnp.asarray(1.5)) == 1.5 + 0j
    assert list(range(jnp.asarray(3))) == [0, 1, 2]
