"""The examples run and learn: linear regression finds y = 3x - 1, the MLP's loss falls."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"llax_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_regression_recovers_the_line():
    lr = load_example("linear_regression")
    results = lr.main(steps=1000, verbose=False)
    # Least squares on the same data: what gradient descent converges to.
    xs, ys = (np.asarray(a, np.float64) for a in lr.make_data())
    w_ls, b_ls = np.polyfit(xs, ys, 1)
    # The estimate's standard error is about noise / sqrt(n) = 0.01; allow 5 of them.
    tol = 5 * lr.NOISE / np.sqrt(len(xs))
    assert set(results) == {"eager", "jit"}
    for name, (w, b) in results.items():
        assert abs(w - 3.0) < tol and abs(b + 1.0) < tol, (name, w, b)
        assert w == pytest.approx(w_ls, abs=1e-4) and b == pytest.approx(b_ls, abs=1e-4), name
    np.testing.assert_allclose(results["eager"], results["jit"], rtol=1e-5)


def run_script(name: str, tmp_path: pathlib.Path) -> str:
    # OpenBLAS's own threads, on top of the other pytest worker and llax's pool, make a
    # train step 10-50x slower on a busy 2-core machine (reported; not what is tested here).
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=env, check=True).stdout


def test_mlp_loss_falls(tmp_path):
    out = run_script("mlp", tmp_path)
    losses = [float(m) for m in re.findall(r"^step +\d+ +loss ([0-9.]+)$", out, re.M)]
    assert len(losses) >= 3, out
    assert all(np.isfinite(losses))
    # Ten classes: the first loss is about log(10) = 2.3; by the end it is far below.
    assert losses[0] > 2.0, losses
    assert losses[-1] < 0.25 * losses[0], losses
    assert losses[-1] < losses[1], losses
    accuracy = float(re.search(r"train accuracy ([0-9.]+)", out).group(1))
    assert accuracy > 0.8, out
