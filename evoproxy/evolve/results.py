"""A search's results as typed records: the hall of fame, the ensemble, the baselines, per generation.

The run store keeps the report as JSON (``report`` meta); :meth:`SearchResult.from_report` reads it
back, :meth:`SearchResult.to_json` writes the same document.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

Figures = dict[str, dict[str, float]]
"""benchmark -> {kendall, spearman, ...} on one split."""


def _known(cls, doc: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in doc.items() if k in names}


@dataclass(frozen=True)
class HallOfFameEntry:
    rank: int
    formula: str
    search_fitness: float
    holdout: Figures
    selection: Figures = field(default_factory=dict)
    transfer: Figures = field(default_factory=dict)
    size: int = 0
    hash: str = ""
    lineage: list = field(default_factory=list)


@dataclass(frozen=True)
class EnsembleEntry:
    formula: str
    members: list[str]
    selection_fitness: float
    holdout: Figures
    transfer: Figures = field(default_factory=dict)
    trace: list = field(default_factory=list)


@dataclass(frozen=True)
class BaselineEntry:
    proxy: str
    formula: str
    holdout: Figures
    selection: Figures = field(default_factory=dict)
    transfer: Figures = field(default_factory=dict)
    search: Figures = field(default_factory=dict)


@dataclass(frozen=True)
class LearnedEntry:
    """A model fitted on the run's labelled networks (search + selection) over the baselines' values."""

    name: str
    holdout: Figures
    features: list[str] = field(default_factory=list)
    trained_on: dict[str, int] = field(default_factory=dict)
    uses_arch: bool = False


@dataclass(frozen=True)
class SearchResult:
    """What a finished search found; ``report`` is the stored document these fields were read from."""

    run_dir: Path
    hall_of_fame: list[HallOfFameEntry]
    ensemble: Optional[EnsembleEntry]
    baselines: list[BaselineEntry]
    pareto: list[dict]
    rejections: dict[str, int]
    generations: list[dict]
    fitness: str
    seed: int
    stopped_at: Optional[int]
    holdout_scores: dict = field(default_factory=dict, repr=False)
    """benchmark -> {arch_ids, accuracy, scores: {proxy: per-network score}} on the final holdout."""
    learned: list[LearnedEntry] = field(default_factory=list)
    """Learned baselines (empty without scikit-learn or with ``learned = []``)."""
    progress: list[dict] = field(default_factory=list)
    """Time to quality: per generation its ``minutes`` since the start, the population's best ``formula`` and
    that program's final-holdout figures (``holdout``); empty for runs written before it was recorded."""
    report: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def best(self) -> Optional[HallOfFameEntry]:
        """The hall of fame's #1 (chosen on the selection split), or None when every candidate was rejected."""
        return self.hall_of_fame[0] if self.hall_of_fame else None

    @classmethod
    def from_report(cls, report: dict, run_dir: str | Path, generations: Optional[list[dict]] = None) -> "SearchResult":
        ens = report.get("ensemble")
        return cls(Path(run_dir), [HallOfFameEntry(**_known(HallOfFameEntry, e)) for e in report["hall_of_fame"]],
                   EnsembleEntry(**_known(EnsembleEntry, ens)) if ens else None,
                   [BaselineEntry(**_known(BaselineEntry, b)) for b in report["baselines"]],
                   list(report.get("pareto", [])), dict(report.get("rejections", {})), list(generations or []),
                   report.get("fitness", "kendall"), report.get("seed", 0), report.get("stopped_at"),
                   dict(report.get("holdout_scores") or {}),
                   [LearnedEntry(**_known(LearnedEntry, e)) for e in report.get("learned") or []],
                   list(report.get("progress") or []), report)

    @classmethod
    def from_store(cls, store, report: dict) -> "SearchResult":
        """``report`` (the run's stored report) with the per-generation summaries of ``store``."""
        return cls.from_report(report, store.run_dir, store.summaries())

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The report document (as stored in the run) with the run folder and per-generation summaries."""
        return json.dumps({"run_dir": str(self.run_dir), **self.report, "generations": self.generations},
                          indent=indent, allow_nan=True)
