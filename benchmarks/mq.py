"""Mixed-precision quantization benchmarks (``mq-resnet20-cifar10``).

An "architecture" is a per-layer weight bit configuration of one trained network; its accuracy is
the CIFAR-10 test top-1 of that network after post-training quantization, measured by
:func:`evoproxy.benchmarks.mq_build.build_mq_table` with the recipe recorded in the table's
sidecar. The table and the trained checkpoint ship in ``benchmarks/data``. ``build(id)`` returns
exactly the quantized network that was measured (same checkpoint, calibration images and method),
so it needs the CIFAR-10 training pack in the data directory.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from evoproxy.benchmark import SPLITS, sample_ids
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import BitConfig, BitSpace

from .mq_build import MQMethod, read_rows
from .nb201 import split_ids

PathLike = Union[str, os.PathLike]
DATA = Path(__file__).parent / "data"
CHECKPOINT = DATA / "resnet20-cifar10-e15.pt.gz"
PROBE_IMAGES, PROBE_SEED = 64, 0


def load_reference(checkpoint: PathLike, model: str = "resnet20") -> tuple[nn.Module, str]:
    """The trained float network (eval mode) and its checkpoint's sha256."""
    from evoproxy.train import build_model, load_checkpoint, sha256_file

    state, meta = load_checkpoint(checkpoint)
    if meta.get("arch", model) != model:
        raise EvoproxyError(f"{checkpoint} holds a {meta.get('arch')}, not a {model}; pass a matching --model")
    net = build_model(model)
    net.load_state_dict(state)
    return net.eval(), sha256_file(checkpoint)


@lru_cache(maxsize=4)
def _calibration(data_dir: Optional[str], n: int, seed: int) -> torch.Tensor:
    from evoproxy.images import normalise
    from evoproxy.train import load_cifar10

    return normalise(load_cifar10("train", data_dir, limit=n, seed=seed)[0])


class MQBenchmark:
    """Bit configurations of one trained network; implements :class:`evoproxy.benchmark.Benchmark`."""

    num_classes = 10
    proxy_line = "mq"

    def __init__(self, table: PathLike, data_dir: Optional[PathLike] = None, split_seed: int = 0,
                 checkpoint: Optional[PathLike] = None) -> None:
        table = Path(table)
        side = Path(str(table) + ".json")
        if not table.is_file() or not side.is_file():
            raise EvoproxyError(f"MQ table {table} (with its .json sidecar) not found; "
                                "build one with `evoproxy bench build mq-resnet20-cifar10`")
        self.provenance = json.loads(side.read_text())
        self.method = MQMethod.from_dict(self.provenance["method"])
        self.name = self.provenance["benchmark"]
        rows = read_rows(table)
        self.ids = [int(r["id"]) for r in rows]
        self.configs = {int(r["id"]): BitConfig.parse(r["config"]) for r in rows}
        self._acc = {int(r["id"]): float(r["top1"]) for r in rows}
        self.size_mb = {int(r["id"]): float(r["size_mb"]) for r in rows}
        self.checkpoint = Path(checkpoint) if checkpoint else table.parent / self.provenance["checkpoint"]
        self.data_dir = None if data_dir is None else str(data_dir)
        split = split_ids(len(self.ids), split_seed)
        self._splits = {k: sorted(self.ids[i] for i in v) for k, v in split.items()}
        self.label = (f"{self.name}: {len(rows)} bit configs of {self.method.model} "
                      f"({self.provenance['checkpoint']}), CIFAR-10 test top-1 after PTQ "
                      f"(`{self.provenance.get('command') or 'evoproxy bench build'}`)")
        self._reference: Optional[tuple[nn.Module, BitSpace]] = None

    def __len__(self) -> int:
        return len(self.ids)

    def reference(self) -> tuple[nn.Module, BitSpace]:
        """The trained float network and its bit space (loaded once; sha256 checked)."""
        if self._reference is None:
            model, sha = load_reference(self.checkpoint, self.method.model)
            if sha != self.provenance["checkpoint_sha256"]:
                raise EvoproxyError(f"{self.checkpoint} is not the checkpoint this table was built from "
                                    "(sha256 differs); pass the right checkpoint")
            m = self.method
            self._reference = (model, BitSpace(model, m.choices, m.first_last_bits))
        return self._reference

    def arch_ids(self, split: str = "all") -> list[int]:
        if split not in self._splits:
            raise EvoproxyError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return list(self._splits[split])

    def _check(self, arch_id: int) -> int:
        if arch_id not in self._acc:
            raise EvoproxyError(f"{self.name}: no configuration with id {arch_id!r} in the table")
        return int(arch_id)

    def arch_of(self, arch_id: int) -> str:
        return self.configs[self._check(arch_id)].canonical

    def accuracy(self, arch_id: int) -> float:
        return self._acc[self._check(arch_id)]

    def accuracies(self, arch_ids: Sequence[int]) -> np.ndarray:
        return np.array([self.accuracy(i) for i in arch_ids])

    def quantize(self, cfg: BitConfig, calibrate: bool = True) -> nn.Module:
        """The post-training-quantized network for any configuration, by the table's recipe.

        ``calibrate=False`` skips activation calibration (activations stay float): only for
        statistics that do not depend on it (weights, Q(W), bit widths, float Hessians).
        """
        model, space = self.reference()
        space.validate(cfg)
        m = self.method
        calib = _calibration(self.data_dir, m.calib_images, m.calib_seed) if calibrate else None
        from evoproxy.quant import quantize_model

        return quantize_model(model, cfg, calib, m.bn_reestimate and calibrate,
                              reference_key=self.provenance["checkpoint_sha256"][:16])

    def build(self, arch_id: int) -> nn.Module:
        return self.quantize(self.configs[self._check(arch_id)])

    def probe_batch(self):
        """64 CIFAR-10 training images: the trained network is probed on real data."""
        from evoproxy.images import load_probe_batch

        return load_probe_batch("cifar10", PROBE_IMAGES, PROBE_SEED, self.data_dir)

    probe_seed = PROBE_SEED

    def sample(self, n: int, split: str = "all", seed: int = 0) -> list[int]:
        return sample_ids(self.name, self.arch_ids(split), n, split, seed)


def load_mq(name: str, data_dir: Optional[PathLike] = None, split_seed: int = 0,
            metric: str = "top1", table: Optional[PathLike] = None) -> MQBenchmark:
    """Registry factory: the shipped table ``benchmarks/data/<name>.csv`` (or ``table``)."""
    if metric not in ("top1", "test_200ep"):
        raise EvoproxyError(f"{name}: the only metric is top1 (post-quantization test accuracy), got {metric!r}")
    return MQBenchmark(table or DATA / f"{name}.csv", data_dir, split_seed)


__all__ = ["MQBenchmark", "load_mq", "load_reference", "CHECKPOINT"]
