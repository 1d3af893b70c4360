"""The mixed-precision study scripts (experiments/mq_allocation.py, mq_loop.py): their own bookkeeping."""
from __future__ import annotations

import sys

from tests.test_study_scripts import load_script


def test_the_allocation_study_mixes_two_widths_within_the_budget_and_resumes(tmp_path):
    from evoproxy.benchmarks.checkpoints import load_reference
    from evoproxy.benchmarks.mq.benchmark import CHECKPOINT
    from evoproxy.spaces.bitconfig import BitSpace

    study = load_script("mq_allocation")
    space = BitSpace(load_reference(CHECKPOINT, "resnet20")[0])
    for budget in study.BUDGETS:
        uniform, mixed = study.uniform_within(space, budget), study.mixed_uniform(space, budget)
        assert space.size_mb(uniform) < space.size_mb(mixed) <= budget
        free = [b for i, b in enumerate(mixed.bits) if space.fixed_bits(i) is None]
        low = uniform.bits[1]
        assert set(free) == {low, space.choices[space.choices.index(low) + 1]}
    top = space.size_mb(space.uniform(8))
    assert study.mixed_uniform(space, top) == space.uniform(8)
    log = tmp_path / "allocations.jsonl"
    log.write_text('{"budget_mb": 0.08, "method": "uniform", "seed": 0}\n\n{"budget_mb": 0.1')  # cut by a kill
    assert study.done_rows(log) == [{"budget_mb": 0.08, "method": "uniform", "seed": 0}]
    assert study.done_rows(tmp_path / "none.jsonl") == []
    study.append_row(log, {"budget_mb": 0.11})
    study.append_row(tmp_path / "new.jsonl", {"budget_mb": 0.15})
    assert study.done_rows(log)[-1] == {"budget_mb": 0.11} and len(study.done_rows(log)) == 2
    assert study.done_rows(tmp_path / "new.jsonl") == [{"budget_mb": 0.15}]


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
