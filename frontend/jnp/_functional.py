"""Functions of functions: vectorize, frompyfunc, apply_along_axis, apply_over_axes,
fromfunction.

All of them map a Python function over array axes with ``vmap``, as JAX does:
``vectorize`` wraps one ``vmap`` per broadcast (loop) dimension, so an argument
that is size 1 there is passed unbatched instead of being broadcast first.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

import llax.frontend.jnp as jnp
from llax.frontend.jnp._coerce import as_array, broadcast_shapes
from llax.frontend.jnp._reductions import canonical_axes
from llax.frontend.jnp._ufunc_class import ufunc

__all__ = ["apply_along_axis", "apply_over_axes", "frompyfunc", "fromfunction", "vectorize"]

CoreDims = tuple[str, ...]

_DIM = r"\w+"
_DIMS = rf"(?:{_DIM}(?:,{_DIM})*)?"
_ARG = rf"\({_DIMS}\)"
_ARGS = rf"{_ARG}(?:,{_ARG})*"
_SIGNATURE = re.compile(rf"^{_ARGS}->{_ARGS}$")


def _parse_signature(signature: str) -> tuple[list[CoreDims], list[CoreDims]]:
    """Core dimension names of each input and output of a gufunc signature
    ``"(m,n),(n)->(m)"``."""
    if not _SIGNATURE.match(signature):
        raise ValueError(f"not a valid gufunc signature: {signature}")
    inputs, outputs = signature.split("->")

    def parse(side: str) -> list[CoreDims]:
        return [tuple(re.findall(_DIM, arg)) for arg in re.findall(_ARG, side)]

    return parse(inputs), parse(outputs)


def _bind_excluded(func: Callable, excluded: Collection[int | str], args: Sequence[Any],
                   kwargs: dict[str, Any]) -> tuple[Callable, list[Any], dict[str, Any]]:
    """``func`` with the excluded positional and keyword arguments fixed, and the rest."""
    if not excluded:
        return func, list(args), kwargs
    fixed = [(i, args[i]) for i in sorted(e for e in excluded if isinstance(e, int))
             if i < len(args)]
    fixed_kwargs = {k: v for k, v in kwargs.items() if k in excluded}
    dynamic = [a for i, a in enumerate(args) if i not in excluded]
    dynamic_kwargs = {k: v for k, v in kwargs.items() if k not in excluded}

    def bound(*dyn: Any, **kw: Any) -> Any:
        full = list(dyn)
        for i, value in fixed:
            full.insert(i, value)
        return func(*full, **kw, **fixed_kwargs)

    return bound, dynamic, dynamic_kwargs


def _record_sizes(sizes: dict[str, int], shape: tuple[int, ...], core: CoreDims,
                  where: str, is_input: bool) -> None:
    if len(shape) < len(core):
        what = "input" if is_input else "output"
        raise ValueError(f"{what} with shape {shape!r} does not have enough dimensions for "
                         f"all core dimensions {core!r} {where}")
    for name, size in zip(core, shape[len(shape) - len(core):]):
        if sizes.setdefault(name, size) != size:
            raise ValueError(f"inconsistent size for core dimension {name!r}: {size!r} vs "
                             f"{sizes[name]!r} {where}")


def _checked_outputs(func: Callable, sizes: dict[str, int],
                     output_core: list[CoreDims] | None, where: str) -> Callable:
    """``func`` checking that its outputs have the signature's core dimensions."""

    def checked(*args: Any) -> Any:
        out = func(*args)
        outs = out if isinstance(out, tuple) else (out,)
        if output_core is None:
            return out
        if len(output_core) > 1 and not isinstance(out, tuple):
            raise TypeError(f"output must be a tuple when multiple outputs are expected, got: "
                            f"{out!r}\n{where}")
        if len(outs) != len(output_core):
            raise TypeError(f"wrong number of output arguments: expected {len(output_core)!r}"
                            f", got {len(outs)!r} {where}")
        known = dict(sizes)
        for o, core in zip(outs, output_core):
            _record_sizes(known, tuple(jnp.shape(o)), core, where, is_input=False)
        return out

    return checked


