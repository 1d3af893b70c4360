"""Trained networks the benchmarks stand on: the MQ reference networks and the ViT teacher.

All are checkpoints written by ``evoproxy train`` (read with ``weights_only=True``); the shipped
ones are a CIFAR-10 ResNet-20 (``benchmarks/data/resnet20-cifar10-e15.pt.gz``, also the teacher) and a
MobileNetV2-style network (``mobilenetv2-cifar10-e10.pt.gz``).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.cifar_models import build_model
from evoproxy.training.checkpoint import load_checkpoint, load_into, sha256_file

PathLike = Union[str, os.PathLike]
DATA = Path(__file__).parent / "data"
SHIPPED_RESNET20 = DATA / "resnet20-cifar10-e15.pt.gz"
SHIPPED = {"resnet20": SHIPPED_RESNET20, "mobilenetv2": DATA / "mobilenetv2-cifar10-e10.pt.gz"}
"""The shipped trained network of each model name (the MQ benchmarks' references)."""


def load_reference(checkpoint: PathLike, model: str = "resnet20") -> tuple[nn.Module, str]:
    """The trained float network (eval mode) and its checkpoint's sha256."""
    state, meta = load_checkpoint(checkpoint)
    if meta.get("arch", model) != model:
        raise EvoproxyError(f"{checkpoint} holds a {meta.get('arch')}, not a {model}; pass a matching --model")
    net = load_into(build_model(model), state, checkpoint)
    return net.eval(), sha256_file(checkpoint)


@lru_cache(maxsize=2)
def load_teacher(path: Optional[str] = None) -> tuple[nn.Module, str]:
    """The frozen CNN teacher (eval mode) and a key naming it (its checkpoint's sha256 prefix).

    ``path`` is a checkpoint written by ``evoproxy train``; None means the shipped ResNet-20.
    """
    path = path or str(SHIPPED_RESNET20)
    if not Path(path).is_file():
        raise EvoproxyError(f"teacher checkpoint {path} not found; train one with `evoproxy train` "
                            "or fix --teacher / EVOPROXY_TEACHER")
    state, meta = load_checkpoint(path)
    net = load_into(build_model(str(meta.get("arch", "resnet20"))), state, path)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval(), f"{meta.get('arch', 'resnet20')}:{sha256_file(path)[:16]}"
