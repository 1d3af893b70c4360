"""Rank metrics vs scipy, top-k selection, and the invalid-score policy."""
import warnings

import numpy as np
import pytest
from scipy import stats

from evoproxy.errors import EvoproxyError
from evoproxy.scoring.fitness import (METRICS, correlate, correlate_checked, emq_fitness, kendall, pearson,
                              screen, spearman, tie_fraction, top_indices, topk_kendall, topk_spearman)


def test_hand_checked_small_cases():
    # one swapped pair out of 6: tau = (5 - 1) / 6; sum d^2 = 2: rho = 1 - 6*2/(4*15)
    assert kendall([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)
    assert spearman([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(0.8)
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)


def test_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    s, a = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
    assert kendall(s, a) == pytest.approx(stats.kendalltau(s, a, variant="b").statistic)
    assert spearman(s, a) == pytest.approx(stats.spearmanr(s, a).statistic)
    assert pearson(s, a) == pytest.approx(stats.pearsonr(s, a).statistic)


def test_topk_uses_proxy_top_items():
    scores = np.array([10.0, 9, 8, 1, 2, 3])
    acc = np.array([1.0, 3, 2, 9, 8, 7])
    assert sorted(top_indices(scores, 0.5)) == [0, 1, 2]
    assert topk_spearman(scores, acc, 0.5) == pytest.approx(spearman([10, 9, 8], [1, 3, 2]))
    assert topk_kendall(scores, acc, 0.5) == pytest.approx(kendall([10, 9, 8], [1, 3, 2]))
    assert topk_spearman(scores, acc, 1.0) == pytest.approx(spearman(scores, acc))
    assert len(top_indices(np.arange(10), 0.01)) == 2  # never fewer than 2 items
    with pytest.raises(ValueError):
        top_indices(scores, 0.0)


def test_emq_fitness():
    x = np.arange(20.0)
    assert emq_fitness(x, x) == pytest.approx(1.0)
    assert emq_fitness(x, -x) == pytest.approx(-1.0)
    rng = np.random.default_rng(1)
    s, a = rng.normal(size=50), rng.normal(size=50)
    want = np.mean([topk_spearman(s, a, f) for f in (0.2, 0.5, 1.0)])
    assert emq_fitness(s, a) == pytest.approx(want)
    assert METRICS["emq"](s, a) == pytest.approx(want)


def test_screen_reasons():
    assert screen([1.0, np.nan, 2.0]) == "nan"
    assert screen([1.0, np.inf, 2.0]) == "inf"
    assert screen([3.0, 3.0, 3.0]) == "constant"
    assert screen([1.0]) == "constant"
    assert tie_fraction([1, 1, 2, 3]) == 0.5
    assert screen([1.0, 1, 2, 3]) is None  # exactly at the threshold is allowed
    assert screen([1.0, 1, 1, 2, 3]) == "ties"
    assert screen([1.0, 1, 1, 2, 3], max_tie_frac=0.7) is None
    assert screen([0.5, 2.0, -1.0]) is None


def test_nan_scores_are_screened_not_dropped():
    acc = np.arange(100.0)
    scores = acc.copy()
    scores[7] = np.nan  # 99 perfect scores plus one failure: the vector is invalid as a whole
    assert np.isnan(correlate(scores, acc))
    assert correlate_checked(scores, acc) == (pytest.approx(np.nan, nan_ok=True), "nan")


def test_correlate_never_warns_or_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(correlate([2.0, 2.0, 2.0], [1, 2, 3]))
        assert np.isnan(spearman([2.0, 2.0, 2.0], [1, 2, 3]))
        assert np.isnan(topk_spearman([5.0, 5, 1, 2, 3, 4], [1.0, 2, 3, 4, 5, 6], 0.34))
        assert correlate_checked([1.0, 2, 3], [np.nan, 1, 2])[1] == "accuracy nan"
        for name in METRICS:
            assert np.isfinite(correlate([1.0, 3, 2, 5, 4], [1, 2, 3, 4, 5], metric=name))


def test_unknown_metric():
    with pytest.raises(EvoproxyError, match="spearman"):
        correlate([1, 2], [1, 2], metric="nope")
