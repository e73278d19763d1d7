"""vecmath as a whole: the emitter table, vector operands, vectorised loops, bad input,
the rare-lanes mechanism and the coefficient regeneration."""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pytest
from llvmlite import ir

from llax.codegen import vecmath
from llax.codegen.runtime import load_runtime
from llax.codegen.vecmath import remez, trig
from llax.codegen.vecmath.core import Emitter
from llax.codegen.vecmath.rare_lanes import define_rare, exported_names, select_rare
from llax.tests import (
    test_vecmath_cbrt_pow,
    test_vecmath_erf,
    test_vecmath_exp_log,
    test_vecmath_hyperbolic,
    test_vecmath_inverse_trig,
    test_vecmath_trig,
)
from llax.tests.vecmath_util import (
    DTYPES,
    F32,
    F64,
    Kernels,
    kernels,
    nin,
    specials,
    uniform,
)

FAMILY_TESTS = (test_vecmath_exp_log, test_vecmath_hyperbolic, test_vecmath_trig,
                test_vecmath_inverse_trig, test_vecmath_erf, test_vecmath_cbrt_pow)


def test_every_emitter_is_tested_by_one_family():
    tested = [op for module in FAMILY_TESTS for op in module.MAX_ULP]
    assert sorted(tested) == sorted(vecmath.EMITTERS) and len(tested) == len(set(tested)) == 24
    assert all(callable(f) for f in vecmath.EMITTERS.values())
    for op, f in vecmath.EMITTERS.items():
        assert getattr(vecmath, f"emit_{op}") is f


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_operands(dtype):
    """Emitters applied to <4 x T> values agree bitwise with the scalar loop."""
    rng = np.random.default_rng(1)
    for op in vecmath.EMITTERS:
        xs = [np.concatenate([uniform(rng, -3, 3, 60, dtype), specials(dtype)[:4]])
              for _ in range(nin(op))]
        k = kernels(dtype)
        a, b = k(op, *xs), k.vector(op, *xs)
        assert np.array_equal(a, b, equal_nan=True), op


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sin"])
def test_loops_are_vectorised_without_libm(op: str):
    body = kernels(F32).kernel_ir(op)
    assert re.search(r"<\d+ x float>", body), f"k_{op} was not vectorised"
    assert "call float @llvm.exp" not in body and "@expf" not in body and "@sinf" not in body


def test_all_kernels_vectorised():
    """Every op, both dtypes: the loop body works on vectors."""
    for dtype, name in ((F32, "float"), (F64, "double")):
        k = kernels(dtype)
        for op in vecmath.EMITTERS:
            assert re.search(rf"<\d+ x {name}>", k.kernel_ir(op)), (op, name)


def test_rejects_non_float():
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(ir.IntType(32), [ir.IntType(32)]), "f")
    b = ir.IRBuilder(fn.append_basic_block())
    with pytest.raises(TypeError, match="expected float or double"):
        vecmath.emit_exp(b, fn.args[0])


# ---------------------------------------------------------------------------
# rare_lanes: a scalar function for the lanes that need it
# ---------------------------------------------------------------------------


def _rare_double_plus_one(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """x where |x| < 100, else 2x + 1 through select_rare."""
    e = Emitter(b, x.type)

    def body(bb: ir.IRBuilder, v: ir.Value) -> ir.Value:
        s = Emitter(bb, v.type)
        return s.fma(v, 2.0, 1.0)

    name = f"test.rare.f{e.bits}"
    ty = ir.FloatType() if e.bits == 32 else ir.DoubleType()
    load_runtime(name, lambda: _runtime(name, ty, body), exported_names(name))
    return select_rare(b, name, x, e.ge(e.abs(x), 100.0), x)


def _runtime(name: str, ty: ir.Type, body) -> ir.Module:
    module = ir.Module(name=name)
    define_rare(module, name, ty, [], body)
    return module


@pytest.mark.parametrize("dtype", DTYPES)
def test_select_rare_in_loops_and_on_vectors(dtype):
    k = Kernels(dtype, {"rare": _rare_double_plus_one})
    rng = np.random.default_rng(4)
    x = uniform(rng, -150, 150, 1001, dtype)
    x[::7] = np.nan
    want = np.where(np.abs(x) >= 100, 2 * x + 1, x)
    assert np.array_equal(k("rare", x), want, equal_nan=True)
    assert np.array_equal(k.vector("rare", x[:1000]), want[:1000], equal_nan=True)
    # The vectorised loop calls the masked vector variant, once per vector.
    name = "float" if dtype == F32 else "double"
    assert re.search(rf"call preserve_allcc <\d+ x {name}> @\"?test\.rare", k.kernel_ir("rare"))


# ---------------------------------------------------------------------------
# Coefficient regeneration
# ---------------------------------------------------------------------------


def _generated_block(path: str) -> str:
    source = Path(path).read_text()
    return source[source.index(remez.BEGIN) + len(remez.BEGIN):source.index(remez.END)]


def test_regeneration_reproduces_the_trig_tables(tmp_path):
    """The Remez fits of trig.fits() give exactly the tables in trig.py, and
    regenerate(write=True) puts them between the markers of a module file."""
    assert remez.tables_text(trig.fits()) == _generated_block(trig.__file__)
    copy = tmp_path / "family.py"
    source = Path(trig.__file__).read_text()
    start = source.index(remez.BEGIN) + len(remez.BEGIN)
    copy.write_text(source[:start] + "SIN = None\n" + source[source.index(remez.END):])
    remez.regenerate([types.SimpleNamespace(__file__=str(copy), fits=trig.fits)], write=True)
    assert copy.read_text() == source


def test_regeneration_refuses_a_module_without_markers(tmp_path):
    bare = tmp_path / "bare.py"
    bare.write_text("X = 1\n")
    fake = types.SimpleNamespace(__file__=str(bare), fits=lambda: [])
    with pytest.raises(ValueError, match="generated-tables block"):
        remez.regenerate([fake], write=True)
