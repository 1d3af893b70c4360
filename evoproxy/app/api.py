"""evoproxy from Python: a search and an evaluation as calls with typed results (what the CLI runs).

>>> result = evoproxy.search("experiments/synthetic.toml", out="runs/syn", generations=3)
>>> result.best.formula, result.best.holdout
>>> evoproxy.load_result("runs/syn").ensemble        # a finished run, read back
>>> evoproxy.evaluate_proxies(["synflow", "layer_sum(l2(grad))"], benchmark="synthetic", archs=20).results
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from evoproxy.app import evaluate
from evoproxy.app.runs import finished_report
from evoproxy.app.search import prepare_run, run_search
from evoproxy.scoring.summary import EvalRun
from evoproxy.evolve.config import RunConfig
from evoproxy.evolve.results import SearchResult

ConfigLike = Union[str, Path, Mapping[str, Any], RunConfig, None]


def search(config: ConfigLike = None, *, out: Optional[str | Path] = None, resume: Optional[str | Path] = None,
           on_generation: Optional[Callable[[dict], None]] = None, **overrides: Any) -> SearchResult:
    """Run a search (or continue one with ``resume=RUN_DIR``) and return what it found.

    ``config``: a TOML file, a mapping of config keys, a :class:`RunConfig`, or None for the defaults;
    ``overrides``: config keys (``generations=3``); ``out``: the run folder (default ``runs/<time>``).
    Errors are :class:`evoproxy.EvoproxyError` with a one-line message; a failed new run leaves no folder.
    """
    path = str(config) if isinstance(config, (str, Path)) else None
    given = dict(config.to_dict() if isinstance(config, RunConfig) else config or {}) if path is None else {}
    given.update(overrides)
    run = prepare_run(str(out) if out is not None else None, str(resume) if resume else None, given, (), path)
    failed = True
    try:
        result = run.finished or run_search(run.config, run.store, on_generation=on_generation,
                                            benchmarks=run.benchmarks)
        failed = False
        return result
    finally:
        run.close(failed)


def load_result(run_dir: str | Path) -> SearchResult:
    """What the finished search in ``run_dir`` found (an :class:`EvoproxyError` when it is not finished)."""
    store, report = finished_report(str(run_dir))
    with store:
        return SearchResult.from_store(store, report)


def evaluate_proxies(proxies: Union[str, Sequence[str]], benchmark: str = "nb201-cifar10",
                     archs: Union[int, str] = 100, split: str = "all", **options: Any) -> EvalRun:
    """What ``evoproxy eval`` computes: each proxy's rank agreement with the benchmark's accuracies on
    ``archs`` sampled architectures of ``split`` (``.results``: proxy, kendall, spearman, pearson, emq,
    invalid). ``options`` are :func:`evoproxy.app.evaluate.plan_eval`'s (seed, batch_size, probe, metric,
    init, device, teacher, data_dir, save)."""
    text = proxies if isinstance(proxies, str) else ";".join(proxies)
    return evaluate.plan_eval(text, benchmark, str(archs), split, **options).run()
