"""Small networks and a batch shared by the probe tests and the direct-implementation tests."""
from __future__ import annotations

import copy

import torch
from torch import nn

LAYERS = (nn.Conv2d, nn.Linear)


# ---- models -----------------------------------------------------------------------------------

def _randomize_bn(net: nn.Module, seed: int) -> nn.Module:
    """Non-default BN affine params and running stats, so that |.| and BN handling matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return net


def tiny_cnn() -> nn.Module:
    """(a) the tiny CNN of the brief (BN params randomised)."""
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5))
    return _randomize_bn(net, 11)


class Reordered(nn.Module):
    """(b) modules registered in the reverse of the order they run.

    conv2 and conv3 have identical shapes, so pairing grad of one with the weight of the other
    would not raise a shape error: it would silently give another number.
    """

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(4, 5)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.relu3 = nn.ReLU()
        self.conv3 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(4)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)

    def forward_order(self) -> list[nn.Module]:
        return [self.conv1, self.conv2, self.conv3, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.conv2(x))
        x = self.relu3(self.conv3(x))
        return self.head(self.pool(x).flatten(1))


def reordered() -> nn.Module:
    torch.manual_seed(2)
    net = Reordered()
    with torch.no_grad():  # make conv2 / conv3 clearly different
        net.conv3.weight.mul_(3.0)
    return _randomize_bn(net, 12)


def linear_bias() -> nn.Module:
    """(c) Linear layers with bias, one followed by an in-place ReLU."""
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, 8, bias=True), nn.ReLU(inplace=True), nn.Linear(8, 5, bias=True))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.bias.normal_()
    return _randomize_bn(net, 13)


MODELS = {"cnn": tiny_cnn, "reordered": reordered, "linear_bias": linear_bias}


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(8, 3, 8, 8)
    y = torch.randint(0, 5, (8,))
    return x, y


def copy_model(model: nn.Module, train: bool = True) -> nn.Module:
    net = copy.deepcopy(model)
    for p in net.parameters():
        p.grad = None
    return net.train(train)
