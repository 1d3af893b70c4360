"""Learned baselines: fitted only on the search + selection networks, finite features whatever the
proxies return, one note without scikit-learn, and in the run's report and hall_of_fame.csv."""
import csv
import warnings

import numpy as np
import pytest

import evoproxy
from evoproxy.errors import EvoproxyNote
from evoproxy.evolve import learned
from evoproxy.evolve.report import learned_baselines
from evoproxy.lang.program import parse

pytest.importorskip("sklearn")


class FakeSplits:
    """Two benchmarks; feature 0 is the accuracy itself, feature 1 noise; only "a" has arch features."""

    def __init__(self, n_search=20, n_selection=20, n_holdout=40, seed=0):
        rng = np.random.default_rng(seed)
        sizes = {"search": n_search, "selection": n_selection, "holdout": n_holdout}
        self.keys = {split: {b: [(b, i + 1000 * k) for i in range(n)] for b in ("a", "b")}
                     for k, (split, n) in enumerate(sizes.items())}
        self.search_keys, self.selection_keys, self.holdout_keys = (self.keys[s] for s in sizes)
        self.acc = {split: {b: rng.uniform(50, 90, len(ks)) for b, ks in keys.items()}
                    for split, keys in self.keys.items()}
        self.accuracies, self.selection_acc, self.holdout_acc = (self.acc[s] for s in sizes)
        self.noise = {split: rng.normal(size=2 * n) for split, n in sizes.items()}
        self.asked = []

    def raw_rows(self, programs, split):
        self.asked.append(split)
        signal = np.concatenate([self.acc[split]["a"], self.acc[split]["b"]]) ** 3  # monotone in accuracy
        signal[0] = np.nan   # a proxy that failed on one network
        return np.array([signal, self.noise[split]])[:len(programs)]

    def arch_features(self, split):
        return {"a": [{"x": float(i)} for i in range(len(self.keys[split]["a"]))],
                "b": [None] * len(self.keys[split]["b"])}


FEATURES = [parse("layer_sum(l2(grad))"), parse("params")]


def test_a_model_learns_from_the_search_and_selection_networks_and_ranks_the_holdout():
    splits = FakeSplits()
    entries, predictions = learned_baselines(splits, FEATURES, ["random_forest", "boosted"], seed=0)
    assert [e["name"] for e in entries] == ["random_forest", "boosted"]
    assert sorted(set(splits.asked)) == ["holdout", "search", "selection"]
    for e in entries:
        assert e["trained_on"] == {"a": 40, "b": 40}
        assert all(e["holdout"][b]["kendall"] > 0.7 for b in ("a", "b"))   # feature 0 is the accuracy, cubed
    assert len(predictions["a"]["learned random_forest"]) == 40


def test_a_model_never_sees_the_holdout_accuracies(monkeypatch):
    seen = []
    monkeypatch.setattr(learned, "fit_predict", lambda model, seed, x, y, test: seen.append((x.shape, y.copy(),
                                                                                           test.shape))
                        or np.zeros(len(test)))
    splits = FakeSplits()
    learned_baselines(splits, FEATURES, ["random_forest"], seed=0)
    (x_shape, y, test_shape), _ = seen
    assert x_shape == (40, 2) and test_shape == (40, 2)
    assert np.array_equal(y, np.concatenate([splits.accuracies["a"], splits.selection_acc["a"]]))


def test_graf_adds_architecture_features_and_skips_a_benchmark_without_them():
    entries, predictions = learned_baselines(FakeSplits(), FEATURES, ["graf"], seed=0)
    assert list(entries[0]["holdout"]) == ["a"] and entries[0]["uses_arch"]
    assert "learned graf" in predictions["a"] and "b" not in predictions


def test_without_scikit_learn_the_run_says_how_to_get_it_and_reports_none(monkeypatch):
    monkeypatch.setattr(learned, "available", lambda: False)
    with pytest.warns(EvoproxyNote, match=r"pip install 'evoproxy\[learned\]'"):
        assert learned_baselines(FakeSplits(), FEATURES, ["random_forest"], seed=0) == ([], {})


def test_features_are_made_finite_in_order_and_the_inputs_are_left_alone():
    train = np.array([[1.0, np.nan], [1e300, 2.0], [-5.0, np.inf]])
    test = np.array([[np.inf, -np.inf], [np.nan, 3.0]])
    before = (train.copy(), test.copy())
    a, b = learned.clean(train, test)
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert np.array_equal(np.argsort(a[:, 0]), [2, 0, 1])           # order kept
    assert b[0, 0] > a[:, 0].max() and b[1, 0] < a[:, 0].min()       # +inf above, NaN below everything seen
    assert np.array_equal(train, before[0], equal_nan=True) and np.array_equal(test, before[1], equal_nan=True)
    assert np.all(np.abs(a) < np.finfo(np.float32).max)              # scikit-learn works in float32


def test_a_search_reports_its_learned_baselines_and_writes_them_to_hall_of_fame_csv(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvoproxyNote)
        result = evoproxy.search("experiments/synthetic.toml", out=tmp_path / "run", generations=1, population=6,
                                 offspring=2, search_archs=12, selection_archs=12, holdout_archs=16,
                                 screen_archs=4, hall_of_fame=1, ensemble_size=0,
                                 baselines=["params", "snip", "l2_norm"], learned=["random_forest", "graf"])
    assert [m.name for m in result.learned] == ["random_forest"]   # synthetic networks have no arch features
    assert result.learned[0].trained_on == {"synthetic": 24}
    assert "learned random_forest" in result.holdout_scores["synthetic"]["scores"]
    with open(tmp_path / "run" / "hall_of_fame.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "learned"]
    assert [r["name"] for r in rows] == ["random_forest"] and float(rows[0]["holdout_kendall[synthetic]"]) > 0
