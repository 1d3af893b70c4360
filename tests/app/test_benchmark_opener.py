"""The opener a run's workers are handed: the run's benchmark settings written out once, as data."""
import pickle

from evoproxy.app.benchmarks import BenchmarkOpener
from evoproxy.app.search import open_benchmarks
from evoproxy.evolve.config import RunConfig


def test_the_opener_gives_searched_benchmarks_the_runs_settings_and_transfer_ones_their_own(monkeypatch):
    calls = []
    monkeypatch.setattr("evoproxy.app.benchmarks.get_benchmark", lambda *a: calls.append(a) or a[0])
    opener = BenchmarkOpener("/data", 3, "valid_200ep", "/ckpt/t.pt", transfer=("resnet-cifar10",))
    assert opener("vit-pit-c100") == "vit-pit-c100" and opener("resnet-cifar10") == "resnet-cifar10"
    assert calls == [("vit-pit-c100", "/data", 3, "valid_200ep", "/ckpt/t.pt"), ("resnet-cifar10", "/data", 3)]


def test_a_runs_opener_is_plain_data_a_ray_worker_can_unpickle():
    opened = open_benchmarks(RunConfig(benchmarks=("synthetic",), split_seed=5, baselines=()))
    again = pickle.loads(pickle.dumps(opened.opener))
    assert again == opened.opener and again.split_seed == 5
    bench = again("synthetic")
    assert bench.arch_ids("search") == opened.searched["synthetic"].arch_ids("search")
