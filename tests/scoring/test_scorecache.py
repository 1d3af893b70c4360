"""The score cache: scores kept across workers and runs, keyed so that nothing stale is ever read."""
from __future__ import annotations

import math
import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from evoproxy.benchmarks import get_benchmark
from evoproxy.data.cache import KeyValueCache
from evoproxy.lang.program import parse
from evoproxy.lang.stats import STATS
from evoproxy.scoring.scorecache import FILE, program_key
from evoproxy.scoring.setup import EvalSetup, ScoringConfig
from evoproxy.scoring.worker import Worker

PROGRAMS = ["layer_sum(l2(grad))", "layer_mean(std(weight))", "add(layer_sum(fan_in), 1.0)"]


@pytest.fixture(scope="module")
def keys():
    return [("synthetic", i) for i in get_benchmark("synthetic").sample(4, "search", seed=3)]


def worker(folder, **setup) -> Worker:
    return Worker(EvalSetup(score_cache=str(folder), **setup), get_benchmark)


def test_a_second_worker_reads_every_score_and_probes_nothing(tmp_path, keys):
    first = worker(tmp_path)
    scores, failed = first.score(PROGRAMS, keys)
    assert failed == {} and np.isfinite(scores).all() and first.probes == len(keys)
    second = worker(tmp_path)
    again, _ = second.score(PROGRAMS[::-1], keys[::-1])
    assert second.probes == 0 and second.kept.reused == len(PROGRAMS) * len(keys)
    assert again[::-1, ::-1].tobytes() == scores.tobytes()
    uncached = Worker(EvalSetup(), get_benchmark).score(PROGRAMS, keys)[0]
    assert uncached.tobytes() == scores.tobytes()


def test_only_what_is_missing_is_computed(tmp_path, keys):
    worker(tmp_path).score(PROGRAMS[:1], keys)
    w = worker(tmp_path)
    scores, _ = w.score(PROGRAMS, keys)
    assert w.probes == len(keys) and w.kept.reused == len(keys)   # the first program read, the others probed
    assert np.isfinite(scores).all()


class Undictated:
    """The synthetic benchmark's networks, probed with the run's seed and batch (it dictates neither)."""

    image_set, probe_seed = "cifar10", None

    def __init__(self, name: str) -> None:      # opened by name, as a worker opens benchmarks
        self.inner = get_benchmark("synthetic")

    def build(self, arch_id):
        return self.inner.build(arch_id)

    def probe_batch(self):
        return None

    def network_key(self, arch_id):
        return self.inner.network_key(arch_id)


def test_another_seed_batch_or_statistic_version_is_never_read(tmp_path, keys, monkeypatch):
    def undictated(**setup) -> Worker:
        scoring = ScoringConfig(probe="synthetic", batch_size=setup.pop("batch_size", 4))
        return Worker(EvalSetup(scoring=scoring, score_cache=str(tmp_path), **setup), Undictated)

    first = undictated()
    first.score(PROGRAMS, keys)
    assert first.probes == len(keys)
    same = undictated()
    same.score(PROGRAMS, keys)
    assert same.probes == 0
    for setup in ({"seed": 1}, {"batch_size": 8}):
        w = undictated(**setup)
        w.score(PROGRAMS, keys)
        assert w.probes == len(keys) and w.kept.reused == 0, setup
    worker(tmp_path).score(PROGRAMS, keys)
    before = program_key(parse(PROGRAMS[0]))
    monkeypatch.setitem(STATS._items, "grad", replace(STATS.get("grad"), version=2))
    assert program_key(parse(PROGRAMS[0])) != before
    w = worker(tmp_path)
    w.score(PROGRAMS[:1], keys)
    assert w.probes == len(keys) and w.kept.reused == 0


