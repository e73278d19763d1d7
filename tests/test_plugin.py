"""The pass-plugin interface end to end: examples/plugin, a package of its own.

The session fixture installs it into this environment (``pip install -e``) unless
it is there already; then its passes are used only by name, as a user would: in
``jit(f, pipeline=...)``, in ``LLAX_PIPELINE`` and in ``llax-dump --pipeline``. No
test imports the plugin: llax must find it through the ``llax.passes`` entry points.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import llax
import llax.numpy as jnp
from llax import lax
from llax.ir.core import walk_ops
from llax.ir.parser import parse_function
from llax.ir.printer import print_function
from llax.passes import run_pipeline

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "examples" / "plugin"
DIST = "llax-example-passes"
PASSES = {"mul2-to-add": "llax_example_passes.mul_to_add:MulTwoToAdd",
          "op-counts": "llax_example_passes.op_counts:OpCounts"}
COUNT_LOGGER = "llax_example_passes.op_counts"
REWRITE = "mul2-to-add,simplify,cse,dce,fuse,inplace"


def _distribution() -> importlib.metadata.Distribution | None:
    """The installed plugin, if it is this checkout's: installed from ``PLUGIN`` (editable or
    not), with the entry points declared here. Another install (an older one, or another
    clone's) does not count: the tests are of this checkout."""
    importlib.invalidate_caches()
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    try:
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    except ValueError:
        url = ""
    if url != PLUGIN.as_uri():
        return None
    return dist if {ep.name: ep.value for ep in dist.entry_points} == PASSES else None


def _pip_install() -> None:
    base = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check"]
    # Without build isolation pip builds with this environment's setuptools, which (before
    # setuptools 70.1) needs the `wheel` package for an editable build; if that is missing,
    # let pip build in an isolated environment instead.
    attempts = [[*base, "--no-build-isolation", "-e", str(PLUGIN)], [*base, "-e", str(PLUGIN)]]
    failures = []
    for command in attempts:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            return
        failures.append(f"$ {' '.join(command)}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    pytest.fail("installing examples/plugin failed:\n" + "\n".join(failures))


def _follow_pth_files(dist: importlib.metadata.Distribution) -> None:
    """Put the directories that the distribution's .pth files name on sys.path: what the
    interpreter does with them at start-up, for this process, which started before the
    install (new processes need nothing). The plugin's editable install is one such line."""
    for f in dist.files or ():
        if f.name.endswith(".pth"):
            for line in Path(dist.locate_file(f)).read_text().splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "import")) and os.path.isdir(line) \
                        and line not in sys.path:
                    sys.path.append(line)
    importlib.invalidate_caches()


@pytest.fixture(scope="session", autouse=True)
def plugin_installed() -> importlib.metadata.Distribution:
    # pytest-xdist workers (and other test sessions on this machine) may get here at once:
    # one installs, the others wait on the lock and then find it installed.
    lock_path = Path(tempfile.gettempdir()) / "llax-example-passes-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _distribution() is None:
                _pip_install()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    dist = _distribution()
    assert dist is not None, f"{DIST} with entry points {PASSES} is not installed after pip"
    _follow_pth_files(dist)
    return dist


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done


def count_lines(stderr: str) -> list[dict[str, int]]:
    """The ``op-counts{verbose=true}`` lines of a run, as counts."""
    out = []
    for line in stderr.splitlines():
        if m := re.fullmatch(r"op-counts @\S+: (.*)", line):
            out.append({k: int(v) for k, v in (item.split("=") for item in m.group(1).split())})
    return out


def traced_counts(f, *args) -> dict[str, int]:
    """The oracle for op-counts: the traced IR's ops by primitive, regions included."""
    fn = llax.make_jaxpr(f)(*args).jaxpr.function
    return dict(Counter(op.prim.name for op in walk_ops(fn)))


def self_adds(ir_text: str) -> list[str]:
    """Every ``add v v`` line (both operands one value) in IR text."""
    return re.findall(r"= add (\w+) \1$", ir_text, flags=re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# Discovery


def test_entry_points_are_declared(plugin_installed):
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="llax.passes")}
    assert {name: eps.get(name) for name in PASSES} == PASSES
    assert {ep.name for ep in plugin_installed.entry_points} == set(PASSES)


