"""A statistics-major evaluator: owns networks' statistics and scores batches of programs.

A worker is rebuilt from an :class:`~evoproxy.scoring.setup.EvalSetup` and a benchmark opener, so the
Ray backend ships only program texts, ``(benchmark, arch id)`` keys and seeds. Statistics stay
resident within a memory budget (networks that do not fit are evicted and recomputed on
demand); programs scored on one network share common subexpressions.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence

import numpy as np
import torch

from evoproxy.data.images import load_probe_batch
from evoproxy.lang.interpret import eval_node
from evoproxy.lang.packed import OpObserver
from evoproxy.lang.program import Program, parse
from evoproxy.plugins import import_refs
from evoproxy.probe.base import collect
from evoproxy.probe.requested import probing
from evoproxy.scoring.cores import free_cores
from evoproxy.scoring.memory import PeakSampler, map_large_blocks, release_freed_memory, resident_bytes
from evoproxy.scoring.packing import Blocks, PackMemo, PackScorer, ReuseStore
from evoproxy.scoring.score import build_seeded, needed_stats
from evoproxy.scoring.scorecache import ScoreCache, batch_digest, context_key
from evoproxy.scoring.setup import EvalSetup, NetworkSource, OpenBenchmark

Key = tuple[str, int]  # (benchmark name, architecture id)


def _nbytes(value) -> int:
    if isinstance(value, tuple):
        return sum(t.numel() * t.element_size() for t in value)
    return value.numel() * value.element_size()


class Worker:
    """Scores programs on architectures, keeping their statistics within ``memory_mb``; ``observer``
    (instrumentation, off by default) sees every op its packs apply (:class:`OpObserver`)."""

    def __init__(self, setup: EvalSetup, open_benchmark: OpenBenchmark, *,
                 observer: Optional[OpObserver] = None) -> None:
        map_large_blocks()
        import_refs(setup.plugins)
        torch.set_num_threads(setup.scoring.threads)
        self.setup = setup
        self.open_benchmark = open_benchmark
        self.benches: dict[str, NetworkSource] = {}
        self.batches: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.cache: OrderedDict[Key, dict] = OrderedDict()
        self.cached_bytes = 0
        self.call_keys: frozenset[Key] = frozenset()  # the networks of the call (score, warm) running now
        self.calls: dict[Key, int] = {}  # how many calls asked for each network
        self.rest_peak = 0  # the most the rest of the process (all but the statistics) has held during a call
        self.probes = 0  # networks probed, evictions included (for benchmarks and tests)
        self.blocks = Blocks(setup.pack_networks)
        self.reuse = ReuseStore(setup.reuse_mb)
        self.observer = observer
        self.kept: Optional[ScoreCache] = ScoreCache.open(setup.score_cache)
        self.contexts: dict[str, str] = {}

    def bench(self, name: str) -> NetworkSource:
        if name not in self.benches:
            self.benches[name] = self.open_benchmark(name)
        return self.benches[name]

    def batch(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The probe batch: the benchmark's own if it dictates one (synthetic), else the setup's."""
        if name not in self.batches:
            s = self.setup
            bench = self.bench(name)
            pb = bench.probe_batch()
            if pb is None:
                pb = load_probe_batch(s.scoring.probe, s.scoring.batch_size, s.seed, s.data_dir, bench.image_set)
            self.batches[name] = (pb.x.to(s.device), pb.y.to(s.device))
        return self.batches[name]

    def seed(self, name: str) -> int:
        """The init/probe seed: the benchmark's own if it dictates one, else the setup's."""
        own = self.bench(name).probe_seed
        return self.setup.seed if own is None else own

    def stats(self, key: Key, names: frozenset[str]) -> dict:
        """Statistics of one network, computing only those not yet resident (and kept resident)."""
        have = self.cache.pop(key, {})
        self.cached_bytes -= sum(_nbytes(v) for v in have.values())
        missing = names - have.keys()
        if missing:
            bench, seed = self.bench(key[0]), self.seed(key[0])
            try:
                with probing(missing):
                    model = build_seeded(lambda: bench.build(key[1]), seed, self.setup.device)
            except (RuntimeError, ValueError):  # a network that cannot be built scores NaN
                model = None
            if model is not None:
                x, y = self.batch(key[0])
                have = {**have, **_stored(collect(model, x, y, missing, seed=seed), self.setup.scoring.store_dtype)}
            self.probes += 1
        self.cache[key] = have
        self.cached_bytes += sum(_nbytes(v) for v in have.values())
        self._evict(key)
        return have

    def warm(self, keys: Sequence[Key], names: Sequence[str]) -> None:
        """Probe ``keys`` for the statistics ``names`` now (a progress bar's step)."""
        self._begin_call(keys)
        with PeakSampler(self._rest) as rest:
            for key in keys:
                self.stats(key, frozenset(names))
        self.rest_peak = max(self.rest_peak, rest.peak or 0)
        release_freed_memory()

    def _rest(self) -> Optional[int]:
        """What the process holds besides the resident statistics now (None: unreadable)."""
        rss = resident_bytes()
        return None if rss is None else max(0, rss - self.cached_bytes)

    def _begin_call(self, keys: Sequence[Key]) -> None:
        self.call_keys = frozenset(keys)
        for key in self.call_keys:
            self.calls[key] = self.calls.get(key, 0) + 1

    def _evict(self, in_use: Key) -> None:
        """Keep the process within ``memory_mb``: the resident statistics get what the rest of the
        process (torch, probe batches, the memo's and the probe's temporaries) leaves of it at its
        largest during a call so far, so the next call's temporaries fit beside them too.

        Dropped first: the networks asked for by the fewest calls (a final report's holdout, a selection
        check) before those every generation asks for; among equals, those the running call does not use
        (least recently used first), then the call's own, most recently used first, so a pass over more
        networks than fit keeps its first ones for the next pass (least-recently-used alone would lose
        every one). ``in_use``, the network just asked for, stays."""
        budget = self.setup.memory_mb * 2**20 - max(self._rest() or 0, self.rest_peak)
        if self.cached_bytes <= budget:
            return
        resident = [k for k in self.cache if k != in_use]
        newest_first = {k: -i for i, k in enumerate(resident)}
        order = sorted(resident, key=lambda k: (self.calls.get(k, 0), k in self.call_keys,
                                                newest_first[k] if k in self.call_keys else -newest_first[k]))
        for key in order:
            if self.cached_bytes <= budget:
                break
            self.cached_bytes -= sum(_nbytes(v) for v in self.cache.pop(key).values())
        release_freed_memory()

    def context(self, name: str) -> str:
        """What a score on the benchmark ``name`` depends on besides network and program (the score cache's)."""
        if name not in self.contexts:
            s = self.setup
            self.contexts[name] = context_key("worker", batch_digest(*self.batch(name)), self.seed(name),
                                              s.scoring.threads, s.device, s.scoring.store_dtype)
        return self.contexts[name]

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        """(programs x keys) scores, and why a program failed: ``{index: "timeout" | "error:<type>"}``.
        Scores kept by an earlier call or run (the setup's ``score_cache``) are read, not computed."""
        programs = [parse(t) for t in texts]
        if self.kept is None:
            return self._score(programs, keys)
        by_bench: dict[str, list[int]] = {}
        for j, key in enumerate(keys):
            by_bench.setdefault(key[0], []).append(j)
        networks = {name: [self.bench(name).network_key(keys[j][1]) for j in cols] for name, cols in by_bench.items()}
        scores, known = np.full((len(programs), len(keys)), math.nan), set()
        for name, cols in by_bench.items():
            for (i, c), value in self.kept.known(self.context(name), networks[name], programs).items():
                scores[i, cols[c]] = value
                known.add((i, cols[c]))
        todo = [i for i in range(len(programs)) if any((i, j) not in known for j in range(len(keys)))]
        if not todo:
            return scores, {}
        fresh, why = self._score([programs[i] for i in todo], keys)
        scores[todo] = fresh
        finished = [k for k in range(len(todo)) if k not in why]
        for name, cols in by_bench.items():
            self.kept.keep(self.context(name), networks[name], [programs[todo[k]] for k in finished],
                           fresh[np.ix_(finished, cols)])
        return scores, {todo[k]: reason for k, reason in why.items()}

    def _score(self, programs: Sequence[Program], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        names = needed_stats(programs)
        scores = np.full((len(programs), len(keys)), math.nan)
        clock = _Clock(len(programs), self.setup.timeout_s)
        packs = self.blocks.packs(keys) if self.setup.pack_networks > 0 else [[j] for j in range(len(keys))]
        width = max(1, min(self.setup.pack_threads, free_cores()))  # counted again at every call
        later = needed_later(programs)
        reasons: list[dict[int, str]] = []
        self._begin_call(keys)
        with PeakSampler(self._rest) as rest, ThreadPoolExecutor(width) as pool:
            for start in range(0, len(packs), width):  # a wave: probed in turn, then scored at once
                wave = [(cols, [self.stats(keys[j], names) for j in cols]) for cols in packs[start:start + width]]
                jobs = [pool.submit(self._score_pack, programs, later, stats, tuple(keys[j] for j in cols), clock)
                        for cols, stats in wave]
                for (cols, _), job in zip(wave, jobs):
                    scores[:, cols], why = job.result()
                    reasons.append(why)
        self.rest_peak = max(self.rest_peak, rest.peak or 0)
        failed: dict[int, str] = {}
        for why in reasons:  # in pack order: the same reasons however many threads ran
            for i, reason in why.items():
                failed.setdefault(i, reason)
        failed.update({i: "timeout" for i in clock.late()})
        release_freed_memory()
        return scores, failed

    def _score_pack(self, programs: Sequence[Program], later: list[frozenset[str]], stats: list[dict],
                    pack: tuple, clock: "_Clock") -> tuple[np.ndarray, dict[int, str]]:
        if self.setup.scoring.store_dtype != "float32":
            stats = [_computed(s) for s in stats]
        out = np.full((len(programs), len(stats)), math.nan)
        failed: dict[int, str] = {}
        scorer = PackScorer(stats, PackMemo(self.reuse, pack), self.observer) if self.setup.pack_networks > 0 else None
        memos: list[dict] = [{} for _ in stats]
        for i, p in enumerate(programs):
            if clock.out_of_time(i):
                continue
            start = time.perf_counter()
            row = scorer.score(p) if scorer is not None else None
            if row is None:  # network by network: the reference path, and where errors are named
                row = []
                for s, memo in zip(stats, memos):
                    value, error = _safe_eval(p, s, memo)
                    row.append(value)
                    if error is not None:
                        failed.setdefault(i, error)
            out[i] = row
            clock.add(i, time.perf_counter() - start)
            for memo in (scorer.memo, *memos) if scorer is not None else memos:
                keep_only(memo, later[i])
        return out, failed


def needed_later(programs: Sequence[Program]) -> list[frozenset[str]]:
    """For each program, the node texts of the programs after it: what a call's memo must keep."""
    out, seen = [], frozenset()
    for p in reversed(programs):
        out.append(seen)
        seen = seen | {node.text for node in p.nodes()}
    return out[::-1]


def keep_only(memo: dict, texts: frozenset[str]) -> None:
    """Drop the memo's values no later program needs (tensor values of bloated programs fill memory)."""
    for text in [t for t in memo if t not in texts]:
        dict.__delitem__(memo, text)


class _Clock:
    """Seconds each program has spent in one call, across the packs scored in parallel."""

    def __init__(self, n: int, limit: float) -> None:
        self.spent, self.limit, self.lock = [0.0] * n, limit, threading.Lock()

    def add(self, i: int, seconds: float) -> None:
        with self.lock:
            self.spent[i] += seconds

    def out_of_time(self, i: int) -> bool:
        return self.spent[i] > self.limit

    def late(self) -> list[int]:
        return [i for i, s in enumerate(self.spent) if s > self.limit]


def _stored(stats: dict, dtype: str) -> dict:
    """Layer tensors of float32 statistics kept in ``dtype`` (float64 ones, e.g. synflow's, stay)."""
    if dtype == "float32":
        return stats
    to = getattr(torch, dtype)
    return {k: tuple(t.to(to) if t.dtype == torch.float32 else t for t in v) if isinstance(v, tuple) else v
            for k, v in stats.items()}


def _computed(stats: dict) -> dict:
    """Statistics stored in half precision back in float32 for computing (ops run in float32)."""
    half = (torch.float16, torch.bfloat16)
    return {k: tuple(t.float() if t.dtype in half else t for t in v) if isinstance(v, tuple) else v
            for k, v in stats.items()}


def _safe_eval(p: Program, stats: dict, memo: dict) -> tuple[float, Optional[str]]:
    """A program's score on one network, or NaN and the name of what it raised (a plugin op's bug
    included: one candidate never ends a run)."""
    try:
        return float(eval_node(p, stats, memo)), None
    except Exception as e:  # noqa: BLE001  (counted as a named rejection, never raised)
        return math.nan, f"error:{type(e).__name__}"
