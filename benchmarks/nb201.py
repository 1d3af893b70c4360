"""NAS-Bench-201 benchmarks (``nb201-cifar10``, ``nb201-cifar100``, ``nb201-imagenet16``).

Primary source: ``nb201/nb201_all_15625.csv`` in the data directory; arch ids are its
``index`` column (0..15624). When that table is absent, ``nb201-cifar10`` falls back to the
PyPI package ``analog-nasbench`` (an independent retraining of all 15,625 cells, read only
through that package's API); its ids are then the base-5 value of NASLib's op-index digits,
not NB201 indices, which the benchmark's ``label`` says. Use :meth:`NB201Benchmark.index_of`
/ :meth:`NB201Benchmark.arch_of` to translate.
"""
from __future__ import annotations

import contextlib
import csv
import io
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional, Sequence, Union

import numpy as np

from evoproxy.data.paths import HOW_TO, resolve_data_dir
from evoproxy.errors import DataMissing, EvoproxyError

from .base import TableBenchmark

if TYPE_CHECKING:
    from torch import nn

TABLE = "nb201/nb201_all_15625.csv"
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
METRIC_COLUMNS = {"test_200ep": "{}_test_200ep", "valid_200ep": "{}_valid_200ep_naslib",
                  "test_12ep": "{}_test_12ep", "valid_12ep": "{}_valid_12ep"}
# NASLib op-index digits: op names and edge order (target node, source node), node 0 = input.
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))
ANALOG_LABEL = ("FALLBACK: analog-nasbench retraining table (baseline_accuracy, not NB201's "
                "test_200ep; ids are base-5 NASLib op codes, not NB201 indices)")


def digits_to_arch_str(digits: str) -> str:
    """NASLib's 6 op-index digits -> NAS-Bench-201 arch string."""
    nodes: list[list[str]] = [[""] * j for j in (1, 2, 3)]
    for d, (dst, src) in zip(digits, NASLIB_EDGES):
        nodes[dst - 1][src] = NASLIB_OPS[int(d)]
    return "+".join("|" + "".join(f"{op}~{i}|" for i, op in enumerate(n)) for n in nodes)


@dataclass(frozen=True)
class NB201Table:
    """The whole table: arch strings, op-index strings and every accuracy column."""

    arch_strs: tuple[str, ...]
    op_indices: tuple[str, ...]
    columns: Mapping[str, np.ndarray]


