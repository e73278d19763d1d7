"""``einsum`` and ``einsum_path``.

The order of pairwise contractions comes from ``opt_einsum`` (as in JAX): it sees
only shapes. Each step then works on one or two operands with named axes:

- a label found only in one operand and not wanted later is summed out;
- a label repeated within one operand keeps the diagonal (a select against an
  identity mask), summed if it is not wanted;
- a size-1 axis facing a larger one in the other operand is squeezed (it broadcasts);
- the two operands meet in one ``dot_general`` (labels in both and in the result are
  batch dimensions, labels in both only are contracted), and a transpose puts the
  axes in the step's output order.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import numpy as np
import opt_einsum

from llax.frontend import lax
from llax.frontend.jnp._coerce import as_array, promote_dtypes
from llax.frontend.jnp._dtypes import maybe_requested_dtype
from llax.ir import dtypes
from llax.ir.promotion import result_type

__all__ = ["einsum", "einsum_path"]


class _LeftToRight(opt_einsum.paths.PathOptimizer):
    """``optimize=False``: contract the operands in the order given."""

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> list[tuple[int, int]]:
        return [(0, 1)] * (len(inputs) - 1)


def _path_type(optimize: Any) -> Any:
    if optimize is True:
        return "optimal"
    if optimize is False:
        return _LeftToRight()
    return optimize


class _Shaped:
    """What ``opt_einsum`` sees of an operand: its shape."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def einsum_path(subscripts: Any, /, *operands: Any, optimize: Any = "auto"
                ) -> tuple[list[tuple[int, ...]], Any]:
    """The contraction order ``einsum`` would use, and ``opt_einsum``'s report on it."""
    return opt_einsum.contract_path(subscripts, *operands, optimize=_path_type(optimize))