def test_plugin_is_loaded_only_when_a_pipeline_names_it():
    done = run_python("""
        import sys
        import llax
        from llax.passes import available_passes, parse_pipeline
        parse_pipeline("simplify,cse,dce")
        print("loaded after built-ins:", "llax_example_passes" in sys.modules)
        (p,) = parse_pipeline("op-counts{verbose=true}")
        print("loaded after op-counts:", "llax_example_passes" in sys.modules)
        print("pass:", type(p).__module__, p.spec())
        print("listed:", "mul2-to-add" in available_passes())
    """)
    assert done.stdout.splitlines() == [
        "loaded after built-ins: False", "loaded after op-counts: True",
        "pass: llax_example_passes.op_counts op-counts{verbose=true}", "listed: True"]


# ---------------------------------------------------------------------------------------------
# mul2-to-add on IR text: when it fires and when it must not


@pytest.mark.parametrize("line, rewritten", [
    ("b:f32[4] = mul a 2.0:f32[]", "b:f32[4] = add a a"),
    ("b:f32[4] = mul 2.0:f32[] a", "b:f32[4] = add a a"),
    ("b:f32[4] = mul a [2.0, 2.0, 2.0, 2.0]:f32[4]", "b:f32[4] = add a a"),
    ("b:f32[4] = mul a 3.0:f32[]", None),
    ("b:f32[4] = mul a a", None),
    ("b:f32[4] = sub a 2.0:f32[]", None),
])
def test_rewrite_rule_on_floats(line, rewritten):
    text = f"{{ lambda ; a:f32[4]. let\n    {line}\n  in (b,) }}"
    out = print_function(run_pipeline(parse_function(text), "mul2-to-add"))
    assert out == (text if rewritten is None else text.replace(line, rewritten))


def test_rewrite_rule_types():
    ints = "{ lambda ; a:i32[3]. let\n    b:i32[3] = mul a 2:i32[]\n  in (b,) }"
    assert "add a a" in print_function(run_pipeline(parse_function(ints), "mul2-to-add"))
    uints = "{ lambda ; a:u8[3]. let\n    b:u8[3] = mul 2:u8[] a\n  in (b,) }"
    assert "add a a" in print_function(run_pipeline(parse_function(uints), "mul2-to-add"))
    # A weak x with a strong result: ``add x x`` would be weak, so no rewrite.
    weak = "{ lambda ; a:f32[]{weak}. let\n    b:f32[] = mul a 2.0:f32[]\n  in (b,) }"
    fn = parse_function(weak)
    assert run_pipeline(fn, "mul2-to-add") is fn


# ---------------------------------------------------------------------------------------------
# jit(f, pipeline=...)


def doubled(x, n):
    return x * 2 - 1, n * 2


SPECIAL = np.array([0.0, -0.0, 1.5, -3.25, np.inf, -np.inf, np.nan, 3e38], np.float32)
INTS = np.array([0, 1, -7, 2**30, -(2**31)], np.int32)


def test_jit_pipeline_rewrites_and_keeps_the_bits():
    f = llax.jit(doubled, pipeline=REWRITE)
    y, m = f(SPECIAL, INTS)
    # Bit for bit what NumPy computes for x * 2 - 1 and n * 2 (int32 wraps the same way).
    with np.errstate(over="ignore"):  # 3e38 * 2 is inf, as it must be
        want = SPECIAL * np.float32(2) - np.float32(1)
    np.testing.assert_array_equal(np.asarray(y).view(np.uint32), want.view(np.uint32))
    np.testing.assert_array_equal(np.asarray(m), INTS * np.int32(2))
    ir = f.lower(SPECIAL, INTS).as_text()
    assert " mul " not in ir and len(self_adds(ir)) == 2, ir
    default = llax.jit(doubled).lower(SPECIAL, INTS).as_text()
    assert default.count(" mul ") == 2 and not self_adds(default)  # the plugin did it