def vectorize(pyfunc: Callable, *, excluded: Collection[int | str] = frozenset(),
              signature: str | None = None) -> Callable:
    """NumPy's ``vectorize``: ``pyfunc`` applied over the broadcast leading dimensions
    of its array arguments (its core dimensions given by a gufunc ``signature``), with
    one ``vmap`` per leading dimension."""
    if any(not isinstance(e, (str, int)) for e in excluded):
        raise TypeError("jax.numpy.vectorize can only exclude integer or string arguments, "
                        f"but excluded={excluded!r}")
    if any(isinstance(e, int) and e < 0 for e in excluded):
        raise ValueError(f"excluded={excluded!r} contains negative numbers")

    @functools.wraps(pyfunc)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        where = (f"on vectorized function with excluded={excluded!r} and "
                 f"signature={signature!r}")
        func, args, kwargs = _bind_excluded(pyfunc, excluded, args, kwargs)
        if kwargs:  # keyword arguments are passed through unmapped
            func = functools.partial(func, **kwargs)
        if signature is not None:
            input_core, output_core = _parse_signature(signature)
        else:
            input_core, output_core = [()] * len(args), None
        nones = {i for i, a in enumerate(args) if a is None}
        if nones:
            if any(input_core[i] != () for i in nones):
                raise ValueError(f"Cannot pass None at locations {nones} with "
                                 f"signature={signature!r}")
            func, args, _ = _bind_excluded(func, nones, args, {})
            input_core = [c for i, c in enumerate(input_core) if i not in nones]
        if len(args) != len(input_core):
            raise TypeError(f"wrong number of positional arguments: expected "
                            f"{len(input_core)!r}, got {len(args)!r} {where}")
        arrays = [as_array(a, "vectorize", i) if not isinstance(a, (list, tuple))
                  else jnp.asarray(a) for i, a in enumerate(args)]
        sizes: dict[str, int] = {}
        loop_shapes = []
        for a, core in zip(arrays, input_core):
            _record_sizes(sizes, tuple(a.shape), core, where, is_input=True)
            loop_shapes.append(tuple(a.shape[:a.ndim - len(core)]))
        loop = broadcast_shapes("vectorize", tuple(loop_shapes))
        mapped = _checked_outputs(func, sizes, output_core, where)
        squeezed = []
        filled = []
        for a, shape in zip(arrays, loop_shapes):
            ones = tuple(i for i, n in enumerate(shape) if n == 1)
            squeezed.append(jnp.squeeze(a, axis=ones) if ones else a)
            filled.append((1,) * (len(loop) - len(shape)) + shape)
        unmapped = []
        for dim in reversed(range(len(loop))):
            in_axes = tuple(None if shape[dim] == 1 else 0 for shape in filled)
            if all(ax is None for ax in in_axes):
                unmapped.append(dim)
            else:
                mapped = _vmap(mapped, in_axes)
        result = mapped(*squeezed)
        if not unmapped:
            return result
        if isinstance(result, tuple):
            return tuple(jnp.expand_dims(r, sorted(unmapped)) for r in result)
        return jnp.expand_dims(result, sorted(unmapped))

    return wrapped


def _vmap(func: Callable, in_axes: Any, out_axes: Any = 0) -> Callable:
    from llax.frontend.vmap import vmap  # imported late: it imports llax.numpy
    return vmap(func, in_axes=in_axes, out_axes=out_axes)


# ---------------------------------------------------------------------------------------------


def frompyfunc(func: Callable, /, nin: int, nout: int, *, identity: Any = None) -> ufunc:
    """A ``jnp.ufunc`` that applies the scalar function ``func`` elementwise (its methods
    are the generic ones of the ufunc class)."""
    return ufunc(func, nin, nout, identity=identity)


def apply_along_axis(func1d: Callable, axis: int, arr: Any, *args: Any, **kwargs: Any) -> Any:
    """``func1d`` applied to the 1-d slices of ``arr`` along ``axis``; its output axes
    take that axis' place."""
    arr = as_array(arr, "apply_along_axis")
    (axis,) = canonical_axes(axis, arr.ndim)
    def func(x: Any) -> Any:
        return func1d(x, *args, **kwargs)

    for i in range(1, arr.ndim - axis):
        func = _vmap(func, in_axes=i, out_axes=-1)
    for _ in range(axis):
        func = _vmap(func, in_axes=0, out_axes=0)
    return func(arr)


def apply_over_axes(func: Callable, a: Any, axes: Sequence[int]) -> Any:
    """Apply ``func(a, axis)`` for each axis in turn, keeping the rank."""
    out = jnp.asarray(a)
    for axis in axes:
        b = func(out, axis)
        if b.ndim == out.ndim:
            out = b
        elif b.ndim == out.ndim - 1:
            out = jnp.expand_dims(b, axis)
        else:
            raise ValueError("function is not returning an array of the correct shape")
    return out


def fromfunction(function: Callable, shape: Any, *, dtype: Any = float, **kwargs: Any) -> Any:
    """``function(*indices)`` evaluated over the index grid of ``shape``."""
    shape = tuple(operator.index(s) for s in (shape if isinstance(shape, (tuple, list))
                                                else (shape,)))
    func = functools.partial(function, **kwargs) if kwargs else function
    for i in range(len(shape)):
        in_axes = tuple(0 if j == i else None for j in range(len(shape)))[::-1]
        func = _vmap(func, in_axes=in_axes)
    return func(*(jnp.arange(s, dtype=dtype) for s in shape))
