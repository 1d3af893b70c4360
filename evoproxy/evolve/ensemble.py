"""Evolved ensembles: greedy forward selection of programs, aggregated by AZ-NAS's sum of log-ranks.

Candidates are scored once on the selection networks. Starting from the best single one, the
member whose addition most raises the ensemble's fitness (the run's metric, combined over
benchmarks) joins, until none raises it or ``max_members`` is reached. The result is one
set-level formula, ``add(log(rank(A)), log(rank(B)), ...)`` nested pairwise, that exports and
evaluates like any program.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Sequence

import numpy as np
from scipy.stats import rankdata

from evoproxy.lang.program import Program, parse
from evoproxy.scoring import fitness as fit
from evoproxy.evolve.splits import combined

MIN_GAIN = 1e-4


@dataclass(frozen=True)
class Ensemble:
    members: tuple[int, ...]  # indices into the candidates, in the order they joined
    fitness: float  # on the selection networks
    trace: tuple[float, ...]  # fitness after each member joined


def log_ranks(matrix: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """log(rank / n) of each row within each benchmark's block; NaN ranks lowest (as ``rank``)."""
    out, start = np.empty_like(matrix, dtype=np.float64), 0
    for n in lengths:
        block = matrix[:, start:start + n]
        block = np.where(np.isfinite(block), block, -np.inf)
        out[:, start:start + n] = np.log(rankdata(block, axis=1) / n)
        start += n
    return out


def ensemble_fitness(row: np.ndarray, accs: Sequence[np.ndarray], metric: str, combine: str) -> float:
    values, start = [], 0
    for acc in accs:
        values.append(fit.correlate(row[start:start + len(acc)], acc, metric, 1.0))
        start += len(acc)
    return combined(values, combine)


def forward_select(matrix: np.ndarray, accs: Sequence[np.ndarray], metric: str, combine: str,
                   max_members: int, repeats: bool = False) -> Ensemble:
    """Greedy forward selection over the rows of ``matrix`` (candidates x selection networks);
    ``repeats``: a candidate may join again (selection with replacement, Caruana et al. 2004), which
    weights the members by how often they joined."""
    logr = log_ranks(matrix, [len(a) for a in accs])
    members: list[int] = []
    total = np.zeros(matrix.shape[1])
    best, trace = -np.inf, []
    while len(members) < max_members:
        gains = [(ensemble_fitness(total + logr[i], accs, metric, combine), -i)
                 for i in range(len(logr)) if repeats or i not in members]
        if not gains:
            break
        value, neg_i = max(gains)
        if members and value < best + MIN_GAIN:
            break
        members.append(-neg_i)
        total, best = total + logr[-neg_i], value
        trace.append(value)
    return Ensemble(tuple(members), float(best), tuple(trace))


def ensemble_program(members: Sequence[Program]) -> Program:
    """One formula: the member itself, or the sum of the members' log-ranks, a member that joined
    ``w`` times weighted by ``w``."""
    weights = {m.text: 0 for m in members}
    for m in members:
        weights[m.text] += 1
    if len(weights) == 1:
        return members[0]
    terms = [f"log(rank({t}))" if w == 1 else f"mul({w}.0, log(rank({t})))" for t, w in weights.items()]
    return parse(reduce(lambda a, b: f"add({a}, {b})", terms))
