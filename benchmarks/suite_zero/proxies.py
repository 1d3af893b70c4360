"""NAS-Bench-Suite-Zero reference proxies on NAS-Bench-201 (NASLib's precomputed values).

``nb201/nb201_zc_proxies_725x3_naslib.csv``: about 725 architectures per dataset with 12
zero-cost proxies and validation accuracy. Used as a yardstick: our proxy implementations
should rank these architectures about as well as the published values do.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np

from evoproxy.data.paths import data_file
from evoproxy.errors import EvoproxyError
from evoproxy.scoring.fitness import spearman

from .release import PROXIES

SUITE_ZERO = "nb201/nb201_zc_proxies_725x3_naslib.csv"
DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "ImageNet16-120",
            "ImageNet16-120": "ImageNet16-120"}


@dataclass(frozen=True)
class SuiteZeroRow:
    """One architecture: arch string, 6 NASLib op-index digits, val accuracy, proxy values.

    A missing proxy value (empty cell) is NaN; ``-inf`` is kept as written.
    """

    arch_str: str
    op_indices: str
    val_accuracy: float
    proxies: Mapping[str, float]


def _float(text: str) -> float:
    return float(text) if text.strip() else math.nan


@lru_cache(maxsize=2)
def _read(path: str) -> tuple[tuple[str, SuiteZeroRow], ...]:
    with open(path, newline="") as f:
        return tuple(
            (r["dataset"], SuiteZeroRow(r["arch_str"], r["naslib_op_indices"].zfill(6),
                                        float(r["val_accuracy"]), {p: _float(r[p]) for p in PROXIES}))
            for r in csv.DictReader(f))


def load_suite_zero(dataset: str = "cifar10",
                    data_dir: Optional[Union[str, Path]] = None) -> list[SuiteZeroRow]:
    """The rows for ``dataset`` (cifar10, cifar100 or imagenet16), in file order."""
    if dataset not in DATASETS:
        raise EvoproxyError(f"unknown Suite-Zero dataset {dataset!r}; choose cifar10, cifar100 or imagenet16")
    rows = _read(str(data_file(SUITE_ZERO, data_dir)))
    return [row for ds, row in rows if ds == DATASETS[dataset]]


def reference_spearman(dataset: str = "cifar10", data_dir: Optional[Union[str, Path]] = None,
                       against: str = "val_accuracy") -> dict[str, float]:
    """Spearman of each published proxy vs accuracy, computed from the file.

    ``against``: the file's ``val_accuracy`` (default), or an NB201 table metric such as
    ``"test_200ep"`` (the published Suite-Zero figures match that one). This describes the
    reference data, so rows with a missing (NaN) value are left out for that proxy; ``-inf``
    ranks lowest. (Our own proxies go through :func:`evoproxy.scoring.fitness.screen` instead.)
    """
    rows = load_suite_zero(dataset, data_dir)
    acc = np.array([r.val_accuracy for r in rows])
    if against != "val_accuracy":
        from ..nb201.table import load_nb201
        bench = load_nb201("imagenet16" if dataset == "ImageNet16-120" else dataset, data_dir,
                           metric=against)
        acc = np.array([bench.accuracy(bench.index_of(r.arch_str)) for r in rows])
    out = {}
    for proxy in PROXIES:
        vals = np.array([r.proxies[proxy] for r in rows])
        keep = ~np.isnan(vals)
        out[proxy] = spearman(vals[keep], acc[keep])
    return out
