"""Train a CIFAR-10 network from scratch: augmentation, the SGD loop, accuracy.

The recipe is the usual CIFAR ResNet one: SGD (momentum 0.9, Nesterov), weight decay,
a cosine learning-rate schedule over every step, random 32x32 crops of the image padded
by 4 zero pixels and random horizontal flips, inputs normalised with the CIFAR-10
statistics. Everything random (shuffling, crops, flips) comes from generators seeded by
``seed``, so with the same seed, the same initial weights and the same thread count a run
gives the same model. Model initialisation is the caller's (seed torch before building it).
The library never prints.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from evoproxy.data.images import CIFAR10_MEAN, CIFAR10_STD, normalise
from evoproxy.errors import EvoproxyError

PAD = 4


_MEAN = torch.tensor(CIFAR10_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
_STD = torch.tensor(CIFAR10_STD, dtype=torch.float32).view(1, 3, 1, 1)


def augment(images: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    """Random 32x32 crops of the 4-pixel zero-padded images and random horizontal flips.

    ``images``: uint8 (N, H, W, C), left untouched. Returns a new uint8 tensor of the same shape.
    """
    x = torch.from_numpy(np.ascontiguousarray(images))
    n, h, w, _ = x.shape
    padded = torch.nn.functional.pad(x, (0, 0, PAD, PAD, PAD, PAD))  # zeros; a new tensor
    oy = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
    ox = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = oy[:, None] + torch.arange(h)                                   # (N, H)
    cols = ox[:, None] + torch.arange(w)                                   # (N, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)                  # flip = read columns backwards
    return padded[torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) tensor -> normalised float32 (N, 3, 32, 32), as :func:`images.normalise`."""
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    return ((x - _MEAN) / _STD).contiguous()


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy (%) of ``model`` on uint8 NHWC images ``x`` with labels ``y`` (eval mode)."""
    if len(y) == 0:
        raise EvoproxyError("no images to evaluate on")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    try:
        for s in range(0, len(y), batch_size):
            logits = model(normalise(x[s:s + batch_size]).to(device))
            correct += int((logits.argmax(1).cpu() == torch.as_tensor(y[s:s + batch_size])).sum())
    finally:
        model.train(was_training)
    return 100.0 * correct / len(y)


def train_model(model: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                y_test: np.ndarray, epochs: int, batch_size: int = 128, lr: float = 0.1,
                weight_decay: float = 5e-4, seed: int = 0,
                on_epoch: Optional[Callable[[int, dict], None]] = None,
                on_batch: Optional[Callable[[int, int, float], None]] = None) -> dict:
    """Train ``model`` in place; returns ``{"epochs", "train_loss", "test_acc", "seconds", "history"}``.

    ``train_loss`` is the mean loss over the last epoch, ``test_acc`` the final top-1 (%) on
    the test images. ``on_epoch(epoch, metrics)`` runs after each epoch (1-based) with
    ``train_loss``, ``train_acc`` and ``lr``; ``on_batch(epoch, step, loss)`` after each step.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise EvoproxyError(f"epochs ({epochs}) and batch size ({batch_size}) must be >= 1 and lr ({lr}) > 0")
    if len(x_train) != len(y_train) or len(x_train) == 0:
        raise EvoproxyError(f"{len(x_train)} training images but {len(y_train)} labels")
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(y_train) / batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    history, start = [], time.perf_counter()
    model.train()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(y_train))
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            idx = np.sort(order[step * batch_size:(step + 1) * batch_size])
            xb = to_input(augment(x_train[idx], gen)).to(device)
            yb = torch.from_numpy(y_train[idx]).to(device)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            value = optimizer_step(opt, sched, loss, epoch)
            loss_sum += value * len(idx)
            correct += int((logits.detach().argmax(1) == yb).sum())
            seen += len(idx)
            if on_batch:
                on_batch(epoch, step + 1, value)
        metrics = {"train_loss": loss_sum / seen, "train_acc": 100.0 * correct / seen,
                   "lr": opt.param_groups[0]["lr"]}
        history.append(metrics)
        if on_epoch:
            on_epoch(epoch, metrics)
    test_acc = evaluate_accuracy(model, x_test, y_test)
    return {"epochs": epochs, "train_loss": history[-1]["train_loss"], "test_acc": test_acc,
            "seconds": time.perf_counter() - start, "history": history}


def optimizer_step(opt: torch.optim.Optimizer, sched, loss: torch.Tensor, epoch: int) -> float:
    """One backward + optimizer + scheduler step; the loss value, or a clear error if it diverged."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    value = float(loss.detach())
    if not math.isfinite(value):
        raise EvoproxyError(f"training diverged (loss {value}) in epoch {epoch}; lower the learning rate")
    return value
