"""Process-wide allocator setting for CPU inference (applied by the CLI, never implicitly by the library)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  # glibc malloc.h: bytes of free heap top kept before trimming
_M_MMAP_MAX = -4  # glibc malloc.h: most allocations served by mmap at once


def retain_freed_memory() -> bool:
    """Keep freed memory in the process instead of returning it to the OS (glibc only).

    CPU inference allocates and frees the same large activation tensors every batch. By default glibc
    serves those with mmap and unmaps them on free, so each batch page-faults fresh zeroed pages;
    keeping them measurably speeds up Cnn14 on CPU (benchmarks/run.py). The cost is that the process
    keeps its peak memory until it exits. Returns whether the setting was applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 40))
