"""The one interface the engine sees: a table of architectures with trained accuracies.

Implementations live in :mod:`evoproxy.benchmarks` (``get_benchmark(name)``). A benchmark may
also dictate how its networks are probed, with an optional ``probe_batch() -> ProbeBatch`` and
``probe_seed: int`` (the synthetic benchmark does: its ground truth was computed with them). Arch ids are
the benchmark's own integer ids. Splits: ``"all"``, ``"search"`` (evolve on these) and
``"holdout"`` (report on these; disjoint from ``"search"``, fixed by the split seed).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

from .errors import EvoproxyError

if TYPE_CHECKING:
    from torch import nn

SPLITS = ("all", "search", "holdout")


@runtime_checkable
class Benchmark(Protocol):
    """A search space's architectures with ground-truth accuracy on one dataset."""

    name: str
    """Registry name, e.g. ``"nb201-cifar10"``."""
    label: str
    """Provenance: which table/metric; says ``FALLBACK`` when it is not the primary source."""
    num_classes: int

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


def sample_ids(name: str, ids: Sequence[int], n: int, split: str, seed: int) -> list[int]:
    """``n`` distinct ids drawn from ``ids`` by a seeded generator (the shared ``sample``)."""
    import numpy as np

    if not 0 <= n <= len(ids):
        raise EvoproxyError(f"{name}: cannot sample {n} of the {len(ids)} '{split}' archs; ask for fewer")
    picks = np.random.default_rng(seed).choice(len(ids), size=n, replace=False)
    return [ids[i] for i in picks]
