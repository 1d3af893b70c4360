"""Behavioural diversity, the three splits, the hall of fame chosen on the selection split, and
evolved ensembles (forward selection over log-ranks)."""
import json

import numpy as np
import pytest
from scipy.stats import rankdata

from evoproxy.lang.program import parse
from evoproxy.lang.types import SET
from evoproxy.scoring import fitness as fit
from evoproxy.evolve.diversity import (better, distinct, diversity, pairwise, rank_vector, similarities, similarity,
                                       twin_of)
from evoproxy.evolve.ensemble import ensemble_program, forward_select, log_ranks
from evoproxy.evolve.gp import Individual
from evoproxy.evolve.splits import per_benchmark
from evoproxy.evolve.report import finalists, hall_of_fame
from tests.evolve.test_search import search

FORMULAS = ["layer_sum(l2(grad))", "layer_sum(l1(grad))", "layer_mean(l2(weight))", "layer_sum(abs(mean(act)))"]


def ind(text: str, value: float, ranks, born: int = 0) -> Individual:
    return Individual(parse(text), value, born, list(ranks))


def test_rank_vector_ranks_each_benchmark_block_on_its_own():
    scores = np.array([3.0, 1.0, 2.0, 10.0, 10.0])
    assert rank_vector(scores, [3, 2]) == [6, 2, 4, 3, 3]  # twice the average ranks: ties stay integers


def test_similarity_is_the_rank_correlation():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=30), rng.normal(size=30)
    ra, rb = rank_vector(a, [30]), rank_vector(b, [30])
    assert similarity(ra, rb) == pytest.approx(fit.spearman(a, b))
    assert similarity(ra, ra) == pytest.approx(1.0)
    assert np.isnan(similarity(ra, None)) and np.isnan(similarity(ra, ra[:10]))


def test_twins_count_as_one_and_the_better_smaller_is_kept():
    base = list(range(20))
    near = base[:]
    near[0], near[1] = near[1], near[0]  # one swap: rank correlation .9985
    far = base[::-1]
    big = ind("layer_sum(sqrt(square(l2(grad))))", 0.5, near, 1)
    small = ind("layer_sum(l2(grad))", 0.5, base, 2)
    other = ind("layer_mean(l2(weight))", 0.3, far, 3)
    assert twin_of(big, [small, other], 0.99) is small
    assert twin_of(big, [small, other], 0.999) is None  # the threshold is what decides
    assert better(small, big) and not better(big, small)  # equal fitness: parsimony
    assert better(ind("layer_sum(sqrt(square(l2(grad))))", 0.6, near), small)  # fitness first
    kept = distinct([big, other, small], 0.99)
    assert kept == [small, other]
    d = diversity([big, small, other], 0.99)
    assert d["distinct"] == 2 and d["size"] == 3
    assert d["mean_rho"] == pytest.approx(np.mean([similarity(big.ranks, small.ranks), similarity(near, far),
                                                   similarity(small.ranks, far)]))


def test_all_at_once_similarities_are_the_pairwise_ones():
    """twins_of and diversity compare in one product of cached unit vectors (a corrcoef per pair took minutes
    for a population of 1,000, issue 39); unknown, constant and short behaviours as before."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=24)
    behaviours = [rank_vector(base + rng.normal(size=24) * s, [24]) for s in rng.uniform(0, 2, size=30)]
    behaviours += [None, [4] * 24, [4] * 24, [5] * 24, list(range(10)), [1]]
    pop = [Individual(parse(FORMULAS[i % 4]), 0.1, i, ranks) for i, ranks in enumerate(behaviours)]
    matrix = pairwise(pop)
    for i, a in enumerate(pop):
        row = similarities(a, pop)
        want = np.array([similarity(a.ranks, b.ranks) for b in pop])
        assert np.array_equal(np.isnan(row), np.isnan(want)) and np.array_equal(np.isnan(matrix[i]), np.isnan(want))
        assert np.allclose(row[~np.isnan(want)], want[~np.isnan(want)], rtol=0, atol=1e-12)
        assert np.allclose(matrix[i][~np.isnan(want)], want[~np.isnan(want)], rtol=0, atol=1e-12)
    assert matrix[31, 32] == 1.0 and np.isnan(matrix[31, 33])   # two equal constants: one behaviour


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    result, store = search(tmp_path_factory.mktemp("diversity"), generations=8, selection_archs=30, hall_of_fame=4,
                           baselines=("params", "l2_norm", "snip"), ensemble_size=3)
    return result.report, store     # the stored report document


def _search_object(store, transfer=False):
    """A Search over the finished run's store (resumes; nothing to run)."""
    from evoproxy.app.search import open_benchmarks
    from evoproxy.backends import make_backend
    from evoproxy.app.search import eval_setup
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.evolve.config import from_dict
    from evoproxy.evolve.loop import Search

    cfg = from_dict(store.load_config())
    backend = make_backend("serial", eval_setup(cfg), get_benchmark, 1, None)
    others = {n: get_benchmark(n) for n in cfg.task.transfer} if transfer else None
    s = Search(cfg, backend, open_benchmarks(cfg).searched, store, transfer=others)
    s.run()
    return s, backend


