"""Score proxies on a benchmark's architectures and summarise their rank agreement."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from evoproxy.scoring import fitness
from evoproxy.lang.proxyfile import ProxySpec
from evoproxy.lang.ranks import combine, is_set_level, network_parts
from evoproxy.scoring.score import score_matrix
from evoproxy.scoring.scorecache import ScoreCache


@dataclass(frozen=True)
class ProxyResult:
    proxy: str
    formula: str
    kendall: float
    spearman: float
    pearson: float
    emq: float  # EMQ's fitness: mean Spearman over the proxy's top 20/50/100%
    invalid: int  # architectures whose score was NaN/inf (ranked lowest, as NAS-Bench-Suite-Zero does)

    def as_dict(self) -> dict:
        return asdict(self)


def rankable(scores: np.ndarray, direction: int = 1) -> np.ndarray:
    """Scores oriented so higher is better, non-finite entries ranked lowest."""
    s = direction * np.asarray(scores, dtype=np.float64)
    return np.where(np.isfinite(s), s, -np.inf)


def summarize(spec: ProxySpec, scores: np.ndarray, accs: np.ndarray) -> ProxyResult:
    s = rankable(scores, spec.direction)
    finite = np.isfinite(s)
    pearson = fitness.pearson(s[finite], accs[finite]) if finite.sum() > 2 else float("nan")
    return ProxyResult(spec.name, spec.program.text, fitness.kendall(s, accs),
                       fitness.spearman(s, accs), pearson, fitness.emq_fitness(s, accs),
                       int((~finite).sum()))


@dataclass
class EvalRun:
    arch_ids: list[int]
    accuracies: np.ndarray
    scores: np.ndarray  # proxies x archs
    results: list[ProxyResult]
    seconds: float


def network_specs(specs: Sequence[ProxySpec]) -> list[ProxySpec]:
    """What is scored per network: each proxy, or for a set-level one its network parts, named
    ``NAME[1]``, ``NAME[2]``, ... (these are the columns ``eval --save`` writes)."""
    out: dict[str, ProxySpec] = {}
    for s in specs:
        if not is_set_level(s.program):
            out.setdefault(s.name, s)
            continue
        for k, part in enumerate(network_parts(s.program), 1):
            out.setdefault(f"{s.name}[{k}]", ProxySpec(f"{s.name}[{k}]", part))
    return list(out.values())


def run_eval(bench, specs: Sequence[ProxySpec], arch_ids: Sequence[int], x: torch.Tensor,
             y: torch.Tensor, seed: int = 0, device: str = "cpu",
             on_arch: Optional[Callable[[int, np.ndarray], None]] = None,
             done: Optional[dict[int, np.ndarray]] = None, kept: Optional[ScoreCache] = None) -> EvalRun:
    """Probe each architecture once and score every proxy on it (set-level proxies are ranked
    among ``arch_ids``).

    ``done`` maps architectures already scored (e.g. by an interrupted run) to their scores of
    :func:`network_specs`; only the others are probed, and ``on_arch`` sees only those. Scores in the
    score cache ``kept`` are read, not computed.
    """
    start = time.perf_counter()
    done = done or {}
    todo = [a for a in arch_ids if a not in done]
    parts = [s.program for s in network_specs(specs)]
    fresh = score_matrix(bench, parts, todo, x.to(device), y.to(device), seed, on_arch=on_arch, device=device,
                         kept=kept)
    column = {a: fresh[:, j] for j, a in enumerate(todo)} | done
    per_network = np.column_stack([column[a] for a in arch_ids]) if arch_ids else fresh
    scores = combine([s.program for s in specs], parts, per_network)
    accs = np.array([bench.accuracy(a) for a in arch_ids], dtype=np.float64)
    results = [summarize(s, row, accs) for s, row in zip(specs, scores)]
    return EvalRun(list(arch_ids), accs, scores, results, time.perf_counter() - start)
