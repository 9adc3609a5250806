"""Return freed heap memory to the operating system between images.

Images of varying sizes leave the glibc heap fragmented (torch/oneDNN buffers of many
shapes), so resident memory creeps up image after image although nothing is retained.
Trimming after each image keeps the peak flat, which is the point of sequential training.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` when available (Linux/glibc), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Give free heap pages back to the OS (no-op where glibc's malloc_trim is missing)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
