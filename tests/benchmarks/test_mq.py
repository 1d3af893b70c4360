"""The MQ benchmark: a tiny table build (resume, provenance), the benchmark over it, allocation, CLI."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from evoproxy.allocation import allocate, mixed_uniform, uniform_within
from evoproxy.benchmarks.mq import MQBenchmark
from evoproxy.benchmarks.mq.build import MQMethod, build_mq_table, plan_configs
from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import BitConfig
from evoproxy.spaces.resnet_cifar import resnet_cifar
from evoproxy.evolve.store import RunStore
from evoproxy.training.loop import evaluate_accuracy
from evoproxy.data.cifar import load_cifar10
from evoproxy.training.checkpoint import save_checkpoint

from tests.datahelp import have_data

needs_data = pytest.mark.skipif(not have_data("images/cifar10_train_jpeg_bytes.npz"),
                                reason="needs the shared CIFAR-10 pack")
METHOD = MQMethod(model="resnet8", calib_images=32, test_limit=64)


def test_plan_is_distinct_seeded_and_spans_sizes(space) -> None:
    plan = plan_configs(space, 30, seed=3)
    assert len({c.canonical for c in plan}) == 30 and plan == plan_configs(space, 30, seed=3)
    assert [c.canonical for c in plan[:4]] == [space.uniform(b).canonical for b in space.choices]
    sizes = np.array([space.size_mb(c) for c in plan[4:]])
    lo, hi = space.size_mb(space.uniform(2)), space.size_mb(space.uniform(8))
    assert sizes.min() < lo + 0.15 * (hi - lo) and sizes.max() > hi - 0.15 * (hi - lo)
    for c in plan:
        space.validate(c)


@needs_data
def test_build_resumes_and_benchmark_reproduces_rows(tmp_path, checkpoint) -> None:
    out = tmp_path / "mq.csv"

    def stop_after_two(done, total, row):
        if done == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        build_mq_table(out, 4, checkpoint, seed=0, method=METHOD, on_row=stop_after_two)
    first = out.read_text().splitlines()
    assert len(first) == 3
    with open(out, "a") as f:
        f.write("2,w8-2")   # a row cut short by a kill
    build_mq_table(out, 4, checkpoint, seed=0, method=METHOD)
    lines = out.read_text().splitlines()
    assert lines[:3] == first and len(lines) == 5
    assert sorted(int(r.split(",")[0]) for r in lines[1:]) == [0, 1, 2, 3]
    side = json.loads((tmp_path / "mq.csv.json").read_text())
    assert side["method"]["calib_images"] == 32 and len(side["checkpoint_sha256"]) == 64
    with pytest.raises(EvoproxyError, match="other settings"):
        build_mq_table(out, 5, checkpoint, seed=0, method=METHOD)

    bench = MQBenchmark(out, checkpoint=checkpoint)
    assert bench.arch_ids() == [0, 1, 2, 3] and bench.proxy_line == "mq"
    assert set(bench.arch_ids("search")).isdisjoint(bench.arch_ids("holdout"))
    x, y = load_cifar10("test", limit=64, seed=0)
    for i in (0, 3):
        assert round(evaluate_accuracy(bench.build(i), x, y, batch_size=100), 2) == bench.accuracy(i)


@needs_data
def test_benchmark_refuses_another_checkpoint(tmp_path, checkpoint) -> None:
    out = tmp_path / "mq.csv"
    build_mq_table(out, 1, checkpoint, method=METHOD)
    other = tmp_path / "other.pt"
    torch.manual_seed(1)
    save_checkpoint(other, resnet_cifar(8), {"arch": "resnet8"})
    with pytest.raises(EvoproxyError, match="sha256 differs"):
        MQBenchmark(out, checkpoint=other).build(0)


def test_allocation_respects_budget_and_beats_uniform(space) -> None:
    weight = np.linspace(1.0, 3.0, space.n_layers)   # later layers matter more

    def score(cfg):
        return float(np.sum(weight * np.log2(cfg.bits)))
    budget = space.size_mb(space.uniform(3)) * 1.1
    found = allocate(space, score, budget, seed=0, population=12, generations=8)
    assert found.size_mb <= budget
    uniform = uniform_within(space, budget)
    assert uniform == space.uniform(3)
    assert found.score > score(uniform)
    assert allocate(space, score, budget, seed=0, population=12, generations=8) == found
    with pytest.raises(EvoproxyError, match="below the smallest"):
        allocate(space, score, space.size_mb(space.uniform(2)) * 0.9)


def test_mixed_uniform_raises_smallest_layers_one_width_within_the_budget(space) -> None:
    for budget in (space.size_mb(space.uniform(3)) * 1.1, space.size_mb(space.uniform(4)) * 1.05):
        uniform, mixed = uniform_within(space, budget), mixed_uniform(space, budget)
        assert space.size_mb(uniform) < space.size_mb(mixed) <= budget
        free = [b for i, b in enumerate(mixed.bits) if space.fixed_bits(i) is None]
        low = uniform.bits[next(i for i in range(space.n_layers) if space.fixed_bits(i) is None)]
        assert set(free) == {low, space.choices[space.choices.index(low) + 1]}
    top = space.uniform(space.choices[-1])
    assert mixed_uniform(space, space.size_mb(top)) == top


def test_a_started_allocation_leaves_its_start_only_for_a_higher_score(space) -> None:
    budget = space.size_mb(space.uniform(3)) * 1.1
    start = mixed_uniform(space, budget)
    found = allocate(space, lambda cfg: float(cfg == start), budget, seed=0, population=8, generations=4,
                     start=[start])
    assert found.config == start      # a random start never finds the one configuration that scores 1
    assert allocate(space, lambda cfg: float(cfg == start), budget, seed=0, population=8, generations=4).score == 0

    def smaller_is_better(cfg):
        return -space.size_mb(cfg)
    left = allocate(space, smaller_is_better, budget, seed=0, population=8, generations=4, start=[start])
    assert left.score > smaller_is_better(start)
    with pytest.raises(EvoproxyError, match="does not fit this network"):
        allocate(space, smaller_is_better, budget, start=[BitConfig((4, 4))])


def test_a_set_level_proxy_allocates_by_its_rank_among_reference_configurations(checkpoint, space) -> None:
    from evoproxy.allocation import ProxyScorer
    from evoproxy.benchmarks.checkpoints import load_reference
    from evoproxy.lang.program import parse
    from evoproxy.spaces.quantized import quantize_model

    model = load_reference(checkpoint, "resnet8")[0]
    calls = []

    def quantize(cfg, calibrate):
        calls.append(cfg.canonical)
        return quantize_model(model, cfg, None)
    ensemble = parse("add(log(rank(layer_sum(mul(bits, numel)))), log(rank(negate(layer_sum(l2(qerror))))))")
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    with pytest.raises(EvoproxyError, match="reference configurations"):
        ProxyScorer(ensemble, quantize, x, y)
    reference = [space.uniform(b) for b in (2, 3, 4)]
    score = ProxyScorer(ensemble, quantize, x, y, reference=reference)
    top, low = score(space.uniform(8)), score(space.uniform(2))
    assert top == 0.0 and top > low     # fractional rank 1 (above all three) in both members: log 1 + log 1
    assert score(space.uniform(8)) == top and len(calls) == 3 + 2  # the reference probed once, then memoised
    single = ProxyScorer(parse("layer_sum(mul(bits, numel))"), quantize, x, y, reference=reference)
    assert single(space.uniform(3)) == space.size_mb(space.uniform(3)) * 8 * 2**20 and single.reference == []


@needs_data
@pytest.mark.slow
def test_cli_eval_scores_mq_proxies_on_the_shipped_table(capsys) -> None:
    rc = main(["eval", "--benchmark", "mq-resnet20-cifar10", "--proxy", "bparams;hawq_v2",
               "--archs", "6", "--json", "--quiet"])
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and doc["n"] == 6 and "real" in doc["probe"]
    assert all(-1 <= doc["kendall"][p] <= 1 for p in ("bparams", "hawq_v2"))


def test_cli_errors_are_one_line(capsys, tmp_path) -> None:
    assert main(["bench", "build", "mq-vgg-imagenet", "--configs", "2"]) == 2
    assert "buildable: mq-resnet20-cifar10" in capsys.readouterr().err
    assert main(["allocate", "--proxy", "bparams", "--model", "resnet56", "--budget-mb", "0.1"]) == 2
    assert "no MQ benchmark" in capsys.readouterr().err
    assert main(["bench", "convert", str(tmp_path / "none.pkl"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "not found" in capsys.readouterr().err


def test_shipped_table_matches_its_provenance() -> None:
    from evoproxy.benchmarks.checkpoints import DATA
    from evoproxy.training.checkpoint import sha256_file

    side = json.loads((DATA / "mq-resnet20-cifar10.csv.json").read_text())
    assert side["checkpoint_sha256"] == sha256_file(DATA / side["checkpoint"])
    with open(DATA / "mq-resnet20-cifar10.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 100 and len({r["config"] for r in rows}) == len(rows)
    accs = np.array([float(r["top1"]) for r in rows])
    assert accs.max() - accs.min() > 20   # a real spread


@needs_data
@pytest.mark.slow
def test_search_on_the_mq_benchmark_resumes_and_exports(tmp_path, capsys) -> None:
    from evoproxy.lang.program import parse

    run = str(tmp_path / "r")
    assert main(["search", "--benchmark", "mq-resnet20-cifar10", "--population", "6", "--quiet",
                 "--generations", "1", "--out", run, "--set", "search_archs=6", "--set", "holdout_archs=6",
                 "--set", "screen_archs=3", "--set", "offspring=3",
                 "--set", 'stats=["bits", "qerror", "numel"]', "--set", 'baselines=["bparams"]',
                 "--set", 'metric="top1"']) == 0
    assert main(["search", "--resume", run, "--generations", "2", "--quiet"]) == 0
    store = RunStore(run)
    assert store.last_generation() == 2 and store.get_meta("status") == "finished"
    capsys.readouterr()
    assert main(["export", run, "--format", "json"]) == 0
    program = parse(json.loads(capsys.readouterr().out)["formula"])
    assert program.stats <= {"bits", "qerror", "numel"}
