"""Host memory for the simulator: keep freed tensor memory in the process heap instead of giving it back.

The simulator holds every device tensor as a float32 torch tensor, and each op writes fresh ones of up to
hundreds of MB (a [1, 256, 256, 512] pair activation is 128 MiB). glibc serves blocks above its mmap
threshold (128 KiB to 32 MiB) with a fresh mmap and unmaps them on free, so every large op output pays the
kernel's page faults and zeroing again: measured on a Boltz Transition at N=128, that is ~40% of the sim's
time, and as much of plain PyTorch's. `tune_host_allocator()` sets glibc's malloc options so that large
blocks come from the heap and freed memory stays there for the next op (M_MMAP_MAX=0, M_TRIM_THRESHOLD and
M_TOP_PAD raised): the process keeps its peak host memory until it exits, as a caching allocator does.

It runs once, when the first simulated device is opened. `TTFUSE_SIM_MALLOC=0` leaves the allocator alone;
on a C library without glibc's `mallopt` it does nothing. The setting is process-wide: PyTorch code in the
same process (a reference model, for instance) gets the same allocator behaviour.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_TOP_PAD = 256 << 20  # grow the heap in 256 MiB steps
_TRIM_THRESHOLD = (1 << 31) - 1  # int: glibc's mallopt takes an int

_state = {"done": False, "tuned": False}


def tune_host_allocator() -> bool:
    """Apply the heap settings once per process; True when they are in effect."""
    if _state["done"]:
        return _state["tuned"]
    _state["done"] = True
    if os.environ.get("TTFUSE_SIM_MALLOC", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(
        mallopt(opt, val) == 1
        for opt, val in ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD), (_M_TOP_PAD, _TOP_PAD))
    )
    _state["tuned"] = ok
    return ok


def host_allocator_tuned() -> bool:
    """Whether `tune_host_allocator` changed the allocator in this process."""
    return _state["tuned"]
