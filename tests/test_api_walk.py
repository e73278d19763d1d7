"""Walk every public name of llax's NumPy/SciPy modules and compare it with JAX.

The recipes are in ``tests/api_walk_table.py``. For each entry, dtype and shape case:
the eager result against JAX (values within a dtype tolerance, dtype, shape, weak
type), the jitted result against JAX's jitted one, and where JAX rejects the inputs,
llax must raise too. Differentiable entries: ``grad`` against central finite
differences in float64. Batchable entries: ``vmap`` against a Python loop.

Speed: the results of one (dtype, case) group are computed once per process: JAX
and llax each jit every entry of the group as one function (one compilation, not
hundreds); a group that fails to compile is bisected to name the entry at fault.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import lzma
import math
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import llax
import llax.numpy as lnp
from llax.frontend.core import Array, Tracer
from llax.tests.api_walk_table import (
    ABSTRACT_NAMES,
    CONSTANT_NAMES,
    DTYPE_NAMES,
    MATRIX_CASES,
    NON_CALLABLE,
    SUBMODULES,
    TABLE,
    Entry,
    Failed,
    Recorded,
)
from llax.tests.jnp_oracle import x64_mode

MODULES = ("numpy", "numpy.linalg", "numpy.fft", "scipy.special", "scipy.linalg",
           "scipy.stats")
RTOL = {"float16": 2e-3, "float32": 2e-5, "float64": 1e-12, "complex64": 2e-5,
        "complex128": 1e-12}
ATOL = {"float16": 1e-3, "float32": 2e-6, "float64": 1e-13, "complex64": 2e-6,
        "complex128": 1e-13}

# Deviations from JAX that llax makes on purpose: (module, name, variant, dtype, case) ->
# (the reason, a check that the deviation is still exactly what is recorded).
def _nan_where_jax_fails(got: Any, want: Any) -> None:
    assert isinstance(want, Failed), f"JAX now answers: {want!r}"
    assert not isinstance(got, Failed), got
    assert all(np.isnan(np.asarray(leaf)).all() for leaf in leaves(got)), got


def _zero_over_zero(got: Any, want: Any) -> None:
    g, w = np.asarray(got), want.value
    both = ~np.isnan(g)
    np.testing.assert_array_equal(g[both], w[both])
    assert (w[np.isnan(g)] == 0).all(), "JAX's 0/0 is no longer 0"


_EMPTY_ORDER_STATISTIC = (
    "JAX fails inside its own gather on an empty input (an internal error, not a check); "
    "llax returns NaN, as NumPy does", _nan_where_jax_fails)
KNOWN_DIFFERENCES: dict[tuple[str, str, str, str, str], tuple[str, Callable[..., None]]] = {
    **{("numpy", name, axis, "float32", "empty"): _EMPTY_ORDER_STATISTIC
       for name in ("median", "nanmedian", "percentile", "nanpercentile", "quantile",
                    "nanquantile") for axis in ("None", "0", "-1", "keepdims")},
    **{("numpy", name, "", "bool", "bcast"): (
        "XLA folds 0/0 of booleans made float to 0; llax computes NaN, as IEEE and NumPy do",
        _zero_over_zero) for name in ("divide", "true_divide")},
}


def _module(prefix: str, name: str) -> Any:
    return importlib.import_module(f"{prefix}.{name}")


# ---- inputs -----------------------------------------------------------------------------

VALUES = {
    "real": [0.5, -1.25, 2.0, 0.75, -0.3, 1.5, -2.5, 0.1, 1.1, -0.7, 0.9, 1.8],
    "pos": [0.5, 1.25, 2.0, 0.75, 0.3, 1.5, 2.5, 0.1, 1.1, 0.7, 0.9, 1.8],
    "unit": [0.5, -0.25, 0.8, 0.75, -0.3, 0.1, -0.6, 0.35, 0.2, -0.45, 0.65, 0.05],
    "gt1": [1.5, 1.25, 2.0, 3.75, 1.3, 2.5, 1.1, 4.0, 1.7, 2.2, 1.9, 3.1],
    "prob": [0.5, 0.25, 0.8, 0.75, 0.3, 0.1, 0.6, 0.35, 0.2, 0.45, 0.65, 0.15],
    "int_pos": [1, 2, 0, 3, 1, 4, 2, 5, 3, 0, 2, 1],
    "small_pos": [1, 2, 0, 3, 1, 4, 2, 5, 3, 0, 2, 1],
    "spd": [0.5, -1.25, 2.0, 0.75, -0.3, 1.5, -2.5, 0.1, 1.1, -0.7, 0.9, 1.8],
}
INTS = {"real": [2, -3, 0, 5, 1, -1, 4, -2, 3, 7, -5, 6], "unit": [0, 1, 0, 1, 1, 0],
        "prob": [0, 1, 0, 1, 1, 0]}
BOOLS = [True, False, True, True, False, False, True, False, False, True, True, False]


def _values(dtype: str, domain: str, n: int, shift: int) -> np.ndarray:
    kind = np.dtype(dtype).kind
    if kind == "b":
        base = BOOLS
    elif kind in "iu":
        base = INTS.get(domain, [1, 2, 3, 1, 4, 2, 5, 3, 1, 2, 6, 1])
    else:
        base = VALUES[domain]
    vals = [base[(i + 3 * shift) % len(base)] for i in range(n)]
    out = np.array(vals).astype(dtype)
    if kind == "c":
        imag = [VALUES[domain][(i + 5 + 3 * shift) % 12] * 0.5 for i in range(n)]
        out = out + 1j * np.array(imag).astype(dtype)
    return out


def make_arg(dtype: str, shape: Any, domain: str, index: int) -> Any:
    if shape == "py":
        v = _values(dtype, domain, 1, index)[0]
        return {"b": bool, "i": int, "f": float, "c": complex}[np.dtype(dtype).kind](v)
    if domain == "spd":  # a well-conditioned Hermitian positive definite matrix
        b = _values(dtype, "real", math.prod(shape), index).reshape(shape)
        a = b @ np.conj(np.swapaxes(b, -1, -2)) + 3 * np.eye(shape[-1], dtype=dtype)
        return a.astype(dtype)
    return _values(dtype, domain, math.prod(shape), index).reshape(shape)


def case_shapes(entry: Entry, case: str) -> tuple:
    return {**MATRIX_CASES, **entry.cases}[case]


def make_args(entry: Entry, dtype: str, case: str) -> tuple:
    return tuple(make_arg(dtype, s, entry.domain, i)
                 for i, s in enumerate(case_shapes(entry, case)))


# ---- JAX's answers, recorded ---------------------------------------------------------------
# Tracing and compiling a few thousand small JAX programs takes minutes, so JAX's answers
# are recorded (``python -m llax.tests.test_api_walk``) with a fingerprint of the recipe,
# the inputs and the JAX version. A case whose fingerprint is not in the record (a new or
# changed entry, another JAX) asks JAX live, so the record can only speed tests up.

RECORD_PATH = Path(__file__).parent / "golden" / "api_walk_jax.pkl.xz"
Item = tuple[Entry, str]  # (entry, variant)


def _mod(entry: Entry, system: str) -> Any:
    return _module("jax" if system == "jax" else "llax", entry.module)


def _call(item: Item, system: str, args: tuple) -> Any:
    entry, variant = item
    return entry.calls[variant](_mod(entry, system), *args)


STABLE_HELPERS = {"_attr", "_np"}  # name lookups only: left out of the fingerprints


def _code_text(fn: Callable, seen: frozenset = frozenset()) -> str:
    """The recipe's code, with the code of the table's helpers it calls by name."""
    code = fn.__code__
    consts = [_code_text_of(c) for c in code.co_consts]
    cells = [_code_text_of(c.cell_contents) for c in fn.__closure__ or ()]
    helpers = [_code_text(h, seen | {name}) for name in code.co_names
               if name not in seen and name not in STABLE_HELPERS
               for h in [fn.__globals__.get(name)]
               if callable(h) and getattr(h, "__module__", None) == fn.__module__
               and hasattr(h, "__code__")]
    parts = (code.co_code, consts, code.co_names, fn.__defaults__, cells)
    return repr(parts + (helpers,) if helpers else parts)


def _code_text_of(c: Any) -> str:
    if hasattr(c, "co_code"):
        return repr((c.co_code, [_code_text_of(k) for k in c.co_consts], c.co_names))
    if hasattr(c, "__code__"):
        return _code_text(c)
    return repr(c)


def fingerprint(item: Item, dtype: str, case: str) -> str:
    entry, variant = item
    args = make_args(entry, dtype, case)
    static = "static, raw" if entry.static else False  # static answers are kept as JAX gave them
    text = repr((entry.key, variant, dtype, case, entry.jit, static, jax.__version__,
                 _code_text(entry.calls[variant]),
                 [(np.asarray(a).tobytes(), np.asarray(a).dtype.str, type(a).__name__)
                  for a in args]))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _as_record(result: Any) -> Any:
    if isinstance(result, dict):
        return {k: _as_record(v) for k, v in result.items()}
    if isinstance(result, (tuple, list)):
        items = [_as_record(r) for r in result]
        return tuple(items) if type(result) is tuple else items
    if isinstance(result, jax.Array):
        return Recorded(np.asarray(result), bool(result.weak_type))
    return result


def _jax_batch(items: list[Item], argsets: list[tuple]) -> list:
    """JAX's jitted results, compiling the lot at once; bisects when that fails."""
    if not items:
        return []
    sizes = [len(a) for a in argsets]

    def run(*flat: Any) -> list:
        out, pos = [], 0
        for item, n in zip(items, sizes):
            out.append(_call(item, "jax", flat[pos:pos + n]))
            pos += n
        return out
    try:
        return list(jax.jit(run)(*[a for args in argsets for a in args]))
    except Exception as e:  # noqa: BLE001 - recorded per item
        if len(items) == 1:
            return [Failed(f"{type(e).__name__}: {str(e)[:300]}")]
    half = len(items) // 2
    return _jax_batch(items[:half], argsets[:half]) + _jax_batch(items[half:], argsets[half:])


