"""Packs of networks for the worker: which networks are scored together, and reduced values reused.

Networks are packed in *blocks* of ``pack_networks`` in the order the worker first sees them, and
a pack is always a block's networks in that order. The Ray backend hands whole blocks to its
workers, so every backend computes each pack, and so each score, identically (same seed, same
bits). Layer and scalar values of program nodes (small: one number per layer or network) are kept
across calls within ``reuse_mb``: a child shares most subtrees with its parents, whose reduced
values are already known.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable, Optional, Sequence


from evoproxy.lang.packed import Layers, Nets, OpObserver, Packed, eval_packed, pack_stats
from evoproxy.lang.program import Program


class Blocks:
    """The block of each key, fixed when first seen."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.position: dict[Hashable, int] = {}

    def packs(self, keys: Sequence[Hashable]) -> list[list[int]]:
        """Column indices of ``keys`` grouped by block, each in first-seen order."""
        for k in keys:
            self.position.setdefault(k, len(self.position))
        by_block: dict[int, list[int]] = {}
        for j in sorted(range(len(keys)), key=lambda j: self.position[keys[j]]):
            by_block.setdefault(self.position[keys[j]] // self.size, []).append(j)
        return list(by_block.values())


def _nbytes(value: Packed) -> int:
    return value.v.numel() * value.v.element_size() + 64


class ReuseStore:
    """Least-recently-used layer and scalar values of program nodes, keyed by (pack, node text)."""

    def __init__(self, budget_mb: float) -> None:
        self.budget = budget_mb * 2**20
        self.values: OrderedDict[tuple, Packed] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.lock = threading.Lock()  # packs may be scored on several threads

    def get(self, key: tuple) -> Optional[Packed]:
        with self.lock:
            value = self.values.get(key)
            if value is not None:
                self.values.move_to_end(key)
                self.hits += 1
            return value

    def put(self, key: tuple, value: Packed) -> None:
        if self.budget <= 0:
            return
        with self.lock:
            if key in self.values:
                return
            self.values[key] = value
            self.bytes += _nbytes(value)
            while self.bytes > self.budget and self.values:
                _, old = self.values.popitem(last=False)
                self.bytes -= _nbytes(old)


class PackMemo(dict):
    """A pack's memo: node values within a call (shared by its programs, as network by network),
    layer and scalar values also in the store."""

    def __init__(self, store: ReuseStore, pack: tuple) -> None:
        super().__init__()
        self.store, self.pack = store, pack

    def get(self, text, default=None):
        hit = super().get(text)
        return hit if hit is not None else self.store.get((self.pack, text))

    def __setitem__(self, text, value) -> None:
        super().__setitem__(text, value)
        if isinstance(value, (Layers, Nets)):
            self.store.put((self.pack, text), value)


class PackScorer:
    """Scores programs on one pack of networks' statistics (``observer``: see
    :class:`~evoproxy.lang.packed.OpObserver`; it is told the memo's pack key)."""

    def __init__(self, stats: Sequence[dict], memo: PackMemo, observer: Optional[OpObserver] = None) -> None:
        self.leaf = pack_stats(stats)
        self.memo, self.n, self.observer = memo, len(stats), observer

    def score(self, p: Program) -> Optional[list[float]]:
        """One score per network, or None if some network needs the network-by-network path (an op
        raised there, or a statistic is missing): that path names what went wrong."""
        try:
            value = eval_packed(p, self.leaf, self.memo, self.n, self.observer, self.memo.pack)
            return [float(x) for x in value.v.tolist()] if isinstance(value, Nets) else None
        except Exception:  # noqa: BLE001  (re-run network by network, where it is named)
            return None
