"""Native code generation: IR Function -> LLVM (llvmlite) -> JIT-compiled kernel."""

from llax.codegen.executable import compile_native

__all__ = ["compile_native"]
