"""The search use case: resolve a run's config, open its store, run it, export its winners."""
from __future__ import annotations

import json
import os
import random
import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from evoproxy.app.benchmarks import (BenchmarkOpener, check_probe_classes, check_sizes, resolve_teacher,
                                     usable_device)
from evoproxy.backends import make_backend
from evoproxy.data.images import load_probe_batch
from evoproxy.errors import EvoproxyError, EvoproxyNote
from evoproxy.plugins import load_plugins
from evoproxy.lang.proxyfile import resolve
from evoproxy.scoring.cores import usable_cores
from evoproxy.scoring.scorecache import cache_folder
from evoproxy.scoring.setup import EvalSetup, ScoringConfig
from evoproxy.evolve.generate import Generator
from evoproxy.evolve.store.lock import RunLock
from evoproxy.evolve.config import EXECUTION_KEYS, RunConfig, from_dict, load_config, parse_override
from evoproxy.evolve.loop import Search
from evoproxy.evolve.results import SearchResult
from evoproxy.evolve.report import final_report
from evoproxy.evolve.seeds import seed_programs
from evoproxy.evolve.store import rundir
from evoproxy.evolve.store import RunStore, damaged_store

RESUMABLE_KEYS = EXECUTION_KEYS + ("generations",)
"""What ``--resume`` may change: the rest is the run's identity."""


def resolve_config(given: dict[str, Any], sets: Sequence[str] = (), config_path: Optional[str] = None,
                   store: Optional[RunStore] = None) -> RunConfig:
    """The run's config: the stored one when resuming (only execution keys may change), else the
    TOML file (or defaults) with ``given`` and ``--set KEY=VALUE`` overrides applied."""
    given = {**given, **dict(parse_override(s) for s in sets)}
    if store is not None:
        stored = from_dict(store.load_config() or {}, "stored config")
        if set(given.get("plugins", ())) <= set(stored.language.plugins):
            given.pop("plugins", None)  # loaded again from the stored config
        before = stored.to_dict()
        changed = sorted(k for k in given if k not in RESUMABLE_KEYS and given[k] != before[k])
        if changed:
            raise EvoproxyError(f"--resume continues the stored config; drop {', '.join(changed)} "
                                "(only --generations and execution settings such as --backend may change)")
        return stored.replace(**{k: v for k, v in given.items() if k in RESUMABLE_KEYS})
    base = load_config(config_path) if config_path else RunConfig()
    if "plugins" in given:  # --plugin adds to the config's plugins
        given["plugins"] = tuple(dict.fromkeys(base.language.plugins + tuple(given["plugins"])))
    return base.replace(**given)


@dataclass(frozen=True)
class OpenedBenchmarks:
    """A run's benchmarks, opened once (the teacher resolved once) and handed on whole."""

    opener: BenchmarkOpener
    """Opens them by name (the run's data directory, split seed, metric and teacher): the workers get it."""
    searched: dict
    """name -> benchmark, the ones fitness is measured on."""
    transfer: dict
    """name -> benchmark, reported on and never searched on."""
    sources: dict
    """Where each searched benchmark's ground truth and probe images come from (:func:`data_sources`)."""


def open_benchmarks(config: RunConfig) -> OpenedBenchmarks:
    """The run's benchmarks; a bad name, teacher or missing probe image set fails here in one line."""
    task = config.task
    opener = BenchmarkOpener(config.execution.data_dir, task.split_seed, task.metric,
                             resolve_teacher(task.teacher, task.benchmarks), task.transfer)
    searched = {n: opener(n) for n in task.benchmarks}
    transfer = {n: opener(n) for n in task.transfer}
    return OpenedBenchmarks(opener, searched, transfer, data_sources(config, searched))


@dataclass
class PreparedRun:
    """A validated run, its store open and locked; nothing was written before validation passed."""

    store: RunStore
    config: RunConfig
    benchmarks: OpenedBenchmarks
    resuming: bool
    lock: RunLock
    finished: Optional[SearchResult] = None
    """What the run found when it is already finished and there is nothing to continue."""
    created_dirs: tuple = ()
    """The folders a new run created, deepest first (removed again when it fails before generation 0)."""
    existing: frozenset = frozenset()
    """The names already in a new run's folder before it started (never removed)."""

    @property
    def sources(self) -> dict:
        return self.benchmarks.sources

    def close(self, failed: bool = False) -> None:
        """Close the store and release the lock; a new run that committed nothing (a failure, Ctrl-C
        before generation 0) leaves nothing behind: what it wrote is removed, and its folder when it made it."""
        try:
            empty = failed and not self.resuming and self.store.last_generation() is None
        except sqlite3.Error:  # a store that cannot be read is kept for the user to look at
            empty = False
        self.store.close()
        if empty:
            rundir.remove_unstarted(self.store.run_dir, self.created_dirs, self.existing, keep_lock=True)
        self.lock.release()
        if empty:
            rundir.remove_unstarted(self.store.run_dir, self.created_dirs, self.existing)