@lru_cache(maxsize=2)
def read_table(path: str) -> NB201Table:
    """Parse ``nb201_all_15625.csv`` once per process."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or [int(r["index"]) for r in rows] != list(range(len(rows))):
        raise EvoproxyError(f"{path} is not a valid NB201 table (index column must run 0..n-1); re-copy it")
    names = [c for c in rows[0] if c.endswith(("ep", "_naslib")) and not c.startswith("zen")]
    columns = {c: np.array([float(r[c]) for r in rows]) for c in names}
    return NB201Table(tuple(r["arch_str"] for r in rows),
                      tuple(r["naslib_op_indices"].zfill(6) for r in rows), columns)


class NB201Benchmark(TableBenchmark):
    """One NB201 dataset and accuracy metric; implements :class:`evoproxy.scoring.benchmark.Benchmark`."""

    def __init__(self, name: str, num_classes: int, arch_strs: Sequence[str],
                 op_indices: Sequence[str], acc: np.ndarray, label: str, split_seed: int = 0):
        super().__init__(range(len(acc)), split_seed)
        self.name, self.num_classes, self.label = name, num_classes, label
        self._arch_strs, self._op_indices = tuple(arch_strs), tuple(op_indices)
        self._acc = np.asarray(acc, dtype=np.float64)
        self._by_arch = {s: i for i, s in enumerate(self._arch_strs)}
        self._by_ops = {s: i for i, s in enumerate(self._op_indices)}

    def arch_of(self, arch_id: int) -> str:
        return self._arch_strs[self._check(arch_id)]

    def op_indices_of(self, arch_id: int) -> str:
        return self._op_indices[self._check(arch_id)]

    def index_of(self, spec: Union[str, Sequence[int]]) -> int:
        """Id of an arch string or NASLib op indices (``"023231"`` or ``(0, 2, 3, 2, 3, 1)``)."""
        key = "".join(str(int(d)) for d in spec) if not isinstance(spec, str) else spec.strip()
        hit = self._by_ops.get(key) if len(key) == 6 else self._by_arch.get(key)
        if hit is None:
            raise EvoproxyError(f"{self.name}: no architecture {spec!r}; give an arch string "
                                "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' or 6 NASLib op-index digits")
        return hit

    def build(self, arch_id: int) -> "nn.Module":
        from evoproxy.spaces.nb201 import build_nb201
        return build_nb201(self.arch_of(arch_id), num_classes=self.num_classes)


def _check_args(dataset: str, metric: str) -> None:
    if dataset not in NUM_CLASSES:
        raise EvoproxyError(f"unknown NB201 dataset {dataset!r}; choose one of {', '.join(NUM_CLASSES)}")
    if metric not in METRIC_COLUMNS:
        raise EvoproxyError(f"unknown NB201 metric {metric!r}; choose one of {', '.join(METRIC_COLUMNS)}")


def load_nb201(dataset: str = "cifar10", data_dir: Optional[Union[str, Path]] = None,
               split_seed: int = 0, metric: str = "test_200ep") -> NB201Benchmark:
    """The ``nb201-<dataset>`` benchmark from the table, or (cifar10 only) analog-nasbench."""
    _check_args(dataset, metric)
    root = resolve_data_dir(data_dir)  # a missing --data-dir / EVOPROXY_DATA folder raises
    path = root / TABLE if root is not None else None
    if path is not None and path.is_file():
        table = read_table(str(path))
        acc = table.columns[METRIC_COLUMNS[metric].format(dataset)]
        label = f"NAS-Bench-201 {dataset} {metric} ({path})"
        return NB201Benchmark(f"nb201-{dataset}", NUM_CLASSES[dataset], table.arch_strs,
                              table.op_indices, acc, label, split_seed)
    where = f"no {path}" if path is not None else "no data directory"
    missing = f"NAS-Bench-201 table not found ({where}); {HOW_TO} with {TABLE}"
    if dataset != "cifar10":
        raise DataMissing(missing)
    if metric != "test_200ep":
        raise DataMissing(f"{missing} (the analog-nasbench fallback has no {metric})")
    analog = analog_table()
    if analog is None:
        raise DataMissing(f"{missing}, or pip install analog-nasbench for a cifar10 fallback")
    keys, acc = analog
    return NB201Benchmark("nb201-cifar10", 10, [digits_to_arch_str(k) for k in keys], keys, acc,
                          ANALOG_LABEL, split_seed)


@lru_cache(maxsize=1)
def analog_table() -> Optional[tuple[tuple[str, ...], np.ndarray]]:
    """analog-nasbench's cifar10 table via its API: (sorted op-index strings, baseline accuracy).

    ``None`` when the package is not installed (cached per process; ``cache_clear()`` to retry).
    """
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            from analognasbench import AnalogNASBench
            bench = AnalogNASBench()
    except ModuleNotFoundError as err:
        if err.name == "analognasbench":
            return None
        hint = "pip install 'setuptools<81'" if err.name == "pkg_resources" else f"pip install {err.name}"
        raise DataMissing(f"analog-nasbench is installed but needs the missing module {err.name!r}: "
                          f"{hint}, or {HOW_TO} with {TABLE}") from None
    keys = sorted(tuple(k) for k in bench.list_available_architectures())
    if len(keys) != 15625 or any(len(k) != 6 for k in keys):
        raise EvoproxyError(f"analog-nasbench lists {len(keys)} architectures, expected 15625 "
                            "6-edge cells; reinstall it or use the NB201 table")
    acc = np.array([float(bench.query_metric(k, "baseline_accuracy")) for k in keys])
    return tuple("".join(str(d) for d in k) for k in keys), acc
