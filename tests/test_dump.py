"""llax-dump: the IR at every stage, and one-line errors with exit status 2."""

import subprocess
import sys
import textwrap

import pytest

from llax.tools.dump import main

SOURCE = textwrap.dedent("""
    import llax.numpy as jnp
    from llax import lax

    def loss(w, x):
        return jnp.sum(jnp.tanh(x @ w) ** 2)

    def center(x):
        return x - lax.pmean(x, "batch")
""")


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    return path


def test_traced_ir_and_every_stage(model, capsys):
    code = main([f"{model}:loss", "--arg", "f32[4,3]", "--arg", "f32[2,4]", "--passes",
                 "--llvm", "--llvm-opt", "--asm"])
    out = capsys.readouterr().out
    assert code == 0
    assert "{ lambda ; a:f32[4,3] b:f32[2,4]. let" in out
    assert "dot_general" in out and "tanh" in out
    assert "# after fuse" in out and "fusion" in out
    assert "# llvm\n" in out and "# llvm-opt" in out and "# asm" in out
    assert "define" in out


def test_pipeline_flag_chooses_passes(model, capsys):
    assert main([f"{model}:loss", "--arg", "f32[4,3]", "--arg", "f32[2,4]", "--passes",
                 "--pipeline", "cse,dce"]) == 0
    assert "fusion" not in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["{dir}/missing.py:loss"], "no such file"),
    (["{model}:nothing", "--arg", "f32[2]"], "has no function 'nothing'"),
    (["{model}:loss", "--arg", "q32[2]"], "bad type spec"),
    (["{model}", "--arg", "f32[2]"], "expected path/to/file.py:function"),
    (["{model}:loss", "--arg", "f32[4,3]", "--arg", "f32[2,5]"], "matmul"),
    (["{model}:loss", "--arg", "f32[4,3]", "--arg", "f32[2,4]", "--vmap", "0,x"],
     "bad --vmap axes"),
    (["{model}:loss", "--arg", "f32[4,3]", "--arg", "f32[2,4]", "--vmap", "0"],
     "vmap got inconsistent sizes for array axes to be mapped"),
    (["{model}:center", "--arg", "f32[2,4]", "--vmap", "0"], "unbound axis name: batch"),
])
def test_errors_are_one_line_with_status_2(model, capsys, args, message):
    args = [a.format(dir=model.parent, model=model) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("llax-dump: error:") and message in err
    assert "\n" not in err


def test_vmap_shows_the_batched_ir(model, capsys):
    # The --arg types are those of the batched call: w shared, x a batch of 8 rows.
    assert main([f"{model}:loss", "--arg", "f32[4,3]", "--arg", "f32[8,4]",
                 "--vmap", "None,0"]) == 0
    out = capsys.readouterr().out
    assert "# traced loss under vmap(in_axes=(None, 0))" in out
    assert "{ lambda ; a:f32[4,3] b:f32[8,4]. let" in out
    assert out.count("dot_general") == 1 and "c:f32[8,3] = dot_general" in out
    assert "f32[8] = reduce_sum[axes=(1,) out_sharding=None]" in out  # as JAX prints it


def test_vmap_with_an_axis_name(model, capsys):
    assert main([f"{model}:center", "--arg", "f32[8,4]", "--vmap", "1", "--axis-name",
                 "batch", "--passes"]) == 0
    out = capsys.readouterr().out
    assert "reduce_sum[axes=(1,)]" in out and "psum" not in out
    assert "# after fuse" in out


def test_console_script_runs(model):
    done = subprocess.run([sys.executable, "-m", "llax.tools.dump", f"{model}:loss",
                           "--arg", "f32[4,3]", "--arg", "f32[2,4]"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "reduce_sum" in done.stdout
