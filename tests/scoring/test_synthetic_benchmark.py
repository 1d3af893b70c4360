"""The synthetic benchmark: a known formula as ground truth, no data files."""
import time

import numpy as np
import pytest
import torch

from evoproxy.benchmarks.base import Benchmark
from evoproxy.benchmarks import BENCHMARKS, get_benchmark
from evoproxy.benchmarks.synthetic import DEFAULT_TARGET, SyntheticBenchmark, config_of, load_synthetic
from evoproxy.errors import EvoproxyError
from evoproxy.lang.interpret import evaluate
from evoproxy.scoring.fitness import kendall, tie_fraction
from evoproxy.probe.base import collect
from evoproxy.lang.program import parse
from evoproxy.scoring.score import score_matrix


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny nets: intra-op threads only add overhead (and spin badly on a busy 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def bench():
    return SyntheticBenchmark()


def test_protocol_and_label(bench):
    assert isinstance(bench, Benchmark)
    assert bench.name == "synthetic" and bench.num_classes == 10
    assert bench.label.startswith("SYNTHETIC benchmark: accuracy = layer_sum(l2(grad))")
    assert "not a real training result" in bench.label
    assert bench.probe_batch().is_synthetic and len(bench.probe_batch()) == 8
    assert bench.probe_seed == bench.seed


def test_configs_are_deterministic_and_in_range(bench):
    assert [config_of(i) for i in range(50)] == [SyntheticBenchmark(n_archs=50).config_of(i)
                                                 for i in range(50)]
    depths = set()
    for i in range(200):
        stages = bench.config_of(i)["stages"]
        depths.add(len(stages))
        for st in stages:
            assert st["channels"] in (4, 8, 12, 16) and st["kernel"] in (1, 3)
            assert st["stride"] in (1, 2) and isinstance(st["bn"], bool)
        net = bench.build(i)
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert len(convs) == len(stages)
        assert isinstance(net[-1], torch.nn.Linear) and net[-1].out_features == 10
    assert depths == {1, 2, 3}
    assert len({str(config_of(i)) for i in range(100)}) > 90


def test_build_output_shape(bench):
    x = bench.probe_batch().x
    assert bench.build(0)(x).shape == (8, 10)


def test_accuracies_are_deterministic_and_cached(bench):
    ids = list(range(10))
    a = bench.accuracies(ids)
    assert np.array_equal(a, SyntheticBenchmark().accuracies(ids))
    assert np.array_equal(a, bench.accuracies(ids))
    assert np.isfinite(a).all() and (a > 0).all()
    other = SyntheticBenchmark(seed=1).accuracies(ids)
    assert not np.array_equal(a, other)


def test_splits_disjoint_and_sampling_deterministic(bench):
    search, hold = set(bench.arch_ids("search")), set(bench.arch_ids("holdout"))
    assert not search & hold and search | hold == set(range(200)) == set(bench.arch_ids("all"))
    assert len(search) == len(hold) == 100
    assert bench.arch_ids("search") == SyntheticBenchmark().arch_ids("search")
    assert bench.arch_ids("search") != SyntheticBenchmark(split_seed=1).arch_ids("search")
    s = bench.sample(20, "holdout", seed=3)
    assert s == bench.sample(20, "holdout", seed=3) and len(set(s)) == 20 and set(s) <= hold
    assert s != bench.sample(20, "holdout", seed=4)
    with pytest.raises(EvoproxyError):
        bench.sample(101, "search")
    with pytest.raises(EvoproxyError):
        bench.arch_ids("train")
    for bad in (-1, 200, 1.0, True):
        with pytest.raises(EvoproxyError):
            bench.accuracy(bad)


def test_target_on_probe_stats_equals_accuracy(bench):
    batch, target = bench.probe_batch(), parse(DEFAULT_TARGET)
    for i in (0, 7, 123):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(bench.seed)
            model = bench.build(i)
        stats = collect(model, batch.x, batch.y, ["weight", "grad", "act", "act_grad"], seed=bench.seed)
        assert evaluate(target, stats) == bench.accuracy(i)


def test_target_ranks_perfectly_and_params_does_not(bench):
    ids = bench.sample(30, "holdout", seed=0)
    acc = bench.accuracies(ids)
    batch = bench.probe_batch()
    programs = [parse(DEFAULT_TARGET), parse("params")]
    scores = score_matrix(bench, programs, ids, batch.x, batch.y, seed=bench.seed)
    assert np.array_equal(scores[0], acc)
    assert kendall(scores[0], acc) == 1.0
    assert kendall(scores[1], acc) < 0.95


def test_accuracies_vary_with_few_ties(bench):
    acc = bench.accuracies(range(100))
    assert np.ptp(acc) > 0
    assert tie_fraction(acc) < 0.1


def test_other_targets():
    b = SyntheticBenchmark(target="layer_sum(l2(act))", n_archs=20)
    assert "layer_sum(l2(act))" in b.label and np.isfinite(b.accuracies(range(5))).all()
    with pytest.raises(EvoproxyError):
        SyntheticBenchmark(target="l2(grad)")  # per-layer, not one number per network
    with pytest.raises(EvoproxyError):
        SyntheticBenchmark(n_archs=1)


def test_registry():
    assert "synthetic" in BENCHMARKS
    b = get_benchmark("synthetic")
    assert isinstance(b, SyntheticBenchmark) and b.name == "synthetic" and len(b.arch_ids()) == 200
    assert b.target.text == DEFAULT_TARGET
    b1 = get_benchmark("synthetic", split_seed=1)
    assert b1.seed == 1 and b1.arch_ids("search") != b.arch_ids("search")
    assert load_synthetic(metric="layer_sum(l2(weight))").target.text == "layer_sum(l2(weight))"
    with pytest.raises(EvoproxyError):
        load_synthetic(metric="valid_200ep")


def test_probe_speed(bench, capsys):
    """Not asserted; reported. Probing is the search's inner loop, so it must stay cheap."""
    batch = bench.probe_batch()
    start = time.perf_counter()
    for i in range(200):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(bench.seed)
            model = bench.build(i)
        collect(model, batch.x, batch.y, ["weight", "grad", "act", "act_grad"], seed=bench.seed)
    dt = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nsynthetic: probed 200 archs (weight/grad/act/act_grad) in {dt:.2f} s "
              f"({dt / 200 * 1e3:.1f} ms/arch, {torch.get_num_threads()} thread)")
