"""The native entry path: argument checks, allocation, results, lifetimes.

Run with ``-s`` to see the measured call overhead and compile latency
(reported, never asserted: they depend on the machine and its load).
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import sys
import threading
import time
import timeit
import weakref
from collections.abc import Callable, Sequence

import llvmlite.ir as lir
import numpy as np
import pytest

from llax.codegen import native, target

_I64 = lir.IntType(64)
_PTR = lir.PointerType()

_LLVM_TYPES = {
    np.dtype(np.float32): lir.FloatType(), np.dtype(np.float64): lir.DoubleType(),
    np.dtype(np.int32): lir.IntType(32), np.dtype(np.int64): _I64,
    np.dtype(np.bool_): lir.IntType(8),  # NumPy bools are one byte holding 0 or 1
}

Op = Callable[[lir.IRBuilder, list[lir.Value]], list[lir.Value]]


def elementwise_kernel(module: lir.Module, n: int, in_dtypes: Sequence[np.dtype],
                       out_dtypes: Sequence[np.dtype], op: Op,
                       name: str = "kernel") -> lir.Function:
    """``void name(in..., out...)``: out_k[i] = op(in[i]...)[k] for i < n."""
    n_args = len(in_dtypes) + len(out_dtypes)
    fn = lir.Function(module, lir.FunctionType(lir.VoidType(), [_PTR] * n_args), name=name)
    for a in fn.args:
        a.add_attribute("noalias")
    entry = fn.append_basic_block("entry")
    b = lir.IRBuilder(entry)
    if n == 0:
        b.ret_void()
        return fn
    loop, done = fn.append_basic_block("loop"), fn.append_basic_block("done")
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(_I64)
    i.add_incoming(lir.Constant(_I64, 0), entry)
    ins = [b.load(b.gep(a, [i], source_etype=_LLVM_TYPES[np.dtype(dt)]),
                  typ=_LLVM_TYPES[np.dtype(dt)])
           for a, dt in zip(fn.args, in_dtypes, strict=False)]
    for a, dt, v in zip(fn.args[len(in_dtypes):], out_dtypes, op(b, ins), strict=True):
        b.store(v, b.gep(a, [i], source_etype=_LLVM_TYPES[np.dtype(dt)]))
    nxt = b.add(i, lir.Constant(_I64, 1))
    i.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("<", nxt, lir.Constant(_I64, n)), loop, done)
    b.position_at_end(done)
    b.ret_void()
    return fn


def build(shape: tuple[int, ...], in_dtypes: Sequence[object], out_dtypes: Sequence[object],
          op: Op, *, name: str = "f", release_gil: bool = False,
          internalize_kernel: bool = True) -> Callable[..., object]:
    in_dt = [np.dtype(d) for d in in_dtypes]
    out_dt = [np.dtype(d) for d in out_dtypes]
    module = lir.Module(name)
    kernel = elementwise_kernel(module, int(np.prod(shape)), in_dt, out_dt, op)
    return native.compile_callable(module, kernel, [(shape, d) for d in in_dt],
                                   [(shape, d) for d in out_dt], name=name,
                                   release_gil=release_gil,
                                   internalize_kernel=internalize_kernel)


def add_one_f32(b: lir.IRBuilder, xs: list[lir.Value]) -> list[lir.Value]:
    return [b.fadd(xs[0], lir.Constant(lir.FloatType(), 1.0))]


@pytest.fixture(scope="module")
def add1() -> Callable[..., object]:
    return build((10,), [np.float32], [np.float32], add_one_f32, name="add1")


# --- ABI --------------------------------------------------------------------

def test_abi_was_read_and_verified() -> None:
    abi = native.ABI
    assert abi.ndarray_type == id(np.ndarray)
    for field in ("data", "nd", "dimensions", "strides", "descr", "flags"):
        assert field in abi.array
    assert "headers" in abi.source  # NumPy wheels ship their headers


def test_abi_fallback_layout_matches_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without headers, the built-in NumPy 2.x layout is used, and verified.
    monkeypatch.setattr(native.np, "get_include", lambda: "/nonexistent")
    fallback = native._load_abi()
    assert "built-in" in fallback.source
    assert fallback.array == {k: native.ABI.array[k] for k in fallback.array}
    assert fallback.descr == {k: native.ABI.descr[k] for k in fallback.descr}


def test_abi_verification_catches_a_wrong_offset() -> None:
    wrong = dataclasses.replace(native.ABI, array={**native.ABI.array,
                                                   "nd": native.ABI.array["nd"] + 4})
    with pytest.raises(native.AbiError, match="nd offset"):
        native._verify(wrong)


def test_struct_layout_parser() -> None:
    header = """
    typedef struct thing {
        PyObject_HEAD
        /* a comment; with a semicolon */
        char *data;
        int nd;   // trailing comment
    #if SOMETHING
        npy_intp *dims;
    #endif
        char kind;
        int type_num;
        npy_uint64 flags;
        unknown_t stop_here;
        int never;
    } thing;
    """
    head = object.__basicsize__
    offsets = native._struct_offsets(header, "typedef struct thing {")
    assert offsets == {"data": head, "nd": head + 8, "dims": head + 16, "kind": head + 24,
                       "type_num": head + 28, "flags": head + 32}


def test_api_slot_parser() -> None:
    header = """
