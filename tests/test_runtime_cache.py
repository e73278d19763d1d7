"""Runtimes' object code kept on disk between processes (codegen/runtime.py): a second
process loads it instead of compiling, gets the same numbers, never loads a damaged
entry, and writes nothing when the cache is off; code holding a process's addresses is
never cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A convolution that takes Winograd's path (gemm, winograd and conv runtimes), checked
# against a direct NumPy sum; prints where each runtime came from.
PROGRAM = """
import json, numpy as np, llax
from llax import lax
from llax.codegen import runtime
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 10, 10, 16)).astype(np.float32)
w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
y = llax.jit(lambda x, w: lax.conv_general_dilated(
    x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))(x, w)
p = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
want = sum(np.einsum("nhwc,co->nhwo", p[:, i:i + 10, j:j + 10], w[i, j])
           for i in range(3) for j in range(3))
print(json.dumps({"error": float(np.abs(np.asarray(y) - want).max()),
                  "origins": runtime.origins}))
"""
RUNTIMES = ("llax_gemm_f32", "llax_winograd_f32")


def _run(cache: str) -> dict:
    env = {**os.environ, "LLAX_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error"] < 1e-3
    return result["origins"]


def _entries(root: Path, name: str) -> list[Path]:
    return sorted((root / "runtimes").glob(f"{name}-*.o"))


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("llax-cache")
    first = _run(str(root))
    assert all(first[name] == "compiled" for name in RUNTIMES)
    return root


def test_a_second_process_loads_from_disk(warm_cache: Path) -> None:
    second = _run(str(warm_cache))
    assert all(second[name] == "disk" for name in RUNTIMES)


def test_code_with_addresses_is_not_kept(tmp_path: Path, monkeypatch) -> None:
    from llax.codegen import runtime
    from llax.tests.test_codegen_runtime import add_runtime, fresh

    monkeypatch.setenv("LLAX_CACHE_DIR", str(tmp_path))
    kept, not_kept = fresh("kept"), fresh("not_kept")
    runtime.load_runtime(kept, lambda: add_runtime(kept, 1), [kept])
    runtime.load_runtime(not_kept, lambda: add_runtime(not_kept, 1), [not_kept], cache=False)
    assert _entries(tmp_path, kept) and not _entries(tmp_path, not_kept)


def test_a_damaged_entry_is_compiled_again(warm_cache: Path) -> None:
    (entry,) = _entries(warm_cache, "llax_gemm_f32")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    third = _run(str(warm_cache))
    assert third["llax_gemm_f32"] == "compiled" and third["llax_winograd_f32"] == "disk"
    assert _run(str(warm_cache))["llax_gemm_f32"] == "disk"  # rewritten whole


def test_off_writes_nothing(tmp_path: Path) -> None:
    os.chdir(tmp_path)  # (nothing relative either)
    origins = _run("off")
    assert all(origins[name] == "compiled" for name in RUNTIMES)
    assert not any(tmp_path.iterdir())
