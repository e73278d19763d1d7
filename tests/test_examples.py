"""The examples run and learn: linear regression finds y = 3x - 1, the MLP's loss falls."""

import importlib.util
import pathlib
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


def test_mlp_loss_falls():
    mlp = load_example("mlp")
    history = mlp.main(steps=200, log_every=50, verbose=False)
    losses = [loss for _, loss in history]
    assert all(np.isfinite(losses))
    # Ten classes: the first loss is about log(10) = 2.3; after 200 steps it is far below.
    assert losses[0] > 2.0
    assert losses[-1] < 0.5 * losses[0], losses
    assert losses[-1] < losses[1], losses


def test_mlp_runs_as_a_script(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLES / "mlp.py")], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path, check=True).stdout
    assert out.count("loss") >= 3 and "train accuracy" in out
