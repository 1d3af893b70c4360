"""``evoproxy allocate``: bit allocation (:mod:`evoproxy.allocation`) and the real top-1 of what it chose."""
from __future__ import annotations

from evoproxy.allocation import Allocation, ProxyScorer, allocate, mixed_uniform, uniform_within
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.benchmarks import BENCHMARKS
from evoproxy.benchmarks.checkpoints import DATA
from evoproxy.benchmarks.mq.benchmark import STRATA
from evoproxy.benchmarks.mq.build import stratum_name
from evoproxy.lang.ranks import is_set_level

__all__ = ["Allocation", "ProxyScorer", "allocate", "mixed_uniform", "uniform_within", "reference_configs",
           "network_benchmark", "proxy_scorer"]


def proxy_scorer(program, bench, name: str, budget_mb: float, data_dir=None) -> ProxyScorer:
    """``program`` scored on ``bench``'s quantized networks; a set-level one ranked among the budget's
    reference configurations (:func:`reference_configs`)."""
    batch = bench.probe_batch()
    reference = reference_configs(name, budget_mb, data_dir) if is_set_level(program) else ()
    return ProxyScorer(program, bench.quantize, batch.x, batch.y, bench.probe_seed, reference)


def network_benchmark(name: str, data_dir=None):
    """The MQ benchmark that quantizes and measures ``name``'s network: its own table, or where only its
    budget strata are built, the first of them (the same checkpoint and recipe)."""
    names = (name, *(stratum_name(name, b) for b in STRATA.get(name, ())))
    built = [n for n in names if (DATA / f"{n}.csv").is_file()]
    return open_benchmark(built[0] if built else name, data_dir)


def reference_configs(benchmark: str, budget_mb: float, data_dir=None) -> list:
    """What a set-level proxy ranks a configuration among: the budget's stratum if one is registered,
    else the benchmark's own table."""
    name = stratum_name(benchmark, budget_mb)
    bench = open_benchmark(name if name in BENCHMARKS else benchmark, data_dir)
    return [bench.configs[i] for i in bench.arch_ids()]
