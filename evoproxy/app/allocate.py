"""``evoproxy allocate``: bit allocation (:mod:`evoproxy.allocation`) and the real top-1 of what it chose."""
from __future__ import annotations

from evoproxy.allocation import Allocation, ProxyScorer, allocate, mixed_uniform, uniform_within
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.benchmarks import BENCHMARKS
from evoproxy.benchmarks.mq.build import stratum_name

__all__ = ["Allocation", "ProxyScorer", "allocate", "mixed_uniform", "uniform_within", "reference_configs"]


def reference_configs(benchmark: str, budget_mb: float, data_dir=None) -> list:
    """What a set-level proxy ranks a configuration among: the budget's stratum if one is registered,
    else the benchmark's own table."""
    name = stratum_name(benchmark, budget_mb)
    bench = open_benchmark(name if name in BENCHMARKS else benchmark, data_dir)
    return [bench.configs[i] for i in bench.arch_ids()]
