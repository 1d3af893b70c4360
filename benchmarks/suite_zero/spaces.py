"""NAS-Bench-101 and NAS-Bench-301 (DARTS) as NAS-Bench-Suite-Zero sampled them (``nb101-cifar10``,
``nb301-cifar10``).

``naslib-suite-zero/nb101_zc_proxies_500_cifar10.csv``: 500 NB101 cells (adjacency and ops) with
NASLib's CIFAR-10 validation accuracy; ``nb301_zc_proxies_725_cifar10.csv``: 725 DARTS genotypes
with NAS-Bench-301's surrogate validation accuracy. Both hold Suite-Zero's reference proxy values,
kept as :meth:`SuiteZeroSpace.reference` for checking our proxies against theirs. Arch id = row.
The networks are :mod:`evoproxy.spaces.nb101` and :mod:`evoproxy.spaces.darts` at Suite-Zero's
sizes (every row's parameter count equals the table's ``params`` column).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Optional

from torch import nn

from evoproxy.data.paths import data_file
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.darts import build_darts, parse_nb301_arch
from evoproxy.spaces.nb101 import build_nb101, parse_nb101_arch

from ..base import TableBenchmark, parse_accuracies, ranking_problem
from .proxies import read_csv

FILES = {"nb101-cifar10": "naslib-suite-zero/nb101_zc_proxies_500_cifar10.csv",
         "nb301-cifar10": "naslib-suite-zero/nb301_zc_proxies_725_cifar10.csv"}
LABELS = {"nb101-cifar10": "NAS-Bench-101 CIFAR-10 validation accuracy, the 500 cells of NAS-Bench-Suite-Zero",
          "nb301-cifar10": "NAS-Bench-301 surrogate CIFAR-10 validation accuracy, the 725 DARTS genotypes of "
                           "NAS-Bench-Suite-Zero"}
NOT_PROXIES = ("search_space", "task", "arch", "val_accuracy")


def _build_nb101(arch: str) -> nn.Module:
    return build_nb101(*parse_nb101_arch(arch))


def _build_nb301(arch: str) -> nn.Module:
    return build_darts(parse_nb301_arch(arch))


BUILDERS: dict[str, Callable[[str], nn.Module]] = {"nb101-cifar10": _build_nb101, "nb301-cifar10": _build_nb301}


@lru_cache(maxsize=4)
def read_rows(path: str) -> tuple[dict, ...]:
    return tuple(read_csv(path, ("arch", "val_accuracy"), "a NAS-Bench-Suite-Zero table (it needs arch and "
                          "val_accuracy columns)"))


class SuiteZeroSpace(TableBenchmark):
    """One Suite-Zero table of a search space other than NB201; its accuracies are checked on load
    (:func:`evoproxy.benchmarks.base.check_accuracies`, ``where`` names the file)."""

    def __init__(self, name: str, rows: tuple[dict, ...], split_seed: int = 0, where: str = "") -> None:
        self.name, self.label = name, LABELS[name]
        super().__init__(range(len(rows)), split_seed)
        self._rows = rows
        where = where or f"the {name} table"
        self._acc = parse_accuracies([r["val_accuracy"] for r in rows], where, "val_accuracy")
        self.unrankable = ranking_problem(self._acc, where, "val_accuracy")

    def arch_of(self, arch_id: int) -> str:
        return self._rows[self._check(arch_id)]["arch"]

    def build(self, arch_id: int) -> nn.Module:
        return BUILDERS[self.name](self.arch_of(arch_id))

    def network_key(self, arch_id: int) -> str:
        return f"{self.name}:{self.arch_of(arch_id)}"

    def reference(self, arch_id: int) -> dict[str, float]:
        """Suite-Zero's own proxy values (and flops, params in millions) for this architecture."""
        row = self._rows[self._check(arch_id)]
        return {k: float(v) if v.strip() else math.nan for k, v in row.items() if k not in NOT_PROXIES}


def load_suite_zero_space(name: str, data_dir: Optional[object] = None, split_seed: int = 0,
                          metric: str = "val_accuracy") -> SuiteZeroSpace:
    if metric not in ("val_accuracy", "test_200ep"):  # test_200ep: a search config's default metric
        raise EvoproxyError(f"{name} has one metric, the table's validation accuracy (val_accuracy); got {metric!r}")
    path = str(data_file(FILES[name], data_dir))
    return SuiteZeroSpace(name, read_rows(path), split_seed, path)