def validate(config: RunConfig) -> OpenedBenchmarks:
    """Everything a run needs, checked before anything is written; its benchmarks, opened."""
    task, language = config.task, config.language
    for key, names in (("baselines", task.baselines), ("control", [task.control] if task.control else [])):
        for name in names:
            try:
                resolve(name)
            except EvoproxyError as err:
                raise EvoproxyError(f"bad config: {key} entry {name!r} is not a proxy name, file or formula "
                                    f"({err}); see `evoproxy list proxies`") from None
    Generator(stats=language.stats, ops=language.ops).program(random.Random(0), max_depth=language.max_depth)
    if config.evolution.init_from:  # a bad warm start fails here, in one line
        seed_programs(config.evolution.init_from, language.stats, language.ops)
    usable_device(config.execution.device, elsewhere=True)  # an unknown device fails here, in one line
    if config.execution.backend == "ray" and config.execution.workers < 1:
        raise EvoproxyError("--workers must be >= 1 for the ray backend")
    opened = open_benchmarks(config)
    for name, bench in opened.searched.items():
        check_sizes(config.task, name, bench)
    return opened


def prepare_run(out: Optional[str], resume: Optional[str], given: dict[str, Any], sets: Sequence[str] = (),
                config_path: Optional[str] = None) -> PreparedRun:
    """Validate the run, then open (or create) and lock its store."""
    if resume:
        if config_path:
            raise EvoproxyError("--resume continues the stored config; drop --config")
        return _prepare_resume(resume, given, sets)
    path = Path(out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    if not path.is_absolute() and in_ray_job_copy():
        raise EvoproxyError(f"this `ray job submit` runs in Ray's temporary copy of --working-dir, where --out {path} "
                            "would be lost; give an absolute path, e.g. --out \"$PWD/runs/job\"")
    if (path / "run.sqlite").exists():
        raise EvoproxyError(f"{path} already holds a run; continue it with --resume {path} or pick --out")
    if path.exists() and not path.is_dir():
        raise EvoproxyError(f"--out {path} is a file; give a directory")
    config = resolve_config(given, sets, config_path)
    return _prepare_new(path, config, validate(config))


def _prepare_resume(resume: str, given: dict[str, Any], sets: Sequence[str]) -> PreparedRun:
    with damaged_store(Path(resume) / "run.sqlite"):
        store = RunStore(resume, create=False)
    lock = _lock(store)
    try:
        with damaged_store(store.path, structural=True):
            if store.load_config() is None:
                raise EvoproxyError(f"{resume} holds no started run (no stored config); delete it and start again")
            config = resolve_config(given, sets, None, store)
            last, report = store.last_generation(), store.get_meta("report")
        run = PreparedRun(store, config, validate(config), True, lock)
        if report is not None and last is not None and config.evolution.generations <= last:
            run.finished = SearchResult.from_store(store, report)
        return run
    except BaseException:
        store.close()
        lock.release()
        raise


def _prepare_new(path: Path, config: RunConfig, opened: OpenedBenchmarks) -> PreparedRun:
    """Create, lock and start the store of a new run; a failure on the way leaves nothing behind."""
    created = tuple(p for p in (path, *path.absolute().parents) if not p.exists())
    existing = frozenset(os.listdir(path)) if not created else frozenset()
    try:
        with damaged_store(path / "run.sqlite"):  # a full disk: one line
            store = RunStore(path)
    except BaseException:
        rundir.remove_unstarted(path, created, existing)
        raise
    lock = _lock(store)  # refused: another search holds the folder, and what is in it is its own
    run = PreparedRun(store, config, opened, False, lock, created_dirs=created, existing=existing)
    try:
        store.save_config(config.identity())
    except BaseException:
        run.close(failed=True)
        raise
    return run


def _readable(store: RunStore, config: RunConfig,
              on_generation: Optional[Callable[[dict], None]]) -> Callable[[dict], None]:
    """``on_generation`` that first brings the run directory's readable files up to date."""
    rundir.write_config(store.run_dir, config.to_dict())
    rundir.write_generations(store.run_dir, store.summaries(), config.evolution.combine)

    def each(summary: dict) -> None:
        rundir.write_generations(store.run_dir, store.summaries(), config.evolution.combine)
        if on_generation is not None:
            on_generation(summary)
    return each


def in_ray_job_copy() -> bool:
    """Whether this process is a ``ray job submit`` driver running in a copy of its --working-dir."""
    try:
        job = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}"))
    except ValueError:
        return False
    return isinstance(job, dict) and bool((job.get("runtime_env") or {}).get("working_dir"))