def jax_answers(cases: list[tuple[Item, str, str]]) -> dict[str, Any]:
    """fingerprint -> JAX's (recorded) result for each (item, dtype, case)."""
    out: dict[str, Any] = {}
    jitted: dict[tuple[str, str], list] = {}
    for item, dtype, case in cases:
        fp = fingerprint(item, dtype, case)
        args = make_args(item[0], dtype, case)
        if item[0].jit and not item[0].static:
            jitted.setdefault((dtype, case), []).append((fp, item, args))
            continue
        try:
            result = _call(item, "jax", args)
            out[fp] = result if item[0].static else _as_record(result)
        except Exception as e:  # noqa: BLE001
            out[fp] = Failed(f"{type(e).__name__}: {str(e)[:300]}")
    for group in jitted.values():
        for start in range(0, len(group), 100):
            chunk = group[start:start + 100]
            results = _jax_batch([it for _, it, _ in chunk], [a for _, _, a in chunk])
            for (fp, _, _), res in zip(chunk, results):
                out[fp] = res if isinstance(res, Failed) else _as_record(res)
    return out


@functools.cache
def _record() -> dict[str, Any]:
    if not RECORD_PATH.exists():
        return {}
    with lzma.open(RECORD_PATH, "rb") as f:
        return pickle.load(f)


