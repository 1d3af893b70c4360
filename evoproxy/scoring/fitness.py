"""Rank agreement between proxy scores and accuracies, and the one invalid-score policy.

Invalid-score policy (applied only in :func:`screen`/:func:`correlate`): a score vector with
any NaN or infinite entry, a constant one, or one where more than ``max_tie_frac`` of the
items share their value with another item is *invalid as a whole* and correlates to NaN.
NaN scores are screened, never dropped: dropping them would judge a proxy that fails on the
hard networks only on the easy ones. The raw metric functions (``kendall`` ...) do no
screening; they return scipy's value (NaN for constant input) without warnings.
"""
from __future__ import annotations

import math

import warnings
from functools import partial
from typing import Callable, Optional

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from evoproxy.errors import EvoproxyError

Metric = Callable[[np.ndarray, np.ndarray], float]

REASONS = ("nan", "inf", "constant", "ties")
EMQ_FRACS = (0.2, 0.5, 1.0)


def _pair(scores: ArrayLike, acc: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    a = np.asarray(acc, dtype=np.float64).ravel()
    if s.shape != a.shape:
        raise ValueError(f"scores and accuracies differ in length ({s.size} vs {a.size})")
    return s, a


def _quiet(fn: Callable[..., object], s: np.ndarray, a: np.ndarray) -> float:
    """``fn(s, a)``'s statistic as a float, NaN for fewer than 2 items, no warnings."""
    if s.size < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(fn(s, a).statistic)  # type: ignore[attr-defined]


def kendall(scores: ArrayLike, acc: ArrayLike) -> float:
    """Kendall tau-b (handles ties in either vector)."""
    return _quiet(partial(stats.kendalltau, variant="b"), *_pair(scores, acc))


def spearman(scores: ArrayLike, acc: ArrayLike) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    return _quiet(stats.spearmanr, *_pair(scores, acc))


def pearson(scores: ArrayLike, acc: ArrayLike) -> float:
    """Pearson linear correlation."""
    return _quiet(stats.pearsonr, *_pair(scores, acc))


def top_indices(scores: ArrayLike, frac: float) -> np.ndarray:
    """Indices of the ``frac`` highest-scored items (at least 2; ties by position)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"top-k fraction must be in (0, 1], got {frac}")
    k = min(s.size, max(2, int(s.size * frac)))
    return np.argsort(-s, kind="stable")[:k]


def topk_spearman(scores: ArrayLike, acc: ArrayLike, frac: float) -> float:
    """Spearman over the proxy's top ``frac`` highest-scored items (EMQ's top-k)."""
    s, a = _pair(scores, acc)
    idx = top_indices(s, frac)
    return spearman(s[idx], a[idx])


def topk_kendall(scores: ArrayLike, acc: ArrayLike, frac: float) -> float:
    """Kendall tau-b over the proxy's top ``frac`` highest-scored items."""
    s, a = _pair(scores, acc)
    idx = top_indices(s, frac)
    return kendall(s[idx], a[idx])


def emq_fitness(scores: ArrayLike, acc: ArrayLike) -> float:
    """EMQ's fitness: mean Spearman over the top 20%, 50% and 100% by proxy score."""
    s, a = _pair(scores, acc)
    return float(np.mean([topk_spearman(s, a, f) for f in EMQ_FRACS]))


METRICS: dict[str, Metric] = {
    "kendall": kendall,
    "spearman": spearman,
    "pearson": pearson,
    "emq": emq_fitness,
    "spearman_top20": partial(topk_spearman, frac=0.2),
    "kendall_top20": partial(topk_kendall, frac=0.2),
}


def tie_fraction(scores: ArrayLike) -> float:
    """Fraction of items whose value equals that of at least one other item."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        return 0.0
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    return float(np.mean(counts[inverse] > 1))


def screen(scores: ArrayLike, max_tie_frac: float = 0.5) -> Optional[str]:
    """Why ``scores`` cannot be ranked ("nan", "inf", "constant", "ties"), or None if valid."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    if np.isnan(s).any():
        return "nan"
    if np.isinf(s).any():
        return "inf"
    if s.size < 2 or np.all(s == s[0]):
        return "constant"
    if tie_fraction(s) > max_tie_frac:
        return "ties"
    return None


def rank_measure(fitness_name: str) -> str:
    """The plain rank correlation a fitness is built on (``emq`` and ``kendall``: Kendall's tau)."""
    return "spearman" if fitness_name == "spearman" else "kendall"


def get_metric(name: str) -> Metric:
    """The metric called ``name``; :class:`EvoproxyError` listing the valid names otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise EvoproxyError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}") from None


def correlate_checked(scores: ArrayLike, acc: ArrayLike, metric: str = "spearman",
                      max_tie_frac: float = 0.5) -> tuple[float, Optional[str]]:
    """``(value, None)``, or ``(nan, reason)`` when the inputs are invalid.

    ``reason`` is one of :data:`REASONS` for the scores, or ``"accuracy <reason>"`` when the
    accuracies themselves hold NaN/inf or are constant.
    """
    fn = get_metric(metric)
    s, a = _pair(scores, acc)
    reason = screen(s, max_tie_frac)
    if reason is None and screen(a, max_tie_frac=1.0) is not None:
        reason = f"accuracy {screen(a, max_tie_frac=1.0)}"
    if reason is not None:
        return float("nan"), reason
    return fn(s, a), None


def partial_correlation(r_xy: float, r_xz: float, r_yz: float) -> float:
    """Partial correlation of x and y with z held fixed, from the three pairwise correlations.

    A proxy that ranks exactly like z (|r_xz| = 1) explains nothing beyond z: 0.
    """
    denom = math.sqrt(max(0.0, (1 - r_xz ** 2) * (1 - r_yz ** 2)))
    return (r_xy - r_xz * r_yz) / denom if denom > 1e-12 else 0.0


def correlate(scores: ArrayLike, acc: ArrayLike, metric: str = "spearman",
              max_tie_frac: float = 0.5) -> float:
    """``metric`` of scores vs accuracies; NaN (never an exception) for invalid scores."""
    return correlate_checked(scores, acc, metric, max_tie_frac)[0]
