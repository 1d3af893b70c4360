"""A user's plugin module for the tests: one benchmark ("plugtiny"), registered on import."""
import torch.nn as nn

from evoproxy.benchmarks import BenchmarkInfo, register_benchmark
from evoproxy.benchmarks.base import TableBenchmark


class PlugTiny(TableBenchmark):
    name, label = "plugtiny", "eight toy CNNs with made-up accuracies (a test plugin)"

    def __init__(self, split_seed=0):
        super().__init__(range(8), split_seed)
        self._acc = {i: 50.0 + 3 * i for i in range(8)}

    def build(self, arch_id):
        width = 2 * (self._check(arch_id) + 1)
        return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(width, 10))


register_benchmark(BenchmarkInfo("plugtiny", lambda data_dir=None, split_seed=0, metric=None, teacher=None:
                                 PlugTiny(split_seed)))
