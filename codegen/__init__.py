"""Native code generation: IR Function -> LLVM (llvmlite) -> JIT-compiled kernel.

``compile_native`` is imported on first use, so that the parts that need no
native code (``llax.codegen.compiled``) import even where the native entry
points cannot load (llax.codegen.native refuses an unknown NumPy ABI).
"""

from __future__ import annotations

__all__ = ["compile_native"]


def __getattr__(name: str) -> object:
    if name == "compile_native":
        from llax.codegen.executable import compile_native

        return compile_native
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
