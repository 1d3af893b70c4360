"""The synthetic benchmark's search networks and a shared serial backend, for the Judge's tests."""
import pytest

from evoproxy.backends.serial import SerialBackend
from evoproxy.benchmarks import get_benchmark
from evoproxy.scoring.setup import EvalSetup


@pytest.fixture(scope="module")
def bench():
    return get_benchmark("synthetic")


@pytest.fixture(scope="module")
def keys(bench):
    return [("synthetic", i) for i in bench.sample(30, "search", seed=0)]


@pytest.fixture(scope="module")
def accuracies(bench, keys):
    return {"synthetic": bench.accuracies([i for _, i in keys])}


@pytest.fixture(scope="module")
def backend():
    """Shared by the tests: its statistics cache never changes a score, only the time taken."""
    return SerialBackend(EvalSetup(), get_benchmark)
