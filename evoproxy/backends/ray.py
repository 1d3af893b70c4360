"""The Ray backend: one :class:`~evoproxy.scoring.worker.Worker` actor per worker, each owning a fixed
shard of architectures (so its statistics stay warm). Only program texts and keys travel.

With no address Ray starts embedded on this machine; with ``address`` (or ``RAY_ADDRESS``) it
joins a running cluster. A worker that dies is restarted and its shard is retried one program
at a time, so only the program that kills a worker loses its scores.
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from evoproxy.scoring.worker import EvalSetup, Key, Worker

FAILURES = (RayActorError, GetTimeoutError, RayTaskError)
PASSED_ENV = ("EVOPROXY_DATA",)
"""Environment the workers need, passed on explicitly (cluster workers do not inherit it)."""


class RayBackend:
    name = "ray"

    def __init__(self, setup: EvalSetup, make_benchmark: Callable[..., object], workers: int = 2,
                 address: Optional[str] = None, call_timeout_s: float = 3600.0) -> None:
        address = address or os.environ.get("RAY_ADDRESS")
        self.owns_ray = not ray.is_initialized()
        if self.owns_ray:
            kwargs = {"address": address} if address else {
                "num_cpus": workers * setup.threads, "include_dashboard": False}
            passed = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
            if passed:
                kwargs["runtime_env"] = {"env_vars": passed}
            ray.init(logging_level="ERROR", log_to_driver=False, **kwargs)
        self.setup, self.make_benchmark = setup, make_benchmark
        self.remote_worker = ray.remote(num_cpus=setup.threads)(Worker)
        self.actors = [self._start() for _ in range(workers)]
        self.owner: dict[Key, int] = {}
        self.call_timeout_s = call_timeout_s
        self.restarts = 0

    def _start(self):
        return self.remote_worker.remote(self.setup, self.make_benchmark)

    def _restart(self, w: int) -> None:
        ray.kill(self.actors[w], no_restart=True)
        self.actors[w] = self._start()
        self.restarts += 1

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, list[int]]:
        for k in keys:  # round-robin in first-seen order: deterministic for a deterministic run
            self.owner.setdefault(k, len(self.owner) % len(self.actors))
        shards = {w: [j for j, k in enumerate(keys) if self.owner[k] == w]
                  for w in range(len(self.actors))}
        calls = {w: self.actors[w].score.remote(list(texts), [keys[j] for j in idx])
                 for w, idx in shards.items() if idx}
        scores = np.full((len(texts), len(keys)), np.nan)
        timed_out: set[int] = set()
        for w, call in calls.items():
            idx = shards[w]
            try:
                part, late = ray.get(call, timeout=self.call_timeout_s)
            except FAILURES:
                self._restart(w)
                part, late = self._one_by_one(w, texts, [keys[j] for j in idx])
            scores[:, idx] = part
            timed_out.update(late)
        return scores, sorted(timed_out)

    def _one_by_one(self, w: int, texts: Sequence[str], keys: list[Key]) -> tuple[np.ndarray, list[int]]:
        part = np.full((len(texts), len(keys)), np.nan)
        late = []
        for i, text in enumerate(texts):
            try:
                row, t = ray.get(self.actors[w].score.remote([text], keys), timeout=self.call_timeout_s)
                part[i] = row[0]
                late += [i] if t else []
            except FAILURES:
                self._restart(w)
        return part, late

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []
        if self.owns_ray:
            ray.shutdown()