def jax_answer(item: Item, dtype: str, case: str) -> Any:
    fp = fingerprint(item, dtype, case)
    record = _record()
    if fp not in record:
        record[fp] = jax_answers([(item, dtype, case)])[fp]
    return record[fp]


def all_cases() -> list[tuple[Item, str, str]]:
    return [((e, v), dtype, case) for e in TABLE.values() for dtype, case in cases_of(e)
            for v in e.calls]


def cases_of(entry: Entry) -> list[tuple[str, str]]:
    """(dtype, case) pairs to test: every case in the entry's first dtype, the main case
    (and Python scalars) in the others, so the dtype sweep stays cheap."""
    out = []
    for dtype in entry.dtypes:
        if entry.heavy and dtype not in ("float32", "int32"):
            continue
        for case in entry.cases:
            if case in (entry.main_case, "py") or (dtype == entry.dtypes[0] and not entry.heavy):
                out.append((dtype, case))
    return out


def _run(item: Item, args: tuple) -> Any:
    try:
        return _call(item, "llax", args)
    except Exception as e:  # noqa: BLE001
        return Failed(e)


# ---- comparing ------------------------------------------------------------------------------


def leaves(x: Any) -> list:
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in leaves(x[k])]
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in leaves(item)]
    return [x]


def assert_matches(got: Any, want: Any, rtol: float | None, what: str,
                   weak: bool = True) -> None:
    """llax's result ``got`` equals JAX's recorded ``want``: structure, shape, dtype,
    weak type, values (NaNs equal, inexact values within the dtype's tolerance)."""
    assert not isinstance(got, Failed), f"{what}: llax raised {got!r}"
    gl, wl = leaves(got), leaves(want)
    assert len(gl) == len(wl), f"{what}: {len(gl)} results, JAX has {len(wl)}"
    for k, (g, w) in enumerate(zip(gl, wl)):
        at = f"{what} (result {k})"
        if not isinstance(w, Recorded):
            assert type(g) is type(w) and g == w, f"{at}: {g!r} != JAX's {w!r}"
            continue
        assert isinstance(g, (Array, Tracer)), f"{at}: not an llax Array: {type(g)}"
        gv, wv = np.asarray(g), w.value
        assert gv.shape == wv.shape, f"{at}: shape {gv.shape} != JAX's {wv.shape}"
        assert gv.dtype == wv.dtype, f"{at}: dtype {gv.dtype} != JAX's {wv.dtype}"
        if weak:
            assert g.weak_type == w.weak_type, f"{at}: weak_type {g.weak_type} != {w.weak_type}"
        if gv.dtype.kind in "fc" or gv.dtype.name == "bfloat16":
            name = gv.dtype.name
            tol = max(RTOL.get(name, 1e-2), rtol or 0)
            atol = ATOL.get(name, 1e-2) * (10 if rtol else 1)
            as_float = gv.dtype if gv.dtype.kind in "fc" else np.float32
            np.testing.assert_allclose(gv.astype(as_float), wv.astype(as_float), rtol=tol,
                                       atol=atol, equal_nan=True, err_msg=at)
        else:
            np.testing.assert_array_equal(gv, wv, err_msg=at)


