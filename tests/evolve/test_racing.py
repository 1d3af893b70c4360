"""Racing: the stages, the margin, the Judge stopping a child that cannot beat the bar (and only then),
what is recorded, resume, and a search that races."""
import math

import numpy as np
import pytest

from evoproxy.evolve.evaluator import Evaluator
from evoproxy.evolve.racing import Race, entry_bar, margin
from evoproxy.evolve.screening import Judge
from evoproxy.evolve.selection import SELECTIONS
from evoproxy.scoring import fitness as fit
from tests.evolve.test_screening import OTHER, TARGET, P, judge_one
from tests.evolve.test_search import search, trace


class Counting(Evaluator):
    """Counts the (program, network) pairs scored."""

    def __init__(self, backend):
        super().__init__(backend)
        self.pairs = 0

    def score_per_network(self, texts, keys):
        self.pairs += len(texts) * len(keys)
        return super().score_per_network(texts, keys)

    def score(self, texts, keys):
        self.pairs += len(texts) * len(keys)
        return super().score(texts, keys)


@pytest.fixture
def racing_judge(backend, keys, accuracies):
    def make(race=Race(), **kw):
        evaluator = Counting(backend)
        return Judge(evaluator, keys[:8], {"synthetic": keys}, accuracies, race=race, **kw), evaluator
    return make


def test_stages_double_from_the_first_slice_and_end_with_every_network():
    assert Race(0.25).stages([48], [8]) == [[12], [24], [48]]
    assert Race(0.25).stages([48, 40], [8, 0]) == [[12, 10], [24, 20], [48, 40]]
    assert Race(0.25).stages([30], [8]) == [[15], [30]]  # a quarter (8) is what the screen scored
    assert Race(1.0).stages([48], [8]) == [[48]]


def test_the_margin_shrinks_with_the_slice_and_vanishes_on_all_networks():
    widths = [margin("kendall", n, 48, 2.0) for n in (6, 12, 24, 47)]
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0
    assert margin("kendall", 48, 48, 2.0) == 0.0
    assert margin("kendall", 2, 48, 2.0) == math.inf
    assert margin("kendall", 12, 48, 2.0) < margin("spearman", 12, 48, 2.0)  # tau's spread is smaller
    assert margin("spearman", 12, 48, 1.0) == pytest.approx(math.sqrt(36 / 47) / math.sqrt(11))


def test_a_child_that_cannot_reach_the_bar_is_raced_out_after_the_first_slice(racing_judge, keys,
                                                                              accuracies):
    judge, evaluator = racing_judge()
    (v,) = judge.judge([P(OTHER)], bar=2.0)  # no correlation reaches 2
    assert v.rejection == "raced-out" and not v.usable and v.fitness is None
    record = v.scores["raced_out"]
    assert record["networks"] == 15 and record["bar"] == 2.0
    scores, _ = judge.evaluator.backend.score([OTHER], keys[:15])
    assert record["partial"] == pytest.approx(fit.kendall(scores[0], accuracies["synthetic"][:15]))
    assert record["bound"] == pytest.approx(record["partial"] + margin("kendall", 15, 30, 2.0))
    assert evaluator.pairs == 8 + 7  # the screen, then the first slice's new networks
    assert "screen_ranks" in v.scores


def test_a_child_above_the_bar_gets_the_fitness_of_full_evaluation(racing_judge, make_judge):
    judge, evaluator = racing_judge()
    (raced,) = judge.judge([P(OTHER)], bar=-1.0)
    full = judge_one(make_judge(), OTHER)
    assert raced.rejection is None and raced.fitness == pytest.approx(full.fitness)
    assert evaluator.pairs == 8 + 30 - 8  # every network once


@pytest.fixture
def make_judge(backend, keys, accuracies):
    def make(**kw):
        return Judge(Evaluator(backend), keys[:8], {"synthetic": keys}, accuracies, **kw)
    return make


def test_without_a_bar_or_with_a_control_nothing_is_raced(racing_judge):
    judge, _ = racing_judge()
    assert judge_one(judge, OTHER).rejection is None  # no bar: a free place in the population
    controlled, _ = racing_judge(control="params")
    (v,) = controlled.judge([P(OTHER)], bar=2.0)
    assert v.rejection is None


def test_a_duplicate_or_remembered_raced_out_child_stays_out(racing_judge):
    judge, _ = racing_judge()
    (first,) = judge.judge([P(OTHER)], bar=2.0)
    (again,) = judge.judge([P(OTHER)], bar=-1.0)
    assert again.rejection == "duplicate" and again.fitness is None
    fresh, evaluator = racing_judge()
    fresh.remember(P(OTHER).hash, first)
    (later,) = fresh.judge([P(f"mul(3.0, {OTHER})")], bar=-1.0)  # ranks like the raced-out one
    assert later.rejection == "raced-out" and evaluator.pairs == 8


def test_the_target_is_never_raced_out_by_a_reachable_bar(racing_judge):
    judge, _ = racing_judge(Race(0.25, 2.0))
    (v,) = judge.judge([P(TARGET)], bar=0.99)
    assert v.rejection is None and v.fitness == pytest.approx(1.0)


def test_the_entry_bar_is_the_worst_member_of_a_full_population_for_replace_worst():
    class Member:
        def __init__(self, value):
            self.value = value
    population = [Member(v) for v in (0.3, 0.1, 0.5)]
    assert entry_bar(population, 3, SELECTIONS.get("diversity").entry_bar) == 0.1
    assert entry_bar(population, 4, SELECTIONS.get("diversity").entry_bar) is None  # a free place
    assert entry_bar(population, 3, SELECTIONS.get("aging").entry_bar) is None  # every child joins


@pytest.mark.slow
def test_a_racing_search_stops_children_records_why_and_repeats(tmp_path):
    _, raced = search(tmp_path, "raced", generations=6, race=True)
    _, again = search(tmp_path, "again", generations=6, race=True)
    assert trace(raced) == trace(again)
    out = [r for r in raced.candidates() if r.rejection == "raced-out"]
    assert out and all(r.generation > 0 and r.scores["raced_out"]["networks"] < 40 for r in out)
    assert sum(s["rejections"].get("raced-out", 0) for s in raced.summaries()) == len(out)
    assert np.isfinite([r.fitness for r in raced.candidates() if r.rejection is None]).all()
