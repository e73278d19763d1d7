"""Runtime modules (llax.codegen.runtime): compiled once per process, linked by name."""

from __future__ import annotations

import ctypes
import itertools
import threading

import llvmlite.binding as llvm
import pytest
from llvmlite import ir

from llax.codegen import target
from llax.codegen.runtime import load_runtime

_I64 = ir.IntType(64)
_names = itertools.count()


def add_runtime(symbol: str, k: int) -> ir.Module:
    """A runtime defining ``i64 symbol(i64 x) = x + k``."""
    module = ir.Module(name=symbol)
    fn = ir.Function(module, ir.FunctionType(_I64, [_I64]), symbol)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(b.add(fn.args[0], _I64(k)))
    return module


def fresh(prefix: str) -> str:
    return f"llax_test_{prefix}_{next(_names)}"


def test_kernel_links_against_the_runtime_by_name():
    symbol = fresh("add")
    load_runtime(symbol, lambda: add_runtime(symbol, 7), [symbol])
    kernel = ir.Module(name="kernel")
    callee = ir.Function(kernel, ir.FunctionType(_I64, [_I64]), symbol)  # a declaration
    fn = ir.Function(kernel, ir.FunctionType(_I64, [_I64]), "twice_plus")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(b.call(callee, [b.call(callee, [fn.args[0]])]))
    compiled = target.compile_module(kernel, "kernel")
    call = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(compiled.address("twice_plus"))
    assert call(100) == 114


def test_compiled_and_set_up_once_under_concurrent_first_calls():
    symbol = fresh("once")
    builds, setups = [], []

    def build() -> ir.Module:
        builds.append(1)
        return add_runtime(symbol, 1)

    start = threading.Barrier(4)
    results = []

    def first_call() -> None:
        start.wait()
        results.append(load_runtime(symbol, build, [symbol], setup=setups.append))

    threads = [threading.Thread(target=first_call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert setups == [results[0]]
    assert llvm.address_of_symbol(symbol) == results[0].address(symbol)
    assert load_runtime(symbol, build, [symbol]) is results[0] and len(builds) == 1


def test_a_failed_runtime_publishes_nothing_and_can_be_retried():
    name, symbol = fresh("broken"), fresh("missing")
    with pytest.raises(KeyError, match=symbol):
        load_runtime(name, lambda: add_runtime(fresh("other"), 1), [symbol])
    assert llvm.address_of_symbol(symbol) is None
    compiled = load_runtime(name, lambda: add_runtime(symbol, 2), [symbol])
    assert llvm.address_of_symbol(symbol) == compiled.address(symbol)
