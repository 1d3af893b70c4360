"""Build the ``vit-kd-cifar10`` table: small ViT students distilled from the CIFAR-10 teacher.

Students are drawn from the ``cifar-vit`` space spread evenly over parameter count, each is
trained with :func:`evoproxy.distill.train_kd` on a seeded CIFAR-10 subset, and its test top-1
is appended to the CSV as soon as it finishes, so an interrupted build resumes (see
:mod:`evoproxy.benchmarks.tables`). The sidecar records teacher checksum, seeds and recipe.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import torch

from evoproxy.distill import KDRecipe

from .tables import append_row, read_table, resume_table

PathLike = Union[str, os.PathLike]
COLUMNS = ("id", "arch", "params", "macs_m", "top1")
SPACE = "cifar-vit"
POOL_PER_ARCH = 20


def plan_archs(k: int, seed: int) -> list[dict]:
    """``k`` distinct ``cifar-vit`` architectures, one per equal-width params bin, in seeded order."""
    from evoproxy.errors import EvoproxyError
    from evoproxy.spaces.vit import build_vit, canonical, count_params, sample_arch

    if k < 1:
        raise EvoproxyError(f"--configs must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    pool = {canonical(a): a for a in (sample_arch(SPACE, rng) for _ in range(POOL_PER_ARCH * k))}
    archs = list(pool.values())
    params = np.array([count_params(build_vit(SPACE, a)) for a in archs])
    edges = np.linspace(params.min(), params.max(), k + 1)
    chosen: dict[str, dict] = {}
    for b in range(k):
        free = [i for i in rng.permutation(len(archs)) if canonical(archs[i]) not in chosen]
        inside = [i for i in free if edges[b] <= params[i] <= edges[b + 1]]
        pick = inside[0] if inside else min(free, key=lambda i: abs(params[i] - edges[b]), default=None)
        if pick is not None:
            chosen[canonical(archs[pick])] = archs[pick]
    plan = list(chosen.values())
    return [plan[i] for i in rng.permutation(len(plan))]


def read_rows(path: Path) -> list[dict]:
    return read_table(path, COLUMNS, "a vit-kd table")


def build_vit_table(out: PathLike, k: int, seed: int = 0, recipe: KDRecipe = KDRecipe(),
                    teacher_path: Optional[PathLike] = None, data_dir: Optional[PathLike] = None,
                    command: str = "", on_row: Optional[Callable[[int, int, dict], None]] = None) -> Path:
    """Build (or continue) the table at ``out``; ``on_row(done, total, row)`` after each student."""
    from evoproxy.distill import teacher_logits, train_kd
    from evoproxy.spaces.vit import build_vit, canonical, count_params, vit_flops
    from evoproxy.train import evaluate_accuracy, load_cifar10

    from .vit import load_teacher

    out = Path(out)
    teacher, key = load_teacher(None if teacher_path is None else str(teacher_path))
    prov = {"benchmark": "vit-kd-cifar10", "configs": k, "seed": seed, "space": SPACE, "teacher": key,
            "recipe": recipe.as_dict(), "command": command, "torch": torch.__version__}
    done = resume_table(out, prov, COLUMNS, "a vit-kd table")
    plan = plan_archs(k, seed)
    x_tr, y_tr = load_cifar10("train", data_dir, limit=recipe.train_images, seed=recipe.data_seed)
    x_te, y_te = load_cifar10("test", data_dir, limit=recipe.test_images, seed=recipe.data_seed)
    t_logits = teacher_logits(teacher, x_tr)
    for i, arch in enumerate(plan):
        if i in done:
            continue
        torch.manual_seed(seed * 100_003 + i)
        student = build_vit(SPACE, arch)
        train_kd(student, x_tr, y_tr, t_logits, recipe, seed=seed + i)
        top1 = evaluate_accuracy(student, x_te, y_te)
        row = [i, canonical(arch), count_params(student), f"{vit_flops(arch, SPACE) / 1e6:.3f}", f"{top1:.2f}"]
        append_row(out, row)
        done.add(i)
        if on_row is not None:
            on_row(len(done), len(plan), dict(zip(COLUMNS, row)))
    return out
