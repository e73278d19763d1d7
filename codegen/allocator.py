"""How the C allocator treats the large temporaries kernels malloc and free on every call.

A kernel's intermediates live only for the call: ``aligned_alloc`` at first use, ``free``
after the last (codegen/storage.py). glibc serves big blocks with ``mmap`` and trims the
top of its heaps back to the system, so a training step's megabyte-sized activations came
back as fresh pages every call, each page faulted in again: 10 of the 33 ms of the CNN
train step in tools/bench.py (22 ms with the pages kept). So, once per process, before
the first kernel runs, blocks up to ``MMAP_THRESHOLD`` come from the heap and up to
``TRIM_THRESHOLD`` of free heap is kept: the next call finds its pages mapped, as a caching
allocator (XLA's, PyTorch's) would give them. Memory above those sizes goes back to the
system as before. Elsewhere than glibc nothing changes.
"""

from __future__ import annotations

import ctypes
import functools

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20


@functools.cache
def keep_freed_buffers() -> bool:
    """Set glibc's thresholds (once); False where there is no ``mallopt``."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
