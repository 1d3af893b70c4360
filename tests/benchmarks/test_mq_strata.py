"""Budget strata (ground truth where the allocator decides), the within-budget fitness and the cache of
measured top-1 that makes each configuration measured once."""
from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from evoproxy.backends.serial import SerialBackend
from evoproxy.benchmarks import get_benchmark
from evoproxy.benchmarks.checkpoints import load_reference
from evoproxy.benchmarks.mq.build import COLUMNS, MQMethod, Stratum, build_mq_table, plan_stratum, read_rows
from evoproxy.benchmarks.mq.measured import MeasuredTop1, open_measured, recipe_key
from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.evolve.evaluator import Evaluator
from evoproxy.evolve.screening import Judge
from evoproxy.lang.program import parse
from evoproxy.scoring import fitness as fit
from evoproxy.scoring.setup import EvalSetup
from evoproxy.spaces.bitconfig import BitSpace

from tests.datahelp import needs_cifar

METHOD = MQMethod(model="resnet8", calib_images=32, test_limit=64)


def test_a_stratum_is_distinct_seeded_and_inside_its_window(space) -> None:
    budget = space.size_mb(space.uniform(3)) * 1.05
    plan = plan_stratum(space, 20, 4, budget, 0.05)
    assert len({c.canonical for c in plan}) == 20 and plan == plan_stratum(space, 20, 4, budget, 0.05)
    assert all(budget * 0.95 <= space.size_mb(c) <= budget for c in plan)
    assert len({c.bits for c in plan}) == 20 and plan != plan_stratum(space, 20, 5, budget, 0.05)


def test_a_budget_outside_the_sizes_is_one_line(space) -> None:
    with pytest.raises(EvoproxyError, match="widen --tolerance or choose a budget inside") as e:
        plan_stratum(space, 3, 0, space.size_mb(space.uniform(2)) * 0.5, 0.03)
    assert "\n" not in str(e.value)


def test_the_cache_measures_once_across_instances_and_keeps_the_first_value(tmp_path) -> None:
    path, calls = tmp_path / "c.sqlite", []

    def measure(value):
        return lambda: calls.append(value) or value
    first, second = MeasuredTop1(path), MeasuredTop1(path)
    assert first.get_or_measure("r", "w8-2|a8", "stratum", measure(71.234)) == 71.23
    assert second.get_or_measure("r", "w8-2|a8", "allocate", measure(10.0)) == 71.23  # measured by the other
    assert second.get_or_measure("other recipe", "w8-2|a8", "allocate", measure(12.0)) == 12.0
    first.put("r", "w8-3|a8", 50.0, "stratum")
    second.put("r", "w8-3|a8", 60.0, "allocate")  # a second writer of the same key: the first value stays
    assert calls == [71.234, 12.0] and (first.measured, second.measured, second.reused) == (1, 1, 1)
    rows = sqlite3.connect(path).execute("SELECT config, top1, origin FROM top1 WHERE recipe = 'r' "
                                         "ORDER BY config").fetchall()
    assert rows == [("w8-2|a8", 71.23, "stratum"), ("w8-3|a8", 50.0, "stratum")]


def test_a_damaged_or_unwritable_cache_is_one_warning_and_the_work_goes_on(tmp_path, capsys) -> None:
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database" * 100)
    blocked = tmp_path / "a file"
    blocked.write_text("x")
    for path in (damaged, blocked / "c.sqlite"):
        cache = MeasuredTop1(path)
        assert cache.get_or_measure("r", "cfg", "o", lambda: 3.0) == 3.0
        assert cache.get_or_measure("r", "cfg", "o", lambda: 4.0) == 3.0  # still once, in this process
        err = capsys.readouterr().err.strip()
        assert err.startswith("warning: cannot") and "EVOPROXY_CACHE_DIR" in err and len(err.splitlines()) == 1


def test_the_recipe_key_separates_checkpoints_methods_and_test_subsets() -> None:
    keys = {recipe_key("a" * 64, MQMethod(), 0), recipe_key("b" * 64, MQMethod(), 0),
            recipe_key("a" * 64, MQMethod(calib_images=32), 0), recipe_key("a" * 64, MQMethod(test_limit=64), 0),
            recipe_key("a" * 64, MQMethod(test_limit=64), 1)}
    assert len(keys) == 5
    assert recipe_key("a" * 64, MQMethod(), 0) == recipe_key("a" * 64, MQMethod(), 1)  # the whole test set


def test_the_shipped_table_reads_as_sampled_and_its_rows_are_never_measured_again() -> None:
    bench = get_benchmark("mq-resnet20-cifar10")
    assert set(bench.origin.values()) == {"sampled"}
    for i in bench.arch_ids()[:5]:
        assert bench.measure(bench.configs[i]) == bench.accuracy(i)
    assert bench.measured_counts() == "0 configurations measured, 5 known already"


