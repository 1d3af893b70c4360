"""Where candidate programs are scored: in-process (``serial``) or on Ray actors (``ray``).

A backend has one job, ``score(texts, keys) -> (scores, failed)``; the search loop never
knows where it runs. Both build the same :class:`~evoproxy.scoring.worker.Worker` with the same
setup, so the same seed gives the same run on either. Backends are :class:`BackendInfo` records in
:data:`BACKENDS`; add one with ``register_backend(BackendInfo("mine", make))``, where
``make(setup, open_benchmark, workers, address)`` returns a :class:`Backend` (``score``, ``warm``, ``close``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional, Protocol, Sequence

import numpy as np

from evoproxy.registry import Registry
from evoproxy.scoring.setup import EvalSetup, OpenBenchmark
from evoproxy.scoring.worker import Key


class Backend(Protocol):
    name: str

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        """(programs x keys) scores and why programs failed: ``{index: "timeout" | "error:<type>"}``."""
        ...

    def warm(self, keys: Sequence[Key], names: Sequence[str]) -> None:
        """Probe ``keys`` for the statistics ``names`` now (a progress bar can follow); ``pass`` if the
        backend has nothing to gain (``score`` probes what it needs either way)."""
        ...

    def close(self) -> None:
        ...


BackendFactory = Callable[[EvalSetup, OpenBenchmark, int, Optional[str]], Backend]


@dataclass(frozen=True)
class BackendInfo:
    name: str
    make: BackendFactory
    """``make(setup, open_benchmark, workers, address) -> Backend``."""


BACKENDS: Registry[BackendInfo] = Registry("backend")


def register_backend(info: BackendInfo) -> BackendInfo:
    return BACKENDS.add(info.name, info)


def _serial(setup, open_benchmark, workers, address):
    """In this process, scoring ``workers`` packs of networks at once on threads (never more than
    the free cores, :func:`~evoproxy.scoring.cores.free_cores`, counted again at every call)."""
    from evoproxy.backends.serial import SerialBackend
    return SerialBackend(replace(setup, pack_threads=workers), open_benchmark)


def _ray(setup, open_benchmark, workers, address):
    from evoproxy.backends.ray import RayBackend  # ray is imported only when asked for
    return RayBackend(setup, open_benchmark, workers, address)


register_backend(BackendInfo("serial", _serial))  # in this process (the default)
register_backend(BackendInfo("ray", _ray))  # Ray actors: embedded locally, or a cluster (--ray-address)


def make_backend(kind: str, setup: EvalSetup, open_benchmark: OpenBenchmark,
                 workers: int = 2, address: Optional[str] = None) -> Backend:
    return BACKENDS.get(kind).make(setup, open_benchmark, workers, address)
