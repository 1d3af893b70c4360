"""The select use case: a proxy's best ViT under a params budget, beside the params-best,
a seeded random pick and the oracle (published tables and the built one)."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from evoproxy.app.benchmarks import open_benchmark
from evoproxy.errors import EvoproxyError
from evoproxy.lang.proxyfile import ProxySpec, resolve
from evoproxy.scoring.score import score_matrix
from evoproxy.spaces.vit import count_params

__all__ = ["SPACES", "open_space", "candidates", "choose", "select", "resolve"]
SPACES = {"autoformer": "vit-autoformer-{dataset}", "pit": "vit-pit-{dataset}", "cifar-vit": "vit-kd-cifar10"}


def open_space(space: str, dataset: str, metric: str, data_dir: Optional[str]):
    """The benchmark of ``space`` (its ``dataset`` accuracies for the published tables)."""
    if space not in SPACES:
        raise EvoproxyError(f"unknown space {space!r}; choose one of {', '.join(SPACES)}")
    return open_benchmark(SPACES[space].format(dataset=dataset), data_dir, metric=metric)


def candidates(bench, space: str, budget_params: float,
               on_arch: Optional[Callable[[int], None]] = None) -> tuple[list[int], dict[int, int]]:
    """``(ids within budget, params by id)``; one line if no architecture fits. ``on_arch(i)`` follows
    the counting (each architecture is built)."""
    name = bench.name
    params = {}
    for i in bench.arch_ids():
        params[i] = count_params(bench.student(i))
        if on_arch is not None:
            on_arch(i)
    ids = [i for i in bench.arch_ids() if params[i] <= budget_params * 1e6]
    if not ids:
        raise EvoproxyError(f"no {space} architecture of {name} has <= {budget_params}M params "
                            f"(smallest: {min(params.values()) / 1e6:.2f}M); raise --budget-params")
    return ids, params


def choose(bench, ids: list[int], scores: np.ndarray, params: dict[int, int], seed: int) -> dict[str, int]:
    """The proxy's pick, the params-best, the oracle and a seeded random pick."""
    finite = [i for i, s in zip(ids, scores) if np.isfinite(s)]
    if not finite:
        raise EvoproxyError("the proxy scored every candidate NaN/inf; choose another proxy")
    by_score = dict(zip(ids, scores))
    picks = {"proxy": max(finite, key=lambda i: by_score[i]),
             "params-best": max(ids, key=lambda i: params[i]),
             "oracle": max(ids, key=bench.accuracy)}
    picks["random"] = ids[int(np.random.default_rng(seed).integers(len(ids)))]
    return picks


def select(spec: ProxySpec, bench, ids: list[int], params: dict[int, int], seed: int = 0,
           on_arch: Optional[Callable[[int, np.ndarray], None]] = None) -> list[dict]:
    """One row per pick: method, id, params (M), accuracy, arch."""
    batch = bench.probe_batch()
    raw = score_matrix(bench, [spec.program], ids, batch.x, batch.y, bench.probe_seed, on_arch=on_arch)
    picks = choose(bench, ids, spec.direction * raw[0], params, seed)
    return [{"method": m, "id": i, "params_m": round(params[i] / 1e6, 3),
                        "accuracy": bench.accuracy(i), "arch": bench.arch_of(i)} for m, i in picks.items()]