def assert_static_equal(got: Any, want: Any, what: str) -> None:
    assert not isinstance(got, Failed), f"{what}: llax raised {got!r}"
    assert got == want, f"{what}: {got!r} != JAX's {want!r}"


def check_case(item: Item, dtype: str, case: str, got: Any, want: Any, how: str) -> None:
    entry, variant = item
    what = f"{entry.module}.{entry.name}[{variant}] {dtype} {case} {how}"
    known = KNOWN_DIFFERENCES.get((*entry.key, variant, dtype, case))
    if known is not None:
        known[1](got, want)
    elif isinstance(want, Failed):
        assert isinstance(got, Failed), (
            f"{what}: JAX rejects the input ({want!r}) but llax returns {got!r}")
    elif entry.static:
        assert_static_equal(got, want, what)
    else:
        assert_matches(got, want, entry.rtol, what, entry.weak)


# ---- parametrisation -------------------------------------------------------------------------


def in_llax(entry: Entry) -> bool:
    """Whether llax has the name yet (entries for names other people are adding are
    written ahead; an absent name counts against the coverage figure instead)."""
    obj = _module("llax", entry.module)
    for part in entry.name.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def walked() -> list[Entry]:
    return [e for e in TABLE.values() if in_llax(e)]


def _value_params() -> list:
    return [pytest.param(e.key, dtype, case, id=f"{e.module}.{e.name}-{dtype}-{case}")
            for e in walked() for dtype, case in cases_of(e)]


@pytest.mark.parametrize("key,dtype,case", _value_params())
def test_eager_matches_jax(key: tuple[str, str], dtype: str, case: str) -> None:
    entry = TABLE[key]
    args = make_args(entry, dtype, case)
    for variant in entry.calls:
        item = (entry, variant)
        check_case(item, dtype, case, _run(item, args), jax_answer(item, dtype, case), "eager")


JIT_CHUNK = 80


