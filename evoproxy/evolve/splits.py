"""The networks a run scores programs on, and the figures of programs there.

* search: ``search_archs`` networks of each benchmark's search split (fitness);
* selection: ``selection_archs`` other networks of that split (the hall of fame and the ensemble
  are chosen on these);
* final holdout: ``holdout_archs`` networks of the holdout split (only reported);
* transfer: every network of the benchmarks in ``config.task.transfer`` (never searched on).

Figures (Kendall, Spearman, invalid count per benchmark) are cached by program hash.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Protocol

import numpy as np

from evoproxy.errors import EvoproxyNote
from evoproxy.lang.program import Program
from evoproxy.scoring import fitness as fit
from evoproxy.evolve.evaluator import Evaluator
from evoproxy.scoring.summary import rankable
from evoproxy.evolve.config import RunConfig


class LabelledArchs(Protocol):
    """What the loop uses of a benchmark: its ids, seeded samples and accuracies (the full
    ``Benchmark`` protocol, :mod:`evoproxy.benchmarks.base`, has these)."""

    name: str

    def arch_ids(self, split: str = "all") -> list[int]:
        ...

    def sample(self, n: int, split: str = "all", seed: int = 0) -> list[int]:
        ...

    def accuracy(self, arch_id: int) -> float:
        ...

    def arch_features(self, arch_id: int) -> Optional[dict[str, float]]:
        ...


Benches = dict[str, LabelledArchs]


class Splits:
    def __init__(self, config: RunConfig, evaluator: Evaluator, benches: Benches,
                 transfer: Optional[Benches] = None) -> None:
        c = self.config = config
        self.evaluator = evaluator
        self.search_keys = {n: [(n, a) for a in b.sample(c.task.search_archs, "search", c.evolution.seed)]
                            for n, b in benches.items()}
        self.selection_keys = {n: [(n, a) for a in selection_ids(b, c, self.search_keys[n])]
                               for n, b in benches.items()}
        self.holdout_keys = {n: [(n, a) for a in b.sample(c.task.holdout_archs, "holdout", c.evolution.seed)]
                             for n, b in benches.items()}
        transfer = transfer or {}
        self.benches = benches
        self.transfer_keys = {n: [(n, a) for a in b.arch_ids("all")] for n, b in transfer.items()}
        every = {**benches, **transfer}
        acc = {name: {n: np.array([every[n].accuracy(a) for _, a in ks]) for n, ks in keys.items()}
               for name, keys in (("search", self.search_keys), ("selection", self.selection_keys),
                                  ("holdout", self.holdout_keys), ("transfer", self.transfer_keys))}
        self.accuracies, self.selection_acc = acc["search"], acc["selection"]
        self.holdout_acc, self.transfer_acc = acc["holdout"], acc["transfer"]
        self.holdout_cache: dict[str, dict] = {}
        self.selection_cache: dict[str, dict] = {}
        self.transfer_cache: dict[str, dict] = {}
        self.holdout_rows: dict[str, np.ndarray] = {}  # raw scores of what was scored on the holdout
        self._rows: dict[str, dict[str, np.ndarray]] = {"search": {}, "selection": {}, "holdout": self.holdout_rows}

    def holdout_many(self, programs: list[Program]) -> list[dict]:
        """Score several programs on the final holdout networks in one statistics-major pass."""
        return self._split_figures(programs, self.holdout_keys, self.holdout_acc, self.holdout_cache)

    def holdout_table(self, named: dict[str, Program]) -> dict:
        """Per benchmark: the holdout networks, their accuracies and each named program's raw scores
        (NaN as None) for programs scored there in this process (figures and scatter plots)."""
        out, start = {}, 0
        for n, keys in self.holdout_keys.items():
            end = start + len(keys)
            rows = {name: self.holdout_rows[p.hash][start:end] for name, p in named.items()
                    if p.hash in self.holdout_rows}
            out[n] = {"arch_ids": [a for _, a in keys], "accuracy": self.holdout_acc[n].tolist(),
                      "scores": {name: [float(v) if math.isfinite(v) else None for v in row]
                                 for name, row in rows.items()}}
            start = end
        return out

    def selection_many(self, programs: list[Program]) -> list[dict]:
        """The same figures on the selection networks (the hall of fame is chosen on these)."""
        return self._split_figures(programs, self.selection_keys, self.selection_acc, self.selection_cache)

    def search_scores(self, programs: list[Program]) -> list[dict]:
        """The same figures on the search networks (for baselines beside evolved programs)."""
        return [per_benchmark(row, self.search_keys, self.accuracies) for row in self.raw_rows(programs, "search")]

    def raw_rows(self, programs: list[Program], split: str) -> np.ndarray:
        """Raw scores (programs x networks of ``split``: search, selection or holdout), benchmarks in order;
        each program is scored once per split and process (the final report's steps share them)."""
        keys = {"search": self.search_keys, "selection": self.selection_keys, "holdout": self.holdout_keys}[split]
        rows = self._rows[split]
        todo = [p for p in dict.fromkeys(programs) if p.hash not in rows]
        if todo:
            scores = self.evaluator.score([p.text for p in todo], flat(keys))[0]
            rows.update({p.hash: row for p, row in zip(todo, scores)})
        return np.array([rows[p.hash] for p in programs])

    def arch_features(self, split: str) -> dict[str, list]:
        """Per benchmark: each network's architecture features on ``split`` (None where it has none)."""
        keys = {"search": self.search_keys, "selection": self.selection_keys, "holdout": self.holdout_keys}[split]
        return {n: [self.benches[n].arch_features(a) for _, a in ks] for n, ks in keys.items()}

    def transfer_many(self, programs: list[Program]) -> list[dict]:
        """The same figures on every network of the transfer benchmarks ({} when there are none)."""
        if not self.transfer_keys:
            return [{} for _ in programs]
        return self._split_figures(programs, self.transfer_keys, self.transfer_acc, self.transfer_cache)

    def transfers(self, program: Program) -> bool:
        """Finite on every transfer network (a program that is not is never reported)."""
        return all(f["invalid"] == 0 for f in self.transfer_many([program])[0].values())

    def selection_rows(self, programs: list[Program]) -> np.ndarray:
        """Raw scores (programs x selection networks), each program scored once per process."""
        return self.raw_rows(programs, "selection")

    def _split_figures(self, programs, keys, accs, cache: dict) -> list[dict]:
        todo = [p for p in dict.fromkeys(programs) if p.hash not in cache]
        if todo:
            split = "selection" if keys is self.selection_keys else "holdout" if keys is self.holdout_keys else None
            scores = self.raw_rows(todo, split) if split else \
                self.evaluator.score([p.text for p in todo], flat(keys))[0]
            for p, row in zip(todo, scores):
                cache[p.hash] = per_benchmark(row, keys, accs)
        return [cache[p.hash] for p in programs]

    def selection_fitness(self, figures: dict) -> float:
        """The run's fitness rule applied to selection-split figures (NaN counts as -1)."""
        metric = fit.rank_measure(self.config.evolution.fitness)
        return combined([f[metric] for f in figures.values()], self.config.evolution.combine)


def selection_ids(bench: LabelledArchs, c: RunConfig, search_keys: list) -> list[int]:
    """``selection_archs`` ids of the search split, disjoint from the search networks."""
    taken = {a for _, a in search_keys}
    rest = [a for a in bench.arch_ids("search") if a not in taken]
    if len(rest) < 2:  # a small benchmark: say so, and choose on the search networks
        warnings.warn(f"{bench.name}: search_archs takes {len(taken)} of the {len(taken) + len(rest)} networks of "
                      f"its search split, leaving {len(rest)} for the selection split; the hall of fame is chosen on "
                      f"the search networks (lower search_archs for a selection split)", EvoproxyNote, stacklevel=2)
        return [a for _, a in search_keys]
    picks = np.random.default_rng(c.evolution.seed + 1).choice(len(rest), size=min(c.task.selection_archs, len(rest)),
                                                                replace=False)
    return [rest[i] for i in picks]


def combined(values, combine: str) -> float:
    """Per-benchmark correlations combined by mean or min; an undefined one (NaN, or null as the run
    store keeps NaN) counts as -1."""
    sure = [float(v) if v is not None and math.isfinite(v) else -1.0 for v in values]
    return float(np.mean(sure) if combine == "mean" else np.min(sure))


def flat(keys: dict[str, list]) -> list:
    return [k for n in keys for k in keys[n]]


def per_benchmark(row: np.ndarray, keys: dict[str, list], accs: dict[str, np.ndarray]) -> dict:
    """Reporting figures, with ``evoproxy eval``'s policy: NaN scores rank lowest and are counted."""
    out, start = {}, 0
    for n, nkeys in keys.items():
        part = row[start:start + len(nkeys)]
        start += len(nkeys)
        ranked = rankable(part)
        out[n] = {"kendall": fit.kendall(ranked, accs[n]), "spearman": fit.spearman(ranked, accs[n]),
                  "invalid": int(np.sum(~np.isfinite(part)))}
    return out
