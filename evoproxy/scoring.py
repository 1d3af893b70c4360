"""Statistics-major scoring: probe each network once, score every program on its statistics."""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from .evaluate import evaluate_many
from .probe import collect
from .program import Program


def needed_stats(programs: Sequence[Program]) -> frozenset[str]:
    return frozenset().union(*(p.stats for p in programs)) if programs else frozenset()


def score_arch(build: Callable[[], torch.nn.Module], programs: Sequence[Program],
               x: torch.Tensor, y: torch.Tensor, seed: int = 0, device: str = "cpu") -> list[float]:
    """Build one network with a fixed init seed, probe it once, score all programs on it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build().to(device)
    stats = collect(model, x, y, needed_stats(programs), seed=seed)
    return evaluate_many(programs, stats)


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
