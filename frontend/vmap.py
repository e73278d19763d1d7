"""``vmap``: vectorise a function over a batch axis, by transforming its IR.

``vmap(f)(*args)`` traces ``f`` once on one example (the mapped arguments with
their batch axis removed), batches the traced Function
(transforms/batching.py), and applies the batched Function to the arguments with
``call_function``: inside an enclosing trace (``jit(vmap(f))``, ``vmap(vmap(f))``,
``grad(vmap(f))``) its ops are inlined there, otherwise it is evaluated at once.
As in JAX, nothing is cached outside jit: every call traces again.

Arguments mapped with ``None`` are handed to ``f`` as they are, so ``f`` may
compute on them concretely (Python control flow included), and values ``f``
closes over stay unbatched: the batched Function takes them as leading
parameters with no batch axis.
"""

from __future__ import annotations

import collections
import functools
import inspect
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from llax.config import config
from llax.frontend.collectives import bound_axis
from llax.frontend.core import Array, Trace, Tracer
from llax.frontend.float0 import float0, is_float0
from llax.frontend.jnp._coerce import as_array
from llax.frontend.tree_util import (
    _flatten_up_to,
    keystr,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_unflatten,
    users_is_leaf,
)
from llax.frontend.validation import check_output_leaves
from llax.ir.types import TensorType
from llax.transforms.batching import OutDimError, batch_function
from llax.transforms.staging import call_function

