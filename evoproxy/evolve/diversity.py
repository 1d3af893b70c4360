"""Behavioural diversity: programs that rank the search networks (nearly) alike count as one.

A program's *behaviour* is its rank vector over the search networks (stored with its verdict as
``search_ranks``: twice the average ranks, so ties stay integers). Two programs are *twins* when
the Pearson correlation of their rank vectors (Spearman of their scores) is at least the run's
``same_behaviour`` threshold; of two twins the better one is kept: higher fitness, then the smaller
program (parsimony).
"""
from __future__ import annotations

import itertools
from typing import Optional, Sequence

import numpy as np
from scipy.stats import rankdata


def rank_vector(scores: np.ndarray, lengths: Sequence[int]) -> list[int]:
    """Twice the average ranks of ``scores`` within each benchmark's block of ``lengths`` networks."""
    out, start = [], 0
    for n in lengths:
        out += [int(r) for r in 2 * rankdata(scores[start:start + n])]
        start += n
    return out


def similarity(a: Optional[Sequence[int]], b: Optional[Sequence[int]]) -> float:
    """Rank correlation of two behaviours (NaN when either is unknown or constant)."""
    if a is None or b is None or len(a) != len(b) or len(a) < 2:
        return float("nan")
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.std() == 0 or y.std() == 0:
        return 1.0 if np.array_equal(x, y) else float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def better(a, b) -> bool:
    """Whether individual ``a`` beats ``b``: higher fitness, then the smaller program."""
    return (a.value, -a.program.size) > (b.value, -b.program.size)


def is_twin(ind, member, threshold: float) -> bool:
    return member is not ind and (member == ind or similarity(ind.ranks, member.ranks) >= threshold)


def twin_of(ind, members: Sequence, threshold: float):
    """The first member that behaves like ``ind`` (similarity >= threshold), or None."""
    return next((m for m in members if is_twin(ind, m, threshold)), None)


def twins_of(ind, members: Sequence, threshold: float) -> list:
    """Every member that behaves like ``ind``."""
    return [m for m in members if is_twin(ind, m, threshold)]


def distinct(members: Sequence, threshold: float, limit: Optional[int] = None) -> list:
    """Members with pairwise distinct behaviours, the best of each group of twins kept, best first;
    at most ``limit`` of them (the search stops there: a run holds thousands of candidates)."""
    kept: list = []
    for m in sorted(members, key=lambda i: (-i.value, i.program.size, i.born)):
        if limit is not None and len(kept) >= limit:
            break
        if twin_of(m, kept, threshold) is None:
            kept.append(m)
    return kept


def diversity(population: Sequence, threshold: float) -> dict:
    """How many distinct behaviours the population holds, and its mean pairwise rank correlation."""
    sims = [similarity(a.ranks, b.ranks) for a, b in itertools.combinations(population, 2)]
    sims = [s for s in sims if np.isfinite(s)]
    return {"distinct": len(distinct(population, threshold)), "size": len(population),
            "mean_rho": float(np.mean(sims)) if sims else float("nan")}