#define PyArray_Type (*(PyTypeObject *)PyArray_API[2])
#define PyArray_New \\
        (*(PyObject * (*)(PyTypeObject *, int, npy_intp const *, int)) \\
    PyArray_API[93])
"""
    assert native._api_slots(header) == {"PyArray_Type": 2, "PyArray_New": 93}


# --- results ----------------------------------------------------------------

def test_add_one_matches_numpy(add1: Callable[..., object]) -> None:
    x = np.linspace(-3, 3, 10, dtype=np.float32)
    before = x.copy()
    y = add1(x)
    assert type(y) is np.ndarray and y.dtype == np.float32 and y.shape == (10,)
    np.testing.assert_array_equal(y, x + np.float32(1))
    np.testing.assert_array_equal(x, before)  # the input is untouched
    # Outputs come back read-only: they become immutable llax Arrays.
    assert y.flags.c_contiguous and y.flags.owndata and not y.flags.writeable
    assert not np.shares_memory(x, y)
    assert add1(x) is not y  # a fresh output every call


def test_results_do_not_leak_references(add1: Callable[..., object]) -> None:
    x = np.ones(10, np.float32)
    rc = sys.getrefcount(x)
    for _ in range(1000):
        y = add1(x)
    assert sys.getrefcount(x) == rc
    assert sys.getrefcount(y) == 2  # `y` and getrefcount's argument


def test_read_only_input_is_accepted(add1: Callable[..., object]) -> None:
    x = np.arange(10, dtype=np.float32)
    x.flags.writeable = False
    np.testing.assert_array_equal(add1(x), x + 1)


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (2, 3, 4), (1, 5, 1)])
def test_shapes_including_zero_d_and_empty(shape: tuple[int, ...]) -> None:
    f = build(shape, [np.float64], [np.float64],
              lambda b, xs: [b.fmul(xs[0], lir.Constant(lir.DoubleType(), 2.0))], name="double")
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    y = f(x)
    assert y.shape == shape and y.dtype == np.float64
    np.testing.assert_array_equal(y, 2 * x)


def test_zero_d_rejects_one_element_vector() -> None:
    f = build((), [np.float32], [np.float32], add_one_f32, name="scalar")
    with pytest.raises(native.ArgumentValueError, match=r"shape \(\), got shape \(1,\)"):
        f(np.ones(1, np.float32))
    with pytest.raises(native.ArgumentTypeError, match="numpy.ndarray, got numpy.float32"):
        f(np.float32(1))  # NumPy scalars are not arrays


def test_bool_arrays() -> None:
    f = build((7,), [np.bool_], [np.bool_],
              lambda b, xs: [b.xor(xs[0], lir.Constant(lir.IntType(8), 1))], name="invert")
    x = np.array([True, False, True, True, False, False, True])
    np.testing.assert_array_equal(f(x), ~x)
    assert f(x).dtype == np.bool_
    with pytest.raises(native.ArgumentTypeError, match="dtype bool"):
        f(x.astype(np.uint8))


def test_int64_accepts_every_type_number_of_that_size() -> None:
    # On LP64 Linux int64 is NPY_LONG; np.longlong arrays carry NPY_LONGLONG.
    f = build((4,), [np.int64], [np.int64],
              lambda b, xs: [b.add(xs[0], lir.Constant(_I64, 1))], name="inc")
    for dt in (np.int64, np.longlong):
        x = np.arange(4, dtype=dt)
        np.testing.assert_array_equal(f(x), x + 1)
    with pytest.raises(native.ArgumentTypeError):
        f(np.arange(4, dtype=np.uint64))


def test_multiple_outputs_return_a_tuple() -> None:
    def op(b: lir.IRBuilder, xs: list[lir.Value]) -> list[lir.Value]:
        s = b.fadd(xs[0], xs[1])
        return [s, b.fmul(xs[0], xs[1]), b.fptosi(s, lir.IntType(32))]

    f = build((2, 3), [np.float32, np.float32], [np.float32, np.float32, np.int32], op,
              name="sum_prod")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.full((2, 3), 0.5, np.float32)
    out = f(x, y)
    assert type(out) is tuple and len(out) == 3
    np.testing.assert_array_equal(out[0], x + y)
    np.testing.assert_array_equal(out[1], x * y)
    np.testing.assert_array_equal(out[2], (x + y).astype(np.int32))
    assert out[2].dtype == np.int32
    assert len({id(o) for o in out}) == 3 and not np.shares_memory(out[0], out[1])
    s, p, _ = f(x, x)  # aliased inputs are fine: the kernel only reads them
    np.testing.assert_array_equal(s, 2 * x)
    np.testing.assert_array_equal(p, x * x)


def test_release_gil_from_threads() -> None:
    f = build((1000,), [np.float32], [np.float32], add_one_f32, name="add1_nogil",
              release_gil=True)
    x = np.arange(1000, dtype=np.float32)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                np.testing.assert_array_equal(f(x), x + 1)
        except BaseException as e:  # noqa: BLE001 - report in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert f.__self__.release_gil


# --- rejected arguments -----------------------------------------------------

_BAD_ARGUMENTS = {
    "list": ([1.0] * 10, native.ArgumentTypeError, "got list"),
    "python float": (1.0, native.ArgumentTypeError, "got float"),
    "None": (None, native.ArgumentTypeError, "got NoneType"),
    "float64 array": (np.zeros(10), native.ArgumentTypeError, "got dtype '<f8'"),
    "byte-swapped": (np.zeros(10, ">f4"), native.ArgumentTypeError, "byte-swapped"),
    "wrong length": (np.zeros(11, np.float32), native.ArgumentValueError,
                     r"expected shape \(10,\), got shape \(11,\)"),
    "2-d": (np.zeros((2, 5), np.float32), native.ArgumentValueError, r"got shape \(2, 5\)"),
    "0-d": (np.zeros((), np.float32), native.ArgumentValueError, r"got shape \(\)"),
    "strided slice": (np.zeros(20, np.float32)[::2], native.ArgumentValueError,
                      "C-contiguous"),
    "misaligned": (np.frombuffer(bytearray(41), np.float32, count=10, offset=1),
                   native.ArgumentValueError, "aligned"),
    "subclass": (np.zeros(10, np.float32).view(np.ma.MaskedArray), native.ArgumentTypeError,
                 "got numpy.ma.MaskedArray"),
}


@pytest.mark.parametrize("case", list(_BAD_ARGUMENTS))
def test_bad_argument_raises_clearly(add1: Callable[..., object], case: str) -> None:
    bad, exc, message = _BAD_ARGUMENTS[case]
    snapshot = np.array(bad, copy=True) if isinstance(bad, np.ndarray) else None
    with pytest.raises(exc, match=message) as info:
        add1(bad)
    assert "argument 0" in str(info.value) and "add1(float32[10])" in str(info.value)
    assert isinstance(info.value, native.ArgumentError)
    if snapshot is not None:
        np.testing.assert_array_equal(bad, snapshot)


def test_anything_else_raises_never_crashes(add1: Callable[..., object]) -> None:
    base = np.arange(40, dtype=np.float32)
    zoo = [0, 10, "x" * 10, b"\0" * 40, bytearray(40), memoryview(base), {}, (), object(),
           np.ndarray, np.float32, np.float32(1), base, base[:10].reshape(10, 1),
           base[10:20][::-1], base.reshape(4, 10)[:, 0], np.zeros(10, np.complex64),
           np.zeros(10, object), np.zeros(10, "U1"), np.zeros(10, "M8[s]"),
           np.zeros(10, [("a", np.float32)]), np.zeros((10, 0), np.float32),
           np.zeros(0, np.float32), np.broadcast_to(np.float32(1), (10,))]
    for obj in zoo:
        with pytest.raises(native.ArgumentError):
            add1(obj)
    # A C-contiguous slice starting mid-buffer is a valid argument.
    np.testing.assert_array_equal(add1(base[10:20]), base[10:20] + 1)


def test_exception_classes_are_standard_ones() -> None:
    assert issubclass(native.ArgumentTypeError, TypeError)
    assert issubclass(native.ArgumentValueError, ValueError)


@pytest.mark.parametrize("args", [(), (np.zeros(10, np.float32),) * 2])
def test_wrong_argument_count(add1: Callable[..., object], args: tuple) -> None:
    with pytest.raises(native.ArgumentTypeError, match=f"takes 1 array argument, got {len(args)}"):
        add1(*args)


def test_keyword_arguments_are_refused(add1: Callable[..., object]) -> None:
    with pytest.raises(TypeError, match="keyword"):
        add1(x=np.zeros(10, np.float32))


def test_second_argument_is_named() -> None:
    f = build((3,), [np.float32, np.float32], [np.float32],
              lambda b, xs: [b.fadd(xs[0], xs[1])], name="add")
    with pytest.raises(native.ArgumentTypeError, match="argument 1: expected dtype float32"):
        f(np.zeros(3, np.float32), np.zeros(3, np.int32))


def test_unsupported_specs_are_refused_at_build_time() -> None:
    module = lir.Module("m")
    kernel = elementwise_kernel(module, 1, [np.float32], [np.float32], add_one_f32)
    with pytest.raises(TypeError, match="numeric"):
        native.add_entry(module, kernel, [((1,), object)], [((1,), np.float32)], name="e")
    with pytest.raises(TypeError, match="pointers"):
        native.add_entry(module, kernel, [((1,), np.float32)] * 2, [((1,), np.float32)],
                         name="e")


# --- lifetimes --------------------------------------------------------------

def test_callable_keeps_its_code_alive() -> None:
    f = build((10,), [np.float32], [np.float32], add_one_f32, name="alive")
    marker = weakref.ref(f.__self__.compiled)
    gc.collect()
    x = np.ones(10, np.float32)
    np.testing.assert_array_equal(f(x), x + 1)
    assert marker() is not None
    del f
    gc.collect()
    assert marker() is None  # nothing else held the compiled module


def test_same_names_in_different_modules_do_not_clash() -> None:
    f = build((4,), [np.float32], [np.float32], add_one_f32, name="same")
    g = build((4,), [np.float32], [np.float32],
              lambda b, xs: [b.fsub(xs[0], lir.Constant(lir.FloatType(), 1.0))], name="same")
    x = np.zeros(4, np.float32)
    np.testing.assert_array_equal(f(x), x + 1)
    np.testing.assert_array_equal(g(x), x - 1)


def test_compiled_module_introspection() -> None:
    f = build((8,), [np.float32], [np.float32], add_one_f32, name="look",
              internalize_kernel=False)
    compiled = f.__self__.compiled
    assert set(compiled.symbols) >= {"kernel", "look"}
    assert compiled.address("kernel")
    assert "define" in compiled.optimized_ir and "@look" in compiled.optimized_ir
    assert "look" in compiled.assembly
    with pytest.raises(KeyError, match="nothere"):
        compiled.address("nothere")
    assert f.__name__ == "look" and "float32[8]" in f.__doc__
    assert target.host().cpu and target.host().triple


def test_engines_are_shared_then_released(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(target, "_current_engine", None)  # start a batch of our own
    first = build((2,), [np.float32], [np.float32], add_one_f32, name="batch0")
    engine = weakref.ref(first.__self__.compiled._engine)
    later = [build((2,), [np.float32], [np.float32], add_one_f32, name=f"batch{k}")
             for k in range(1, target.MODULES_PER_ENGINE + 1)]
    assert later[-1].__self__.compiled._engine is not engine()  # a full engine is retired
    np.testing.assert_array_equal(first(np.zeros(2, np.float32)), [1, 1])
    del first, later
    gc.collect()
    assert engine() is None  # its code is freed once no module in it is alive


def test_entry_without_outputs_returns_empty_tuple() -> None:
    module = lir.Module("noop")
    kernel = lir.Function(module, lir.FunctionType(lir.VoidType(), [_PTR]), name="kernel")
    lir.IRBuilder(kernel.append_basic_block()).ret_void()
    f = native.compile_callable(module, kernel, [((3,), np.int32)], [], name="noop")
    assert f(np.zeros(3, np.int32)) == ()


# --- figures (reported, not asserted) ----------------------------------------

def report_figures() -> str:
    x = np.arange(10, dtype=np.float32)
    lines = []
    wall, cpu = [], []
    for k in range(15):
        t0, c0 = time.perf_counter(), time.process_time()
        f = build((10,), [np.float32], [np.float32], add_one_f32, name=f"add1_{k}")
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    warm = sorted(wall[3:])
    lines.append(f"compile latency of the x+1 entry (IR build + O3 + JIT): min "
                 f"{warm[0] * 1e3:.1f} ms, median {warm[len(warm) // 2] * 1e3:.1f} ms wall; "
                 f"min {min(cpu[3:]) * 1e3:.1f} ms CPU; first in process {wall[0] * 1e3:.1f} ms")
    n = 200_000

    def per_call(stmt: str, **env: object) -> float:
        return min(timeit.repeat(stmt, globals=env, number=n, repeat=5)) / n * 1e9

    lines.append(f"call overhead f(x), float32[10]: {per_call('f(x)', f=f, x=x):.0f} ns")
    lines.append(f"  for comparison: numpy x + 1 {per_call('x + 1', x=x):.0f} ns; "
                 f"np.empty(10, float32) {per_call('e(10, d)', e=np.empty, d=np.float32):.0f} ns")
    ext = build((10,), [np.float32], [np.float32], add_one_f32, name="add1_ext",
                internalize_kernel=False)
    raw = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(
        ext.__self__.compiled.address("kernel"))
    out = np.empty_like(x)
    lines.append(f"  ctypes, bare kernel, pointers precomputed: "
                 f"{per_call('raw(xp, op)', raw=raw, xp=x.ctypes.data, op=out.ctypes.data):.0f}"
                 f" ns; with x.ctypes.data lookups: "
                 f"{per_call('raw(x.ctypes.data, o.ctypes.data)', raw=raw, x=x, o=out):.0f} ns")
    return "\n".join(lines)


def test_report_figures() -> None:
    print("\n" + report_figures())


if __name__ == "__main__":
    print(report_figures())


# --- entries with many arrays: the table-driven checks of codegen/entry_runtime.py ---------

def _sum_and_double(b: lir.IRBuilder, xs: list[lir.Value]) -> list[lir.Value]:
    total = xs[0]
    for x in xs[1:]:
        total = b.fadd(total, x)
    return [total, b.fmul(xs[0], lir.Constant(lir.FloatType(), 2.0))]


@pytest.fixture(scope="module")
def wide() -> Callable[..., object]:
    from llax.codegen import entry_runtime

    n_in = entry_runtime.MIN_ARRAYS - 2
    return build((10,), [np.float32] * n_in, [np.float32] * 2, _sum_and_double, name="wide")


def test_wide_entry_matches_numpy(wide: Callable[..., object]) -> None:
    from llax.codegen import entry_runtime

    xs = [np.arange(10, dtype=np.float32) * (k + 1) for k in range(entry_runtime.MIN_ARRAYS - 2)]
    total, double = wide(*xs)
    np.testing.assert_array_equal(total, sum(xs))
    np.testing.assert_array_equal(double, xs[0] * 2)
    assert not total.flags.writeable and not double.flags.writeable
    assert sys.getrefcount(total) == 2  # no leaked references


@pytest.mark.parametrize("position", [0, -1])
@pytest.mark.parametrize("case", list(_BAD_ARGUMENTS))
def test_wide_entry_rejects_bad_arguments(wide: Callable[..., object], case: str,
                                          position: int) -> None:
    from llax.codegen import entry_runtime

    bad, exc, message = _BAD_ARGUMENTS[case]
    xs: list[object] = [np.zeros(10, np.float32) for _ in range(entry_runtime.MIN_ARRAYS - 2)]
    xs[position] = bad
    with pytest.raises(exc, match=message):
        wide(*xs)
