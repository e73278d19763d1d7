"""The pass infrastructure: the ``Pass`` base class, the registry, pipeline text and hooks.

A pass is a frozen dataclass: its class-level ``name`` is how pipelines refer to it
and its fields are its options, with defaults::

    @register_pass
    @dataclass(frozen=True)
    class Fuse(Pass):
        name = "fuse"
        max_ops: int = 64

        def run(self, fn: Function, ctx: PassContext) -> Function: ...

``run`` returns a new Function, or ``fn`` itself when it changed nothing; the
hooks (verification, printing) use that identity to act only on change.

Pipelines are text, ``"simplify,cse,dce,fuse{max-ops=64}"``: passes separated by
commas, options in braces separated by commas or spaces, option names with
dashes for the fields' underscores, values converted by the field's type
(``int``, ``float``, ``bool`` as true/false, ``str``, optionally quoted; an
``X | None`` field also takes ``none``).

Built-in passes register on import of ``llax.passes``. Third-party packages
declare theirs in the ``llax.passes`` entry-point group (the entry point loads a
Pass subclass, or a module whose import registers passes); they are loaded only
when a pipeline names a pass the registry does not know.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import itertools
import os
import re
import threading
import time
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TextIO, Union

from llax.config import config
from llax.ir.core import Function, Op

ENTRY_POINT_GROUP = "llax.passes"
# Imported on first use of the registry, so ``get_pass("dce")`` works even when only
# this module was imported (frontend/compile.py imports it directly).
_BUILTIN_MODULES = ("llax.passes.dce", "llax.passes.cse", "llax.passes.simplify",
                    "llax.passes.fuse", "llax.passes.fuse_epilogue", "llax.passes.inline_calls",
                    "llax.passes.inplace")


@dataclass(frozen=True)
class Pass:
    """Base class of passes. Subclasses are frozen dataclasses whose fields are the options."""

    name: ClassVar[str] = ""

    def run(self, fn: Function, ctx: PassContext) -> Function:
        raise NotImplementedError(f"pass {self.name!r} does not implement run()")

    @classmethod
    def option_types(cls) -> dict[str, Any]:
        """Option name as written in pipelines (dashes) -> the field's type."""
        hints = _field_types(cls)
        return {f.name.replace("_", "-"): hints[f.name] for f in dataclasses.fields(cls)
                if f.init}

    @classmethod
    def from_options(cls, options: dict[str, str]) -> Pass:
        """Build the pass from option text (``{"max-ops": "8"}``), converting by field type."""
        known = cls.option_types()
        kwargs: dict[str, Any] = {}
        for key, text in options.items():
            option = key.replace("_", "-")
            if option not in known:
                listing = ", ".join(sorted(known)) or "none"
                raise ValueError(f"pass {cls.name!r} has no option {key!r}; its options are: "
                                 f"{listing}")
            kwargs[option.replace("-", "_")] = _convert_option(cls.name, option, known[option],
                                                              text)
        return cls(**kwargs)

    def spec(self) -> str:
        """This pass as pipeline text; options at their default are left out."""
        opts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.init and (f.default is dataclasses.MISSING or value != f.default):
                opts.append(f"{f.name.replace('_', '-')}={_format_option(value)}")
        return self.name + ("{" + " ".join(opts) + "}" if opts else "")

    def __str__(self) -> str:
        return self.spec()


# ---------------------------------------------------------------------------------------------
# Registry

# Threads: registering is check-then-set, so it holds _REGISTRY_LOCK (never while importing:
# a module being imported by another thread registers its passes under that lock, and
# waiting for the import while holding it would deadlock). Loading is made idempotent
# instead: importing a module twice is a no-op (and waits for another thread's import of
# it to finish), re-registering a class is allowed, and the "loaded" flags are set only
# once everything is in, so no thread reads a half-filled registry as complete.
_REGISTRY: dict[str, type[Pass]] = {}
_REGISTRY_LOCK = threading.Lock()
_builtins_loaded = False
_entry_points_loaded = False


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make ``cls`` available to pipelines under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, Pass)):
        raise TypeError(f"register_pass expects a Pass subclass, got {cls!r}")
    # Checked on the class itself: a subclass of a dataclass inherits the marker without
    # its own annotations becoming fields.
    params = cls.__dict__.get("__dataclass_params__")
    if params is None or not params.frozen:
        raise TypeError(f"pass class {cls.__qualname__} must be a frozen dataclass "
                        "(decorate it with @dataclass(frozen=True) below @register_pass)")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
        raise ValueError(f"pass class {cls.__qualname__} needs a class attribute `name` that is "
                         f"a pass name (letters, digits, '_', '-', '.'), got {name!r}")
    with _REGISTRY_LOCK:
        old = _REGISTRY.get(name)
        # Re-registering the same class (a module reloaded) is fine; two classes under one
        # name would make pipelines ambiguous.
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__,
                                                                       cls.__qualname__):
            raise ValueError(f"pass name {name!r} is already registered by "
                             f"{old.__module__}.{old.__qualname__}")
        _REGISTRY[name] = cls
    return cls


