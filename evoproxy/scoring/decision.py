"""What a proxy's user gets from it: the network a NAS run would pick, not only a rank correlation.

A user draws ``n`` candidate networks, trains the proxy's top ``k`` and keeps the best of those; the
figure is that network's accuracy (mean over ``draws`` seeded draws) and its regret, the oracle's
best of the ``n`` minus it. nDCG@k says how much of the ideal top-``k`` ordering the proxy's top
``k`` recovers. A score that is NaN ranks lowest, as in every figure here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pick:
    k: int
    n: int
    draws: int
    accuracy: float
    """Mean over draws of the best accuracy among the proxy's top ``k`` of ``n`` candidates."""
    oracle: float
    """Mean over draws of the best accuracy among the ``n`` candidates."""

    @property
    def regret(self) -> float:
        return self.oracle - self.accuracy


def _order(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices by score, best first; NaN last; ties broken at random (a user cannot break them better)."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    jitter = rng.permutation(len(s))
    return np.lexsort((jitter, -s))


def top_k_pick(scores, accuracy, k: int, n: int, draws: int = 50, seed: int = 0,
               replace: bool = False) -> Pick:
    """The best accuracy among the top ``k`` by score of ``n`` candidates drawn from the pool
    (``replace``: with replacement, for ``n`` up to any size), averaged over ``draws`` draws."""
    scores, accuracy = np.asarray(scores, float), np.asarray(accuracy, float)
    if not 1 <= k <= n or (n > len(scores) and not replace):
        raise ValueError(f"need 1 <= k <= n <= {len(scores)} networks (or replace=True), got k={k}, n={n}")
    rng = np.random.default_rng(seed)
    picked, best = [], []
    for _ in range(draws):
        idx = rng.choice(len(scores), size=n, replace=replace)
        top = idx[_order(scores[idx], rng)[:k]]
        picked.append(accuracy[top].max())
        best.append(accuracy[idx].max())
    return Pick(k, n, draws, float(np.mean(picked)), float(np.mean(best)))


def ndcg_at_k(scores, accuracy, k: int, seed: int = 0) -> float:
    """Normalised discounted cumulative gain of the proxy's top ``k``, with gains the accuracies
    shifted so the worst network gains 0 (1: the top ``k`` in the ideal order)."""
    scores, accuracy = np.asarray(scores, float), np.asarray(accuracy, float)
    gain = accuracy - accuracy.min()
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.sort(gain)[::-1][:k] @ discount[:min(k, len(gain))]
    got = gain[_order(scores, np.random.default_rng(seed))[:k]] @ discount[:min(k, len(gain))]
    return float(got / ideal) if ideal > 0 else float("nan")
