"""Behavioural diversity: programs that rank the search networks (nearly) alike count as one.

A program's *behaviour* is its rank vector over the search networks (stored with its verdict as
``search_ranks``: twice the average ranks, so ties stay integers). Two programs are *twins* when
the Pearson correlation of their rank vectors (Spearman of their scores) is at least the run's
``same_behaviour`` threshold; of two twins the better one is kept: higher fitness, then the smaller
program (parsimony).
"""
from __future__ import annotations

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


def unit_vector(ranks: Optional[Sequence[int]]) -> Optional[np.ndarray]:
    """A behaviour centred and scaled to length 1, so the dot product of two is their correlation
    (None when unknown, shorter than 2 or constant: :func:`similarity` decides those)."""
    if ranks is None or len(ranks) < 2:
        return None
    x = np.asarray(ranks, dtype=np.float64)
    x = x - x.mean()
    norm = float(np.sqrt(x @ x))
    return None if norm == 0 else x / norm


def similarities(ind, members: Sequence) -> np.ndarray:
    """``similarity(ind.ranks, m.ranks)`` for every member, in one matrix product over their cached
    unit vectors (``Individual.behaviour``): a pairwise ``corrcoef`` per member made a population of
    1,000 spend minutes in generation 0."""
    out = np.full(len(members), np.nan)
    u = ind.behaviour
    rows = [m.behaviour for m in members]
    idx = [i for i, v in enumerate(rows) if u is not None and v is not None and len(v) == len(u)]
    if idx:
        out[idx] = np.clip(np.stack([rows[i] for i in idx]) @ u, -1.0, 1.0)
    for i, v in enumerate(rows):
        if u is None or v is None:
            out[i] = similarity(ind.ranks, members[i].ranks)
    return out


def pairwise(members: Sequence) -> np.ndarray:
    """The matrix of :func:`similarity` between every two members."""
    n, units = len(members), [m.behaviour for m in members]
    out = np.full((n, n), np.nan)
    for length in {len(v) for v in units if v is not None}:
        idx = [i for i, v in enumerate(units) if v is not None and len(v) == length]
        mat = np.stack([units[i] for i in idx])
        out[np.ix_(idx, idx)] = np.clip(mat @ mat.T, -1.0, 1.0)
    for i in (i for i, v in enumerate(units) if v is None):
        out[i] = out[:, i] = [similarity(members[i].ranks, m.ranks) for m in members]
    return out


def better(a, b) -> bool:
    """Whether individual ``a`` beats ``b``: higher fitness, then the smaller program."""
    return (a.value, -a.program.size) > (b.value, -b.program.size)


def twin_of(ind, members: Sequence, threshold: float):
    """The first member that behaves like ``ind`` (similarity >= threshold), or None."""
    return next(iter(twins_of(ind, members, threshold)), None)


def twins_of(ind, members: Sequence, threshold: float) -> list:
    """Every other member that behaves like ``ind``: the same program, or similarity >= threshold."""
    sims = similarities(ind, members)
    return [m for m, s in zip(members, sims) if m is not ind and (m == ind or s >= threshold)]


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
    sims = pairwise(population)[np.triu_indices(len(population), 1)]
    sims = sims[np.isfinite(sims)]
    return {"distinct": len(distinct(population, threshold)), "size": len(population),
            "mean_rho": float(np.mean(sims)) if sims.size else float("nan")}
