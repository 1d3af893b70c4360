"""What a benchmark is: the :class:`Benchmark` protocol the app sees every benchmark through (a
table of architectures with trained accuracies), and :class:`TableBenchmark`, the plumbing most
benchmarks share.

Arch ids are the benchmark's own integer ids. Splits: ``"all"``, ``"search"`` (evolve on these)
and ``"holdout"`` (report on these; disjoint from ``"search"``, fixed by the split seed).

Optional capabilities are declared here, with their defaults, rather than guessed with
``hasattr``: ``proxy_line`` (which classic proxies ``--proxy all`` scores), ``image_set`` (which
dataset's images the default probe uses), ``arch_features()`` (for GRAF-style learned baselines), ``probe_seed`` and ``probe_batch()`` (a benchmark that
dictates how its networks are probed, as the synthetic one does: its ground truth was computed
with them).

`TableBenchmark` implements the protocol's plumbing (ids, the split, seeded samples, id checks) with its defaults for the optional
capabilities (``proxy_line = "nas"``, no ``probe_seed``, no ``probe_batch``); a benchmark sets
``name``, ``label``, ``num_classes`` and ``_acc`` (id -> accuracy) and writes ``build``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from evoproxy.errors import EvoproxyError

if TYPE_CHECKING:
    from torch import nn

    from evoproxy.data.images import ProbeBatch

SPLITS = ("all", "search", "holdout")


@runtime_checkable
class Benchmark(Protocol):
    """A search space's architectures with ground-truth accuracy on one dataset."""

    name: str
    """Registry name, e.g. ``"nb201-cifar10"``."""
    label: str
    """Provenance: which table and metric, and where it came from (EMBEDDED, data directory, file)."""
    num_classes: int
    proxy_line: str
    """Which classic proxies suit it: "nas" (untrained networks), "mq" (bit configurations of a
    trained network), "vit" (ViT students beside a CNN teacher)."""
    probe_seed: Optional[int]
    """Init/probe seed every network must be built with, or None for the run's seed."""
    image_set: str
    """The dataset whose images suit its networks: the ``"auto"`` probe source draws from it
    (``"cifar10"``, ``"cifar100"``, ``"imagenet16"``)."""

    def arch_ids(self, split: str = "all") -> list[int]:
        """Sorted ids in ``split`` (one of :data:`SPLITS`)."""
        ...

    def accuracy(self, arch_id: int) -> float:
        """Ground-truth accuracy (percent) of ``arch_id``."""
        ...

    def build(self, arch_id: int) -> "nn.Module":
        """A freshly initialised torch network for ``arch_id``."""
        ...

    def sample(self, n: int, split: str = "all", seed: int = 0) -> list[int]:
        """``n`` distinct ids from ``split``; the same arguments give the same list."""
        ...

    def probe_batch(self) -> "Optional[ProbeBatch]":
        """The batch every network must be probed with, or None for the run's probe batch."""
        ...

    def network_key(self, arch_id: int) -> Optional[str]:
        """What names the network ``build(arch_id)`` gives across runs and table rebuilds (the score
        cache's key, :mod:`evoproxy.scoring.scorecache`), or None: its scores are never kept."""
        ...

    def arch_features(self, arch_id: int) -> Optional[dict[str, float]]:
        """Features of the architecture itself (op counts, paths), for learned baselines that use
        them (GRAF-style), or None where the space has none."""
        ...


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


def parse_accuracies(texts: Sequence[str], where: str, column: str) -> np.ndarray:
    """A table's accuracy cells as floats; a cell that is not a number is one line naming it."""
    out = np.empty(len(texts))
    for i, text in enumerate(texts):
        try:
            out[i] = float(text)
        except (TypeError, ValueError, OverflowError):
            raise EvoproxyError(f"{where}: column {column}, data row {i + 1}: {str(text)[:40]!r} is not a number; "
                                "fix or re-copy the table") from None
    return check_accuracies(out, where, column)


def check_accuracies(values: Sequence[float], where: str, column: str) -> np.ndarray:
    """The accuracies (percent) of a table, refused in one line naming the file, the column and the
    counts when any cannot be ground truth: NaN, infinite, negative or above 100 (a damaged or
    mis-converted file: no use of it is right)."""
    acc = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = np.isfinite(acc)
    bad = {"NaN": np.isnan(acc), "infinite": np.isinf(acc), "negative": finite & (acc < 0),
           "above 100": finite & (acc > 100)}
    counts = [f"{int(m.sum())} {kind}" for kind, m in bad.items() if m.any()]
    if counts:
        first = int(np.flatnonzero(np.logical_or.reduce(list(bad.values())))[0])
        raise EvoproxyError(f"{where}: column {column} has {', '.join(counts)} of its {len(acc)} accuracies (first: "
                            f"data row {first + 1}, {float(acc[first])!r}); accuracies are finite percentages from 0 to "
                            "100: fix or re-copy the table")
    return acc


def ranking_problem(acc: np.ndarray, where: str, column: str) -> Optional[str]:
    """Why a table's (checked) accuracies cannot rank networks, or None: fewer than 2 networks, or one
    accuracy for all. Such a table still loads (its networks can be looked at); ranking is refused."""
    if len(acc) < 2:
        return (f"{where}: column {column} has {len(acc)} network(s), and ranking needs at least 2: give a table "
                "with more networks")
    if np.all(acc == acc[0]):
        return (f"{where}: column {column} holds one accuracy ({float(acc[0])!r}) for all its {len(acc)} networks, which "
                "ranks nothing; check that it is the column you meant, or re-copy the table")
    return None


class TableBenchmark:
    """Architectures with integer ids, split in half by ``split_seed`` (positions, then ids)."""

    name: str
    label: str
    num_classes: int = 10
    proxy_line: str = "nas"
    probe_seed: Optional[int] = None
    image_set: str = "cifar10"
    unrankable: Optional[str] = None
    """Why the table cannot rank networks (:func:`ranking_problem`, set by a loader that checked its
    accuracies), or None; :meth:`sample`, which every ranking use goes through, refuses with it."""

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
        """``n`` seeded ids of ``split``; refused for a table that cannot rank (:attr:`unrankable`)."""
        if self.unrankable:
            raise EvoproxyError(self.unrankable)
        return sample_ids(self.name, self.arch_ids(split), n, split, seed)

    def probe_batch(self):
        """None: networks are probed with the run's batch (override to dictate one)."""
        return None

    def arch_features(self, arch_id: int) -> Optional[dict[str, float]]:
        """None: no architecture features (override where the space has them)."""
        return None

    def network_key(self, arch_id: int) -> Optional[str]:
        """None: scores are not kept across runs (override where a network is named by its table)."""
        return None