def _lock(store: RunStore) -> RunLock:
    try:
        return RunLock(store.run_dir)
    except BaseException:
        store.close()
        raise


def data_sources(config: RunConfig, benches: dict) -> dict[str, dict[str, str]]:
    """Where each benchmark's ground truth and probe images come from (EMBEDDED, data directory,
    user file or SYNTHETIC); loading the probe batch checks the images are there."""
    out: dict[str, dict[str, str]] = {"benchmarks": {}, "probe": {}}
    for n, bench in benches.items():
        batch = bench.probe_batch()
        if batch is None:
            batch = load_probe_batch(config.scoring.probe, config.scoring.batch_size, config.evolution.seed,
                                     config.execution.data_dir, bench.image_set)
            check_probe_classes(bench, batch)
        out["benchmarks"][n], out["probe"][n] = bench.label, batch.label
    return out


def eval_setup(config: RunConfig) -> EvalSetup:
    """What every worker needs: the scoring section whole, the run's seed and plugins, its limits."""
    run = config.execution
    return EvalSetup(scoring=scoring_here(config), seed=config.evolution.seed, data_dir=run.data_dir,
                     device=usable_device(run.device, on_cluster(run)), memory_mb=run.memory_mb,
                     timeout_s=run.timeout_s,
                     plugins=load_plugins(config.language.plugins),
                     score_cache=cache_folder(run.data_dir) if run.score_cache else None)


def on_cluster(run) -> bool:
    """The workers run on a Ray cluster's nodes (not on this machine)."""
    return run.backend == "ray" and bool(run.ray_address or os.environ.get("RAY_ADDRESS"))


def scoring_here(config: RunConfig) -> ScoringConfig:
    """The scoring section with ``threads`` no more than this machine's cores when the workers run
    here (more only make torch's threads fight for them: 4096 started 515 threads and a million
    crashed), said in one note; on a Ray cluster each node's scheduler counts its own cores."""
    scoring, cores = config.scoring, usable_cores()
    run = config.execution
    if scoring.threads <= cores or on_cluster(run):
        return scoring
    warnings.warn(f"threads = {scoring.threads} is more than the {cores} cores here: each worker scores on "
                  f"{cores} threads (the config keeps {scoring.threads})", EvoproxyNote, stacklevel=3)
    return scoring.model_copy(update={"threads": cores})


def run_search(config: RunConfig, store: RunStore, on_generation: Optional[Callable[[dict], None]] = None,
               benchmarks: Optional[OpenedBenchmarks] = None,
               on_progress: Optional[Callable[[str, int, int, str], None]] = None) -> SearchResult:
    """Run (or continue) a search into ``store`` and write its final report there; ``benchmarks``
    (from :func:`validate` / :func:`prepare_run`, when the caller has them) are not opened again."""
    opened = benchmarks or open_benchmarks(config)
    run = config.execution
    with damaged_store(store.path):  # also a full disk, wherever the run writes: one line
        store.set_meta("data", opened.sources)
        backend = make_backend(run.backend, eval_setup(config), opened.opener, run.workers, run.ray_address)
        try:
            search = Search(config, backend, opened.searched, store, _readable(store, config, on_generation),
                            opened.transfer, on_progress)
            search.run()
            started = time.perf_counter()
            report = {**final_report(search, config.task.baselines), "stopped_at": search.stopped_at}
        finally:
            backend.close()
        store.save_hall_of_fame(report["hall_of_fame"])
        store.set_meta("report_seconds", time.perf_counter() - started)  # `status`'s elapsed time includes it
        store.set_meta("report", report)
        store.set_meta("status", "finished")
        result = SearchResult.from_store(store, report)
        rundir.write_hall_of_fame(store.run_dir, result)
    return result
