"""Check that a Function is well-formed typed SSA (autodidax's ``typecheck_jaxpr`` is the model).

Rules: every operand and result is bound when read; every Var is defined once in
the whole tree (params, outputs, regions); a region reads only its own params and
the values it defines; each op's declared output types equal what its
abstract-eval rule infers; literals hold an ndarray of exactly their type.
Messages quote the offending op with the names of the full printout.

Buffer assignment (``aliases`` params, from the ``inplace`` pass) is checked by
liveness alone, independently of how the pass chose: an output may take only the
buffer of a Var operand of its shape and dtype; once it does, no earlier value held
in that buffer is read again (by a later op or as a result); and no buffer that
belongs to someone else is written: a parameter's, unless it is a donated input
(``donated``) or, in a loop body, the carry whose updated value ends up in it.
"""

from __future__ import annotations

import functools

import numpy as np

from llax.ir import dtypes
from llax.ir.core import Atom, Function, Literal, Op, Var, alias_roots
from llax.ir.primitive import abstract_eval, infer_types
from llax.ir.printer import Printer


class VerificationError(Exception):
    """The Function breaks an IR invariant; the message names the op."""


def verify(fn: Function, donated: frozenset[int] = frozenset()) -> None:
    # Names are needed only for messages: build the printer on the first failure.
    printer = functools.cache(lambda: Printer(fn))
    defined: set[Var] = set()  # across the whole tree: a Var has one definition anywhere

    def check(f: Function, outer: list[set[Var]], path: str) -> None:
        def name(v: Var) -> str:
            return printer().name(v)

        def fail(where: Op | str, message: str) -> VerificationError:
            at = f"op `{printer().op_line(where)}`" if isinstance(where, Op) else where
            return VerificationError(f"{path}: {at}: {message}")

        scope: set[Var] = set()
        later = {v for op in f.ops for v in op.outputs}

        def define(v: Var, where: Op | str) -> None:
            if v in defined:
                raise fail(where, f"variable {name(v)} ({v.type}) is defined twice")
            defined.add(v)
            scope.add(v)

        def read(a: Atom, where: Op | str) -> None:
            if isinstance(a, Literal):
                value = a.value
                if not isinstance(value, np.ndarray) or value.dtype != a.type.dtype \
                        or value.shape != a.type.shape or a.type.dtype not in dtypes.SUPPORTED:
                    got = (f"{value.dtype}{list(value.shape)}" if isinstance(value, np.ndarray)
                           else f"a {type(value).__name__}, not an ndarray")
                    raise fail(where, f"literal value ({got}) does not match its type {a.type}")
            elif not isinstance(a, Var):
                raise fail(where, f"operand {a!r} is neither a Var nor a Literal")
            elif a not in scope:
                why = ("is used before it is defined" if a in later else
                       "belongs to an enclosing function (regions may not capture values)"
                       if any(a in s for s in outer) else "is never defined")
                raise fail(where, f"variable {name(a)} ({a.type}) {why}")

        for v in f.params:
            define(v, f"parameters of {f.name}")
        for op in f.ops:
            for a in op.inputs:
                read(a, op)
            for k, region in enumerate(op.regions):
                check(region, [*outer, scope], f"{path} > {op.prim.name} region {k}")
            if op.prim not in abstract_eval:
                raise fail(op, f"primitive {op.prim.name!r} has no abstract evaluation rule")
            try:
                types = infer_types(op.prim, tuple(a.type for a in op.inputs), op.params,
                                    op.regions)
            except Exception as e:  # the rule's message explains the type error
                raise fail(op, f"type inference failed: {e}") from e
            declared = tuple(v.type for v in op.outputs)
            if types != declared:
                raise fail(op, f"declared output types ({', '.join(map(str, declared))}) "
                               f"differ from the inferred ({', '.join(map(str, types))})")
            for v in op.outputs:
                define(v, op)
        for a in f.results:
            read(a, f"results of {f.name}")

    check(fn, [], fn.name)
    _check_aliases(fn, frozenset(fn.params[i] for i in donated), printer, fn.name)


def _check_aliases(fn: Function, writable: frozenset[Var], printer, path: str) -> None:
    """The buffer-assignment rules of the module docstring, in ``fn`` and its regions."""
    from llax.ir.prims.control_flow import scan, while_loop

    def fail(op: Op, message: str) -> VerificationError:
        return VerificationError(f"{path}: op `{printer().op_line(op)}`: {message}")

    holder: dict[Var, Var] = {}  # value -> the value whose buffer it is in (if not its own)
    held: dict[Var, list[Var]] = {}  # buffer owner -> every value it has held, in order
    reads = {a: i for i, op in enumerate(fn.ops) for a in op.inputs if isinstance(a, Var)}
    reads.update((a, len(fn.ops)) for a in fn.results if isinstance(a, Var))
    for i, op in enumerate(fn.ops):
        outs = [out for out, _ in op.aliases]
        if len(set(outs)) != len(outs):
            raise fail(op, "an output is aliased twice")
        for out, k in op.aliases:
            if not (0 <= out < len(op.outputs) and 0 <= k < len(op.inputs)):
                raise fail(op, f"alias ({out}, {k}) names no output or operand")
            a, v = op.inputs[k], op.outputs[out]
            if not isinstance(a, Var) or a.type.shape != v.type.shape \
                    or a.type.dtype != v.type.dtype:
                raise fail(op, f"output {out} ({v.type}) cannot live in operand {k}'s buffer")
            root = holder.get(a, a)
            if root in fn.params and root not in writable:
                raise fail(op, f"output {out} would overwrite the buffer of parameter "
                               f"{printer().name(root)}, which the function does not own")
            for old in held.setdefault(root, [root]):
                if reads.get(old, -1) > i or (old is a and op.inputs.count(a) > 1):
                    raise fail(op, f"output {out} overwrites the buffer of "
                                   f"{printer().name(old)}, which is read afterwards")
            holder[v] = root
            held[root].append(v)
        for k, region in enumerate(op.regions):
            inner = f"{path} > {op.prim.name} region {k}"
            if op.prim in (while_loop, scan) and k == len(op.regions) - 1:
                _check_aliases(region, _carries_in_place(op, region), printer, inner)
            else:
                _check_aliases(region, frozenset(), printer, inner)


def _carries_in_place(op: Op, body: Function) -> frozenset[Var]:
    """The carry parameters of a loop body whose buffers the body may reuse: those whose
    alias chain ends at the same carry's result."""
    from llax.ir.prims.control_flow import loop_carries

    _, skip, n = loop_carries(op)
    roots = alias_roots(body)
    return frozenset(p for p, r in zip(body.params[skip:skip + n], body.results[:n])
                     if isinstance(r, Var) and roots.get(r) is p)
