"""What every table benchmark shares: ids, the search/holdout split, seeded samples, id checks.

:class:`TableBenchmark` implements the plumbing of :class:`evoproxy.scoring.benchmark.Benchmark`
with the protocol's defaults for the optional capabilities (``proxy_line = "nas"``, no
``probe_seed``, no ``probe_batch``); a benchmark sets ``name``, ``label``, ``num_classes`` and
``_acc`` (id -> accuracy) and writes ``build``.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from evoproxy.errors import EvoproxyError
from evoproxy.scoring.benchmark import SPLITS


def split_ids(n: int, seed: int) -> dict[str, list[int]]:
    """Seeded permutation of ``0..n-1`` cut in half: ``search`` / ``holdout`` (sorted)."""
    perm = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return {"all": list(range(n)), "search": sorted(perm[:half].tolist()),
            "holdout": sorted(perm[half:].tolist())}


def sample_ids(name: str, ids: Sequence[int], n: int, split: str, seed: int) -> list[int]:
    """``n`` distinct ids drawn from ``ids`` by a seeded generator."""
    if not 0 <= n <= len(ids):
        raise EvoproxyError(f"{name}: cannot sample {n} of the {len(ids)} '{split}' archs; ask for fewer")
    picks = np.random.default_rng(seed).choice(len(ids), size=n, replace=False)
    return [ids[i] for i in picks]


class TableBenchmark:
    """Architectures with integer ids, split in half by ``split_seed`` (positions, then ids)."""

    name: str
    label: str
    num_classes: int = 10
    proxy_line: str = "nas"
    probe_seed: Optional[int] = None
    image_set: str = "cifar10"

    def __init__(self, ids: Sequence[int], split_seed: int = 0) -> None:
        self._ids = [int(i) for i in ids]
        self._known = set(self._ids)
        self.split_seed = split_seed
        halves = split_ids(len(self._ids), split_seed)
        self._splits = {k: sorted(self._ids[i] for i in v) for k, v in halves.items()}
        self._acc: Any = {}  # id -> accuracy: a dict, or an array when ids are 0..n-1

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<{self.name}: {len(self)} archs, {self.label}>"

    def _check(self, arch_id: int) -> int:
        if not isinstance(arch_id, (int, np.integer)) or isinstance(arch_id, bool):
            raise EvoproxyError(f"{self.name}: arch id {arch_id!r} is not an integer")
        if int(arch_id) not in self._known:
            span = f"{min(self._ids)}..{max(self._ids)}" if self._ids else "none"
            raise EvoproxyError(f"{self.name}: arch id {arch_id!r} is outside the table's ids ({span})")
        return int(arch_id)

    def arch_ids(self, split: str = "all") -> list[int]:
        if split not in self._splits:
            raise EvoproxyError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return list(self._splits[split])

    def accuracy(self, arch_id: int) -> float:
        return float(self._acc[self._check(arch_id)])

    def accuracies(self, arch_ids: Sequence[int]) -> np.ndarray:
        return np.array([self.accuracy(i) for i in arch_ids])

    def sample(self, n: int, split: str = "all", seed: int = 0) -> list[int]:
        return sample_ids(self.name, self.arch_ids(split), n, split, seed)

    def probe_batch(self):
        """None: networks are probed with the run's batch (override to dictate one)."""
        return None
