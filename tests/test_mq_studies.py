"""The mixed-precision study scripts (experiments/mq_allocation.py, mq_loop.py): their own bookkeeping."""
from __future__ import annotations

import sys

from tests.test_study_scripts import load_script


def test_the_allocation_study_resumes_and_names_the_start(tmp_path):
    study = load_script("mq_allocation")
    log = tmp_path / "allocations.jsonl"
    log.write_text('{"budget_mb": 0.08, "method": "uniform", "seed": 0}\n\n{"budget_mb": 0.1')  # cut by a kill
    assert study.done_rows(log) == [{"budget_mb": 0.08, "method": "uniform", "seed": 0}]
    assert study.done_rows(tmp_path / "none.jsonl") == []
    study.append_row(log, {"budget_mb": 0.11})
    study.append_row(tmp_path / "new.jsonl", {"budget_mb": 0.15})
    assert study.done_rows(log)[-1] == {"budget_mb": 0.11} and len(study.done_rows(log)) == 2
    assert study.done_rows(tmp_path / "new.jsonl") == [{"budget_mb": 0.15}]
    assert study.label({"method": "QE score"}) == study.label({"method": "QE score", "start": "random"}) == "QE score"
    assert study.label({"method": "QE score", "start": "mixed-uniform"}) == "QE score (GA from mixed uniform)"


def test_the_allocation_loop_adds_a_chosen_configuration_once_and_never_holds_it_out(tmp_path, monkeypatch):
    from evoproxy.benchmarks.mq import MQBenchmark
    from evoproxy.plugins import load_plugins

    monkeypatch.setenv("EVOPROXY_MQ_LOOP", str(tmp_path))
    study = load_script("mq_loop")
    load_plugins([str(study.PLUGIN)])
    tables = sys.modules["mq_loop_tables"]
    monkeypatch.setattr(tables, "tables", lambda: tmp_path / "tables")
    study.prepare(tmp_path)
    table = tables.loop_table(0.11)
    before = MQBenchmark(table)
    assert before.name == "mq-loop-0.11mb" and set(before.origin.values()) == {"stratum"}
    bench = study.open_benchmark("mq-resnet20-cifar10", None)
    _, space = bench.reference()
    chosen = bench.configs[3]
    assert study.add_row(table, space, chosen, 50.0, "allocation round 0 seed 0")
    assert not study.add_row(table, space, chosen, 50.0, "allocation round 0 seed 1")   # known: not again
    assert not study.add_row(table, space, before.configs[0], 1.0, "allocation round 0 seed 2")
    after = MQBenchmark(table)
    new = max(after.arch_ids())
    assert len(after) == len(before) + 1 and after.origin[new] == "allocation round 0 seed 0"
    assert after.arch_ids("holdout") == before.arch_ids("holdout")
    assert after.arch_ids("search") == sorted(before.arch_ids("search") + [new])
    study.prepare(tmp_path)  # a continued loop keeps what it added
    assert len(MQBenchmark(table)) == len(after)