def available_passes() -> list[str]:
    """Names of every registered pass, after loading built-ins and entry points."""
    _load_builtins()
    _load_entry_points()
    return sorted(_REGISTRY)


def get_pass(name: str) -> type[Pass]:
    """The pass class registered under ``name``; ValueError listing the known passes if none."""
    _load_builtins()
    cls = _REGISTRY.get(name)
    if cls is None:
        _load_entry_points(name)
        cls = _REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"unknown pass {name!r}; available passes: "
                         f"{', '.join(available_passes())}")
    return cls


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        _builtins_loaded = True


def _load_entry_points(name: str | None = None) -> None:
    """Load plugins: the entry point called ``name`` first, then (once) all of them.

    A failure to load the entry point that was asked for propagates; others only
    warn, so one broken plugin does not hide the rest from the listing.
    """
    global _entry_points_loaded
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if name is not None:
        for ep in eps:
            if ep.name == name:
                _register_entry_point(ep.load(), ep.name)
        if name in _REGISTRY:
            return
    if _entry_points_loaded:
        return
    for ep in eps:
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001 - report and keep listing the others
            warnings.warn(f"could not load llax pass plugin {ep.name!r} ({ep.value}): {e}",
                          stacklevel=3)
            continue
        _register_entry_point(obj, ep.name)
    _entry_points_loaded = True


def _register_entry_point(obj: Any, ep_name: str) -> None:
    if isinstance(obj, types.ModuleType):
        return  # importing the module ran its @register_pass decorators
    if isinstance(obj, type) and issubclass(obj, Pass):
        if _REGISTRY.get(obj.name) is not obj:
            register_pass(obj)
        return
    raise TypeError(f"entry point {ep_name!r} of group {ENTRY_POINT_GROUP!r} must load a "
                    f"Pass subclass or a module, got {obj!r}")


# ---------------------------------------------------------------------------------------------
# Options

def _field_types(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - e.g. a class defined in a function with local names
        # Fall back to the annotation text for the simple types options use.
        simple = {"int": int, "float": float, "bool": bool, "str": str}
        out = {}
        for f in dataclasses.fields(cls):
            t = f.type
            if isinstance(t, str):
                parts = [p.strip() for p in t.split("|")]
                base = [simple.get(p, str) for p in parts if p != "None"]
                t = base[0] if len(parts) == 1 else Union[base[0], None]  # noqa: UP007
            out[f.name] = t
        return out


def _convert_option(pass_name: str, option: str, typ: Any, text: str) -> Any:
    def bad(expected: str) -> ValueError:
        return ValueError(f"pass {pass_name!r}: option {option!r} expects {expected}, "
                          f"got {text!r}")

    args = typing.get_args(typ)
    if typing.get_origin(typ) in (Union, types.UnionType) and type(None) in args:
        if text.lower() == "none":
            return None
        rest = [a for a in args if a is not type(None)]
        typ = rest[0] if len(rest) == 1 else str
    if typ is bool:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise bad("true or false")
    if typ is int:
        try:
            return int(text, 0)
        except ValueError:
            raise bad("an integer") from None
    if typ is float:
        try:
            return float(text)
        except ValueError:
            raise bad("a number") from None
    if typ is str:
        return text
    raise ValueError(f"pass {pass_name!r}: option {option!r} has type {typ!r}, which pipeline "
                     "text cannot express (use int, float, bool or str)")


def _format_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str) and (not value or re.search(r"[\s,{}='\"]", value)):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


