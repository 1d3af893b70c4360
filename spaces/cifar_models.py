"""The CIFAR-10 networks ``evoproxy train`` builds by name: the ResNets of :mod:`.resnet_cifar` and the
MobileNetV2-style network of :mod:`.mobilenet_cifar`."""
from __future__ import annotations

from functools import partial
from typing import Callable

from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.mobilenet_cifar import MobileNetCifar
from evoproxy.spaces.resnet_cifar import resnet_cifar

MODELS: dict[str, Callable[[], nn.Module]] = {
    **{f"resnet{d}": partial(resnet_cifar, depth=d, num_classes=10) for d in (8, 14, 20, 32, 44, 56, 110)},
    "mobilenetv2": partial(MobileNetCifar, num_classes=10)}


def build_model(name: str) -> nn.Module:
    """A fresh network by name (``resnet20``, ``mobilenetv2``, ...); an unknown name lists the choices."""
    if name not in MODELS:
        raise EvoproxyError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name]()
