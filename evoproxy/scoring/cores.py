"""How many cores a job may use without fighting another job for them.

Two jobs that each start one thread per core slow each other down far more than twice (torch's
threads spin while they wait: ``eval`` went from 0.4 to 20 s per network beside a second job
here). So evoproxy takes the cores it may run on less the load already there, at least one.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def busy_cores() -> int:
    """Cores other jobs keep busy: the 1-minute load average, but no more than the processes running
    right now besides this one (the average still counts a job that just ended, and this one)."""
    try:
        load = round(os.getloadavg()[0])
    except OSError:
        return 0
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return load
    return min(load, max(0, running - 1))


def free_cores() -> int:
    """Usable cores less the busy ones, at least 1. ``EVOPROXY_THREADS`` overrides it."""
    forced = os.environ.get("EVOPROXY_THREADS", "")
    if forced.isdigit() and int(forced) > 0:
        return int(forced)
    return max(1, usable_cores() - busy_cores())


@contextmanager
def free_core_threads() -> Iterator[int]:
    """torch on :func:`free_cores` threads within the block (a command), as it was after it."""
    import torch
    before, torch_threads = torch.get_num_threads(), free_cores()
    torch.set_num_threads(torch_threads)
    try:
        yield torch_threads
    finally:
        torch.set_num_threads(before)
