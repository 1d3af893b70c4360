"""ViT-student distillation benchmarks: the published Auto-Prox tables and the one built here.

``vit-{autoformer,pit}-{c100,flowers,chaoyang}`` read ``<data>/vit/gt_*.csv`` (Auto-Prox's ground
truth: accuracy of each subnet trained with knowledge distillation from a CIFAR-100 ResNet-56,
metric ``kd``, or from scratch, ``base``). ``vit-kd-cifar10`` reads the table that
``evoproxy bench build vit-kd-cifar10`` writes (``benchmarks/data/vit-kd-cifar10.csv``, shipped with
its provenance sidecar).

Every student is probed beside this project's CIFAR-10 ResNet-20 teacher on CIFAR-10 images at
32x32, with a 10-class head. For the published tables that is a *substitute* teacher and probe
set (the labels say so); a user with the original teacher passes it with ``EVOPROXY_TEACHER``.
"""
from __future__ import annotations

import csv
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from torch import nn

from evoproxy.benchmark import SPLITS, sample_ids
from evoproxy.data import data_file
from evoproxy.errors import EvoproxyError

from .nb201 import split_ids

PathLike = Union[str, os.PathLike]
DATA = Path(__file__).parent / "data"
DEFAULT_TEACHER = DATA / "resnet20-cifar10-e15.pt.gz"
PROBE_IMAGES, PROBE_SEED = 64, 0
TABLES = {"autoformer": ("gt_autoformer.csv", "gt_autoformer_2.csv"), "pit": ("gt_pit.csv",)}
DATASETS = {"c100": "c100", "flowers": "flower", "chaoyang": "chaoyang"}
METRICS = ("kd", "base")


@lru_cache(maxsize=2)
def load_teacher(path: Optional[str] = None) -> tuple[nn.Module, str]:
    """The frozen CNN teacher (eval mode) and a key naming it (its checkpoint's sha256 prefix).

    ``path`` (or ``EVOPROXY_TEACHER``) is a checkpoint written by ``evoproxy train``, read with
    ``weights_only=True``; the default is the shipped CIFAR-10 ResNet-20.
    """
    from evoproxy.train import build_model, load_checkpoint, sha256_file

    path = path or os.environ.get("EVOPROXY_TEACHER") or str(DEFAULT_TEACHER)
    if not Path(path).is_file():
        raise EvoproxyError(f"teacher checkpoint {path} not found; train one with `evoproxy train` "
                            "or fix --teacher / EVOPROXY_TEACHER")
    state, meta = load_checkpoint(path)
    net = build_model(meta.get("arch", "resnet20"))
    net.load_state_dict(state)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval(), f"{meta.get('arch', 'resnet20')}:{sha256_file(path)[:16]}"


def use_teacher(path: str) -> str:
    """Make the checkpoint at ``path`` this process's teacher (checked now: one line if unreadable).

    It is passed on as ``EVOPROXY_TEACHER``, so Ray workers and the benchmark labels see it too.
    """
    path = str(Path(path).resolve())
    load_teacher(path)
    os.environ["EVOPROXY_TEACHER"] = path
    return path


class ViTBenchmark:
    """ViT students with distillation accuracies; implements :class:`evoproxy.benchmark.Benchmark`."""

    num_classes = 10  # the teacher's classes: students are probed with a head over them
    proxy_line = "vit"
    probe_seed = PROBE_SEED

    def __init__(self, name: str, space: str, archs: Sequence[dict], acc: Sequence[float], label: str,
                 data_dir: Optional[PathLike] = None, split_seed: int = 0) -> None:
        from evoproxy.spaces.vit import canonical

        self.name, self.space, self.label = name, space, label
        self.archs, self._acc = list(archs), np.asarray(acc, dtype=float)
        if len({canonical(a) for a in self.archs}) != len(self.archs):
            raise EvoproxyError(f"{name}: the table lists an architecture twice")
        self.data_dir = None if data_dir is None else str(data_dir)
        self._splits = split_ids(len(self.archs), split_seed)

    def __len__(self) -> int:
        return len(self.archs)

    def arch_ids(self, split: str = "all") -> list[int]:
        if split not in self._splits:
            raise EvoproxyError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return list(self._splits[split])

    def _check(self, arch_id: int) -> int:
        if not 0 <= int(arch_id) < len(self.archs):
            raise EvoproxyError(f"{self.name}: arch id {arch_id} is outside 0..{len(self.archs) - 1}")
        return int(arch_id)

    def arch_of(self, arch_id: int) -> str:
        from evoproxy.spaces.vit import canonical

        return canonical(self.archs[self._check(arch_id)])

    def accuracy(self, arch_id: int) -> float:
        return float(self._acc[self._check(arch_id)])

    def accuracies(self, arch_ids: Sequence[int]) -> np.ndarray:
        return np.array([self.accuracy(i) for i in arch_ids])

    def student(self, arch_id: int) -> nn.Module:
        from evoproxy.spaces.vit import build_vit

        return build_vit(self.space, self.archs[self._check(arch_id)], num_classes=self.num_classes)

    def build(self, arch_id: int) -> nn.Module:
        """A freshly initialised student beside the frozen teacher."""
        from evoproxy.kdprobe import DistillPair
        from evoproxy.spaces.vit import vit_flops

        teacher, key = load_teacher()
        macs = vit_flops(self.archs[self._check(arch_id)], self.space, num_classes=self.num_classes)
        return DistillPair(self.student(arch_id), teacher, key, macs_m=macs / 1e6)

    def probe_batch(self):
        """64 CIFAR-10 training images at 32x32 (the teacher's data)."""
        from evoproxy.images import load_probe_batch

        return load_probe_batch("cifar10", PROBE_IMAGES, PROBE_SEED, self.data_dir)

    def sample(self, n: int, split: str = "all", seed: int = 0) -> list[int]:
        return sample_ids(self.name, self.arch_ids(split), n, split, seed)


