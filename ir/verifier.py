"""Check that a Function is well-formed typed SSA (autodidax's ``typecheck_jaxpr`` is the model).

Rules: every operand and result is bound when read; every Var is defined once in
the whole tree (params, outputs, regions); a region reads only its own params and
the values it defines; each op's declared output types equal what its
abstract-eval rule infers; literals hold an ndarray of exactly their type.
Messages quote the offending op with the names of the full printout.
"""

from __future__ import annotations

import functools

import numpy as np

from llax.ir import dtypes
from llax.ir.core import Atom, Function, Literal, Op, Var
from llax.ir.primitive import abstract_eval, infer_types
from llax.ir.printer import Printer


class VerificationError(Exception):
    """The Function breaks an IR invariant; the message names the op."""


def verify(fn: Function) -> None:
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
