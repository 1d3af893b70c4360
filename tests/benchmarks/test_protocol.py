"""The engine declares only the parts of a benchmark it uses; they stay parts of the Benchmark protocol."""
import pytest

from evoproxy.benchmarks import BENCHMARKS, get_benchmark
from evoproxy.benchmarks.base import Benchmark
from evoproxy.evolve.splits import LabelledArchs
from evoproxy.scoring.setup import NetworkSource


def members(protocol) -> set[str]:
    names = {n for n in vars(protocol) if not n.startswith("_")}
    return names | set(getattr(protocol, "__annotations__", {}))


@pytest.mark.parametrize("part", [NetworkSource, LabelledArchs])
def test_what_the_worker_and_the_loop_use_is_part_of_the_benchmark_protocol(part):
    assert members(part) and members(part) <= members(Benchmark)


def test_the_embedded_benchmarks_implement_the_protocol():
    for name in ("synthetic", "nb201-cifar10", "mq-resnet20-cifar10"):
        assert name in BENCHMARKS and isinstance(get_benchmark(name), Benchmark)