def _read_published(space: str, column: str, data_dir: Optional[PathLike]) -> tuple[list, list]:
    archs, acc = [], []
    for fname in TABLES[space]:
        path = data_file(f"vit/{fname}", data_dir)
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row.get(column):  # gt_autoformer_2 has no from-scratch ("base") accuracies
                    archs.append(json.loads(row["arch_json"]))
                    acc.append(float(row[column]))
    return archs, acc


def load_published(space: str, dataset: str, data_dir: Optional[PathLike] = None, split_seed: int = 0,
                   metric: str = "kd") -> ViTBenchmark:
    """Registry factory for ``vit-<space>-<dataset>``; ``metric`` is kd (default) or base."""
    metric = "kd" if metric in ("test_200ep", "top1") else metric
    name = f"vit-{space}-{dataset}"
    if metric not in METRICS:
        raise EvoproxyError(f"{name}: metric must be kd or base, got {metric!r}")
    archs, acc = _read_published(space, f"{DATASETS[dataset]}_{metric}_acc", data_dir)
    teacher = os.environ.get("EVOPROXY_TEACHER")
    label = (f"{name}: {len(archs)} {space} subnets, Auto-Prox {dataset} {metric} accuracy; probed at "
             f"32x32 with {'teacher ' + teacher if teacher else 'a SUBSTITUTE teacher (CIFAR-10 ResNet-20)'} "
             "on a SUBSTITUTE probe set (CIFAR-10)")
    return ViTBenchmark(name, space, archs, acc, label, data_dir, split_seed)


def load_built(name: str = "vit-kd-cifar10", data_dir: Optional[PathLike] = None, split_seed: int = 0,
               metric: str = "top1", table: Optional[PathLike] = None) -> ViTBenchmark:
    """Registry factory for the table built here (``benchmarks/data/vit-kd-cifar10.csv`` or ``table``)."""
    from .vit_build import SPACE, read_rows

    if metric not in ("top1", "test_200ep", "kd"):
        raise EvoproxyError(f"{name}: the only metric is top1 (test accuracy after distillation), got {metric!r}")
    path = Path(table) if table else DATA / f"{name}.csv"
    side = Path(str(path) + ".json")
    if not path.is_file() or not side.is_file():
        raise EvoproxyError(f"ViT table {path} (with its .json sidecar) not found; build one with "
                            "`evoproxy bench build vit-kd-cifar10`")
    prov = json.loads(side.read_text())
    rows = read_rows(path)
    recipe = prov["recipe"]
    label = (f"{name}: {len(rows)} {SPACE} students distilled from {prov['teacher']} "
             f"({recipe['train_images']} CIFAR-10 images, {recipe.get('views', 1)} views x {recipe['epochs']} epochs; "
             f"top-1 on "
             f"{recipe['test_images']} test images; `{prov.get('command') or 'evoproxy bench build'}`)")
    return ViTBenchmark(name, SPACE, [json.loads(r["arch"]) for r in rows], [float(r["top1"]) for r in rows],
                        label, data_dir, split_seed)


__all__ = ["ViTBenchmark", "load_built", "load_published", "load_teacher", "use_teacher", "DEFAULT_TEACHER"]
