"""Benchmark builds: an MQ table (quantized bit configurations) or the ViT distillation table,
and the MQ-Bench-101 converter."""
from __future__ import annotations

from pathlib import Path

from evoproxy.benchmarks.mq.benchmark import MODELS as MQ_BENCHMARKS, SHIPPED
from evoproxy.benchmarks.mq.build import MQMethod, Stratum, build_mq_table, stratum_name
from evoproxy.benchmarks.mq.mqbench101 import read_mqbench101, to_csv
from evoproxy.benchmarks.vit.build import build_vit_table
from evoproxy.data.paths import describe_data_dir
from evoproxy.errors import EvoproxyError
from evoproxy.training.distill import KDRecipe

VIT_TABLE = "vit-kd-cifar10"
BUILDABLE = (*MQ_BENCHMARKS, VIT_TABLE)

__all__ = ["KDRecipe", "MQMethod", "Stratum", "stratum_name", "SHIPPED", "BUILDABLE", "MQ_BENCHMARKS", "VIT_TABLE",
           "build_mq_table",
           "build_vit_table", "convert_mqbench101", "describe_data_dir", "check_buildable"]


def check_buildable(name: str) -> None:
    if name not in BUILDABLE:
        raise EvoproxyError(f"cannot build {name!r}; buildable: {', '.join(BUILDABLE)}")


def convert_mqbench101(path: str, out: str) -> tuple[int, int]:
    """EMQ's MQ-Bench-101 file (pickle read safely, CSV or JSON) -> CSV; ``(rows, layers)``."""
    rows = read_mqbench101(path)
    to_csv(rows, out)
    return len(rows), len(rows[0].bits)


def default_out(name: str, out: str | None) -> Path:
    return Path(out or f"{name}.csv")
