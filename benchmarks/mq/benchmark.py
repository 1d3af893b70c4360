"""Mixed-precision quantization benchmarks (``mq-resnet20-cifar10``).

An "architecture" is a per-layer weight bit configuration of one trained network; its accuracy is
the CIFAR-10 test top-1 of that network after post-training quantization, measured by
:func:`evoproxy.benchmarks.mq.build.build_mq_table` with the recipe recorded in the table's
sidecar. The table and the trained checkpoint ship in ``benchmarks/data``. ``build(id)`` returns
exactly the quantized network that was measured (same checkpoint, calibration images and method),
so it needs the CIFAR-10 training pack in the data directory.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import BitConfig, BitSpace

from evoproxy.probe.requested import PROBED
from evoproxy.spaces.quantized import CALIBRATION_FREE

from ..base import TableBenchmark
from ..checkpoints import DATA, SHIPPED, SHIPPED_RESNET20, load_reference
from .build import MQMethod, read_rows, stratum_name
from .measured import MeasuredTop1, open_measured, recipe_key

PathLike = Union[str, os.PathLike]
CHECKPOINT = SHIPPED_RESNET20
MODELS = {"mq-resnet20-cifar10": "resnet20", "mq-mobilenetv2-cifar10": "mobilenetv2"}
"""The MQ benchmarks: each is one shipped network's bit configurations (:data:`SHIPPED`)."""
MOBILENET_BUDGETS = (0.047, 0.064, 0.086)
"""Between uniform 2 and 3, 3 and 4, 4 and 8 bits, where ResNet-20's 0.08 / 0.11 / 0.15 MB sit."""
PROBE_IMAGES, PROBE_SEED = 64, 0
ALLOCATED = "allocation"
"""The origin of a row that an allocation chose (``allocation round 1 seed 0``, ...)."""


@lru_cache(maxsize=4)
def _calibration(data_dir: Optional[str], n: int, seed: int) -> torch.Tensor:
    from evoproxy.data.images import normalise
    from evoproxy.data.cifar import load_cifar10

    return normalise(load_cifar10("train", data_dir, limit=n, seed=seed)[0])


