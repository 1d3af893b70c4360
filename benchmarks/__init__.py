"""Benchmark registry: ``get_benchmark(name)`` returns an :class:`evoproxy.benchmark.Benchmark`."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Optional, Union

from evoproxy.benchmark import Benchmark
from evoproxy.errors import EvoproxyError

from .mq import load_mq
from .nb201 import load_nb201
from .synthetic import load_synthetic
from .vit import DATASETS, load_built, load_published

Factory = Callable[..., Benchmark]
"""``factory(data_dir=..., split_seed=..., metric=...) -> Benchmark``."""

BENCHMARKS: dict[str, Factory] = {
    "nb201-cifar10": partial(load_nb201, "cifar10"),
    "nb201-cifar100": partial(load_nb201, "cifar100"),
    "nb201-imagenet16": partial(load_nb201, "imagenet16"),
    "synthetic": load_synthetic,
    "mq-resnet20-cifar10": partial(load_mq, "mq-resnet20-cifar10"),
    **{f"vit-{space}-{ds}": partial(load_published, space, ds) for space in ("autoformer", "pit")
       for ds in DATASETS},
    "vit-kd-cifar10": partial(load_built, "vit-kd-cifar10"),
}


def get_benchmark(name: str, data_dir: Optional[Union[str, Path]] = None, split_seed: int = 0,
                  metric: str = "test_200ep") -> Benchmark:
    """The benchmark called ``name``; :class:`EvoproxyError` listing valid names otherwise."""
    factory = BENCHMARKS.get(name)
    if factory is None:
        raise EvoproxyError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return factory(data_dir=data_dir, split_seed=split_seed, metric=metric)


__all__ = ["BENCHMARKS", "Benchmark", "get_benchmark"]
