"""The search use case: resolve a run's config, open its store, run it, export its winners."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from evoproxy.app.benchmarks import resolve_teacher
from evoproxy.backends import make_backend
from evoproxy.benchmarks import get_benchmark
from evoproxy.data.images import load_probe_batch
from evoproxy.errors import EvoproxyError
from evoproxy.lang import export
from evoproxy.lang.program import parse
from evoproxy.lang.proxyfile import ProxySpec, proxy_document
from evoproxy.scoring.worker import EvalSetup
from evoproxy.search.config import EXECUTION_KEYS, RunConfig, from_dict, load_config, parse_override
from evoproxy.search.loop import Search
from evoproxy.search.report import final_report
from evoproxy.search.store import RunStore

RESUMABLE_KEYS = EXECUTION_KEYS + ("generations",)
"""What ``--resume`` may change: the rest is the run's identity."""


def resolve_config(given: dict[str, Any], sets: Sequence[str] = (), config_path: Optional[str] = None,
                   store: Optional[RunStore] = None) -> RunConfig:
    """The run's config: the stored one when resuming (only execution keys may change), else the
    TOML file (or defaults) with ``given`` and ``--set KEY=VALUE`` overrides applied."""
    given = {**given, **dict(parse_override(s) for s in sets)}
    if store is not None:
        stored = from_dict(store.load_config() or {}, "stored config")
        changed = sorted(k for k in given if k not in RESUMABLE_KEYS and given[k] != getattr(stored, k))
        if changed:
            raise EvoproxyError(f"--resume continues the stored config; drop {', '.join(changed)} "
                                "(only --generations and execution settings such as --backend may change)")
        return stored.replace(**{k: v for k, v in given.items() if k in RESUMABLE_KEYS})
    base = load_config(config_path) if config_path else RunConfig()
    return base.replace(**given)


def open_store(out: Optional[str], resume: Optional[str]) -> tuple[RunStore, bool]:
    """The run store to write: ``resume``'s (continuing), else a new one at ``out``."""
    if resume:
        return RunStore(resume, create=False), True
    path = Path(out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    if (path / "run.sqlite").exists():
        raise EvoproxyError(f"{path} already holds a run; continue it with --resume {path} or pick --out")
    return RunStore(path), False


def open_benchmarks(config: RunConfig) -> dict:
    """The run's benchmarks by name (the teacher resolved and checked first)."""
    teacher = resolve_teacher(config.teacher, config.benchmarks)
    return {n: get_benchmark(n, config.data_dir, config.split_seed, config.metric, teacher)
            for n in config.benchmarks}


def data_sources(config: RunConfig, benches: dict) -> dict[str, dict[str, str]]:
    """Where each benchmark's ground truth and probe images come from (EMBEDDED, data directory,
    user file or SYNTHETIC); loading the probe batch checks the images are there."""
    out: dict[str, dict[str, str]] = {"benchmarks": {}, "probe": {}}
    for n, bench in benches.items():
        batch = bench.probe_batch()
        if batch is None:
            batch = load_probe_batch(config.probe, config.batch_size, config.seed, config.data_dir,
                                     bench.image_set)
        out["benchmarks"][n], out["probe"][n] = bench.label, batch.label
    return out


def eval_setup(config: RunConfig, teacher: Optional[str]) -> EvalSetup:
    return EvalSetup(config.data_dir, config.split_seed, config.metric, config.probe,
                     config.batch_size, config.seed, config.memory_mb, config.threads,
                     config.timeout_s, config.device, teacher)


def run_search(config: RunConfig, store: RunStore, on_generation: Optional[Callable[[dict], None]] = None,
               sources: Optional[dict] = None) -> dict:
    """Run (or continue) a search into ``store`` and write its final report there; ``sources``
    (from :func:`data_sources`, when the caller has them) are stored with it."""
    teacher = resolve_teacher(config.teacher, config.benchmarks)
    benches = open_benchmarks(config)
    store.set_meta("data", sources or data_sources(config, benches))
    backend = make_backend(config.backend, eval_setup(config, teacher), get_benchmark, config.workers,
                           config.ray_address)
    try:
        search = Search(config, backend, benches, store, on_generation)
        search.run()
        report = final_report(search, config.baselines)
    finally:
        backend.close()
    store.save_hall_of_fame(report["hall_of_fame"])
    store.set_meta("report", report)
    store.set_meta("status", "finished")
    return report


def finished_report(run_dir: str) -> tuple[RunStore, dict]:
    store = RunStore(run_dir, create=False)
    report = store.get_meta("report")
    if report is None:
        raise EvoproxyError(f"{run_dir} has no finished search; finish it with evoproxy search --resume {run_dir}")
    return store, report


def export_json(run_dir: str, top: int) -> dict:
    """The best ``top`` programs as one proxy document (the best; the rest under ``others``)."""
    store, report = finished_report(run_dir)
    entries = report["hall_of_fame"][:top]
    docs = [proxy_document(ProxySpec(f"evolved-{e['hash']}", parse(e["formula"])),
                           search_fitness=e["search_fitness"], holdout=e["holdout"], lineage=e["lineage"])
            for e in entries]
    meta = {"run": str(run_dir), "seed": report["seed"], "baselines": report["baselines"],
            "config": store.load_config(), "data": store.get_meta("data")}
    return {**docs[0], **meta, "others": docs[1:]}


def export_lines(run_dir: str, top: int, fmt: str, holdout_text: Callable[[dict], str]) -> list[str]:
    """The best ``top`` programs as text, LaTeX, sympy or Python lines."""
    _, report = finished_report(run_dir)
    entries = report["hall_of_fame"][:top]
    lines = ["from evoproxy import parse, to_callable\n"] if fmt == "python" and entries else []
    for e in entries:
        p = parse(e["formula"])
        lines.append({"text": lambda: f"{e['search_fitness']:.4f}  {holdout_text(e['holdout'])}  {p.text}",
                      "latex": lambda: export.to_latex(p), "sympy": lambda: str(export.to_sympy(p)),
                      "python": lambda: f"proxy_{e['rank']} = to_callable(parse({p.text!r}))  # f(stats) -> float"}[fmt]())
    return lines