def test_rewrite_inside_control_flow():
    def f(x):
        def body(c, row):
            c = c * 2 + row
            return c, jnp.sum(c)
        c, ys = lax.scan(body, jnp.zeros(3, jnp.float32), x)
        return lax.cond(ys[-1] > 0, lambda a: a * 2, lambda a: a, c), ys

    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 4 - 1
    jitted = llax.jit(f, pipeline=REWRITE)
    got_c, got_ys = jitted(x)
    c, ys = np.zeros(3, np.float32), []
    for row in x:
        c = c * np.float32(2) + row
        ys.append(c.sum(dtype=np.float32))
    want_c = c * 2 if ys[-1] > 0 else c
    np.testing.assert_array_equal(np.asarray(got_c), want_c)
    np.testing.assert_allclose(np.asarray(got_ys), ys, rtol=1e-6)
    ir = jitted.lower(x).as_text()
    assert " mul " not in ir and len(self_adds(ir)) == 2, ir  # scan body and cond branch


def test_count_ops_reports_by_primitive(caplog):
    x = np.linspace(-2, 2, 8, dtype=np.float32)

    def f(x):
        return jnp.tanh(x) * 2 + x * 2

    f_jit = llax.jit(f, pipeline="op-counts,mul2-to-add,op-counts,simplify,cse,dce,fuse")
    with caplog.at_level(logging.INFO, logger=COUNT_LOGGER):
        got = f_jit(x)
    np.testing.assert_allclose(np.asarray(got), np.tanh(x) * 2 + x * 2, rtol=2e-6, atol=1e-6)
    records = [r for r in caplog.records if r.name == COUNT_LOGGER]
    before, after = (r.counts for r in records)
    want = traced_counts(f, x)
    assert before == want and want["mul"] == 2
    assert after == {**{k: v for k, v in want.items() if k != "mul"}, "add": want["add"] + 2}
    assert records[0].getMessage() == "op-counts @f: " + " ".join(
        f"{k}={v}" for k, v in sorted(want.items()))


# ---------------------------------------------------------------------------------------------
# LLAX_PIPELINE and llax-dump --pipeline, in fresh processes


def test_llax_pipeline_environment_variable():
    done = run_python("""
        import numpy as np
        import llax
        x = np.array([0.5, -0.0, np.inf, -2.0], np.float32)
        f = llax.jit(lambda x: x * 2 - 1)
        print(np.asarray(f(x)).view(np.uint32).tolist())
        print(f.lower(x).as_text())
    """, env={"LLAX_PIPELINE": f"op-counts{{verbose=true}},{REWRITE}"})
    bits, ir = done.stdout.split("\n", 1)
    x = np.array([0.5, -0.0, np.inf, -2.0], np.float32)
    assert eval(bits) == (x * np.float32(2) - np.float32(1)).view(np.uint32).tolist()
    assert " mul " not in ir and len(self_adds(ir)) == 1, ir
    assert count_lines(done.stderr) == [traced_counts(lambda x: x * 2 - 1, x)]


def test_llax_dump_pipeline(tmp_path):
    source = tmp_path / "model.py"
    source.write_text("import llax.numpy as jnp\n\n"
                      "def f(x):\n    return jnp.exp(x * 2) * 2\n")
    graph = tmp_path / "f.dot"
    done = subprocess.run(
        [sys.executable, "-m", "llax.tools.dump", f"{source}:f", "--arg", "f32[8]", "--passes",
         "--pipeline", "op-counts{verbose=true},mul2-to-add,op-counts{verbose=true},dce",
         "--graph", str(graph), "--graph-stage", "mul2-to-add"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "# after mul2-to-add" in out and "# after op-counts" not in out  # op-counts: no change
    after = out.split("# after mul2-to-add", 1)[1]
    assert "b:f32[8] = add a a" in after and " mul " not in after
    # --passes runs the pipeline, then --graph-stage runs it again up to mul2-to-add.
    assert count_lines(done.stderr) == [{"exp": 1, "mul": 2}, {"add": 2, "exp": 1},
                                        {"exp": 1, "mul": 2}]
    assert "b:f32[8] = add a a" in graph.read_text()  # the graph of the plugin's output
