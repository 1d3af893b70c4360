"""The one "build under a seed, probe, interpret" path: the worker, eval, allocation and
:func:`load_proxy` all score networks through these functions.

Statistics-major: each network is probed once for the union of the statistics its programs
need, and every program is interpreted on those statistics (sharing common subexpressions).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from evoproxy.data.images import ProbeBatch
from evoproxy.lang.interpret import evaluate_many
from evoproxy.lang.program import Program
from evoproxy.lang.proxyfile import resolve
from evoproxy.probe.base import collect
from evoproxy.probe.layers import check_network


def needed_stats(programs: Sequence[Program]) -> frozenset[str]:
    return frozenset().union(*(p.stats for p in programs)) if programs else frozenset()


def build_seeded(build: Callable[[], torch.nn.Module], seed: int, device: str = "cpu") -> torch.nn.Module:
    """``build()`` with torch seeded to ``seed`` (the caller's random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().to(device)


def score_network(model: torch.nn.Module, programs: Sequence[Program], x: torch.Tensor,
                  y: torch.Tensor, seed: int = 0) -> list[float]:
    """Probe ``model`` once (on a private copy) and score every program on its statistics."""
    return evaluate_many(programs, collect(model, x, y, needed_stats(programs), seed=seed))


def score_arch(build: Callable[[], torch.nn.Module], programs: Sequence[Program],
               x: torch.Tensor, y: torch.Tensor, seed: int = 0, device: str = "cpu") -> list[float]:
    """Build one network with a fixed init seed, probe it once, score all programs on it."""
    return score_network(build_seeded(build, seed, device), programs, x, y, seed)


def score_matrix(bench, programs: Sequence[Program], arch_ids: Sequence[int], x: torch.Tensor,
                 y: torch.Tensor, seed: int = 0,
                 on_arch: Optional[Callable[[int, np.ndarray], None]] = None,
                 device: str = "cpu") -> np.ndarray:
    """(programs x architectures) scores; a network that cannot be built or probed scores NaN.

    ``on_arch(j, column)`` is called as each architecture finishes (progress, incremental saving).
    """
    scores = np.full((len(programs), len(arch_ids)), math.nan)
    for j, arch in enumerate(arch_ids):
        try:
            scores[:, j] = score_arch(lambda: bench.build(arch), programs, x, y, seed, device)
        except (RuntimeError, ValueError) as e:  # one bad network costs its column
            if "out of memory" in str(e).lower():
                raise
        if on_arch is not None:
            on_arch(j, scores[:, j])
    return scores


def load_proxy(path: str | Path):
    """A proxy file as a plain function ``f(model, batch) -> float`` (higher is better).

    ``batch`` is an ``(x, y)`` pair or a :class:`~evoproxy.data.images.ProbeBatch`; the model is
    probed on a private copy, so it is left untouched. A network the probe cannot measure (see
    :mod:`evoproxy.probe.layers`) or a statistic that fails on it raises one
    :class:`~evoproxy.errors.EvoproxyError` line instead of a silent NaN.
    """
    spec = resolve(str(path))

    def proxy(model, batch, seed: int = 0) -> float:
        x, y = (batch.x, batch.y) if isinstance(batch, ProbeBatch) else batch
        check_network(model)
        stats = collect(model, x, y, spec.program.stats, seed=seed, strict=True)
        return spec.direction * evaluate_many([spec.program], stats)[0]

    proxy.__doc__ = f"{spec.name}: {spec.program.text}"
    return proxy
