"""A MobileNetV2-style CIFAR network (Sandler et al., 2018), slimmed for a CPU, in plain torch.

A 3x3 stem conv (16 channels) + BN + ReLU6, then inverted-residual blocks (1x1 expansion, 3x3
depthwise, 1x1 linear projection; identity shortcut when shape is kept), a 1x1 conv to 256 channels,
global average pooling and a linear classifier. The stem keeps 32x32 and three stages halve it (to 4x4):
0.16M parameters and 8M multiply-adds, so one training step costs about what ResNet-20's does on a CPU
(depthwise convolutions are slow there). A depthwise network is far more sensitive to low-bit weights
than a ResNet.
"""
from __future__ import annotations

import torch
from torch import nn

from evoproxy.spaces.imagenet_models import init_conv_bn

BLOCKS: tuple[tuple[int, int, int, int], ...] = ((1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 3, 2), (4, 64, 2, 2),
                                                  (4, 96, 1, 1))
"""(expansion t, output channels c, repeats n, first stride s) per stage, as in the paper's Table 2."""
STEM, HEAD = 16, 256


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, *([nn.ReLU6()] if act else []))


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when t = 1), 3x3 depthwise, 1x1 linear project; residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        expand = [_conv_bn(c_in, hidden, 1)] if expansion != 1 else []
        self.body = nn.Sequential(*expand, _conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                  _conv_bn(hidden, c_out, 1, act=False))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class MobileNetCifar(nn.Module):
    """The slim MobileNetV2 above; ``forward_features`` gives the stage outputs as the ResNet's does."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = _conv_bn(3, STEM, 3)
        blocks, c_in = [], STEM
        for t, c, n, s in BLOCKS:
            for j in range(n):
                blocks.append(InvertedResidual(c_in, c, s if j == 0 else 1, t))
                c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv_bn(c_in, HEAD, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(HEAD, num_classes)
        init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[1]

    def probe_blocks(self) -> list[nn.Module]:
        """The stages block statistics read: the stem, every inverted-residual block, the head."""
        return [self.stem, *self.blocks, self.head]

    def forward_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The last block's output at each resolution (32, 16, 8 and 4 pixels) and the logits."""
        out, by_size = self.stem(x), {}
        for block in self.blocks:
            out = block(out)
            by_size[out.shape[-1]] = out     # the last block at each resolution
        return list(by_size.values()), self.fc(torch.flatten(self.pool(self.head(out)), 1))
