"""Holding Ctrl-C back while LLVM objects change hands.

Python raises KeyboardInterrupt in the main thread between any two bytecodes.
Inside llvmlite that can leave an object half handed over: ``ExecutionEngine``
marks a module as its own one step after LLVM took it (so the module would be
freed twice), and a compile that leaves early would leave its second thread
still working on LLVM state. Either way LLVM later aborts the whole process
(in a notebook, the kernel). ``deferred_interrupts`` runs a block with the
SIGINT handler replaced by one that only notes the signal, then restores the
handler and runs it for a noted signal: the KeyboardInterrupt arrives just
after the block, as it does when Ctrl-C lands in any C extension's work
(XLA's compile, say). Python code around the LLVM calls (tracing, passes,
lowering) stays interruptible.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_depth = 0  # nesting of deferred blocks; only the main thread touches it


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the block with SIGINT held back; its handler runs once the block is done."""
    global _depth
    handler = signal.getsignal(signal.SIGINT)
    # Python runs signal handlers in the main thread only, so elsewhere there is nothing
    # to hold back; nor when an enclosing block already does, or the handler is not a
    # Python one (ignored, the default action, or installed from C).
    if (_depth or not callable(handler)
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    noted: list[FrameType | None] = []
    # From here on a SIGINT, even one already pending, is only noted. (signal.signal runs
    # pending handlers before it swaps, so an interrupt before this line changes nothing.)
    signal.signal(signal.SIGINT, lambda signum, frame: noted.append(frame))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        signal.signal(signal.SIGINT, handler)
        if noted:
            handler(signal.SIGINT, noted[0])
