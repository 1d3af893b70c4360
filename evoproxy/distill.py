"""Knowledge distillation of a student from a frozen teacher's logits (Hinton et al. 2015).

The teacher's logits are computed once for the training images (no augmentation, so they are
exact for every step), then the student trains on ``(1 - alpha) * CE + alpha * T^2 * KL`` with
AdamW and a cosine schedule: the short, CPU-sized recipe the ``vit-kd-cifar10`` table uses.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import EvoproxyError
from .images import normalise
from .train import optimizer_step


@dataclass(frozen=True)
class KDRecipe:
    """How each student is trained; recorded in the table's provenance."""

    train_images: int = 5000
    test_images: int = 2000
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    alpha: float = 0.5
    temperature: float = 4.0
    data_seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def teacher_logits(teacher: nn.Module, images: np.ndarray, batch_size: int = 500) -> torch.Tensor:
    """The teacher's logits for uint8 NHWC images (eval mode)."""
    teacher.eval()
    return torch.cat([teacher(normalise(images[s:s + batch_size])) for s in range(0, len(images), batch_size)])


def kd_loss(logits: torch.Tensor, target_logits: torch.Tensor, y: torch.Tensor, alpha: float,
            temperature: float) -> torch.Tensor:
    """``(1 - alpha) * CE(logits, y) + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))``."""
    kl = F.kl_div(F.log_softmax(logits / temperature, 1), F.log_softmax(target_logits / temperature, 1),
                  reduction="batchmean", log_target=True)
    return (1 - alpha) * F.cross_entropy(logits, y) + alpha * temperature ** 2 * kl


def train_kd(student: nn.Module, x: np.ndarray, y: np.ndarray, t_logits: torch.Tensor, recipe: KDRecipe,
             seed: int = 0, on_epoch: Optional[Callable[[int, float], None]] = None) -> float:
    """Train ``student`` in place on ``(x, y)`` towards ``t_logits``; returns the last epoch's mean loss."""
    if len(x) != len(y) or len(y) != len(t_logits):
        raise EvoproxyError(f"{len(x)} images, {len(y)} labels and {len(t_logits)} teacher logits differ")
    gen = torch.Generator().manual_seed(seed)
    inputs, labels = normalise(x), torch.as_tensor(y)
    steps = math.ceil(len(y) / recipe.batch_size)
    opt = torch.optim.AdamW(student.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * steps)
    student.train()
    mean_loss = float("nan")
    for epoch in range(1, recipe.epochs + 1):
        order, total = torch.randperm(len(y), generator=gen), 0.0
        for s in range(steps):
            idx = order[s * recipe.batch_size:(s + 1) * recipe.batch_size]
            loss = kd_loss(student(inputs[idx]), t_logits[idx], labels[idx], recipe.alpha, recipe.temperature)
            total += optimizer_step(opt, sched, loss, epoch) * len(idx)
        mean_loss = total / len(y)
        if on_epoch:
            on_epoch(epoch, mean_loss)
    return mean_loss
