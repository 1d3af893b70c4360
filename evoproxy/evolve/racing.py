"""Racing (multi-fidelity evaluation): a child is scored on a first slice of each benchmark's search
networks, then on twice as many, and so on; it stops as soon as it can no longer enter the population.

The bound: on ``n`` of a benchmark's ``N`` search networks (a seeded random sample, so any first slice is
a random subsample of them), the fitness on all ``N`` lies within ``z`` standard errors of the partial one.
The standard error is the correlation's under independence (Kendall: ``sqrt(2(2n+5) / (9n(n-1)))``,
Spearman and the others: ``1 / sqrt(n-1)``), the largest it is for any true correlation, times the
finite-population factor ``sqrt((N-n) / (N-1))`` (0 once every network is scored). A child whose partial
fitness plus that margin stays below the population's entry bar (its worst member, for strategies that
replace the worst) is ``raced-out``: it could not have joined. Decisions depend only on scores, so a
seed gives the same run on every backend.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Race:
    first: float = 0.25  # the first slice: this fraction of each benchmark's search networks
    z: float = 2.0  # standard errors of margin

    def stages(self, sizes: list[int], scored: list[int]) -> list[list[int]]:
        """Per benchmark, how many of its search networks are scored after each stage; the last stage
        is all of them. ``scored``: how many are scored before the race (the screening networks)."""
        out, frac = [], self.first
        while True:
            counts = [min(n, max(s, math.ceil(frac * n))) for n, s in zip(sizes, scored)]
            if counts == sizes:
                return out + [sizes]
            if counts != (out[-1] if out else scored):
                out.append(counts)
            frac *= 2


def margin(metric: str, n: int, total: int, z: float) -> float:
    """``z`` standard errors of a rank correlation on ``n`` of ``total`` networks (0 when n == total)."""
    if n >= total:
        return 0.0
    if n < 3:
        return math.inf
    se = math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1))) if metric == "kendall" else 1 / math.sqrt(n - 1)
    return z * se * math.sqrt((total - n) / (total - 1))


def entry_bar(population: list, capacity: int, bar_of) -> Optional[float]:
    """The fitness a child must beat to join, or None (a free place, or a strategy with no bar)."""
    if bar_of is None or len(population) < capacity:
        return None
    return bar_of(population)