# ---------------------------------------------------------------------------------------------
# Pipeline text

_NAME = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*")
_OPTION = re.compile(r"""[\s,]*([A-Za-z_][\w-]*)\s*=\s*
                          ("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,{}]+)""", re.VERBOSE)


def parse_pipeline(text: str) -> list[Pass]:
    """``"simplify,cse,fuse{max-ops=8}"`` -> pass instances; ValueError on any mistake."""
    passes: list[Pass] = []
    pos = 0
    if not text.strip():
        return passes
    while True:
        m = _NAME.match(text, pos)
        if m is None:
            raise ValueError(_where(text, pos, "expected a pass name"))
        name, pos = m.group(1), m.end()
        options: dict[str, str] = {}
        if text.startswith("{", pos):
            close = _matching_brace(text, pos)
            options = _parse_options(text, pos + 1, close)
            pos = close + 1
            while pos < len(text) and text[pos].isspace():
                pos += 1
        try:
            cls = get_pass(name)
        except ValueError as e:
            raise ValueError(f"in pipeline {text!r}: {e}") from None
        passes.append(cls.from_options(options))
        if pos == len(text):
            return passes
        if text[pos] != ",":
            raise ValueError(_where(text, pos, "expected ',' between passes"))
        pos += 1


def _matching_brace(text: str, start: int) -> int:
    quote = None
    i = start + 1
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "}":
            return i
        elif c == "{":
            raise ValueError(_where(text, i, "options cannot nest"))
        i += 1
    raise ValueError(_where(text, start, "unclosed '{'"))


def _parse_options(text: str, start: int, end: int) -> dict[str, str]:
    options: dict[str, str] = {}
    pos = start
    while True:
        while pos < end and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos >= end:
            return options
        m = _OPTION.match(text, pos, end)
        if m is None:
            raise ValueError(_where(text, pos, "expected an option `name=value`"))
        key, value = m.group(1), m.group(2)
        if value[0] in "\"'":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if key.replace("_", "-") in {k.replace("_", "-") for k in options}:
            raise ValueError(_where(text, m.start(1), f"option {key!r} given twice"))
        options[key] = value
        pos = m.end()


def _where(text: str, pos: int, message: str) -> str:
    return f"bad pipeline {text!r} at column {pos}: {message}\n  {text}\n  {' ' * pos}^"


def resolve_passes(spec: str | Pass | Iterable[str | Pass]) -> list[Pass]:
    """Pipeline text, one Pass, or a sequence mixing Pass instances and pipeline text."""
    if isinstance(spec, str):
        return parse_pipeline(spec)
    if isinstance(spec, Pass):
        return [spec]
    out: list[Pass] = []
    for item in spec:
        if isinstance(item, Pass):
            out.append(item)
        elif isinstance(item, str):
            out.extend(parse_pipeline(item))
        elif isinstance(item, type) and issubclass(item, Pass):
            out.append(item())
        else:
            raise TypeError(f"a pipeline holds passes or pipeline text, got {item!r}")
    return out


# ---------------------------------------------------------------------------------------------
# Context and running

PrintHook = Callable[[str, Function], None]
_env_dump_runs = itertools.count()  # next() on a count is atomic: threads get distinct numbers