@functools.cache
def jit_groups() -> dict[tuple[str, str, int], tuple[Item, ...]]:
    """The jitted cases, in chunks of one (dtype, case): each entry's main case and
    Python scalars (weak types) in its first dtype; one compilation per chunk. (Compiling
    every dtype would cost minutes; the other dtypes are checked eagerly.)"""
    groups: dict[tuple[str, str], list[Item]] = {}
    for (entry, variant), dtype, case in all_cases():
        if not in_llax(entry) or not entry.jit or entry.static or entry.heavy or (
                dtype != entry.dtypes[0]):
            continue
        if case in (entry.main_case, "py"):
            groups.setdefault((dtype, case), []).append((entry, variant))
    return {(dtype, case, k): tuple(items[k * JIT_CHUNK:(k + 1) * JIT_CHUNK])
            for (dtype, case), items in groups.items()
            for k in range((len(items) + JIT_CHUNK - 1) // JIT_CHUNK)}


def _llax_batch(items: list[Item], argsets: list[tuple]) -> list:
    """llax's jitted results, compiling the lot at once; bisects when that fails."""
    if not items:
        return []
    sizes = [len(a) for a in argsets]

    def run(*flat: Any) -> list:
        out, pos = [], 0
        for item, n in zip(items, sizes):
            out.append(_call(item, "llax", flat[pos:pos + n]))
            pos += n
        return out
    try:
        return list(llax.jit(run)(*[a for args in argsets for a in args]))
    except Exception as e:  # noqa: BLE001 - recorded per item
        if len(items) == 1:
            return [Failed(e)]
    half = len(items) // 2
    return _llax_batch(items[:half], argsets[:half]) + _llax_batch(items[half:], argsets[half:])


@pytest.mark.parametrize("dtype,case,chunk", sorted(jit_groups()))
def test_jit_matches_jax(dtype: str, case: str, chunk: int) -> None:
    """Every jittable entry of the chunk under one ``llax.jit``; the failures are listed
    by entry."""
    items = jit_groups()[(dtype, case, chunk)]
    wants = [jax_answer(item, dtype, case) for item in items]
    accepted = [i for i, w in enumerate(wants) if not isinstance(w, Failed)]
    argsets = [make_args(items[i][0], dtype, case) for i in accepted]
    results = _llax_batch([items[i] for i in accepted], argsets)
    failures = []
    for i, got in zip(accepted, results):
        try:
            check_case(items[i], dtype, case, got, wants[i], "jit")
        except AssertionError as e:
            failures.append(str(e).strip().splitlines()[0] if "\n" not in str(e)[:200]
                            else " ".join(str(e).split())[:400])
    assert not failures, f"{len(failures)} of {len(accepted)} differ:\n" + "\n".join(failures)


# ---- gradients against finite differences -----------------------------------------------


def _loss(entry: Entry, variant: str, m: Any, argnum: int, args: tuple) -> Callable:
    """A scalar of the entry's floating results: a fixed weighted sum, so every output
    element counts with a different weight."""
    def loss(x: Any) -> Any:
        full = list(args)
        full[argnum] = x
        total = 0.0
        for leaf in leaves(entry.calls[variant](m, *full)):
            kind = np.dtype(getattr(leaf, "dtype", np.int32)).kind
            if kind not in "fc":
                continue
            w = np.cos(np.arange(math.prod(leaf.shape)) + 1.0).reshape(leaf.shape)
            total = total + lnp.sum(lnp.real(leaf) * w)
            if kind == "c":
                total = total + lnp.sum(lnp.imag(leaf) * np.sin(w * 3.0))
        return total
    return loss


def _grad_params() -> list:
    return [pytest.param(e.key, v, a, id=f"{e.module}.{e.name}[{v}]-arg{a}")
            for e in walked() for v in list(e.calls)[:1 if e.heavy else None]
            for a in e.grad]


@pytest.mark.parametrize("key,variant,argnum", _grad_params())
def test_grad_matches_finite_differences(key: tuple[str, str], variant: str,
                                         argnum: int) -> None:
    """The gradient along two fixed directions against central differences, in float64."""
    entry = TABLE[key]
    m = _module("llax", entry.module)
    with x64_mode(True):
        args = make_args(entry, "float64", entry.main_case)
        if entry.domain != "spd":  # off the kinks of piecewise functions (ties, boundaries)
            args = tuple(a + 0.0137 * (i + 1) if isinstance(a, np.ndarray) else a
                         for i, a in enumerate(args))
        loss = _loss(entry, variant, m, argnum, args)
        x = np.asarray(args[argnum], np.float64)
        got = np.asarray(llax.grad(loss)(x))
        assert got.shape == x.shape and got.dtype == np.float64
        eps = 1e-6
        for k in range(2):
            v = np.cos(np.arange(x.size) * (k + 1.7)).reshape(x.shape)
            fd = (float(loss(x + eps * v)) - float(loss(x - eps * v))) / (2 * eps)
            np.testing.assert_allclose(
                np.sum(got * v), fd, rtol=1e-5, atol=1e-6,
                err_msg=f"grad of {key[0]}.{key[1]}[{variant}] wrt arg {argnum}, direction {k}")


# ---- vmap against a loop ------------------------------------------------------------------


def _vmap_params() -> list:
    out = []
    for e in walked():
        if not e.vmap or e.static:
            continue
        case = e.vmap_case or e.main_case
        shapes = case_shapes(e, case)
        if shapes[0] == "py" or len(shapes[0]) == 0:
            continue
        out.append(pytest.param(e.key, case, id=f"{e.module}.{e.name}-{case}"))
    return out


@pytest.mark.parametrize("key,case", _vmap_params())
def test_vmap_matches_loop(key: tuple[str, str], case: str) -> None:
    entry = TABLE[key]
    m = _module("llax", entry.module)
    dtype = entry.dtypes[0]
    args = make_args(entry, dtype, case)
    for variant, call in list(entry.calls.items())[:1 if entry.heavy else None]:
        what = f"vmap of {key[0]}.{key[1]}[{variant}]"
        try:
            want = [call(m, a, *args[1:]) for a in args[0]]
        except Exception:  # noqa: BLE001 - not defined per slice: vmap must raise too
            with pytest.raises(Exception):  # noqa: B017
                llax.vmap(lambda a, call=call: call(m, a, *args[1:]))(args[0])
            continue
        got = llax.vmap(lambda a, call=call: call(m, a, *args[1:]))(args[0])
        gl = leaves(got)
        wl = [leaves(w) for w in want]
        assert len(gl) == len(wl[0]), what
        for k, g in enumerate(gl):
            stacked = np.stack([np.asarray(w[k]) for w in wl])
            gv = np.asarray(g)
            assert gv.shape == stacked.shape, f"{what} (result {k}): {gv.shape} != {stacked.shape}"
            assert gv.dtype == stacked.dtype, f"{what} (result {k}): {gv.dtype} != {stacked.dtype}"
            np.testing.assert_allclose(gv, stacked, rtol=entry.rtol or 2e-5, atol=1e-5,
                                       equal_nan=True, err_msg=what)


# ---- coverage ------------------------------------------------------------------------------

REQUIRED_FRACTION = {"numpy": 0.95, "numpy.linalg": 1.0, "numpy.fft": 1.0,
                     "scipy.special": 0.90}
REQUIRED_NAMES = {
    "scipy.linalg": "cholesky cho_factor cho_solve solve_triangular lu lu_factor lu_solve qr svd "
                    "eigh inv det solve expm block_diag toeplitz".split(),
    "scipy.stats": "norm multivariate_normal gamma beta bernoulli poisson uniform t laplace "
                   "logistic cauchy".split(),
}


def public(module: Any) -> set[str]:
    return {n for n in dir(module) if not n.startswith("_")}


def jax_names(module: str) -> set[str]:
    names = public(_module("jax", module))
    return names


def coverage(module: str) -> tuple[set[str], set[str]]:
    ours = public(_module("llax", module))
    theirs = jax_names(module)
    return theirs & ours, theirs - ours


@pytest.mark.parametrize("module", MODULES)
def test_coverage_of_jax_names(module: str) -> None:
    present, missing = coverage(module)
    total = len(present) + len(missing)
    msg = f"llax.{module}: {len(present)}/{total} of JAX's names; missing: {sorted(missing)}"
    if module in REQUIRED_FRACTION:
        assert len(present) >= REQUIRED_FRACTION[module] * total, msg
    else:
        absent = sorted(set(REQUIRED_NAMES[module]) - present)
        assert not absent, f"{msg}; required by issue 12: {absent}"


def _walkable(module: str) -> set[str]:
    """The names of llax's module (also present in JAX's) that the table must cover; for
    scipy.stats, each distribution's methods."""
    present, _ = coverage(module)
    if module != "scipy.stats":
        return present
    out = set()
    for dist in present:
        ours, theirs = getattr(_module("llax", module), dist), getattr(_module("jax", module),
                                                                       dist)
        if not hasattr(theirs, "__dict__") or callable(theirs):
            out.add(dist)
            continue
        out |= {f"{dist}.{meth}" for meth in public(theirs) & public(ours)
                if callable(getattr(theirs, meth)) and not isinstance(getattr(theirs, meth), type)
                and getattr(theirs, meth).__module__.startswith("jax.scipy.stats")}
    return out


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_has_an_entry(module: str) -> None:
    untested = sorted(n for n in _walkable(module)
                      if (module, n) not in TABLE and (module, n) not in NON_CALLABLE
                      and (module, n) not in SUBMODULES)
    assert not untested, f"llax.{module} names without an entry in api_walk_table: {untested}"


def test_table_names_exist_in_jax() -> None:
    def exists(module: str, name: str) -> bool:
        obj = _module("jax", module)
        for part in name.split("."):
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    bogus = sorted(k for k in TABLE if not exists(*k))
    assert not bogus, f"table entries for names JAX does not have: {bogus}"


# ---- non-callable names -------------------------------------------------------------------


def test_dtype_names_mean_what_jax_means() -> None:
    for name in DTYPE_NAMES:
        if not hasattr(lnp, name):
            continue
        ours, theirs = getattr(lnp, name), getattr(jnp, name)
        assert np.dtype(ours) == np.dtype(theirs), name
        try:
            want = theirs(1)
        except Exception:  # noqa: BLE001 - XLA cannot hold some storage types
            continue
        got = ours(1)
        assert isinstance(got, Array), f"{name}(1) is {type(got)}"
        assert got.dtype == want.dtype, name
        got_value, want_value = (np.asarray(v).astype(np.float32) for v in (got, want))
        if name in ("int1", "uint1"):
            # JAX's 1-bit arrays come back as NumPy bool (its zeros(2, uint1) is bool); llax
            # keeps ml_dtypes' type, where a signed 1-bit integer holds -1 and 0 (1 wraps).
            assert want_value == 1 and got_value == (-1 if name == "int1" else 1), name
            assert jnp.zeros(2, theirs).dtype == np.bool_, name
            assert lnp.zeros(2, ours).dtype == np.dtype(ours), name
            continue
        assert got_value == want_value, name
        assert lnp.zeros(2, ours).dtype == jnp.zeros(2, theirs).dtype, name


def test_abstract_dtype_names_classify_as_in_jax() -> None:
    concrete = ["bool", "int8", "int32", "uint8", "float16", "float32", "complex64"]
    for name in ABSTRACT_NAMES:
        if not hasattr(lnp, name):
            continue
        for c in concrete:
            assert (lnp.issubdtype(getattr(lnp, c), getattr(lnp, name))
                    == jnp.issubdtype(getattr(jnp, c), getattr(jnp, name))), (name, c)


def test_constants_equal_jax() -> None:
    for name in CONSTANT_NAMES:
        ours, theirs = getattr(lnp, name), getattr(jnp, name)
        if theirs is None:
            assert ours is None, name
        else:
            np.testing.assert_equal(ours, theirs, err_msg=name)


def test_index_helpers_match_jax() -> None:
    assert lnp.s_[1:2, ::-1] == jnp.s_[1:2, ::-1]
    assert lnp.index_exp[1:2] == jnp.index_exp[1:2]
    for name, make in {
        "r_": lambda m: m.r_[np.array([1, 2]), 0, 3:5],
        "r_ string": lambda m: m.r_["0,2", np.array([1.0, 2.0]), np.array([3.0, 4.0])],
        "c_": lambda m: m.c_[np.array([1, 2]), np.array([3, 4])],
        "mgrid": lambda m: m.mgrid[0:2, 0:3],
        "mgrid complex": lambda m: m.mgrid[0:1:3j],
        "ogrid": lambda m: m.ogrid[0:2, 0:3],
    }.items():
        assert_matches(make(lnp), _as_record(make(jnp)), None, name)


def test_classes_behave_as_in_jax() -> None:
    assert isinstance(lnp.zeros(2), lnp.ndarray)
    assert isinstance(np.zeros(2), lnp.ndarray) == isinstance(np.zeros(2), jnp.ndarray)
    if hasattr(lnp, "ComplexWarning"):
        assert issubclass(lnp.ComplexWarning, Warning)


def record() -> None:
    """Ask JAX for every case of the table not yet in the record, drop the answers no
    case asks for any more, and write the record."""
    cases = all_cases()
    wanted = {fingerprint(*case): case for case in cases}
    old = dict(_record())
    missing = [case for fp, case in wanted.items() if fp not in old]
    answers = {fp: old[fp] for fp in wanted if fp in old} | jax_answers(missing)
    RECORD_PATH.parent.mkdir(exist_ok=True)
    with lzma.open(RECORD_PATH, "wb") as f:
        pickle.dump(answers, f, protocol=4)
    print(f"recorded {len(answers)} answers ({len(missing)} new) in {RECORD_PATH}",
          file=sys.stderr)


if __name__ == "__main__":  # the classes must be pickled under the module's real name
    importlib.import_module("llax.tests.test_api_walk").record()
