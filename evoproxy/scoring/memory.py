"""Keep a scoring process's resident memory near what it really holds.

A batch of programs allocates and frees many activation-sized intermediates on several threads;
glibc keeps freed blocks below its (self-raising) mmap threshold in per-thread arenas, so a
search's resident memory grew to 13.4 GB for 7.8 GB of statistics on the 30-minute config, and
a run beside another job was killed for memory. Blocks of 1 MiB and more now come straight from
the system and go back when freed, and the arenas are trimmed after each batch: 10.7 GB on the
same run (two generations, ``experiments/nb201-30min.toml``, serial backend). Elsewhere than
glibc this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from functools import lru_cache
from typing import Callable, Optional

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20


@lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


@lru_cache(maxsize=1)
def map_large_blocks() -> None:
    """Serve blocks of ``MMAP_THRESHOLD`` bytes and more by mmap (once per process)."""
    set_mmap_threshold(MMAP_THRESHOLD)


def set_mmap_threshold(nbytes: int) -> None:
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, nbytes)


def release_freed_memory() -> None:
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def resident_bytes() -> Optional[int]:
    """This process's resident memory now (Linux's /proc), None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakSampler:
    """The largest value ``measure()`` gave while the block ran, sampled on a thread every ``every`` seconds
    (and once at each end): what a block's temporaries add at their peak, which a reading between blocks
    never sees. ``peak`` stays None when ``measure`` cannot be read."""

    def __init__(self, measure: Callable[[], Optional[int]], every: float = 0.05) -> None:
        self.measure, self.every = measure, every
        self.peak: Optional[int] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        value = self.measure()
        if value is not None and (self.peak is None or value > self.peak):
            self.peak = value

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> "PeakSampler":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
