"""NAS-Bench-201 benchmarks (``nb201-cifar10``, ``nb201-cifar100``, ``nb201-imagenet16``).

Source: ``nb201/nb201_all_15625.csv`` in the data directory, else the embedded compact table
(:mod:`evoproxy.data.embedded`: the same accuracies, arch strings derived from the op-index
digits); the ``label`` names which. Arch ids are the table's ``index`` column (0..15624).
"""
from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional, Sequence, Union

import numpy as np

from evoproxy.data.embedded import nb201_table_path
from evoproxy.data.paths import resolve_data_dir
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.nb201 import arch_str, graph_features

from ..base import TableBenchmark, check_accuracies, ranking_problem

if TYPE_CHECKING:
    from torch import nn

TABLE = "nb201/nb201_all_15625.csv"
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
METRIC_COLUMNS = {"test_200ep": "{}_test_200ep", "valid_200ep": "{}_valid_200ep_naslib",
                  "test_12ep": "{}_test_12ep", "valid_12ep": "{}_valid_12ep"}
_OPS = re.compile(r"[0-4]{6}")


@dataclass(frozen=True)
class NB201Table:
    """The whole table: arch strings, op-index strings and every accuracy column."""

    arch_strs: tuple[str, ...]
    op_indices: tuple[str, ...]
    columns: Mapping[str, np.ndarray]


REQUIRED = ("index", "naslib_op_indices", *(c.format(d) for c in METRIC_COLUMNS.values() for d in NUM_CLASSES))


def _columns(path: str, rows: list[dict], required: Sequence[str] = REQUIRED) -> dict[str, np.ndarray]:
    """The accuracy columns as arrays; one line naming the file and the fault for a bad table."""
    missing = [c for c in required if not rows or c not in rows[0]]
    if missing:
        raise EvoproxyError(f"{path} is not an NB201 table: no column {', '.join(missing[:3])}; re-copy it")
    names = [c for c in rows[0] if c.endswith(("ep", "_naslib")) and not c.startswith("zen")]
    try:
        if [int(r["index"]) for r in rows] != list(range(len(rows))):
            raise ValueError("the index column must run 0..n-1")
        return {c: np.array([float(r[c]) for r in rows]) for c in names}
    except (TypeError, ValueError) as err:   # a truncated row has None fields
        raise EvoproxyError(f"{path} is not a valid NB201 table ({err}; truncated?); re-copy it") from None


def _rows(path: str, opener=open) -> list[dict]:
    """The table's rows; one line for a file that is not UTF-8 CSV text (latin-1, binary, a NUL byte)."""
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error, OSError) as err:
        raise EvoproxyError(f"{path} is not an NB201 table in UTF-8 CSV ({type(err).__name__}: {str(err)[:80]}); "
                            "re-copy it (or re-import the release with `evoproxy data import`)") from None


def _archs(path: str, rows: list[dict]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Arch strings and op-index digits, refused in one line (with a count) where a row's two disagree
    or the digits are not six NB201 op indices (0-4)."""
    digits = tuple((r["naslib_op_indices"] or "").zfill(6) for r in rows)
    strs = tuple(r["arch_str"] or "" for r in rows)
    bad = [i for i, (d, a) in enumerate(zip(digits, strs)) if not _OPS.fullmatch(d) or arch_str(d) != a]
    if bad:
        i = bad[0]
        raise EvoproxyError(f"{path}: {len(bad)} of its {len(rows)} rows have an arch_str that is not their "
                            f"naslib_op_indices (first: data row {i + 1}, {strs[i][:60]!r} / {digits[i]!r}); "
                            "re-copy the table")
    return strs, digits


@lru_cache(maxsize=2)
def read_table(path: str) -> NB201Table:
    """Parse ``nb201_all_15625.csv`` once per process."""
    rows = _rows(path)
    columns = _columns(path, rows, ("arch_str", *REQUIRED))
    return NB201Table(*_archs(path, rows), columns)


@lru_cache(maxsize=1)
def read_compact_table(path: str) -> NB201Table:
    """Parse the embedded table (op-index digits and accuracies; arch strings derived from the digits)."""
    rows = _rows(path, gzip.open)
    columns = _columns(path, rows)
    digits = tuple(r["naslib_op_indices"].zfill(6) for r in rows)
    return NB201Table(tuple(arch_str(d) for d in digits), digits, columns)


class NB201Benchmark(TableBenchmark):
    """One NB201 dataset and accuracy metric; implements :class:`evoproxy.benchmarks.base.Benchmark`."""

    def __init__(self, name: str, num_classes: int, arch_strs: Sequence[str],
                 op_indices: Sequence[str], acc: np.ndarray, label: str, split_seed: int = 0):
        super().__init__(range(len(acc)), split_seed)
        self.name, self.num_classes, self.label = name, num_classes, label
        self.image_set = name.split("-", 1)[1]
        self._arch_strs, self._op_indices = tuple(arch_strs), tuple(op_indices)
        self._acc = np.asarray(acc, dtype=np.float64)
        self._by_arch = {s: i for i, s in enumerate(self._arch_strs)}
        self._by_ops = {s: i for i, s in enumerate(self._op_indices)}

    def arch_of(self, arch_id: int) -> str:
        return self._arch_strs[self._check(arch_id)]

    def network_key(self, arch_id: int) -> str:
        return f"{self.name}:{self.arch_of(arch_id)}"

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

    def arch_features(self, arch_id: int) -> dict[str, float]:
        return graph_features(self.arch_of(arch_id))

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
    """The ``nb201-<dataset>`` benchmark: the data directory's table, else the embedded one."""
    _check_args(dataset, metric)
    root = resolve_data_dir(data_dir)  # a missing --data-dir / EVOPROXY_DATA folder raises
    path = root / TABLE if root is not None else None
    if path is not None and path.is_file():
        table, source, where = read_table(str(path)), f"data directory: {path}", str(path)
    else:
        table, source = read_compact_table(str(nb201_table_path())), "EMBEDDED default table"
        where = f"the embedded table {nb201_table_path()}"
    column = METRIC_COLUMNS[metric].format(dataset)
    acc = check_accuracies(table.columns[column], where, column)
    bench = NB201Benchmark(f"nb201-{dataset}", NUM_CLASSES[dataset], table.arch_strs, table.op_indices, acc,
                           f"NAS-Bench-201 {dataset} {metric} ({source})", split_seed)
    bench.unrankable = ranking_problem(acc, where, column)
    return bench