def test_the_three_splits_are_disjoint_and_the_population_holds_no_twins(run):
    report, store = run
    s, backend = _search_object(store)
    try:
        ids = {name: {a for _, a in keys["synthetic"]} for name, keys in
               (("search", s.splits.search_keys), ("selection", s.splits.selection_keys), ("holdout", s.splits.holdout_keys))}
        assert [len(v) for v in ids.values()] == [40, 30, 60]
        assert not ids["search"] & ids["selection"] and not ids["search"] & ids["holdout"]
        assert not ids["selection"] & ids["holdout"]
        pop = s.population
        assert all(m.ranks is not None for m in pop)
        for i, a in enumerate(pop):
            assert all(similarity(a.ranks, b.ranks) < s.config.evolution.same_behaviour for b in pop[i + 1:])
        hof = hall_of_fame(s)
        for i, a in enumerate(hof):
            assert all(similarity(a.ranks, b.ranks) < s.config.evolution.same_behaviour for b in hof[i + 1:])
        # chosen on the selection split: best first there, and no finalist left out beats the last kept
        chosen = [s.splits.selection_fitness(f) for f in s.splits.selection_many([i.program for i in hof])]
        assert chosen == sorted(chosen, reverse=True)
        left = [i for i in finalists(s) if i not in hof]
        assert all(s.splits.selection_fitness(s.splits.selection_many([i.program])[0]) <= chosen[-1] for i in left)
    finally:
        backend.close()
    for summary in store.summaries():
        d = summary["diversity"]
        assert d["distinct"] == d["size"] and -1 <= d["mean_rho"] <= 1
        assert "best_selection" in summary


def test_the_report_has_selection_figures_and_an_ensemble_that_evaluates_as_reported(run):
    report, store = run
    assert all("selection" in e for e in report["hall_of_fame"] + report["baselines"])
    ens = report["ensemble"]
    assert 1 <= len(ens["members"]) <= 3
    assert ens["trace"] == sorted(ens["trace"]) and ens["trace"][-1] == ens["selection_fitness"]
    s, backend = _search_object(store)
    try:  # the exported formula, scored on the selection networks, has the fitness forward selection saw
        program = parse(ens["formula"])
        figures = s.splits.selection_many([program])[0]
        assert s.splits.selection_fitness(figures) == pytest.approx(ens["selection_fitness"], abs=1e-9)
        assert s.splits.holdout_many([program])[0] == ens["holdout"]
    finally:
        backend.close()


def test_forward_selection_finds_the_members_that_carry_the_signal():
    rng = np.random.default_rng(1)
    n = 200
    a, b = rng.normal(size=n), rng.normal(size=n)
    acc = rankdata(a) + rankdata(b)  # needs both
    noise = [rng.normal(size=n) for _ in range(4)]
    matrix = np.array([noise[0], a, noise[1], b, noise[2], a + 0.01 * noise[3]])
    ens = forward_select(matrix, [acc], "kendall", "mean", 4)
    assert set(ens.members[:2]) in ({1, 3}, {5, 3})
    assert ens.fitness > fit.kendall(a, acc) + 0.1
    total = log_ranks(matrix, [n])[list(ens.members)].sum(axis=0)
    assert ens.fitness == pytest.approx(fit.kendall(total, acc))
    assert forward_select(matrix, [acc], "kendall", "mean", 1).members == (ens.members[0],)


def test_log_ranks_rank_within_each_block_and_nan_lowest():
    m = np.array([[1.0, 3.0, 2.0, np.nan, 5.0]])
    out = log_ranks(m, [3, 2])
    assert np.allclose(np.exp(out), [[1 / 3, 1, 2 / 3, 1 / 2, 1]])


def test_ensemble_program_is_one_formula():
    ms = [parse(f) for f in FORMULAS[:3]]
    p = ensemble_program(ms)
    assert p.text.count("log(rank(") == 3 and p.vtype.kind == SET
    assert ensemble_program(ms[:1]) is ms[0]


def _small_transfer() -> str:
    from functools import partial

    from evoproxy.benchmarks import BENCHMARKS, BenchmarkInfo, register_benchmark
    from evoproxy.benchmarks.synthetic import SyntheticBenchmark

    def factory(data_dir=None, split_seed=0, metric="test_200ep", n=12):
        return SyntheticBenchmark("layer_mean(l1(weight))", n, split_seed)
    if "synthetic-12" not in BENCHMARKS:
        register_benchmark(BenchmarkInfo("synthetic-12", partial(factory)))
    return "synthetic-12"