def test_a_failed_program_is_not_kept_and_nan_is_not_unknown(tmp_path, keys):
    w = worker(tmp_path, timeout_s=0.0)     # out of time after its first network
    _, failed = w.score(PROGRAMS[:1], keys)
    assert failed == {0: "timeout"}
    assert worker(tmp_path).kept.known("", [], []) == {}
    store = KeyValueCache(tmp_path / FILE, "scores", "score cache")
    assert store.db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0
    store.put_many({"a": math.nan, "b": 1.5})
    store.put_many({"b": 2.5})                                    # the first value stays
    got = store.get_many(["a", "b", "c"])
    assert math.isnan(got["a"]) and got["b"] == 1.5 and "c" not in got


def test_an_unusable_cache_is_one_warning_and_scoring_goes_on(tmp_path, keys, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    w = worker(blocker)
    scores, failed = w.score(PROGRAMS, keys)
    assert failed == {} and np.isfinite(scores).all()
    assert capsys.readouterr().err.count("warning: cannot open the score cache") == 1
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / FILE).write_bytes(b"garbage, not SQLite" * 100)
    w = worker(tmp_path / "db")
    assert np.isfinite(w.score(PROGRAMS, keys)[0]).all()
    assert "score cache" in capsys.readouterr().err


def test_benchmarks_without_a_network_key_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(Undictated, "network_key", lambda self, arch_id: None)
    setup = EvalSetup(scoring=ScoringConfig(probe="synthetic", batch_size=4), score_cache=str(tmp_path))
    Worker(setup, Undictated).score(PROGRAMS, [("x", 0), ("x", 1)])
    again = Worker(setup, Undictated)
    again.score(PROGRAMS, [("x", 0), ("x", 1)])
    assert again.probes == 2 and again.kept.reused == 0
    assert sqlite3.connect(str(tmp_path / FILE)).execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0


def test_eval_reads_its_kept_scores_and_a_reinitialised_network_is_another_network(tmp_path, monkeypatch, capsys,
                                                                                 one_thread):
    from evoproxy.app.evaluate import plan_eval
    from evoproxy.cli import main

    monkeypatch.setenv("EVOPROXY_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("EVOPROXY_THREADS", "1")   # scores are kept per thread count (float sums depend on it)
    first = plan_eval("synflow;nwot", "synthetic", "6").run()
    plan = plan_eval("synflow;nwot;params", "synthetic", "6")
    again = plan.run()
    assert plan.kept.reused == 2 * 6 and again.scores[:2].tobytes() == first.scores.tobytes()
    fresh = plan_eval("synflow;nwot;params", "synthetic", "6", score_cache=False)
    assert fresh.kept is None and fresh.run().scores.tobytes() == again.scores.tobytes()
    other = plan_eval("synflow", "synthetic", "6", init="kaiming")
    other.run()
    assert other.kept.reused == 0
    assert main(["eval", "--benchmark", "synthetic", "--proxy", "synflow", "--archs", "6", "--quiet"]) == 0
    assert "6 scores read from the score cache" in capsys.readouterr().out


@pytest.mark.slow
def test_a_search_run_again_reads_its_scores_and_ends_the_same(tmp_path, monkeypatch):
    import evoproxy

    monkeypatch.setenv("EVOPROXY_CACHE_DIR", str(tmp_path / "cache"))
    small = dict(generations=2, population=8, offspring=4, search_archs=16, selection_archs=12, holdout_archs=20,
                 screen_archs=8, baselines=["params", "grad_norm"])
    first = evoproxy.search("experiments/synthetic.toml", out=tmp_path / "a", **small)
    kept = sqlite3.connect(str(tmp_path / "cache" / FILE)).execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    assert kept > 2 * (16 + 12 + 20)
    second = evoproxy.search("experiments/synthetic.toml", out=tmp_path / "b", **small)
    off = evoproxy.search("experiments/synthetic.toml", out=tmp_path / "c", score_cache=False, **small)
    for other in (second, off):
        assert other.hall_of_fame == first.hall_of_fame and other.baselines == first.baselines
