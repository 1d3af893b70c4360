"""The examples of docs/extending.md, run: each extension point takes a plugin from user code.

Every registry is restored afterwards, so the plugins added here do not change seeded runs elsewhere.
"""
from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.backends import BACKENDS, BackendInfo, register_backend
from evoproxy.backends.serial import SerialBackend
from evoproxy.benchmarks import BENCHMARKS, BenchmarkInfo, get_benchmark, register_benchmark
from evoproxy.benchmarks.base import TableBenchmark
from evoproxy.cli import COMMANDS, CommandGroup, main, register_commands
from evoproxy.lang.ops import OPS, Op, register_op
from evoproxy.lang.proxies import PROXIES, ClassicProxy, register_proxy
from evoproxy.lang.stats import STATS, Stat, register_stat
from evoproxy.lang.types import LAYER_T
from evoproxy.probe import PASSES, LayerRecorder, collect, register_pass
from evoproxy.probe.base import fresh_copy
from evoproxy.evolve.learned import LEARNED, LearnedModel, register_learned
from evoproxy.evolve.selection import SELECTIONS, Selection, register_selection, tournament_parents

REGISTRIES = (OPS, STATS, PASSES, PROXIES, BENCHMARKS, SELECTIONS, BACKENDS, COMMANDS, LEARNED)


@pytest.fixture(scope="module", autouse=True)
def plugins():
    saved = [dict(r._items) for r in REGISTRIES]
    _register_all()
    yield
    for r, items in zip(REGISTRIES, saved):
        r._items = items


class Tiny(TableBenchmark):
    name, label = "tiny", "eight toy CNNs with made-up accuracies"

    def __init__(self, split_seed: int = 0) -> None:
        super().__init__([0, 1, 2, 3, 4, 5, 6, 7], split_seed)
        self._acc = {i: 50.0 + 3 * i for i in range(8)}

    def build(self, arch_id: int) -> nn.Module:
        width = 2 * (self._check(arch_id) + 1)
        return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(width, 10))


def bias_pass(model, x, y, names):
    net = fresh_copy(model)
    rec = LayerRecorder(net)
    with torch.no_grad():
        net(x[:1])
    rec.remove()
    norms = [float(m.bias.detach().norm()) if m.bias is not None else 0.0 for m in rec.layers]
    return {"bias_norm": torch.tensor(norms, dtype=torch.float64)}


def replace_worst_always(population, ind) -> None:
    worst = min(population, key=lambda i: (i.value, -i.born))
    population[population.index(worst)] = ind


class CountingBackend(SerialBackend):
    name = "counting"
    calls = 0

    def score(self, texts, keys):
        CountingBackend.calls += 1
        return super().score(texts, keys)


def _buggy(x):
    if x.numel() not in (3, 24):   # passes registration's checks (3 and 24 values), fails on real statistics
        raise ZeroDivisionError("a plugin's bug")
    return x


def make_ridge(seed):
    from sklearn.linear_model import Ridge
    return Ridge(alpha=1.0)


def add_hello(sub) -> None:
    p = sub.add_parser("hello", help="say hello")
    p.set_defaults(func=lambda args: print("hello") or 0)


def _register_all() -> None:
    register_op(Op("cube", "unary", lambda x: x ** 3, "x^3", r"\left({0}\right)^{{3}}",
                   elementwise=True))
    register_op(Op("buggy", "unary", _buggy, "a plugin op with a bug", r"b({0})"))
    register_stat(Stat("bias_norm", LAYER_T, "bias", "L2 norm of each layer's bias (0 without one)", r"\|b\|"))
    register_pass("bias")(bias_pass)
    register_proxy(ClassicProxy("weight_l1", "layer_sum(l1(weight))", "sum of |W|", "my paper"))
    register_benchmark(BenchmarkInfo("tiny", lambda data_dir=None, split_seed=0, metric=None: Tiny(split_seed)))
    register_selection(Selection("generational", tournament_parents, replace_worst_always))
    register_backend(BackendInfo("counting", lambda setup, open_benchmark, workers, address:
                                 CountingBackend(setup, open_benchmark)))
    register_commands(CommandGroup("hello", add_hello))
    register_learned(LearnedModel("ridge", make_ridge))


def test_an_op_a_statistic_and_its_pass_from_user_code():
    from evoproxy import evaluate, parse

    model = Tiny().build(3)
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    stats = collect(model, x, y, {"bias_norm", "weight"})
    assert stats["bias_norm"].shape == (2,) and float(stats["bias_norm"].sum()) > 0
    assert evaluate(parse("layer_sum(cube(bias_norm))"), stats) == pytest.approx(
        float((stats["bias_norm"] ** 3).sum()))


def test_a_proxy_a_benchmark_a_selection_and_a_backend_from_user_code(tmp_path):
    from evoproxy.app.search import run_search
    from evoproxy.evolve.config import RunConfig
    from evoproxy.evolve.store import RunStore

    bench = get_benchmark("tiny")
    assert bench.sample(2, "search", seed=1) == get_benchmark("tiny").sample(2, "search", seed=1)
    config = RunConfig(benchmarks=("tiny",), search_archs=4, holdout_archs=4, screen_archs=2, population=4,
                       generations=2, offspring=2, selection="generational", backend="counting",
                       probe="synthetic", batch_size=4, stats=("weight", "bias_norm"),
                       baselines=("weight_l1",))
    report = run_search(config.replace(learned=("ridge",)), RunStore(tmp_path / "run"))
    assert CountingBackend.calls > 0
    assert report.baselines[0].proxy == "weight_l1" and report.hall_of_fame
    if importlib.util.find_spec("sklearn"):
        assert [m.name for m in report.learned] == ["ridge"]


def test_a_command_from_user_code(capsys):
    assert main(["hello"]) == 0
    assert capsys.readouterr().out == "hello\n"


def test_a_plugin_op_that_raises_is_a_named_rejection_never_a_crash(tmp_path):
    from evoproxy.app.search import run_search
    from evoproxy.evolve.config import RunConfig
    from evoproxy.evolve.store import RunStore

    config = RunConfig(benchmarks=("tiny",), search_archs=4, holdout_archs=4, screen_archs=2, population=4,
                       generations=2, offspring=4, probe="synthetic", batch_size=4, stats=("weight",),
                       ops=("buggy", "l1", "l2", "log", "sqrt", "add", "mul", "layer_sum", "layer_mean"), baselines=())
    report = run_search(config, RunStore(tmp_path / "run"))
    assert report.rejections.get("error:ZeroDivisionError", 0) > 0
    assert all("buggy" not in e.formula for e in report.hall_of_fame)


def test_a_search_whose_generation_0_finds_no_pair_ends_with_one_line(tmp_path):
    from evoproxy.app.search import run_search
    from evoproxy.evolve.config import RunConfig
    from evoproxy.evolve.store import RunStore

    config = RunConfig(benchmarks=("tiny",), search_archs=4, holdout_archs=4, screen_archs=2, population=4,
                       generations=1, offspring=2, probe="synthetic", batch_size=4, stats=("weight",),
                       ops=("buggy", "l2", "layer_sum"), baselines=())
    with pytest.raises(EvoproxyError, match="generation 0 found .* usable program.*error:ZeroDivisionError"):
        run_search(config, RunStore(tmp_path / "run"))
