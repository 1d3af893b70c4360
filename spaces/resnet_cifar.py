"""The classic CIFAR ResNet of He et al. (2016), depth ``6n+2``, in plain torch.

A 3x3 stem conv (16 channels) + BN + ReLU, three stages of ``n`` BasicBlocks
with 16, 32 and 64 channels (stride 2 at the start of stages 2 and 3), global
average pooling and a linear classifier. Shortcuts use **option B**: identity
when shapes match, otherwise a 1x1 strided conv + BN projection. ResNet-20
(``n = 3``) has about 0.27M parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from evoproxy.errors import EvoproxyError

STAGE_CHANNELS: tuple[int, int, int] = (16, 32, 64)
"""Output channels of the three stages."""


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN layers with a residual shortcut (option B projection)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """CIFAR ResNet with ``n`` BasicBlocks per stage (depth ``6n+2``)."""

    def __init__(self, n: int, num_classes: int = 10) -> None:
        super().__init__()
        c0 = STAGE_CHANNELS[0]
        self.conv1 = nn.Conv2d(3, c0, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c0)
        stages, c_in = [], c0
        for i, c_out in enumerate(STAGE_CHANNELS):
            blocks = [BasicBlock(c_in if j == 0 else c_out, c_out, 2 if (i > 0 and j == 0) else 1)
                      for j in range(n)]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[1]

    def probe_blocks(self) -> list[nn.Module]:
        """The stages block statistics read: the stem (conv, BN, ReLU), then every BasicBlock."""
        return [nn.Sequential(self.conv1, self.bn1, nn.ReLU()), *self.layer1, *self.layer2, *self.layer3]

    def forward_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The three stage outputs ``[B, C, h, w]`` and the logits (a teacher's features)."""
        out = torch.relu(self.bn1(self.conv1(x)))
        stages = []
        for stage in (self.layer1, self.layer2, self.layer3):
            out = stage(out)
            stages.append(out)
        return stages, self.fc(torch.flatten(self.pool(out), 1))


def _init_weights(model: nn.Module) -> None:
    """He (Kaiming) normal init for convs; BN weight 1, bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def resnet_cifar(depth: int = 20, num_classes: int = 10) -> nn.Module:
    """Build the CIFAR ResNet of the given depth (20, 32, 44, 56, 110, ...)."""
    if depth < 8 or (depth - 2) % 6 != 0:
        raise EvoproxyError(f"resnet_cifar depth {depth} is not 6n+2 with n >= 1; use 20, 32, 44, 56 or 110")
    if num_classes < 1:
        raise EvoproxyError(f"num_classes must be >= 1, got {num_classes}; pass a positive class count")
    return ResNetCifar((depth - 2) // 6, num_classes)
