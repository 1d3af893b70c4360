"""Readable files beside ``run.sqlite``, kept current as a run goes (nobody needs SQL to look):

* ``config.toml``: the resolved config (``evoproxy search --config RUN/config.toml`` repeats the run;
  an edited one is left as it is, see :mod:`.configfile`);
* ``generations.csv``: one row per committed generation (fitness, selection Kendall, diversity,
  rejections, time), rewritten from the store after every generation;
* ``hall_of_fame.csv``: at the end, the hall of fame, the ensemble, the learned models and the baselines with their
  search fitness and selection and final-holdout figures.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Iterable, Optional

from evoproxy.evolve.results import SearchResult
from evoproxy.evolve.store.configfile import toml_value, write_config  # noqa: F401  (this module's API)
from evoproxy.evolve.splits import combined

GENERATION_COLUMNS = ("generation", "best_fitness", "median_fitness", "mean_fitness", "best_selection",
                      "distinct", "population", "mean_rho", "candidates", "rejected", "rejections",
                      "seconds", "evals_per_s", "best")


UNSTARTED_FILES = ("run.sqlite", "run.sqlite-wal", "run.sqlite-shm", "run.sqlite-journal", ".lock",
                   *(f"{name}{tmp}" for name in ("config.toml", "config.stored.toml", "generations.csv")
                     for tmp in ("", ".tmp")))
"""What a new run writes into its folder before its generation 0 is committed."""


def remove_unstarted(run_dir: Path, created_dirs: tuple = (), existing: frozenset = frozenset(),
                     keep_lock: bool = False) -> None:
    """Remove what a new run that failed before generation 0 wrote (:data:`UNSTARTED_FILES` that were
    not in ``existing``), then the folders it created (deepest first) that are empty; ``keep_lock``:
    all but the lock file (still held), and no folder."""
    for name in UNSTARTED_FILES:
        if name not in existing and not (keep_lock and name == ".lock"):
            try:
                (run_dir / name).unlink()
            except OSError:
                pass
    for folder in () if keep_lock else created_dirs:
        try:
            Path(folder).rmdir()
        except OSError:
            return


def generation_row(s: dict, combine: str = "mean") -> dict:
    div = s.get("diversity") or {}
    selection = [f.get("kendall") for f in (s.get("best_selection") or {}).values()]
    rejections = s.get("rejections") or {}
    return {"generation": s["generation"], "best_fitness": s.get("best_fitness"),
            "median_fitness": s.get("median_fitness"), "mean_fitness": s.get("mean_fitness"),
            "best_selection": combined(selection, combine) if selection else None,
            "distinct": div.get("distinct"), "population": div.get("size"), "mean_rho": div.get("mean_rho"),
            "candidates": s.get("candidates"), "rejected": sum(rejections.values()),
            "rejections": ";".join(f"{k}={v}" for k, v in sorted(rejections.items())),
            "seconds": s.get("seconds"), "evals_per_s": s.get("evals_per_s"), "best": s.get("best")}


def write_generations(run_dir: Path, summaries: Iterable[dict], combine: str = "mean") -> None:
    write_csv(run_dir / "generations.csv", GENERATION_COLUMNS, [generation_row(s, combine) for s in summaries])


def _figures(prefix: str, figures: Optional[dict]) -> dict:
    out = {}
    for bench, f in (figures or {}).items():
        for metric in ("kendall", "spearman"):
            out[f"{prefix}_{metric}[{bench}]"] = f.get(metric)
    return out


def hall_of_fame_rows(result: SearchResult) -> list[dict]:
    """One row per reported proxy: the evolved ones by rank, the ensemble, the learned models, the baselines."""
    rows = [{"kind": "evolved", "rank": e.rank, "formula": e.formula, "size": e.size,
             "search_fitness": e.search_fitness, **_figures("selection", e.selection),
             **_figures("holdout", e.holdout)} for e in result.hall_of_fame]
    ens = result.ensemble
    if ens:
        rows.append({"kind": "ensemble", "formula": ens.formula, "search_fitness": None,
                     **_figures("holdout", ens.holdout)})
    rows += [{"kind": "learned", "name": m.name, "formula": None, **_figures("holdout", m.holdout)}
             for m in result.learned]
    rows += [{"kind": "baseline", "name": b.proxy, "formula": b.formula, **_figures("search", b.search),
              **_figures("selection", b.selection), **_figures("holdout", b.holdout)} for b in result.baselines]
    return rows


def hall_of_fame_columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(["kind", "rank", "name", "formula", "size", "search_fitness"]
                              + [k for r in rows for k in r]))


def write_hall_of_fame(run_dir: Path, result: SearchResult) -> None:
    rows = hall_of_fame_rows(result)
    write_csv(run_dir / "hall_of_fame.csv", hall_of_fame_columns(rows), rows)


def csv_text(columns: Iterable[str], rows: Iterable[dict]) -> str:
    """A CSV with a header; None and NaN are empty cells, floats at full precision."""
    columns = list(columns)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows({k: _cell(r.get(k)) for k in columns} for r in rows)
    return out.getvalue()


def write_csv(path: Path, columns: Iterable[str], rows: Iterable[dict]) -> None:
    _write_text(path, csv_text(columns, rows))


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(v) if isinstance(v, float) else v  # full precision: the numbers read back exactly


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
