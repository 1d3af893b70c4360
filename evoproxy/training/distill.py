"""Knowledge distillation of a student from a frozen teacher's logits (Hinton et al. 2015).

Augmentation is a fixed set of seeded views per training image (the image, its mirror, then
random 4-px-padded crops, each possibly mirrored), so the teacher's logits are computed once per
view and stay exact for every step; each step draws one view per image. The student trains on
``(1 - alpha) * CE + alpha * T^2 * KL`` with AdamW and a cosine schedule: the CPU-sized recipe
the ``vit-kd-cifar10`` table uses.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.data.images import normalise
from evoproxy.training.loop import augment, optimizer_step


@dataclass(frozen=True)
class KDRecipe:
    """How each student is trained; recorded in the table's provenance."""

    train_images: int = 20000
    test_images: int = 10000
    views: int = 4
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    alpha: float = 0.5
    temperature: float = 4.0
    data_seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def augmented_views(images: np.ndarray, views: int, seed: int = 0) -> np.ndarray:
    """``(views, N, H, W, C)`` uint8: the images, their mirror, then seeded padded crops (:func:`augment`)."""
    if views < 1:
        raise EvoproxyError(f"views must be >= 1, got {views}")
    gen = torch.Generator().manual_seed(seed)
    out = [images, images[:, :, ::-1]][:views]
    out += [augment(images, gen).numpy() for _ in range(2, views)]
    return np.stack(out)


@torch.no_grad()
def teacher_logits(teacher: nn.Module, images: np.ndarray, batch_size: int = 500) -> torch.Tensor:
    """The teacher's logits (eval mode) for uint8 ``(..., H, W, C)`` images, shaped ``(..., classes)``."""
    teacher.eval()
    flat = images.reshape(-1, *images.shape[-3:])
    out = torch.cat([teacher(normalise(flat[s:s + batch_size])) for s in range(0, len(flat), batch_size)])
    return out.reshape(*images.shape[:-3], -1)


def kd_loss(logits: torch.Tensor, target_logits: torch.Tensor, y: torch.Tensor, alpha: float,
            temperature: float) -> torch.Tensor:
    """``(1 - alpha) * CE(logits, y) + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))``."""
    kl = F.kl_div(F.log_softmax(logits / temperature, 1), F.log_softmax(target_logits / temperature, 1),
                  reduction="batchmean", log_target=True)
    return (1 - alpha) * F.cross_entropy(logits, y) + alpha * temperature ** 2 * kl


def train_kd(student: nn.Module, x: np.ndarray, y: np.ndarray, t_logits: torch.Tensor, recipe: KDRecipe,
             seed: int = 0, on_epoch: Optional[Callable[[int, float], None]] = None) -> float:
    """Train ``student`` in place towards ``t_logits``; returns the last epoch's mean loss.

    ``x`` is ``(N, H, W, C)`` or ``(views, N, H, W, C)`` (see :func:`augmented_views`) and
    ``t_logits`` has the matching leading shape.
    """
    x, t_logits = (x, t_logits) if x.ndim == 5 else (x[None], t_logits[None])
    if x.shape[1] != len(y) or t_logits.shape[:2] != x.shape[:2]:
        raise EvoproxyError(f"images {x.shape[:2]}, {len(y)} labels and teacher logits "
                            f"{tuple(t_logits.shape[:2])} differ")
    gen = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(y)
    steps = math.ceil(len(y) / recipe.batch_size)
    opt = torch.optim.AdamW(student.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * steps)
    student.train()
    mean_loss = float("nan")
    for epoch in range(1, recipe.epochs + 1):
        order, total = torch.randperm(len(y), generator=gen), 0.0
        for s in range(steps):
            idx = order[s * recipe.batch_size:(s + 1) * recipe.batch_size]
            view = torch.randint(len(x), (len(idx),), generator=gen)
            logits = student(normalise(x[view.numpy(), idx.numpy()]))
            loss = kd_loss(logits, t_logits[view, idx], labels[idx], recipe.alpha, recipe.temperature)
            total += optimizer_step(opt, sched, loss, epoch) * len(idx)
        mean_loss = total / len(y)
        if on_epoch:
            on_epoch(epoch, mean_loss)
    return mean_loss
