"""A statistics-major evaluator: owns networks' statistics and scores batches of programs.

A worker is rebuilt from a JSON-able :class:`EvalSetup` and a benchmark factory, so the Ray
backend ships only program texts, ``(benchmark, arch id)`` keys and seeds. Statistics stay
resident within a memory budget (least recently used networks are evicted and recomputed on
demand); programs scored on one network share common subexpressions.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from evoproxy.data.images import load_probe_batch
from evoproxy.lang.interpret import eval_node
from evoproxy.lang.program import Program, parse
from evoproxy.plugins import PluginRef, import_refs
from evoproxy.probe.base import collect
from evoproxy.scoring.score import build_seeded, needed_stats

Key = tuple[str, int]  # (benchmark name, architecture id)


@dataclass(frozen=True)
class EvalSetup:
    data_dir: Optional[str] = None
    split_seed: int = 0
    metric: str = "test_200ep"
    probe: str = "auto"
    batch_size: int = 32
    seed: int = 0
    memory_mb: int = 4096
    threads: int = 1  # fixed per worker: float results depend on the thread count
    timeout_s: float = 60.0  # per candidate and call; a candidate past it scores NaN
    device: str = "cpu"
    teacher: Optional[str] = None  # distillation benchmarks: the teacher checkpoint (None: their default)
    plugins: tuple[PluginRef, ...] = ()  # the user's modules, imported by every worker before anything else


def _nbytes(value) -> int:
    if isinstance(value, tuple):
        return sum(t.numel() * t.element_size() for t in value)
    return value.numel() * value.element_size()


class Worker:
    """Scores programs on architectures, keeping their statistics within ``memory_mb``."""

    def __init__(self, setup: EvalSetup, make_benchmark: Callable[..., object]) -> None:
        import_refs(setup.plugins)
        torch.set_num_threads(setup.threads)
        self.setup = setup
        self.make_benchmark = make_benchmark
        self.benches: dict[str, object] = {}
        self.batches: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.cache: OrderedDict[Key, dict] = OrderedDict()
        self.cached_bytes = 0
        self.probes = 0  # networks probed, evictions included (for benchmarks and tests)

    def bench(self, name: str):
        if name not in self.benches:
            s = self.setup
            self.benches[name] = self.make_benchmark(name, data_dir=s.data_dir, split_seed=s.split_seed,
                                                     metric=s.metric, teacher=s.teacher)
        return self.benches[name]

    def batch(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The probe batch: the benchmark's own if it dictates one (synthetic), else the setup's."""
        if name not in self.batches:
            s = self.setup
            bench = self.bench(name)
            pb = bench.probe_batch()
            if pb is None:
                pb = load_probe_batch(s.probe, s.batch_size, s.seed, s.data_dir, bench.image_set)
            self.batches[name] = (pb.x.to(s.device), pb.y.to(s.device))
        return self.batches[name]

    def seed(self, name: str) -> int:
        """The init/probe seed: the benchmark's own if it dictates one, else the setup's."""
        own = self.bench(name).probe_seed
        return self.setup.seed if own is None else own

    def stats(self, key: Key, names: frozenset[str]) -> dict:
        """Statistics of one network, computing only those not yet resident."""
        have = self.cache.pop(key, {})
        self.cached_bytes -= sum(_nbytes(v) for v in have.values())
        missing = names - have.keys()
        if missing:
            bench, seed = self.bench(key[0]), self.seed(key[0])
            try:
                model = build_seeded(lambda: bench.build(key[1]), seed, self.setup.device)
            except (RuntimeError, ValueError):  # a network that cannot be built scores NaN
                model = None
            if model is not None:
                x, y = self.batch(key[0])
                have = {**have, **collect(model, x, y, missing, seed=seed)}
            self.probes += 1
        self.cache[key] = have
        self.cached_bytes += sum(_nbytes(v) for v in have.values())
        self._evict()
        return have

    def _evict(self) -> None:
        budget = self.setup.memory_mb * 2**20
        while self.cached_bytes > budget and len(self.cache) > 1:
            _, stats = self.cache.popitem(last=False)
            self.cached_bytes -= sum(_nbytes(v) for v in stats.values())

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        """(programs x keys) scores, and why a program failed: ``{index: "timeout" | "error:<type>"}``."""
        programs = [parse(t) for t in texts]
        names = needed_stats(programs)
        scores = np.full((len(programs), len(keys)), math.nan)
        spent = np.zeros(len(programs))
        failed: dict[int, str] = {}
        for j, key in enumerate(keys):
            stats = self.stats(key, names)
            memo: dict = {}
            for i, p in enumerate(programs):
                if spent[i] > self.setup.timeout_s:
                    continue
                start = time.perf_counter()
                scores[i, j], error = _safe_eval(p, stats, memo)
                spent[i] += time.perf_counter() - start
                if error is not None:
                    failed.setdefault(i, error)
        failed.update({i: "timeout" for i in range(len(programs)) if spent[i] > self.setup.timeout_s})
        return scores, failed


def _safe_eval(p: Program, stats: dict, memo: dict) -> tuple[float, Optional[str]]:
    """A program's score on one network, or NaN and the name of what it raised (a plugin op's bug
    included: one candidate never ends a run)."""
    try:
        return float(eval_node(p, stats, memo)), None
    except Exception as e:  # noqa: BLE001  (counted as a named rejection, never raised)
        return math.nan, f"error:{type(e).__name__}"
