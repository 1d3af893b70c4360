"""Benchmark registry: ``get_benchmark(name)`` returns an :class:`evoproxy.benchmarks.base.Benchmark`.

Each benchmark is a :class:`BenchmarkInfo` record in :data:`BENCHMARKS`. Add one from your own
code with ``register_benchmark(BenchmarkInfo("my-bench", my_factory))``, where
``my_factory(data_dir=..., split_seed=..., metric=...)`` returns a Benchmark (subclass
:class:`evoproxy.benchmarks.base.TableBenchmark` for the id/split plumbing).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Optional, Union

from evoproxy.errors import EvoproxyError
from evoproxy.registry import Registry

from .base import Benchmark
from .mq import load_mq
from .mq.benchmark import MODELS as MQ_MODELS, STRATA as MQ_STRATA
from .mq.build import stratum_name
from .nb201 import load_nb201
from .resnet_cifar import load_resnet_cifar
from .suite_zero import load_suite_zero_space
from .synthetic import load_synthetic
from .vit import DATASETS, load_built, load_published

Factory = Callable[..., Benchmark]
"""``factory(data_dir=..., split_seed=..., metric=...[, teacher=...]) -> Benchmark``."""


@dataclass(frozen=True)
class BenchmarkInfo:
    """A registered benchmark: its name, its factory, and what the factory accepts."""

    name: str
    factory: Factory
    uses_teacher: bool = False
    """The factory takes ``teacher=`` (a checkpoint path, None for its default): distillation."""


BENCHMARKS: Registry[BenchmarkInfo] = Registry("benchmark")


def register_benchmark(info: BenchmarkInfo) -> BenchmarkInfo:
    return BENCHMARKS.add(info.name, info)


for _info in [
    BenchmarkInfo("nb201-cifar10", partial(load_nb201, "cifar10")),
    BenchmarkInfo("nb201-cifar100", partial(load_nb201, "cifar100")),
    BenchmarkInfo("nb201-imagenet16", partial(load_nb201, "imagenet16")),
    BenchmarkInfo("nb101-cifar10", partial(load_suite_zero_space, "nb101-cifar10")),
    BenchmarkInfo("nb301-cifar10", partial(load_suite_zero_space, "nb301-cifar10")),
    BenchmarkInfo("synthetic", load_synthetic),
    BenchmarkInfo("resnet-cifar10", load_resnet_cifar),
    *(BenchmarkInfo(name, partial(load_mq, name)) for name in MQ_MODELS),
    *(BenchmarkInfo(stratum_name(base, b), partial(load_mq, stratum_name(base, b)))
      for base, budgets in MQ_STRATA.items() for b in budgets),
    *(BenchmarkInfo(f"vit-{space}-{ds}", partial(load_published, space, ds), uses_teacher=True)
      for space in ("autoformer", "pit") for ds in DATASETS),
    BenchmarkInfo("vit-kd-cifar10", partial(load_built, "vit-kd-cifar10"), uses_teacher=True),
]:
    register_benchmark(_info)


def get_benchmark(name: str, data_dir: Optional[Union[str, Path]] = None, split_seed: int = 0,
                  metric: str = "test_200ep", teacher: Optional[str] = None) -> Benchmark:
    """The benchmark called ``name``; :class:`EvoproxyError` listing valid names otherwise.

    ``teacher`` (a checkpoint path) is for distillation benchmarks only; elsewhere it is an error.
    """
    if name not in BENCHMARKS:
        raise EvoproxyError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    info = BENCHMARKS.get(name)
    if not info.uses_teacher:
        if teacher is not None:
            raise EvoproxyError(f"--teacher only applies to vit-* benchmarks, not {name}")
        return info.factory(data_dir=data_dir, split_seed=split_seed, metric=metric)
    return info.factory(data_dir=data_dir, split_seed=split_seed, metric=metric, teacher=teacher)


__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkInfo", "get_benchmark", "register_benchmark"]