@lru_cache(maxsize=2)
def _test_images(data_dir: Optional[str], limit: Optional[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from evoproxy.data.cifar import load_cifar10

    return load_cifar10("test", data_dir, limit=limit, seed=seed)


class MQBenchmark(TableBenchmark):
    """Bit configurations of one trained network; implements :class:`evoproxy.benchmarks.base.Benchmark`."""

    num_classes = 10
    proxy_line = "mq"
    probe_seed = PROBE_SEED

    def __init__(self, table: PathLike, data_dir: Optional[PathLike] = None, split_seed: int = 0,
                 checkpoint: Optional[PathLike] = None) -> None:
        table = Path(table)
        side = Path(str(table) + ".json")
        if not table.is_file() or not side.is_file():
            raise EvoproxyError(f"MQ table {table} (with its .json sidecar) not found; build one with "
                                f"`evoproxy bench build {build_command(table.stem)}`")
        self.provenance = json.loads(side.read_text())
        self.method = MQMethod.from_dict(self.provenance["method"])
        self.name = self.provenance["benchmark"]
        rows = read_rows(table)
        chosen = [int(r["id"]) for r in rows if r["origin"].startswith(ALLOCATED)]
        super().__init__([int(r["id"]) for r in rows if not r["origin"].startswith(ALLOCATED)], split_seed)
        self._add_to_search(chosen)
        self.configs = {int(r["id"]): BitConfig.parse(r["config"]) for r in rows}
        self._acc = {int(r["id"]): float(r["top1"]) for r in rows}
        self.size_mb = {int(r["id"]): float(r["size_mb"]) for r in rows}
        self.origin = {int(r["id"]): r["origin"] for r in rows}
        """How each row came to be measured: ``sampled`` (spread over sizes), ``stratum`` (near a budget) or
        the allocation round that chose it."""
        self.recipe = recipe_key(self.provenance["checkpoint_sha256"], self.method, self.provenance["seed"])
        self._measured: Optional[MeasuredTop1] = None
        self.checkpoint = Path(checkpoint) if checkpoint else table.parent / self.provenance["checkpoint"]
        self.data_dir = None if data_dir is None else str(data_dir)
        self.label = (f"{self.name}: {len(rows)} bit configs of {self.method.model} "
                      f"({self.provenance['checkpoint']}), CIFAR-10 test top-1 after PTQ "
                      f"(`{self.provenance.get('command') or 'evoproxy bench build'}`)")
        self._reference: Optional[tuple[nn.Module, BitSpace]] = None

    def _add_to_search(self, ids: list[int]) -> None:
        """Rows an allocator chose are evolved on, never judged on: the search split, not the holdout (the
        other rows split as they did before these were added)."""
        self._ids += ids
        self._known.update(ids)
        self._splits["all"] = sorted(self._ids)
        self._splits["search"] = sorted(self._splits["search"] + ids)

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

    def arch_of(self, arch_id: int) -> str:
        return self.configs[self._check(arch_id)].canonical

    def network_key(self, arch_id: int) -> str:
        """The quantization recipe and the configuration: shared by a network's table and its strata."""
        return f"mq:{self.recipe}:{self.arch_of(arch_id)}"

    def quantize(self, cfg: BitConfig, calibrate: bool = True) -> nn.Module:
        """The post-training-quantized network for any configuration, by the table's recipe.

        ``calibrate=False`` skips activation calibration (activations stay float): only for
        statistics that do not depend on it (weights, Q(W), bit widths, float Hessians).
        """
        model, space = self.reference()
        space.validate(cfg)
        m = self.method
        calib = _calibration(self.data_dir, m.calib_images, m.calib_seed) if calibrate else None
        from evoproxy.spaces.quantized import quantize_model

        return quantize_model(model, cfg, calib, m.bn_reestimate and calibrate,
                              reference_key=self.provenance["checkpoint_sha256"][:16])

    def measure(self, cfg: BitConfig, origin: str = "allocate") -> float:
        """The test top-1 of ``cfg`` measured as the table's rows were, once per configuration (a row of
        the table, or the shared cache of :mod:`.measured`; a new measurement is cached as ``origin``)."""
        if self._measured is None:
            self._measured = open_measured(self.data_dir)
            self._measured.remember(self.recipe, {self.configs[i].canonical: a for i, a in self._acc.items()})
        return self._measured.get_or_measure(self.recipe, cfg.canonical, origin, lambda: self._top1(cfg))

    def measured_counts(self) -> str:
        """What :meth:`measure` did, in words."""
        m = self._measured
        return "nothing measured" if m is None else f"{m.measured} configurations measured, {m.reused} known already"

    def _top1(self, cfg: BitConfig) -> float:
        from evoproxy.training.loop import evaluate_accuracy

        x, y = _test_images(self.data_dir, self.method.test_limit, self.provenance["seed"])
        with torch.inference_mode():
            return evaluate_accuracy(self.quantize(cfg), x, y, batch_size=100)

    def build(self, arch_id: int) -> nn.Module:
        """The measured network; without activation calibration when every statistic the caller will
        probe (:data:`evoproxy.probe.requested.PROBED`) is calibration-free."""
        probed = PROBED.get()
        return self.quantize(self.configs[self._check(arch_id)], probed is None or not probed <= CALIBRATION_FREE)

    def probe_batch(self):
        """64 CIFAR-10 training images: the trained network is probed on real data."""
        from evoproxy.data.images import load_probe_batch

        return load_probe_batch("cifar10", PROBE_IMAGES, PROBE_SEED, self.data_dir)


STRATA = {"mq-resnet20-cifar10": (0.08, 0.11, 0.15), "mq-mobilenetv2-cifar10": MOBILENET_BUDGETS}
"""Budget strata (MiB) registered per MQ benchmark: ground truth where the allocator decides."""


def build_command(name: str) -> str:
    """``bench build``'s arguments for the table ``name`` (a budget stratum's or a whole table's)."""
    for base, budgets in STRATA.items():
        for budget in budgets:
            if name == stratum_name(base, budget):
                return f"{base} --budget-mb {budget:g} --configs 60 --out benchmarks/data/{name}.csv"
    return name


def load_mq(name: str, data_dir: Optional[PathLike] = None, split_seed: int = 0,
            metric: str = "top1", table: Optional[PathLike] = None) -> MQBenchmark:
    """Registry factory: the shipped table ``benchmarks/data/<name>.csv`` (or ``table``)."""
    if metric not in ("top1", "test_200ep"):
        raise EvoproxyError(f"{name}: the only metric is top1 (post-quantization test accuracy), got {metric!r}")
    return MQBenchmark(table or DATA / f"{name}.csv", data_dir, split_seed)


__all__ = ["MQBenchmark", "load_mq", "load_reference", "CHECKPOINT", "MODELS", "SHIPPED", "STRATA"]
