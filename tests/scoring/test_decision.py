"""Decision figures: the network a proxy's top-k would pick, its regret, and nDCG@k."""
import numpy as np
import pytest

from evoproxy.scoring.decision import ndcg_at_k, top_k_pick

ACC = np.linspace(50.0, 90.0, 200)


def test_a_perfect_proxy_picks_the_oracles_network_and_a_reversed_one_the_worst():
    perfect = top_k_pick(ACC, ACC, k=1, n=100, draws=20)
    assert perfect.accuracy == perfect.oracle and perfect.regret == 0.0
    reversed_ = top_k_pick(-ACC, ACC, k=1, n=100, draws=20)
    assert reversed_.accuracy < 55.0 < 85.0 < reversed_.oracle


def test_more_picks_never_lower_the_best_and_random_scores_fall_between():
    noisy = ACC + np.random.default_rng(1).normal(0, 8, len(ACC))
    top1, top10 = (top_k_pick(noisy, ACC, k=k, n=100, draws=50) for k in (1, 10))
    assert top1.accuracy <= top10.accuracy <= top10.oracle
    chance = top_k_pick(np.random.default_rng(2).normal(size=len(ACC)), ACC, k=1, n=100, draws=200)
    assert abs(chance.accuracy - ACC.mean()) < 3.0


def test_nan_scores_rank_last_and_constant_scores_gain_no_more_than_chance():
    scores = ACC.copy()
    scores[-1] = np.nan   # the best network's score failed: the proxy cannot pick it
    assert top_k_pick(scores, ACC, k=1, n=200, draws=1).accuracy == ACC[-2]
    flat = np.zeros(len(ACC))
    assert ndcg_at_k(flat, ACC, 10) < ndcg_at_k(ACC + np.random.default_rng(3).normal(0, 2, len(ACC)), ACC, 10)


def test_ndcg_is_one_for_the_ideal_order_and_below_for_another():
    assert ndcg_at_k(ACC, ACC, 10) == pytest.approx(1.0)
    assert ndcg_at_k(-ACC, ACC, 10) < 0.05   # its top 10 are the ten worst networks
    assert 0 < ndcg_at_k(np.roll(ACC, 5), ACC, 10) < 1


def test_inputs_are_left_alone_and_a_bad_k_is_refused():
    scores = ACC.copy()
    top_k_pick(scores, ACC, k=3, n=50)
    ndcg_at_k(scores, ACC, 5)
    assert np.array_equal(scores, ACC)
    with pytest.raises(ValueError, match="k="):
        top_k_pick(ACC, ACC, k=0, n=10)
    with pytest.raises(ValueError, match="replace=True"):
        top_k_pick(ACC, ACC, k=1, n=1000)
    assert top_k_pick(ACC, ACC, k=1, n=1000, replace=True, draws=3).regret == 0.0
