"""The one interface the engine sees: a table of architectures with trained accuracies.

Implementations live in :mod:`evoproxy.benchmarks` (``get_benchmark(name)``; most build on
:class:`evoproxy.benchmarks.base.TableBenchmark`). Arch ids are the benchmark's own integer
ids. Splits: ``"all"``, ``"search"`` (evolve on these) and ``"holdout"`` (report on these;
disjoint from ``"search"``, fixed by the split seed).

Optional capabilities are declared here, with their defaults, rather than guessed with
``hasattr``: ``proxy_line`` (which classic proxies ``--proxy all`` scores), ``image_set`` (which
dataset's images the default probe uses), ``probe_seed`` and ``probe_batch()`` (a benchmark that
dictates how its networks are probed, as the synthetic one does: its ground truth was computed
with them).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol, runtime_checkable

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
