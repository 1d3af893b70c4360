"""What is in a runs folder and where each run stands, read from the run stores (read-only); a study
script's search started, resumed or left as it is."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from evoproxy.errors import EvoproxyError
from evoproxy.evolve.results import SearchResult
from evoproxy.evolve.splits import combined
from evoproxy.evolve.store.rundir import generation_row
from evoproxy.evolve.store.lock import held_by
from evoproxy.evolve.store import RunStore, damaged_store

MAX_DEPTH = 3  # runs/study/seed-0/run.sqlite


def find_runs(root: str | Path) -> list[Path]:
    """Run directories (holding ``run.sqlite``) at most :data:`MAX_DEPTH` levels below ``root``, each
    once: a run reached again through a symbolic link (a link loop, a second name) is listed by its
    first path only."""
    root = Path(root)
    if not root.is_dir():
        raise EvoproxyError(f"{root} is not a directory; give the folder your runs are in (default: runs)")
    found = [root / "run.sqlite"] if (root / "run.sqlite").exists() else []
    for depth in range(1, MAX_DEPTH + 1):
        found += sorted(root.glob("/".join(["*"] * depth) + "/run.sqlite"))
    seen: set[str] = set()
    runs = []
    for store in found:
        real = os.path.realpath(store)
        if real not in seen:
            seen.add(real)
            runs.append(store.parent)
    return runs


def list_runs(root: str | Path) -> list[dict]:
    """:func:`run_status` of every run under ``root``; a run that cannot be read is listed with its
    problem (``state`` "unreadable", ``problem`` the one line) instead of ending the listing."""
    out = []
    for path in find_runs(root):
        try:
            out.append(run_status(path))
        except EvoproxyError as err:
            out.append({"run": str(path), "state": "unreadable", "problem": str(err)})
    return out


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
    report_seconds: float = 0.0
    """How long the final report took (0 before it, and for runs from before this was stored)."""


def read_run(run_dir: str | Path) -> StoredRun:
    """Config, status, results, per-generation summaries and commit times of a run store."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.sqlite").exists():
        raise EvoproxyError(f"{run_dir} holds no run (no run.sqlite); `evoproxy runs` lists the runs in a folder")
    with damaged_store(run_dir / "run.sqlite", structural=True):
        store = RunStore.reader(run_dir)
        try:
            report, summaries = store.get_meta("report"), store.summaries()
            result = SearchResult.from_report(report, run_dir, summaries) if report else None
            return StoredRun(run_dir, store.load_config() or {}, store.get_meta("status"), result, summaries,
                             store.commit_times(), float(store.get_meta("report_seconds", 0.0)))
        finally:
            store.close()


def run_status(run_dir: str | Path) -> dict:
    """State (running, finished, stopped or empty), generation, best so far, elapsed time."""
    run = read_run(run_dir)
    run_dir = Path(run_dir)
    with damaged_store(run_dir / "run.sqlite", structural=True):
        return _status(run, run_dir, held_by(run_dir))


def _status(run: StoredRun, run_dir: Path, holder: str) -> dict:
    config, rows, summaries = run.config, run.commit_times, run.summaries
    finished = run.status == "finished"
    state = "running" if holder else "finished" if finished else "stopped" if rows else "empty"
    last = generation_row(summaries[-1], config.get("combine", "mean")) if summaries else {}
    best = run.result.best if run.result else None
    if best is not None:   # finished: the hall of fame's #1, the formula `export` gives
        selection = [f.get("kendall") for f in best.selection.values()]
        last = {"best_fitness": best.search_fitness, "best": best.formula,
                "best_selection": combined(selection, config.get("combine", "mean")) if selection else None}
    return {"run": str(run_dir), "state": state, "pid": holder or None,
            "generation": rows[-1][0] if rows else None, "generations": config.get("generations"),
            "best_fitness": last.get("best_fitness"), "best_selection": last.get("best_selection"),
            "best": last.get("best"), "best_is": "hall of fame #1" if best is not None else "best so far",
            "elapsed_s": _elapsed(rows, summaries) + run.report_seconds if rows else None,
            "updated": rows[-1][1] if rows else None,
            "benchmarks": ",".join(config.get("benchmarks", []))}


def _elapsed(rows: list, summaries: list[dict]) -> float:
    """Seconds from the first to the last committed generation, plus the first one's own time."""
    first, last = (datetime.fromisoformat(rows[i][1]) for i in (0, -1))
    return (last - first).total_seconds() + float(summaries[0].get("seconds") or 0.0)


def check_report_out(target: str | Path, out: Optional[str]) -> None:
    """A report is never written through a symbolic link: the default folder (``RUN/report``, or
    ``FILE-report`` beside a file) that is a link is refused in one line (``--out`` names a folder
    on purpose and is used as given)."""
    if out is not None:
        return
    path = Path(target)
    default = path / "report" if path.is_dir() else path.with_name(path.stem + "-report")
    if default.is_symlink():
        raise EvoproxyError(f"{default} is a symbolic link (to {os.readlink(default)}); evoproxy does not write a "
                            "report through a link: remove the link, or give --out DIR")


def next_step(status: dict) -> str:
    return {"running": f"running (pid {status['pid']})",
            "stopped": f"continue: evoproxy search --resume {status['run']}",
            "empty": "nothing committed yet", "finished": f"evoproxy report {status['run']}"}[status["state"]]


def scored_programs(run_dir: str | Path, generations: range) -> list[list[str]]:
    """Per generation in ``generations`` (those the run holds), the programs it fully scored (not rejected,
    not reused): a real stream of programs to replay."""
    with RunStore.reader(run_dir) as store:
        calls = [[c.text for c in store.candidates(g) if c.rejection is None and c.reused_from is None]
                 for g in generations]
    return [texts for texts in calls if texts]


def finished_report(run_dir: str) -> tuple[RunStore, dict]:
    with damaged_store(Path(run_dir) / "run.sqlite", structural=True):
        store = RunStore.reader(run_dir)
        try:
            report = store.get_meta("report")
            if report is not None and not isinstance(report.get("hall_of_fame"), list):
                raise ValueError("the stored report has no hall of fame")
        except BaseException:
            store.close()
            raise
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
