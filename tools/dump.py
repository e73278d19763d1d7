"""llax-dump: show what llax makes of a function, stage by stage.

    llax-dump path/to/file.py:function --arg f32[128,784] --arg i32[]

prints the traced IR; ``--vmap 0,None`` traces ``vmap(function, in_axes=(0, None))``
instead (the ``--arg`` types are then those of the batched arguments), showing the
batched IR; ``--grad`` replaces the function by its gradient (with
respect to every floating-point argument) and prints that; ``--passes`` prints
the IR after every pass that changed it, ``--llvm``/``--llvm-opt``/``--asm`` the
LLVM IR before and after optimisation and the machine code; ``--pipeline`` picks
the passes. ``--graph out.svg`` writes the dataflow graph of the optimised IR (or of
the stage ``--graph-stage`` names) as DOT, ``out.dot``, and renders it with Graphviz's
``dot`` when that is installed. Any error in the request is one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from llax.ir import dtypes
from llax.ir.core import Function

_TYPE_SPEC = re.compile(r"^([a-z]+[0-9]*)\[([0-9, ]*)\]$")


class DumpError(Exception):
    """A bad request: reported as one line, exit status 2."""


def parse_type_spec(text: str):
    """``f32[128,784]`` -> ShapeDtypeStruct((128, 784), float32)."""
    from llax.frontend.api import ShapeDtypeStruct

    m = _TYPE_SPEC.match(text.strip())
    if not m or m.group(1) not in dtypes.FROM_SHORT_NAME:
        names = ", ".join(sorted(dtypes.FROM_SHORT_NAME))
        raise DumpError(f"bad type spec {text!r}: expected dtype[dims] such as f32[128,784] "
                        f"or i32[], with dtype one of {names}")
    dims = tuple(int(d) for d in m.group(2).replace(" ", "").split(",") if d)
    return ShapeDtypeStruct(dims, dtypes.FROM_SHORT_NAME[m.group(1)])


def load_function(target: str) -> Callable:
    """``path/to/file.py:function`` -> the function object."""
    path_text, sep, name = target.rpartition(":")
    if not sep or not path_text or not name:
        raise DumpError(f"expected path/to/file.py:function, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise DumpError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"_llax_dump_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise DumpError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file failed: report, don't trace back
        raise DumpError(f"importing {path} failed: {type(e).__name__}: {e}") from e
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        raise DumpError(f"{path} has no function {name!r}")
    return fn


def parse_in_axes(text: str) -> int | None | tuple[int | None, ...]:
    """``0`` -> 0, ``None`` -> None, ``0,None`` -> (0, None): vmap's in_axes."""
    items = []
    for item in text.split(","):
        item = item.strip()
        if item == "None":
            items.append(None)
        elif re.fullmatch(r"-?[0-9]+", item):
            items.append(int(item))
        else:
            raise DumpError(f"bad --vmap axes {text!r}: expected integers or None separated "
                            "by commas, such as 0 or 0,None")
    return items[0] if len(items) == 1 else tuple(items)


# --graph: the suffix the user gives decides the output. DOT text is always written (next to
# the picture when one is asked for); the others are rendered from it by Graphviz.
DOT_SUFFIXES = (".dot", ".gv")
RENDERED_SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def graph_stage(traced: Function, spec: str, stage: str) -> Function:
    """The IR that ``--graph-stage`` names: ``traced`` (the pipeline's input), ``optimized``
    (its output, what ``jit`` compiles) or the name of a pass in the pipeline (the IR right
    after the first pass of that name)."""
    from llax.frontend.compile import optimize
    from llax.passes.inline_calls import inline_calls
    from llax.passes.manager import resolve_passes, run_pipeline

    if stage == "traced":
        return traced
    if stage == "optimized":
        return optimize(traced, spec)
    passes = resolve_passes(spec)
    for i, p in enumerate(passes):
        if p.name == stage:
            # optimize() inlines custom-derivative calls before the pipeline; so do we.
            return run_pipeline(inline_calls(traced), passes[:i + 1])
    names = ", ".join(dict.fromkeys(p.name for p in passes)) or "none"
    raise DumpError(f"bad --graph-stage {stage!r}: expected traced, optimized or a pass of the "
                    f"pipeline {spec!r} ({names})")


