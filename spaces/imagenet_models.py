"""ImageNet ResNet-18 and MobileNetV2 in plain torch, for users who bring ImageNet and a GPU.

Both follow the standard torchvision layouts, module names included, so a
torchvision ``state_dict`` loads into them: ResNet-18 has 11,689,512
parameters and MobileNetV2 (width 1.0) 3,504,872, for 1000 classes. Use them
with ``BitSpace(model, input_shape=(1, 3, 224, 224))``; both end in adaptive
average pooling, so smaller inputs also run.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from evoproxy.errors import EvoproxyError


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN layers with a residual; a 1x1 strided conv+BN ``downsample`` when shapes change."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """7x7/2 stem + max pool, four stages of two BasicBlocks (64..512 channels), avg pool, linear."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = 64
        for i, c_out in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(c_in, c_out, stride),
                                                         BasicBlock(c_out, c_out, 1)))
            c_in = c_out
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def init_conv_bn(model: nn.Module) -> None:
    """MobileNetV2's init: Kaiming-normal (fan out) convolutions, BatchNorm weight 1 and bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _divisible(v: float, divisor: int = 8) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, never more than 10% below ``v``."""
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


def _conv_bn_relu6(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias, 'same' padding) + BN + ReLU6."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when ``expand == 1``), 3x3 depthwise, linear 1x1 project; residual if shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = int(round(c_in * expand))
        self.use_res_connect = stride == 1 and c_in == c_out
        layers: list[nn.Module] = [] if expand == 1 else [_conv_bn_relu6(c_in, hidden, 1)]
        layers += [_conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


MBV2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
"""MobileNetV2 stages as (expansion t, channels c, blocks n, first stride s)."""


class MobileNetV2(nn.Module):
    """Stem 3x3/2 conv, 17 inverted residual blocks, 1x1 conv to 1280, avg pool, dropout 0.2 + linear."""

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0) -> None:
        super().__init__()
        c_in, last = _divisible(32 * width_mult), _divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [_conv_bn_relu6(3, c_in, 3, 2)]
        for t, c, n, s in MBV2_SETTINGS:
            c_out = _divisible(c * width_mult)
            for j in range(n):
                features.append(InvertedResidual(c_in, c_out, s if j == 0 else 1, t))
                c_in = c_out
        features.append(_conv_bn_relu6(c_in, last, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))
        init_conv_bn(self)
        for m in self.modules():      # after every conv: the classifier is the last module
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def _check_classes(num_classes: int) -> None:
    if num_classes < 1:
        raise EvoproxyError(f"num_classes must be >= 1, got {num_classes}; pass a positive class count")


def resnet18(num_classes: int = 1000) -> nn.Module:
    """ImageNet ResNet-18 (11,689,512 parameters at 1000 classes)."""
    _check_classes(num_classes)
    return ResNet18(num_classes)


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0) -> nn.Module:
    """ImageNet MobileNetV2 (3,504,872 parameters at width 1.0 and 1000 classes)."""
    _check_classes(num_classes)
    if width_mult <= 0:
        raise EvoproxyError(f"width_mult must be > 0, got {width_mult}; use e.g. 0.5, 0.75, 1.0 or 1.4")
    return MobileNetV2(num_classes, width_mult)


IMAGENET_MODELS: dict[str, Callable[..., nn.Module]] = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2}
"""Builders by name, for :func:`build_imagenet_model`."""


def build_imagenet_model(name: str, num_classes: int = 1000) -> nn.Module:
    """Build an ImageNet model by name: ``"resnet18"`` or ``"mobilenet_v2"``."""
    if name not in IMAGENET_MODELS:
        raise EvoproxyError(f"unknown ImageNet model {name!r}; valid names: {', '.join(IMAGENET_MODELS)}")
    return IMAGENET_MODELS[name](num_classes)
