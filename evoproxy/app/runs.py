"""What is in a runs folder and where each run stands, read from the run stores (read-only); a study
script's search started, resumed or left as it is."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from evoproxy.errors import EvoproxyError
from evoproxy.evolve.results import SearchResult
from evoproxy.evolve.store.rundir import generation_row
from evoproxy.evolve.store.lock import held_by
from evoproxy.evolve.store import RunStore, damaged_store

MAX_DEPTH = 3  # runs/study/seed-0/run.sqlite


def find_runs(root: str | Path) -> list[Path]:
    """Run directories (holding ``run.sqlite``) at most :data:`MAX_DEPTH` levels below ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise EvoproxyError(f"{root} is not a directory; give the folder your runs are in (default: runs)")
    found = [root] if (root / "run.sqlite").exists() else []
    for depth in range(1, MAX_DEPTH + 1):
        found += [p.parent for p in sorted(root.glob("/".join(["*"] * depth) + "/run.sqlite"))]
    return found


@dataclass(frozen=True)
class StoredRun:
    """What a run store holds for looking at it (read-only)."""

    run_dir: Path
    config: dict
    """The stored config, flat (every key)."""
    status: Optional[str]
    result: Optional[SearchResult]
    """The finished search's results; None while it runs or when it stopped."""
    summaries: list[dict]
    """One summary per committed generation."""
    commit_times: list


def read_run(run_dir: str | Path) -> StoredRun:
    """Config, status, results, per-generation summaries and commit times of a run store."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.sqlite").exists():
        raise EvoproxyError(f"{run_dir} holds no run (no run.sqlite); `evoproxy runs` lists the runs in a folder")
    with damaged_store(run_dir / "run.sqlite", structural=True):
        store = RunStore(run_dir, create=False)
        try:
            report, summaries = store.get_meta("report"), store.summaries()
            result = SearchResult.from_report(report, run_dir, summaries) if report else None
            return StoredRun(run_dir, store.load_config() or {}, store.get_meta("status"), result, summaries,
                             store.commit_times())
        finally:
            store.close()


def run_status(run_dir: str | Path) -> dict:
    """State (running, finished, stopped or empty), generation, best so far, elapsed time."""
    run = read_run(run_dir)
    run_dir = Path(run_dir)
    config, rows, summaries = run.config, run.commit_times, run.summaries
    finished = run.status == "finished"
    holder = held_by(run_dir)
    state = "running" if holder else "finished" if finished else "stopped" if rows else "empty"
    last = generation_row(summaries[-1], config.get("combine", "mean")) if summaries else {}
    return {"run": str(run_dir), "state": state, "pid": holder or None,
            "generation": rows[-1][0] if rows else None, "generations": config.get("generations"),
            "best_fitness": last.get("best_fitness"), "best_selection": last.get("best_selection"),
            "best": last.get("best"), "elapsed_s": _elapsed(rows, summaries),
            "updated": rows[-1][1] if rows else None,
            "benchmarks": ",".join(config.get("benchmarks", []))}


def _elapsed(rows: list, summaries: list[dict]) -> Optional[float]:
    """Seconds from the first to the last committed generation, plus the first one's own time."""
    if not rows:
        return None
    first, last = (datetime.fromisoformat(rows[i][1]) for i in (0, -1))
    return (last - first).total_seconds() + float(summaries[0].get("seconds") or 0.0)


def next_step(status: dict) -> str:
    return {"running": f"running (pid {status['pid']})",
            "stopped": f"continue: evoproxy search --resume {status['run']}",
            "empty": "nothing committed yet", "finished": f"evoproxy report {status['run']}"}[status["state"]]


def scored_programs(run_dir: str | Path, generations: range) -> list[list[str]]:
    """Per generation in ``generations`` (those the run holds), the programs it fully scored (not rejected,
    not reused): a real stream of programs to replay."""
    with RunStore(run_dir, create=False) as store:
        calls = [[c.text for c in store.candidates(g) if c.rejection is None and c.reused_from is None]
                 for g in generations]
    return [texts for texts in calls if texts]


def finished_report(run_dir: str) -> tuple[RunStore, dict]:
    with damaged_store(Path(run_dir) / "run.sqlite", structural=True):
        store = RunStore(run_dir, create=False)
        report = store.get_meta("report")
        if report is not None and not isinstance(report.get("hall_of_fame"), list):
            raise ValueError("the stored report has no hall of fame")
    if report is None:
        raise EvoproxyError(f"{run_dir} has no finished search; finish it with evoproxy search --resume {run_dir}")
    return store, report


def is_finished(run_dir: str) -> bool:
    """Whether ``run_dir`` holds a finished search (at its last generation or ended by its time budget)."""
    try:
        store, _ = finished_report(run_dir)
    except EvoproxyError:
        return False
    store.close()
    return True


def study_search(out: Path, fresh: list[str], label: str, extra: tuple[str, ...] = ()) -> None:
    """A study script's search into ``out``: nothing when it is finished (a run its time budget ended
    stays ended), ``--resume`` when it was started, else ``evoproxy search`` with ``fresh`` arguments;
    ``extra`` (such as ``--data-dir``) either way."""
    if is_finished(str(out)):
        return
    cmd = ["--resume", str(out)] if (Path(out) / "run.sqlite").exists() else [*fresh, "--out", str(out)]
    print(f"{label}: evoproxy search {' '.join(cmd)}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "evoproxy", "search", *cmd, "--quiet", *extra], check=True)