def graph_files(path: str | Path) -> tuple[Path, str | None]:
    """Where ``--graph path`` puts the DOT text, and the format Graphviz renders ``path`` in
    (None for a DOT file); DumpError for a suffix it does not know."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in DOT_SUFFIXES:
        return target, None
    if suffix in RENDERED_SUFFIXES:
        return target.with_suffix(".dot"), RENDERED_SUFFIXES[suffix]
    known = ", ".join((*DOT_SUFFIXES, *RENDERED_SUFFIXES))
    raise DumpError(f"--graph {str(path)!r}: the file name must end in one of {known}")


def write_graph(fn: Function, path: str | Path, *, title: str, out=None, err=None) -> Path:
    """Write ``fn``'s dataflow graph to ``path`` (see ``llax.ir.dot``) and return where the
    DOT text went.

    ``x.dot``/``x.gv`` get the DOT text. ``x.svg``/``x.png``/``x.pdf`` get the DOT text in
    ``x.dot`` and the picture rendered from it by Graphviz's ``dot``; when ``dot`` is not
    on PATH, a message on ``err`` says so and names the DOT file (not an error: the graph
    is there, only the picture is missing).
    """
    from llax.ir.dot import to_dot

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    target = Path(path)
    dot_path, fmt = graph_files(path)
    try:
        dot_path.write_text(to_dot(fn, title=title))
    except OSError as e:
        raise DumpError(f"cannot write {dot_path}: {e.strerror or e}") from e
    if fmt is None:
        print(f"# graph: {dot_path}", file=out)
        return dot_path
    graphviz = shutil.which("dot")
    if graphviz is None:
        print(f"llax-dump: Graphviz's `dot` is not on PATH, so {target} was not rendered; "
              f"the graph is in {dot_path} (DOT text). Install Graphviz, or render it "
              f"elsewhere with: dot -T{fmt} {dot_path} -o {target}", file=err)
        return dot_path
    try:
        done = subprocess.run([graphviz, f"-T{fmt}", str(dot_path), "-o", str(target)],
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DumpError(f"running {graphviz} on {dot_path} failed: {e}") from e
    if done.returncode != 0:
        detail = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise DumpError(f"{graphviz} could not render {dot_path} as {fmt}: {detail}")
    print(f"# graph: {target} (DOT text in {dot_path})", file=out)
    return dot_path


def dump(fn: Callable, args: Sequence, *, pipeline: str | None, passes: bool, llvm: bool,
         llvm_opt: bool, asm: bool, grad: bool = False, vmap: str | None = None,
         axis_name: str | None = None, buffers: bool = False, graph: str | None = None,
         graph_stage_name: str = "optimized", out=None) -> None:
    from llax.frontend.api import trace_to_function
    from llax.frontend.compile import DEFAULT_PIPELINE, compile_function
    from llax.passes.manager import PassContext, run_pipeline

    out = sys.stdout if out is None else out
    name = getattr(fn, "__name__", "fn")
    header = name
    if vmap is not None:
        from llax.frontend.vmap import vmap as vmap_transform

        in_axes = parse_in_axes(vmap)
        fn = vmap_transform(fn, in_axes=in_axes, axis_name=axis_name)
        header = f"{name} under vmap(in_axes={in_axes!r})"
    jaxpr, _, _ = trace_to_function(fn, name, tuple(args), {}, [])
    traced = jaxpr.jaxpr.function
    print(f"# traced {header}", file=out)
    print(jaxpr, file=out)
    if grad:
        from llax.ir.printer import print_function
        from llax.transforms.grad_pass import gradient_function

        traced = gradient_function(traced)
        print(f"\n# grad {name}", file=out)
        print(print_function(traced), file=out)
    spec = pipeline if pipeline is not None else DEFAULT_PIPELINE
    if passes:
        from llax.ir.printer import print_function

        def show(pass_spec: str, fn: Function) -> None:
            print(f"\n# after {pass_spec}", file=out)
            print(print_function(fn), file=out)

        run_pipeline(traced, spec, PassContext(print_after=show))
    if buffers:
        from llax.frontend.compile import optimize
        from llax.passes.inplace import buffer_table

        optimized = optimize(traced, spec)
        print("\n# buffers (values sharing storage, in the names of the optimised IR)", file=out)
        print(buffer_table(optimized), file=out)
    if graph is not None:
        shown = graph_stage(traced, spec, graph_stage_name)
        what = f"gradient of {header}" if grad else header
        write_graph(shown, graph, title=f"{what}: {graph_stage_name} IR", out=out)
    if llvm or llvm_opt or asm:
        compiled = compile_function(traced, pipeline=spec)
        for flag, stage in ((llvm, "llvm"), (llvm_opt, "llvm-opt"), (asm, "asm")):
            if flag:
                print(f"\n# {stage}", file=out)
                print(compiled.stages.get(stage, f"(no {stage} stage)"), file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llax-dump", description=__doc__.split("\n")[0])
    parser.add_argument("target", help="path/to/file.py:function")
    parser.add_argument("--arg", action="append", default=[], metavar="TYPE",
                        help="an argument type such as f32[128,784] (repeat per argument)")
    parser.add_argument("--grad", action="store_true",
                        help="differentiate the (scalar) function first and show its gradient")
    parser.add_argument("--vmap", metavar="AXES",
                        help="show vmap(function, in_axes=AXES), e.g. 0 or 0,None; the --arg "
                             "types are the batched arguments")
    parser.add_argument("--axis-name", help="the vmap axis name, for lax.psum and friends")
    parser.add_argument("--pipeline", help="passes to run, e.g. 'simplify,cse,dce,fuse'")
    parser.add_argument("--passes", action="store_true", help="print the IR after every pass")
    parser.add_argument("--buffers", action="store_true",
                        help="print which values share a buffer (the inplace pass's choices)")
    parser.add_argument("--graph", metavar="FILE",
                        help="write the IR's dataflow graph: FILE.dot (DOT text), or FILE.svg, "
                             ".png, .pdf (rendered by Graphviz's dot, DOT text next to it)")
    parser.add_argument("--graph-stage", default="optimized", metavar="STAGE",
                        help="the IR --graph shows: optimized (default), traced, or a pass "
                             "of the pipeline (the IR after it)")
    parser.add_argument("--llvm", action="store_true", help="print the LLVM IR")
    parser.add_argument("--llvm-opt", action="store_true", help="print the optimised LLVM IR")
    parser.add_argument("--asm", action="store_true", help="print the machine code")
    parser.add_argument("--x64", action="store_true", help="enable 64-bit types")
    ns = parser.parse_args(argv)
    try:
        from llax.config import config

        if ns.x64:
            config.update("jax_enable_x64", True)
        if ns.graph is not None:
            graph_files(ns.graph)  # a bad file name fails before any tracing
        args = [parse_type_spec(a) for a in ns.arg]
        fn = load_function(ns.target)
        dump(fn, args, pipeline=ns.pipeline, passes=ns.passes, llvm=ns.llvm,
             llvm_opt=ns.llvm_opt, asm=ns.asm, grad=ns.grad, vmap=ns.vmap,
             axis_name=ns.axis_name, buffers=ns.buffers, graph=ns.graph,
             graph_stage_name=ns.graph_stage)
    except DumpError as e:
        print(f"llax-dump: error: {e}", file=sys.stderr)
        return 2
    except (TypeError, ValueError, NameError) as e:  # tracing rejected the arguments
        message = " ".join(line.strip() for line in str(e).splitlines())
        print(f"llax-dump: error: {type(e).__name__}: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