@dataclass
class PassContext:
    """Settings and instrumentation shared by the passes of a pipeline run.

    - ``verify``: run ``llax.ir.verifier.verify`` on the input and after every pass
      that changed the function; None follows ``config.llax_verify``.
    - ``print_after``: after each pass that changed the function, called as
      ``hook(pass_spec, fn)``, or, for a stream, the function's text is written to it.
    - ``dump_dir``: write ``00-traced.ir``, ``01-<pass>.ir``, ... (one file per pass,
      changed or not, so the numbers follow the pipeline). Numbering continues across
      runs that share the context. Without one, $LLAX_DUMP_DIR (if set) gets a
      subdirectory per pipeline run, ``<function name>-<n>/``, since every jit
      compilation runs its own pipeline.
    - ``timings``: (pass name, seconds) appended for every pass run.
    - ``donated``: positions of the parameters whose buffers the caller gives up
      (``jit(donate_argnums=...)``); the ``inplace`` pass may reuse them.
    """

    verify: bool | None = None
    print_after: PrintHook | TextIO | None = None
    dump_dir: str | os.PathLike | None = None
    timings: list[tuple[str, float]] = field(default_factory=list)
    donated: frozenset[int] = frozenset()
    _dump_count: int = field(default=0, init=False, repr=False)

    def should_verify(self) -> bool:
        return bool(config.llax_verify) if self.verify is None else self.verify

    def timing_report(self) -> str:
        """A table of the time spent per pass, summed over repeated runs."""
        totals: dict[str, float] = {}
        for name, seconds in self.timings:
            totals[name] = totals.get(name, 0.0) + seconds
        total = sum(totals.values()) or 1e-12
        rows = [f"{name:<24}{seconds * 1e3:10.3f} ms {100 * seconds / total:6.1f}%"
                for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1])]
        return "\n".join(rows + [f"{'total':<24}{total * 1e3:10.3f} ms"])

    def _print(self, label: str, fn: Function) -> None:
        hook = self.print_after
        if hook is None:
            return
        if hasattr(hook, "write"):
            from llax.ir.printer import print_function

            hook.write(f"// ----- IR after {label} ----- //\n{print_function(fn)}\n")
        else:
            hook(label, fn)

    def _dump(self, label: str, fn: Function) -> None:
        if self.dump_dir is None:
            return
        from llax.ir.printer import print_function

        directory = Path(self.dump_dir)
        directory.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.-]", "_", label)
        (directory / f"{self._dump_count:02d}-{safe}.ir").write_text(print_function(fn) + "\n")
        self._dump_count += 1


def run_pipeline(fn: Function, spec: str | Pass | Iterable[str | Pass],
                 ctx: PassContext | None = None) -> Function:
    """Run the passes of ``spec`` on ``fn`` in order, with ``ctx``'s hooks between them."""
    passes = resolve_passes(spec)
    ctx = PassContext() if ctx is None else ctx
    if ctx.dump_dir is None and os.environ.get("LLAX_DUMP_DIR"):
        safe = re.sub(r"[^\w.-]", "_", fn.name)
        ctx.dump_dir = Path(os.environ["LLAX_DUMP_DIR"]) / f"{safe}-{next(_env_dump_runs)}"
    check = ctx.should_verify()
    if check:
        _verify(fn, "the pipeline's input", ctx.donated)
    ctx._dump("traced", fn)
    for p in passes:
        start = time.perf_counter()
        out = p.run(fn, ctx)
        ctx.timings.append((p.name, time.perf_counter() - start))
        if not isinstance(out, Function):
            raise TypeError(f"pass {p.spec()!r} returned {type(out).__name__}, not a Function")
        if out is not fn:
            if check:
                _verify(out, f"pass {p.spec()!r}", ctx.donated)
            ctx._print(p.spec(), out)
        ctx._dump(p.name, out)
        fn = out
    return fn


def _verify(fn: Function, after: str, donated: frozenset[int] = frozenset()) -> None:
    from llax.ir.verifier import verify

    try:
        verify(fn, donated)
    except Exception as e:
        from llax.ir.printer import print_function

        e.add_note(f"the IR is invalid after {after}:\n{print_function(fn)}")
        raise


# ---------------------------------------------------------------------------------------------
# Helpers for passes

def map_regions(fn: Function, transform: Callable[[Function], Function],
                where: Callable[[Op], bool] | None = None) -> Function:
    """Apply ``transform`` to the regions of ``fn``'s ops (those ``where`` accepts).

    Returns ``fn`` itself when every region came back unchanged.
    """
    new_ops: list[Op] = []
    changed = False
    for op in fn.ops:
        if op.regions and (where is None or where(op)):
            regions = tuple(transform(r) for r in op.regions)
            if any(a is not b for a, b in zip(regions, op.regions, strict=True)):
                op = op.replace(regions=regions)
                changed = True
        new_ops.append(op)
    return fn.replace(ops=tuple(new_ops)) if changed else fn


def pipeline_text(passes: Sequence[Pass]) -> str:
    """The pipeline text that ``parse_pipeline`` turns back into ``passes``."""
    return ",".join(p.spec() for p in passes)


__all__ = ["ENTRY_POINT_GROUP", "Pass", "PassContext", "available_passes", "get_pass",
           "map_regions", "parse_pipeline", "pipeline_text", "register_pass",
           "resolve_passes", "run_pipeline"]
