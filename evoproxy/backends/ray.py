"""The Ray backend: one :class:`~evoproxy.scoring.worker.Worker` actor per worker, each owning a fixed
shard of architectures (so its statistics stay warm). Only program texts and keys travel.

With no address Ray starts a private embedded instance on this machine, even when another cluster
is running or discoverable; with ``address`` (or ``RAY_ADDRESS``, as ``ray job submit`` sets) it joins
that cluster. A worker that dies is restarted and its shard is retried one program
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
            kwargs = {"address": address} if address else {  # "local": a private instance, never a
                "address": "local", "num_cpus": workers * setup.threads,  # discovered cluster
                "include_dashboard": False}
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

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        for k in keys:  # round-robin in first-seen order: deterministic for a deterministic run
            self.owner.setdefault(k, len(self.owner) % len(self.actors))
        shards = {w: [j for j, k in enumerate(keys) if self.owner[k] == w]
                  for w in range(len(self.actors))}
        calls = {w: self.actors[w].score.remote(list(texts), [keys[j] for j in idx])
                 for w, idx in shards.items() if idx}
        scores = np.full((len(texts), len(keys)), np.nan)
        failed: dict[int, str] = {}
        for w, call in sorted(calls.items()):  # merged in worker order: the same on every run
            idx = shards[w]
            try:
                part, why = ray.get(call, timeout=self.call_timeout_s)
            except FAILURES:
                self._restart(w)
                part, why = self._one_by_one(w, texts, [keys[j] for j in idx])
            scores[:, idx] = part
            for i, reason in why.items():
                failed.setdefault(i, reason)
        return scores, failed

    def _one_by_one(self, w: int, texts: Sequence[str], keys: list[Key]) -> tuple[np.ndarray, dict[int, str]]:
        part = np.full((len(texts), len(keys)), np.nan)
        failed: dict[int, str] = {}
        for i, text in enumerate(texts):
            try:
                row, why = ray.get(self.actors[w].score.remote([text], keys), timeout=self.call_timeout_s)
                part[i] = row[0]
                failed.update({i: why[0]} if why else {})
            except FAILURES as e:
                self._restart(w)
                failed[i] = f"worker-lost:{type(e).__name__}"
        return part, failed

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []
        if self.owns_ray:
            ray.shutdown()