_ARRAY_TYPES = (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_name: Hashable | None = None,
         axis_size: int | None = None, spmd_axis_name: Any = None) -> Callable:
    """Vectorise ``fun`` over the axes ``in_axes`` of its arguments (JAX's ``vmap``).

    ``in_axes`` is an int, None, or a tuple with an entry per positional argument,
    each a pytree prefix of its argument (None: not mapped, every example sees the
    same value); keyword arguments are mapped over axis 0. ``out_axes`` says where
    the batch axis goes in each output (None only for outputs that do not depend on
    the batch). ``axis_name`` names the axis for ``lax.psum`` and the other
    collectives; ``axis_size`` is needed when nothing is mapped.
    """
    if not callable(fun):
        raise TypeError(f"Expected a callable value, got {fun!r}")
    if spmd_axis_name is not None:
        raise NotImplementedError("vmap: spmd_axis_name is not supported by llax")
    if isinstance(in_axes, list):  # as JAX: lists and tuples are interchangeable here
        in_axes = tuple(in_axes)
    if not (in_axes is None or type(in_axes) in (int, tuple)):
        raise TypeError("vmap in_axes must be an int, None, or a tuple of entries corresponding "
                        "to the positional arguments passed to the function, but got "
                        f"{in_axes}.")
    for what, spec in (("in_axes", in_axes), ("out_axes", out_axes)):
        if not all(type(leaf) is int for leaf in tree_leaves(spec)):
            raise TypeError(f"vmap {what} must be an int, None, or (nested) container with "
                            f"those types as leaves, but got {spec}.")

    @functools.wraps(fun)
    def vmap_f(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError("vmap in_axes must be an int, None, or a tuple of entries "
                             "corresponding to the positional arguments passed to the "
                             f"function, but got len(in_axes)={len(in_axes)}, "
                             f"len(args)={len(args)}")
        leaves, in_tree = tree_flatten((args, kwargs))
        axes = _flatten_axes("vmap in_axes", (args, kwargs), (in_axes, 0))
        dims = [None if ax is None else _normalize_axis(x, ax) for x, ax in zip(leaves, axes)]
        size = _mapped_size(fun, args, kwargs, leaves, axes, axis_size)
        mapped = [as_array(x, "vmap") for x, d in zip(leaves, dims) if d is not None]
        batch_dims = [d for d in dims if d is not None]

        names = [n for n, d in zip(_leaf_names(fun, args, kwargs), dims) if d is not None]
        t = Trace(getattr(fun, "__name__", "fn"), concrete=True)
        with bound_axis(axis_name, size), t:
            examples = iter([t.new_param(_example_type(x, d), name)
                             for x, d, name in zip(mapped, batch_dims, names)])
            call_leaves = [x if d is None else next(examples) for x, d in zip(leaves, dims)]
            call_args, call_kwargs = tree_unflatten(in_tree, call_leaves)
            out = fun(*call_args, **call_kwargs)
        out_leaves, out_tree = tree_flatten(out)
        check_output_leaves(fun, "vmap", out, out_leaves)
        # float0 outputs (tangents of integers) hold no data: made with the batch axis here.
        data = [not is_float0(x) for x in out_leaves]
        fn, captured = t.finish([x for x, d in zip(out_leaves, data) if d])
        all_dims = _flatten_axes("vmap out_axes", out, out_axes)
        out_dims = [ax for ax, d in zip(all_dims, data) if d]
        try:
            batched, _ = batch_function(fn, [None] * len(captured) + batch_dims, size,
                                        axis_name, out_dims)
        except OutDimError as e:
            index = [k for k, d in enumerate(data) if d][e.index]
            path = keystr(tree_flatten_with_path(out)[0][index][0])
            raise ValueError(f"at vmap out_axes{path}, got axis spec None but output was "
                             f"batched on axis {e.dim}") from None
        if config.llax_verify:
            from llax.ir.verifier import verify

            verify(batched)
        results = iter(call_function(batched, [*captured, *mapped]))
        return tree_unflatten(out_tree, [next(results) if d else _batched_float0(x, ax, size)
                                         for x, d, ax in zip(out_leaves, data, all_dims)])

    return vmap_f


def _batched_float0(x: np.ndarray, axis: int | None, size: int) -> np.ndarray:
    """A float0 output of one example as the batch's (the batch axis at ``axis``)."""
    if axis is None:
        return x
    shape = list(x.shape)
    shape.insert(axis % (len(shape) + 1), size)
    return np.zeros(shape, dtype=float0)


def _flatten_axes(what: str, value: Any, spec: Any) -> list[int | None]:
    """One axis per leaf of ``value``: ``spec`` is a tree prefix of it whose leaves (ints
    or None) apply to whole subtrees."""
    spec_leaves, spec_def = tree_flatten(spec, is_leaf=lambda x: x is None)
    subtrees = _flatten_up_to(spec_def, value, f"{what} specification must be a tree prefix "
                                               "of the corresponding value")
    axes = []
    for ax, sub in zip(spec_leaves, subtrees):
        for leaf in tree_leaves(sub, users_is_leaf(None)):
            inner = tree_leaves(leaf)
            if ax is not None and ax < 0 and (len(inner) != 1 or inner[0] is not leaf):
                # A typed key array: a negative axis counts from the end of the key shape,
                # before the key data's trailing dimension.
                axes += [ax - (np.ndim(x) - len(leaf.shape)) for x in inner]
            else:
                axes += [ax] * len(inner)
    return axes


def _normalize_axis(x: Any, axis: int) -> int:
    if not isinstance(x, _ARRAY_TYPES):
        raise TypeError(f"Argument '{x}' of type {type(x)} is not a valid JAX type")
    shape = np.shape(x) if not isinstance(x, (Array, Tracer)) else x.shape
    if not -len(shape) <= axis < len(shape):
        min_rank = axis + 1 if axis >= 0 else -axis
        raise ValueError(f"vmap was requested to map its argument along axis {axis}, which "
                         f"implies that its rank should be at least {min_rank}, but is only "
                         f"{len(shape)} (its shape is {shape})")
    return axis % len(shape)


def _example_type(x: Any, d: int) -> TensorType:
    """The type of one example of ``x`` mapped along ``d``."""
    return TensorType(x.shape[:d] + x.shape[d + 1:], x.dtype, x.weak_type)


def _mapped_size(fun: Callable, args: tuple, kwargs: dict, leaves: list, axes: list,
                 axis_size: int | None) -> int:
    """The batch size: every mapped axis (and ``axis_size``, if given) must agree.

    The error lists the sizes seen, as JAX's does, naming the arguments by their
    parameter names.
    """
    sizes = [None if ax is None else np.shape(x)[ax] if not isinstance(x, (Array, Tracer))
             else x.shape[ax] for x, ax in zip(leaves, axes)]
    if not leaves and axis_size is None:
        raise ValueError("vmap wrapped function must be passed at least one argument "
                         "containing an array or axis_size must be specified, got empty "
                         f"*args={args} and **kwargs={kwargs}")
    distinct = {s for s in sizes if s is not None} | ({axis_size} - {None})
    if len(distinct) == 1:
        return distinct.pop()
    if not distinct:
        raise ValueError("vmap must have at least one non-None value in in_axes or axis_size "
                         "must be specified")
    where = [f"{name} of type {_type_text(x)}"
             for name, x in zip(_leaf_names(fun, args, kwargs), leaves)]
    lines = ["vmap got inconsistent sizes for array axes to be mapped:"]
    if axis_size is not None:
        lines.append(f"  * the `axis_size` argument was {axis_size};")
    counts = collections.Counter(s for s in sizes if s is not None).most_common()
    for k, (size, count) in enumerate(counts):
        i = sizes.index(size)
        example = f"axis {axes[i]} of {where[i]}"
        if count == 1:
            lines.append(f"  * one axis had size {size}: {example};")
        else:
            many = "most" if k == 0 else "some"
            lines.append(f"  * {many} axes ({count} of them) had size {size}, e.g. {example};")
    raise ValueError("\n".join(lines)[:-1])


def _leaf_names(fun: Callable, args: tuple, kwargs: dict) -> list[str]:
    """JAX's names for the leaves of the arguments: ``argument x['w']``, ``kwargs['b']``."""
    try:
        params: list[str] | None = list(inspect.signature(fun).bind(*args, **kwargs)
                                        .signature.parameters)
    except (TypeError, ValueError):
        params = None
    names = []
    for path, _ in tree_flatten_with_path(args)[0]:
        i = path[0].idx
        names.append(f"argument {params[i]}{keystr(path[1:])}" if params and i < len(params)
                     else f"args{keystr(path)}")
    return names + [f"kwargs{keystr(p)}" for p, _ in tree_flatten_with_path(kwargs)[0]]


def _type_text(x: Any) -> str:
    """``float32[3,4]``, as JAX writes an argument's type in messages."""
    if not isinstance(x, _ARRAY_TYPES):
        return "unknown"
    x = x if isinstance(x, (Array, Tracer)) else as_array(x, "vmap")
    return f"{x.dtype.name}[{','.join(map(str, x.shape))}]"