def einsum(subscripts: Any, /, *operands: Any, out: None = None, optimize: Any = "auto",
           precision: Any = None, preferred_element_type: Any = None,
           _dot_general: Any = lax.dot_general) -> Any:
    """Einstein summation, NumPy's ``einsum`` (subscript string or interleaved operand
    and sublist arguments), lowered to ``dot_general`` per pairwise contraction."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.einsum is not supported.")
    args = (subscripts,) + operands
    if isinstance(subscripts, str):
        arrays_at = list(range(1, len(args)))
    else:  # interleaved: operand, sublist, operand, sublist, ..., [output sublist]
        arrays_at = list(range(0, len(args) - len(args) % 2, 2))
    arrays = [as_array(args[i], "einsum", k) for k, i in enumerate(arrays_at)]
    stand_ins = list(args)
    for i, a in zip(arrays_at, arrays):
        stand_ins[i] = _Shaped(tuple(a.shape))
    placed, contractions = opt_einsum.contract_path(
        *stand_ins, einsum_call=True, use_blas=True, optimize=_path_type(optimize))
    order = {id(s): k for k, s in enumerate(stand_ins[i] for i in arrays_at)}
    ordered = [arrays[order[id(s)]] for s in placed]
    steps = tuple((tuple(c[0]), c[2]) for c in contractions)
    return _einsum(ordered, steps, preferred_element_type, _dot_general)


def _einsum(operands: list[Any], steps: Sequence[tuple[tuple[int, ...], str]],
            preferred: Any, dot_general: Any) -> Any:
    requested = maybe_requested_dtype(preferred, "einsum")
    if operands:
        out_dtype, weak = result_type(*[(a.dtype, a.weak_type) for a in operands])
    else:
        out_dtype, weak = dtypes.default_float(), False
    if requested is not None:
        out_dtype, weak = requested, False
    ops = promote_dtypes("einsum", operands) if len(operands) > 1 else list(operands)
    pet = requested
    for indices, spec in steps:
        inputs, result_names = spec.split("->")
        names = inputs.split(",")
        if len(indices) == 1:
            x = ops.pop(indices[0])
            x, got = _reduce_alone(x, names[0], result_names, pet)
        elif len(indices) == 2:
            lhs, rhs = ops.pop(indices[0]), ops.pop(indices[1])
            x, got = _contract(lhs, names[0], rhs, names[1], result_names, pet, dot_general)
        else:
            raise NotImplementedError("jax.numpy.einsum does not support simultaneous "
                                      "contraction of 3 or more operands.")
        if got != result_names:
            x = lax.transpose(x, tuple(got.index(n) for n in result_names))
        ops.append(x)
    (result,) = ops
    return lax.convert(result, out_dtype, weak) if (result.dtype, result.weak_type) != (
        out_dtype, weak) else result


def _sum(x: Any, axes: Sequence[int], pet: Any) -> Any:
    if pet is not None and x.dtype != pet:
        x = lax.convert_element_type(x, pet)
    if x.dtype == dtypes.bool_:
        return lax.reduce_or(x, tuple(axes))
    return lax.reduce_sum(x, tuple(axes))


def _drop(names: str, labels: Any) -> str:
    return "".join(n for n in names if n not in labels)


def _sum_out(x: Any, names: str, labels: Sequence[str], pet: Any) -> tuple[Any, str]:
    if not labels:
        return x, names
    return _sum(x, [names.index(n) for n in labels], pet), _drop(names, labels)


def _diagonals(x: Any, names: str, keep: str, pet: Any) -> tuple[Any, str]:
    """Resolve labels repeated within one operand: keep their diagonal, and sum it
    unless ``keep`` names the label."""
    for name, count in collections.Counter(names).items():
        if count < 2:
            continue
        axes = [i for i, n in enumerate(names) if n == name]
        iotas = [lax.broadcasted_iota(np.int32, x.shape, a) for a in axes]
        on_diag = lax.eq(iotas[0], iotas[1])
        for extra in iotas[2:]:
            on_diag = lax.bitwise_and(on_diag, lax.eq(iotas[0], extra))
        x = lax.select(on_diag, x, lax.full_like(x, 0))
        if name in keep:
            x = _sum(x, axes[1:], pet)
            first = axes[0]
            names = "".join(n for i, n in enumerate(names) if n != name or i == first)
        else:
            x = _sum(x, axes, pet)
            names = names.replace(name, "")
    return x, names


def _reduce_alone(x: Any, names: str, result: str, pet: Any) -> tuple[Any, str]:
    counts = collections.Counter(names)
    x, names = _sum_out(x, names, [n for n in counts if counts[n] == 1 and n not in result],
                        pet)
    return _diagonals(x, names, result, pet)


def _squeeze_broadcast(x: Any, names: str, other_shape: tuple[int, ...], other: str
                       ) -> tuple[Any, str]:
    """Drop size-1 axes whose label has a larger size in the other operand."""
    drop = [i for i, n in enumerate(names)
            if x.shape[i] == 1 and n in other and other_shape[other.index(n)] != 1]
    if not drop:
        return x, names
    return lax.squeeze(x, drop), "".join(n for i, n in enumerate(names) if i not in drop)


def _contract(lhs: Any, lhs_names: str, rhs: Any, rhs_names: str, result: str, pet: Any,
              dot_general: Any) -> tuple[Any, str]:
    lhs, lhs_names = _squeeze_broadcast(lhs, lhs_names, rhs.shape, rhs_names)
    rhs, rhs_names = _squeeze_broadcast(rhs, rhs_names, lhs.shape, lhs_names)
    lhs_alone = [n for n in dict.fromkeys(lhs_names)
                 if lhs_names.count(n) == 1 and n not in rhs_names and n not in result]
    rhs_alone = [n for n in dict.fromkeys(rhs_names)
                 if rhs_names.count(n) == 1 and n not in lhs_names and n not in result]
    lhs, lhs_names = _sum_out(lhs, lhs_names, lhs_alone, pet)
    rhs, rhs_names = _sum_out(rhs, rhs_names, rhs_alone, pet)
    lhs, lhs_names = _diagonals(lhs, lhs_names, result + rhs_names, pet)
    rhs, rhs_names = _diagonals(rhs, rhs_names, result + lhs_names, pet)
    shared = [n for n in lhs_names if n in rhs_names]
    batch = "".join(n for n in result if n in shared)
    contracted = [n for n in shared if n not in result]
    for n in contracted:
        if lhs.shape[lhs_names.index(n)] != rhs.shape[rhs_names.index(n)]:
            raise ValueError(f"einsum: size of label '{n}' differs between operands: "
                             f"{lhs.shape} with '{lhs_names}' and {rhs.shape} with "
                             f"'{rhs_names}'")
    lc = tuple(lhs_names.index(n) for n in contracted)
    rc = tuple(rhs_names.index(n) for n in contracted)
    lb = tuple(lhs_names.index(n) for n in batch)
    rb = tuple(rhs_names.index(n) for n in batch)
    lhs_free = _drop(lhs_names, batch + "".join(contracted))
    rhs_free = _drop(rhs_names, batch + "".join(contracted))
    # Of the two operand orders, take the one whose output needs no transpose if any.
    if batch + rhs_free + lhs_free == result:
        return dot_general(rhs, lhs, ((rc, lc), (rb, lb)), None, pet), result
    out = dot_general(lhs, rhs, ((lc, rc), (lb, rb)), None, pet)
    return out, batch + lhs_free + rhs_free
