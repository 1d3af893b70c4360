"""Selection with replacement: a member may join again, weighting its log-rank; off by default."""
import numpy as np

from evoproxy.evolve.ensemble import ensemble_program, forward_select, log_ranks
from evoproxy.lang.program import parse


def candidates(n=300, seed=0):
    rng = np.random.default_rng(seed)
    good, other = rng.normal(size=n), rng.normal(size=n)
    acc = 2.0 * good + other + 0.3 * rng.normal(size=n)   # the first term matters twice as much
    return np.array([good, other]), acc


def test_with_repeats_the_stronger_member_joins_twice_and_the_fit_improves():
    matrix, acc = candidates()
    plain = forward_select(matrix, [acc], "spearman", "mean", 4)
    weighted = forward_select(matrix, [acc], "spearman", "mean", 4, repeats=True)
    assert plain.members == (0, 1)
    assert weighted.members.count(0) >= 2 and 1 in weighted.members
    assert weighted.fitness > plain.fitness
    combined = log_ranks(matrix, [len(acc)])[list(weighted.members)].sum(axis=0)
    assert np.corrcoef(np.argsort(np.argsort(combined)), np.argsort(np.argsort(acc)))[0, 1] > plain.fitness - 1e-9


def test_a_repeated_member_is_written_once_with_its_weight():
    a, b = parse("params"), parse("layer_sum(l2(grad))")
    assert ensemble_program([a, b, a]).text == "add(mul(2.0, log(rank(params))), log(rank(layer_sum(l2(grad)))))"
    assert ensemble_program([a, a]).text == "params"          # one distinct member: itself
    assert ensemble_program([a, b]).text == "add(log(rank(params)), log(rank(layer_sum(l2(grad)))))"