@pytest.mark.slow
def test_transfer_figures_and_a_finalist_not_finite_there_is_left_out(tmp_path):
    name = _small_transfer()
    report, store = search(tmp_path, generations=3, transfer=(name,), baselines=("params",), ensemble_size=2)
    report = report.report
    for e in report["hall_of_fame"] + report["baselines"] + [report["ensemble"]]:
        fig = e["transfer"][name]
        assert -1 <= fig["kendall"] <= 1
    assert all(e["transfer"][name]["invalid"] == 0 for e in report["hall_of_fame"])
    s, backend = _search_object(store, transfer=True)
    try:
        before = finalists(s)
        dropped = before[0]
        s.splits.transfers = lambda p: p.hash != dropped.program.hash  # as if NaN on a transfer network
        assert dropped not in finalists(s) and dropped not in hall_of_fame(s)
        assert len(finalists(s)) == len(before) - 1
    finally:
        backend.close()


def test_export_ensemble_gives_the_reported_formula_and_refuses_python(run):
    from evoproxy.app.exports import export_run
    from evoproxy.errors import EvoproxyError

    report, store = run
    doc = json.loads(export_run(str(store.run_dir), "json", ensemble=True))
    assert doc["formula"] == report["ensemble"]["formula"] and doc["holdout"] == report["ensemble"]["holdout"]
    text = export_run(str(store.run_dir), "text", ensemble=True)
    assert text.endswith(report["ensemble"]["formula"])
    if len(report["ensemble"]["members"]) > 1:
        with pytest.raises(EvoproxyError, match="export it as json"):
            export_run(str(store.run_dir), "python", ensemble=True)


def test_a_child_twin_of_two_members_replaces_both_when_it_beats_them():
    from types import SimpleNamespace

    from evoproxy.evolve.loop import Search
    from evoproxy.evolve.selection import SELECTIONS

    base = list(range(20))
    a, b = base[:], base[:]
    a[0], a[1] = a[1], a[0]
    b[18], b[19] = b[19], b[18]  # a and b: each .9985 like base, .997 like each other
    far = base[::-1]
    pop = [ind("layer_sum(l1(grad))", 0.5, a, 1), ind("layer_sum(l2(grad))", 0.4, b, 2),
           ind("layer_mean(l2(weight))", 0.3, far, 3)]
    fake = SimpleNamespace(population=list(pop), selection=SELECTIONS.get("tournament"),
                           config=SimpleNamespace(evolution=SimpleNamespace(same_behaviour=0.998, population=3)))
    child = ind("layer_sum(l1(abs(grad)))", 0.6, base, 4)
    Search._replace(fake, child)
    assert fake.population == [child, pop[2]]  # one behaviour now, and a free place
    newcomer = ind("layer_mean(l1(act))", 0.1, [5, 3, 1, 7, 9, 2, 4, 6, 8, 0, 11, 13, 10, 12, 15, 14, 17, 16, 19, 18], 5)
    Search._replace(fake, newcomer)
    assert newcomer in fake.population and len(fake.population) == 3  # fills the free place
    weaker = ind("layer_sum(sqrt(l1(grad)))", 0.55, a, 6)
    Search._replace(fake, weaker)
    assert weaker not in fake.population  # a twin that does not beat its twin is dropped


def test_distinct_stops_at_its_limit_with_the_same_first_members():
    rng = np.random.default_rng(3)
    members = [ind(FORMULAS[i % 4], float(v), rank_vector(rng.normal(size=20), [20]), i)
               for i, v in enumerate(rng.uniform(size=40))]
    whole = distinct(members, 0.9)
    assert distinct(members, 0.9, 5) == whole[:5]


def test_the_report_steps_score_each_program_once_per_split(run):
    """The baselines' raw scores on the search, selection and holdout networks are shared by the report's
    steps (figures, the ensemble, the learned baselines) instead of being scored again."""
    _, store = run
    s, backend = _search_object(store)
    try:
        calls = []
        real = s.splits.evaluator.score
        s.splits.evaluator.score = lambda texts, keys: calls.append(list(texts)) or real(texts, keys)
        programs = [parse("layer_sum(l2(weight))"), parse("layer_sum(l1(grad))")]
        figures = s.splits.holdout_many(programs)
        again = s.splits.raw_rows(programs, "holdout")
        s.splits.search_scores(programs)
        s.splits.raw_rows(programs[::-1], "search")
        assert len(calls) == 2   # one holdout pass, one search pass
        assert [per_benchmark(row, s.splits.holdout_keys, s.splits.holdout_acc) for row in again] == figures
    finally:
        backend.close()
