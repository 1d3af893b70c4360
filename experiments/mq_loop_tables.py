"""Plugin for experiments/mq_loop.py: the budget strata as the allocation-aware loop grows them, registered
as ``mq-loop-<B>mb`` (tables in ``$EVOPROXY_MQ_LOOP/tables``, default ``runs/mq-loop/tables``).

Name it in a config's ``plugins`` (the loop's searches do); rows an allocation added are searched on,
never held out (:class:`evoproxy.benchmarks.mq.MQBenchmark`).
"""
from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from evoproxy.benchmarks import BENCHMARKS, BenchmarkInfo, register_benchmark
from evoproxy.benchmarks.mq import load_mq
from evoproxy.benchmarks.mq.benchmark import STRATA
from evoproxy.benchmarks.mq.build import stratum_name

BASE = "mq-resnet20-cifar10"


def tables() -> Path:
    return Path(os.environ.get("EVOPROXY_MQ_LOOP", "runs/mq-loop")).resolve() / "tables"


def loop_name(budget: float) -> str:
    return f"mq-loop-{budget:g}mb"


def loop_table(budget: float) -> Path:
    return tables() / f"{loop_name(budget)}.csv"


for _budget in STRATA[BASE]:
    if loop_name(_budget) not in BENCHMARKS:
        register_benchmark(BenchmarkInfo(loop_name(_budget), partial(load_mq, stratum_name(BASE, _budget),
                                                                     table=loop_table(_budget))))
