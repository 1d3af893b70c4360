"""Where candidate programs are scored: in-process (``serial``) or on Ray actors (``ray``).

A backend has one job, ``score(texts, keys) -> (scores, timed_out)``; the search loop never
knows where it runs. Both build the same :class:`~evoproxy.worker.Worker` with the same setup,
so the same seed gives the same run on either.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import EvoproxyError
from ..worker import EvalSetup, Key, Worker


class SerialBackend:
    name = "serial"

    def __init__(self, setup: EvalSetup, make_benchmark: Callable[..., object]) -> None:
        self.worker = Worker(setup, make_benchmark)

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, list[int]]:
        return self.worker.score(texts, keys)

    def close(self) -> None:
        self.worker.cache.clear()


def make_backend(kind: str, setup: EvalSetup, make_benchmark: Callable[..., object],
                 workers: int = 2, address: Optional[str] = None):
    if kind == "serial":
        return SerialBackend(setup, make_benchmark)
    if kind == "ray":
        from .ray_backend import RayBackend
        return RayBackend(setup, make_benchmark, workers, address)
    raise EvoproxyError(f"unknown backend {kind!r}; choose serial or ray")