def test_the_within_budget_fitness_ignores_differences_between_strata() -> None:
    """Two strata where a formula orders each perfectly but ranks the pooled networks badly: the
    within-budget fitness (mean of per-stratum Kendall, strata as benchmarks) is 1."""
    bench = get_benchmark("synthetic")
    keys = [("synthetic", i) for i in bench.sample(24, "search", seed=0)]
    low, high = keys[:12], keys[12:]
    acc = {"low": bench.accuracies([i for _, i in low]) + 100,    # the low stratum is better everywhere
           "high": bench.accuracies([i for _, i in high])}
    judge = Judge(Evaluator(SerialBackend(EvalSetup(), get_benchmark)), low[:6], {"low": low, "high": high}, acc,
                  metric="kendall")
    (verdict,) = judge.judge([parse("layer_sum(l2(grad))")])
    assert verdict.fitness == pytest.approx(1.0)
    assert verdict.scores["per_benchmark"] == {"low": pytest.approx(1.0), "high": pytest.approx(1.0)}
    pooled, _ = judge.evaluator.score(["layer_sum(l2(grad))"], keys)
    assert fit.kendall(pooled[0], np.concatenate([acc["low"], acc["high"]])) < 0.5


@needs_cifar
def test_a_stratum_build_records_its_origin_and_reuses_measurements(tmp_path, checkpoint, monkeypatch) -> None:
    import evoproxy.training.loop as loop

    calls = []
    real = loop.evaluate_accuracy
    monkeypatch.setattr(loop, "evaluate_accuracy", lambda *a, **k: calls.append(1) or real(*a, **k))
    space = BitSpace(load_reference(checkpoint, "resnet8")[0])
    stratum = Stratum(space.size_mb(space.uniform(3)) * 1.05, 0.05)
    out = build_mq_table(tmp_path / "s.csv", 3, checkpoint, method=METHOD, stratum=stratum)
    rows = read_rows(out)
    assert [r["origin"] for r in rows] == ["stratum"] * 3 and len(calls) == 3
    with open(out) as f:
        assert tuple(next(csv.reader(f))) == COLUMNS
    again = build_mq_table(tmp_path / "again.csv", 3, checkpoint, method=METHOD, stratum=stratum)
    assert read_rows(again) == rows and len(calls) == 3      # every configuration came from the cache
    cache = open_measured()
    assert cache.get(recipe_key(load_reference(checkpoint, "resnet8")[1], METHOD, 0),
                     rows[0]["config"]) == float(rows[0]["top1"])


def test_bench_build_refuses_a_tolerance_outside_0_1(capsys) -> None:
    assert main(["bench", "build", "mq-resnet20-cifar10", "--budget-mb", "0.1", "--tolerance", "1.5"]) == 2
    assert "fraction" in capsys.readouterr().err


def test_a_network_probed_for_calibration_free_statistics_is_built_without_calibration(monkeypatch) -> None:
    from evoproxy.probe.requested import probing
    from evoproxy.scoring.score import score_matrix

    bench = get_benchmark("mq-resnet20-cifar10")
    real, asked = bench.quantize, []
    monkeypatch.setattr(bench, "quantize", lambda cfg, calibrate=True: asked.append(calibrate) or real(cfg, False))
    with probing({"bits", "numel", "qerror"}):
        bench.build(0)
    with probing({"qerror", "act"}):
        bench.build(0)
    bench.build(0)   # nothing said: calibrated, as the table was measured
    assert asked == [False, True, True]
    x = torch.zeros(2, 3, 32, 32)
    scores = score_matrix(bench, [parse("layer_sum(mul(bits, numel))")], [0, 1], x, torch.zeros(2, dtype=torch.long))
    assert asked[3:] == [False, False] and np.isfinite(scores).all() and scores[0, 0] < scores[0, 1]


def test_every_shipped_stratum_matches_its_provenance_and_budget() -> None:
    from evoproxy.benchmarks.checkpoints import DATA
    from evoproxy.benchmarks.mq.benchmark import STRATA
    from evoproxy.benchmarks.mq.build import stratum_name
    from evoproxy.training.checkpoint import sha256_file

    for base, budgets in STRATA.items():
        for budget in budgets:
            table = DATA / f"{stratum_name(base, budget)}.csv"
            side = json.loads(Path(f"{table}.json").read_text())
            assert side["benchmark"] == stratum_name(base, budget) and side["stratum"]["budget_mb"] == budget
            assert side["checkpoint_sha256"] == sha256_file(DATA / side["checkpoint"])
            rows = read_rows(table)
            assert len(rows) >= 60 and len({r["config"] for r in rows}) == len(rows)
            low = budget * (1 - side["stratum"]["tolerance"])
            assert all(low <= float(r["size_mb"]) <= budget and r["origin"] == "stratum" for r in rows)
            assert 0 <= min(float(r["top1"]) for r in rows) < max(float(r["top1"]) for r in rows) <= 100


def test_a_network_with_only_its_strata_built_allocates_through_them() -> None:
    from evoproxy.app.allocate import network_benchmark

    mobile = network_benchmark("mq-mobilenetv2-cifar10")
    assert mobile.name.startswith("mq-mobilenetv2-cifar10") and mobile.method.model == "mobilenetv2"
    assert network_benchmark("mq-resnet20-cifar10").name == "mq-resnet20-cifar10"
