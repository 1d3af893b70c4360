"""The serial backend: one :class:`~evoproxy.scoring.worker.Worker` in this process."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from evoproxy.lang.packed import OpObserver
from evoproxy.scoring.setup import EvalSetup, OpenBenchmark
from evoproxy.scoring.worker import Key, Worker


class SerialBackend:
    name = "serial"

    def __init__(self, setup: EvalSetup, open_benchmark: OpenBenchmark, *,
                 observer: Optional[OpObserver] = None) -> None:
        self.worker = Worker(setup, open_benchmark, observer=observer)

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        return self.worker.score(texts, keys)

    def warm(self, keys: Sequence[Key], names: Sequence[str]) -> None:
        self.worker.warm(keys, names)

    def close(self) -> None:
        self.worker.cache.clear()
