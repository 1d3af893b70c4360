"""ViT-student distillation benchmarks: the published Auto-Prox tables and the one built here.

``vit-{autoformer,pit}-{c100,flowers,chaoyang}`` read ``<data>/vit/gt_*.csv`` (Auto-Prox's ground
truth: accuracy of each subnet trained with knowledge distillation from a CIFAR-100 ResNet-56,
metric ``kd``, or from scratch, ``base``). ``vit-kd-cifar10`` reads the table that
``evoproxy bench build vit-kd-cifar10`` writes (``benchmarks/data/vit-kd-cifar10.csv``, shipped with
its provenance sidecar).

Every student is probed beside this project's CIFAR-10 ResNet-20 teacher on CIFAR-10 images at
32x32, with a 10-class head. For the published tables that is a *substitute* teacher and probe
set (the labels say so); a user with the original teacher passes its checkpoint as ``teacher``
(``--teacher`` on the command line).
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from torch import nn

from evoproxy.data.paths import data_file
from evoproxy.errors import EvoproxyError

from ..base import TableBenchmark
from ..checkpoints import DATA, SHIPPED_RESNET20, load_teacher
from .build import SPACE, read_rows

PathLike = Union[str, os.PathLike]
DEFAULT_TEACHER = SHIPPED_RESNET20
PROBE_IMAGES, PROBE_SEED = 64, 0
TABLES = {"autoformer": ("gt_autoformer.csv", "gt_autoformer_2.csv"), "pit": ("gt_pit.csv",)}
DATASETS = {"c100": "c100", "flowers": "flower", "chaoyang": "chaoyang"}
METRICS = ("kd", "base")


class ViTBenchmark(TableBenchmark):
    """ViT students with distillation accuracies; implements :class:`evoproxy.benchmarks.base.Benchmark`."""

    num_classes = 10  # the teacher's classes: students are probed with a head over them
    proxy_line = "vit"
    probe_seed = PROBE_SEED

    def __init__(self, name: str, space: str, archs: Sequence[dict], acc: Sequence[float], label: str,
                 data_dir: Optional[PathLike] = None, split_seed: int = 0,
                 teacher: Optional[str] = None) -> None:
        from evoproxy.spaces.vit import canonical

        super().__init__(range(len(archs)), split_seed)
        self.name, self.space, self.label, self.teacher = name, space, label, teacher
        self.archs, self._acc = list(archs), np.asarray(acc, dtype=float)
        if len({canonical(a) for a in self.archs}) != len(self.archs):
            raise EvoproxyError(f"{name}: the table lists an architecture twice")
        self.data_dir = None if data_dir is None else str(data_dir)

    def arch_of(self, arch_id: int) -> str:
        from evoproxy.spaces.vit import canonical

        return canonical(self.archs[self._check(arch_id)])

    def student(self, arch_id: int) -> nn.Module:
        from evoproxy.spaces.vit import build_vit

        return build_vit(self.space, self.archs[self._check(arch_id)], num_classes=self.num_classes)

    def build(self, arch_id: int) -> nn.Module:
        """A freshly initialised student beside the frozen teacher."""
        from evoproxy.probe.teacher import DistillPair
        from evoproxy.spaces.vit import vit_flops

        teacher, key = load_teacher(self.teacher)
        macs = vit_flops(self.archs[self._check(arch_id)], self.space, num_classes=self.num_classes)
        return DistillPair(self.student(arch_id), teacher, key, macs_m=macs / 1e6)

    def probe_batch(self):
        """64 CIFAR-10 training images at 32x32 (the teacher's data)."""
        from evoproxy.data.images import load_probe_batch

        return load_probe_batch("cifar10", PROBE_IMAGES, PROBE_SEED, self.data_dir)


def _read_published(space: str, column: str, data_dir: Optional[PathLike]) -> tuple[list, list]:
    archs, acc = [], []
    for fname in TABLES[space]:
        path = data_file(f"vit/{fname}", data_dir)
        try:
            with open(path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if row.get(column):  # gt_autoformer_2 has no from-scratch ("base") accuracies
                        archs.append(json.loads(row["arch_json"]))
                        acc.append(float(row[column]))
        except (UnicodeDecodeError, csv.Error, ValueError, KeyError, TypeError, RecursionError) as err:
            raise EvoproxyError(f"{path} is not an Auto-Prox ground-truth table in UTF-8 CSV with arch_json and "
                                f"{column} columns ({type(err).__name__}: {str(err)[:80]}); re-copy it") from None
    return archs, acc


def load_published(space: str, dataset: str, data_dir: Optional[PathLike] = None, split_seed: int = 0,
                   metric: str = "kd", teacher: Optional[str] = None) -> ViTBenchmark:
    """Registry factory for ``vit-<space>-<dataset>``; ``metric`` is kd (default) or base."""
    metric = "kd" if metric in ("test_200ep", "top1") else metric
    name = f"vit-{space}-{dataset}"
    if metric not in METRICS:
        raise EvoproxyError(f"{name}: metric must be kd or base, got {metric!r}")
    archs, acc = _read_published(space, f"{DATASETS[dataset]}_{metric}_acc", data_dir)
    label = (f"{name}: {len(archs)} {space} subnets, Auto-Prox {dataset} {metric} accuracy; probed at "
             f"32x32 with {'teacher ' + teacher if teacher else 'a SUBSTITUTE teacher (CIFAR-10 ResNet-20)'} "
             "on a SUBSTITUTE probe set (CIFAR-10)")
    return ViTBenchmark(name, space, archs, acc, label, data_dir, split_seed, teacher)


def load_built(name: str = "vit-kd-cifar10", data_dir: Optional[PathLike] = None, split_seed: int = 0,
               metric: str = "top1", table: Optional[PathLike] = None,
               teacher: Optional[str] = None) -> ViTBenchmark:
    """Registry factory for the table built here (``benchmarks/data/vit-kd-cifar10.csv`` or ``table``)."""
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
                        label, data_dir, split_seed, teacher)


__all__ = ["ViTBenchmark", "load_built", "load_published", "load_teacher", "DEFAULT_TEACHER"]
