"""Hand-designed CIFAR-10 networks with published accuracies, for transfer (``resnet-cifar10``).

The six CIFAR ResNets of He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016),
Table 6 (CIFAR-10 test error, standard augmentation): ResNet-20 8.75 %, -32 7.51 %, -44 7.17 %,
-56 6.97 %, -110 6.43 % (best of 5 runs; mean 6.61 +- 0.16) and -1202 7.93 %. Arch id = depth;
accuracy = 100 - error. Networks come from :mod:`evoproxy.spaces.resnet_cifar`, which uses
projection shortcuts (option B) where the paper's CIFAR models pad with zeros (option A): the
same depths and widths, a few more parameters. Six networks rank coarsely (15 pairs); the table
says whether a proxy found on NAS-Bench-201 still orders networks it never saw, and whether it is
finite on a 1,202-layer one. No data files are needed.
"""
from __future__ import annotations

from typing import Optional

from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.resnet_cifar import resnet_cifar

from .base import TableBenchmark

TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
"""He et al. 2016, Table 6: CIFAR-10 test error (%) by depth."""


class ResNetCifarBenchmark(TableBenchmark):
    name = "resnet-cifar10"
    label = "CIFAR ResNets of He et al. 2016, Table 6 (published test accuracy; built in)"

    def __init__(self, split_seed: int = 0) -> None:
        super().__init__(sorted(TEST_ERROR), split_seed)
        self._acc = {d: 100.0 - e for d, e in TEST_ERROR.items()}

    def build(self, arch_id: int) -> nn.Module:
        return resnet_cifar(depth=self._check(arch_id), num_classes=self.num_classes)


def load_resnet_cifar(data_dir: Optional[object] = None, split_seed: int = 0,
                      metric: str = "test_200ep") -> ResNetCifarBenchmark:
    if metric not in ("test_200ep", "test"):
        raise EvoproxyError(f"resnet-cifar10 has one metric, the published test accuracy; got {metric!r}")
    return ResNetCifarBenchmark(split_seed)
