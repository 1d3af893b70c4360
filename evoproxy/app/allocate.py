"""``evoproxy allocate``: bit allocation (:mod:`evoproxy.allocation`) and the real top-1 of what it chose."""
from __future__ import annotations

import torch

from evoproxy.allocation import Allocation, ProxyScorer, allocate, uniform_within
from evoproxy.spaces.bitconfig import BitConfig

__all__ = ["Allocation", "ProxyScorer", "allocate", "uniform_within", "measure"]


def measure(bench, cfg: BitConfig, cache: dict) -> float:
    """CIFAR-10 test top-1 of ``cfg`` quantized by the benchmark's recipe (the table's measurement)."""
    from evoproxy.data.cifar import load_cifar10
    from evoproxy.training.loop import evaluate_accuracy

    if "test" not in cache:
        cache["test"] = load_cifar10("test", bench.data_dir, limit=bench.method.test_limit,
                                     seed=bench.provenance["seed"])
    net = bench.quantize(cfg)
    with torch.inference_mode():
        return evaluate_accuracy(net, *cache["test"], batch_size=100)
