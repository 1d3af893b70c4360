"""Score proxies on a benchmark's architectures and summarise their rank agreement."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from evoproxy.scoring import fitness
from evoproxy.lang.proxyfile import ProxySpec
from evoproxy.scoring.score import score_matrix


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


def run_eval(bench, specs: Sequence[ProxySpec], arch_ids: Sequence[int], x: torch.Tensor,
             y: torch.Tensor, seed: int = 0, device: str = "cpu",
             on_arch: Optional[Callable[[int, np.ndarray], None]] = None,
             done: Optional[dict[int, np.ndarray]] = None) -> EvalRun:
    """Probe each architecture once and score every proxy on it.

    ``done`` maps architectures already scored (e.g. by an interrupted run) to their scores;
    only the others are probed, and ``on_arch`` sees only those.
    """
    start = time.perf_counter()
    done = done or {}
    todo = [a for a in arch_ids if a not in done]
    fresh = score_matrix(bench, [s.program for s in specs], todo, x.to(device), y.to(device),
                         seed, on_arch=on_arch, device=device)
    column = {a: fresh[:, j] for j, a in enumerate(todo)} | done
    scores = np.column_stack([column[a] for a in arch_ids]) if arch_ids else fresh
    accs = np.array([bench.accuracy(a) for a in arch_ids], dtype=np.float64)
    results = [summarize(s, row, accs) for s, row in zip(specs, scores)]
    return EvalRun(list(arch_ids), accs, scores, results, time.perf_counter() - start)
