"""The Ray backend: one :class:`~evoproxy.scoring.worker.Worker` actor per worker, each owning a fixed
shard of architectures (so its statistics stay warm). Only program texts and keys travel.

With no address Ray starts a private embedded instance on this machine, even when another cluster
is running or discoverable; with ``address`` (or ``RAY_ADDRESS``, as ``ray job submit`` sets) it joins
that cluster. A worker that dies is restarted and its shard is retried one program
at a time, so only the program that kills a worker loses its scores.
"""
from __future__ import annotations

import os
import socket
import warnings
from typing import Optional, Sequence

import numpy as np
import ray
from ray.exceptions import (
    AuthenticationError,
    GetTimeoutError,
    OutOfMemoryError,
    RayActorError,
    RayTaskError,
)

from evoproxy.errors import EvoproxyError, EvoproxyNote
from evoproxy.scoring.setup import EvalSetup, OpenBenchmark
from evoproxy.scoring.worker import Key, Worker

FAILURES = (RayActorError, GetTimeoutError, RayTaskError, OutOfMemoryError)  # OOM: Ray killed the worker
MAX_FAILURES_IN_ROW = 5
"""A worker that fails this many calls in a row, restarts included, ends the run (the cause recurs)."""
PASSED_ENV = ("EVOPROXY_DATA",)
"""Environment the workers need, passed on explicitly (cluster workers do not inherit it)."""


class RayBackend:
    name = "ray"

    def __init__(self, setup: EvalSetup, open_benchmark: OpenBenchmark, workers: int = 2,
                 address: Optional[str] = None, call_timeout_s: float = 3600.0) -> None:
        address = address or os.environ.get("RAY_ADDRESS")
        self.owns_ray = not ray.is_initialized()
        if self.owns_ray:
            kwargs = {"address": address} if address else {  # "local": a private instance, never a
                "address": "local", "num_cpus": workers * setup.scoring.threads,  # discovered cluster
                "include_dashboard": False}
            passed = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
            if passed:
                kwargs["runtime_env"] = {"env_vars": passed}
            _init(address, kwargs)
        self.setup, self.open_benchmark = setup, open_benchmark
        self.remote_worker = ray.remote(**actor_resources(setup))(Worker)
        workers = gpu_workers(workers) if uses_gpu(setup) else workers
        self.actors = [self._start() for _ in range(workers)]
        self.owner: dict[Key, int] = {}
        self.call_timeout_s = call_timeout_s
        self.restarts = 0
        self.failures_in_row = [0] * workers

    def _start(self):
        return self.remote_worker.remote(self.setup, self.open_benchmark)

    def _restart(self, w: int, err: Exception) -> None:
        self.failures_in_row[w] += 1
        if self.failures_in_row[w] >= MAX_FAILURES_IN_ROW:
            raise EvoproxyError(f"Ray worker {w} failed {self.failures_in_row[w]} times in a row ({_cause(err)}); "
                                "if it names something your script registered, pass that module with --plugin")
        ray.kill(self.actors[w], no_restart=True)
        self.actors[w] = self._start()
        self.restarts += 1

    def _get(self, w: int, call):
        out = ray.get(call, timeout=self.call_timeout_s)
        self.failures_in_row[w] = 0
        return out

    def _shards(self, keys: Sequence[Key]) -> dict[int, list[int]]:
        block = max(1, self.setup.pack_networks)  # whole packs to one worker: the serial packs, so the same bits
        for k in keys:  # round-robin in first-seen order: deterministic for a deterministic run
            self.owner.setdefault(k, len(self.owner) // block % len(self.actors))
        return {w: [j for j, k in enumerate(keys) if self.owner[k] == w] for w in range(len(self.actors))}

    def warm(self, keys: Sequence[Key], names: Sequence[str]) -> None:
        """Probe ``keys`` on their workers now; a worker lost here is restarted (its shard is probed
        again by the next score call)."""
        calls = {w: self.actors[w].warm.remote([keys[j] for j in idx], list(names))
                 for w, idx in self._shards(keys).items() if idx}
        for w, call in sorted(calls.items()):
            try:
                self._get(w, call)
            except FAILURES as e:
                self._restart(w, e)

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        shards = self._shards(keys)
        calls = {w: self.actors[w].score.remote(list(texts), [keys[j] for j in idx])
                 for w, idx in shards.items() if idx}
        scores = np.full((len(texts), len(keys)), np.nan)
        failed: dict[int, str] = {}
        for w, call in sorted(calls.items()):  # merged in worker order: the same on every run
            idx = shards[w]
            try:
                part, why = self._get(w, call)
            except FAILURES as e:
                self._restart(w, e)
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
                row, why = self._get(w, self.actors[w].score.remote([text], keys))
                part[i] = row[0]
                if why:
                    failed[i] = why[0]
            except FAILURES as e:
                self._restart(w, e)
                failed[i] = f"worker-lost:{type(e).__name__}"
        return part, failed

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []
        if self.owns_ray:
            ray.shutdown()


def _init(address: Optional[str], kwargs: dict) -> None:
    if address:
        _check_reachable(address)
        _use_cluster_token()
    try:
        ray.init(logging_level="ERROR", log_to_driver=False, **kwargs)
    except (ConnectionError, AuthenticationError) as err:
        raise EvoproxyError(f"cannot join the Ray cluster at {address} ({_cause(err)[:200]}); check the address "
                            "(`ray status` on the head) and that this machine has the cluster's token "
                            "(~/.ray/auth_token or RAY_AUTH_TOKEN)") from None


def _check_reachable(address: str) -> None:
    """A plain ``host:port`` that nothing listens on fails now, not after minutes of Ray's retries."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://..." : Ray's own resolution
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise EvoproxyError(f"no Ray cluster answers at {address} ({err.strerror or err}); start one with "
                            "`ray start --head --port=PORT` or fix --ray-address / RAY_ADDRESS") from None


def _use_cluster_token() -> None:
    """Ray >= 2.52: `ray start --head` turns token authentication on when a token exists, but a client
    joining it does not look for one; send the token when there is one (RAY_AUTH_MODE, if set, wins)."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # Ray < 2.52: no token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _cause(err: Exception) -> str:
    """The last line of a remote traceback: the exception that recurs."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1][:300] if lines else type(err).__name__


def uses_gpu(setup: EvalSetup) -> bool:
    return setup.device.startswith("cuda")


def actor_resources(setup: EvalSetup) -> dict:
    """What Ray reserves for one worker: its threads' cores, and a whole GPU when it scores on one."""
    return {"num_cpus": setup.scoring.threads, **({"num_gpus": 1} if uses_gpu(setup) else {})}


def gpu_workers(workers: int) -> int:
    """One worker per GPU of the cluster: no more workers than GPUs (one note when fewer)."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus == 0:
        raise EvoproxyError("device cuda: the Ray cluster has no GPU; use device = \"cpu\" or add GPU nodes")
    if gpus < workers:
        warnings.warn(f"{workers} workers asked, {gpus} GPU(s) in the cluster: {gpus} worker(s), one per GPU",
                      EvoproxyNote, stacklevel=3)
    return min(workers, gpus)
