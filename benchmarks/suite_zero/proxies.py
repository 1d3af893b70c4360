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

from ..base import check_accuracies, ranking_problem
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
    rows = read_csv(path, ("dataset", "arch_str", "naslib_op_indices", "val_accuracy", *PROXIES),
                    "a NAS-Bench-Suite-Zero NB201 table")
    try:
        return tuple((r["dataset"], SuiteZeroRow(r["arch_str"], r["naslib_op_indices"].zfill(6),
                                                 float(r["val_accuracy"]), {p: _float(r[p]) for p in PROXIES}))
                     for r in rows)
    except (AttributeError, TypeError, ValueError, OverflowError) as err:  # a cut row, a word for a number
        raise EvoproxyError(f"{path} is not a valid NAS-Bench-Suite-Zero table ({type(err).__name__}: "
                            f"{str(err)[:80]}); re-import it with `evoproxy data import zc_nasbench201.json`") from None


def read_csv(path: str, columns: tuple[str, ...], what: str) -> list[dict]:
    """The rows of a UTF-8 CSV that has ``columns``; one line naming the file otherwise."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as err:
        raise EvoproxyError(f"{path} is not {what} in UTF-8 CSV ({type(err).__name__}: {str(err)[:80]}); "
                            "re-copy or re-import it") from None
    missing = [c for c in columns if not rows or c not in rows[0]]
    if missing:
        raise EvoproxyError(f"{path} is not {what} (no rows, or no column {', '.join(missing[:3])}); re-copy or "
                            "re-import it")
    return rows


def load_suite_zero(dataset: str = "cifar10",
                    data_dir: Optional[Union[str, Path]] = None) -> list[SuiteZeroRow]:
    """The rows for ``dataset`` (cifar10, cifar100 or imagenet16), in file order; their accuracies are
    checked (:func:`evoproxy.benchmarks.base.check_accuracies`, and able to rank: they are ranked whole)."""
    if dataset not in DATASETS:
        raise EvoproxyError(f"unknown Suite-Zero dataset {dataset!r}; choose cifar10, cifar100 or imagenet16")
    path = str(data_file(SUITE_ZERO, data_dir))
    rows = [row for ds, row in _read(path) if ds == DATASETS[dataset]]
    column = f"val_accuracy ({DATASETS[dataset]} rows)"
    problem = ranking_problem(check_accuracies([r.val_accuracy for r in rows], path, column), path, column)
    if problem:
        raise EvoproxyError(problem)
    return rows


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
