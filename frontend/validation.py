"""JAX's errors for values of the wrong kind coming out of a traced function.

A traced function may return a pytree of arrays and scalars only. Without this
check a string in the output surfaced as an error from deep inside the tracer
(from ``dtype_of_value``, naming neither); JAX names the function,
the transformation and where in the output the offending value was.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from llax.frontend.core import is_array_like
from llax.frontend.tree_util import keystr, tree_flatten_with_path


def function_description(fun: Callable) -> str:
    """``function f at /path/file.py:12``, as JAX names a traced function in its errors."""
    name = getattr(fun, "__name__", type(fun).__name__)
    try:
        code = getattr(inspect.unwrap(fun), "__code__", None)  # through functools.wraps
    except ValueError:  # a __wrapped__ cycle
        code = None
    if code is None:
        return f"function {name}"
    return f"function {name} at {code.co_filename}:{code.co_firstlineno}"


def check_output_leaves(fun: Callable, traced_for: str, out: Any,
                        leaves: Sequence[Any]) -> None:
    """Raise JAX's TypeError if one of ``leaves`` (the flattened ``out`` of ``fun``, traced
    for the transformation ``traced_for``) is not an array or a scalar."""
    if all(is_array_like(x) for x in leaves):
        return
    for path, leaf in tree_flatten_with_path(out)[0]:  # again, for the offender's path
        if not is_array_like(leaf):
            where = f" at output component {keystr(path)}" if path else ""
            raise TypeError(f"{function_description(fun)} traced for {traced_for} returned a "
                            f"value of type {type(leaf)}{where}, which is not a valid JAX "
                            "type")
