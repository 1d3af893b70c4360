"""Which statistics a network is built for: the probe's caller says so around ``Benchmark.build``, so a
benchmark may build a cheaper network that gives exactly those statistics (the MQ benchmarks skip
activation calibration when none of them depends on it)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Optional

PROBED: ContextVar[Optional[frozenset[str]]] = ContextVar("probed_statistics", default=None)
"""The statistics the caller will probe on the network it asks ``build`` for (None: not known)."""


@contextmanager
def probing(stats: Iterable[str]) -> Iterator[None]:
    """Within: :data:`PROBED` is ``stats``."""
    token = PROBED.set(frozenset(stats))
    try:
        yield
    finally:
        PROBED.reset(token)
