"""The walk of one config from ``evoproxy search`` to the worker: how often it is rebuilt, how often
each benchmark is opened and the teacher resolved. Run as a script to print the figures."""
from __future__ import annotations

import sys
from collections import Counter

SETS = ["--set", "generations=1", "--set", "population=6", "--set", "offspring=2", "--set", "search_archs=8",
        "--set", "selection_archs=6", "--set", "holdout_archs=6", "--set", "screen_archs=4",
        "--set", "baselines=['params']", "--set", "hall_of_fame=1", "--set", "ensemble_size=0"]


def walk_counts(out: str, patch) -> Counter:
    """Constructions and openings during one synthetic ``evoproxy search`` (``patch(obj, name, fn)``
    replaces an attribute for the duration)."""
    import evoproxy.app.benchmarks as app_benchmarks
    import evoproxy.app.search as app_search
    from evoproxy.cli import main
    try:
        from evoproxy.evolve import config as config_module
    except ImportError:    # the layout before the search API (for the "before" figures)
        from evoproxy.search import config as config_module
    try:
        from evoproxy.scoring import setup as setup_module
    except ImportError:    # before the worker's setup had its own module
        from evoproxy.scoring import worker as setup_module

    counts: Counter = Counter()

    def counting(label, fn):
        def wrapper(*args, **kwargs):
            counts[label] += 1
            return fn(*args, **kwargs)
        return wrapper

    for cls, label in ((config_module.RunConfig, "RunConfig built"), (setup_module.EvalSetup, "EvalSetup built")):
        patch(cls, "__init__", counting(label, cls.__init__))
    where = app_search if hasattr(app_search, "get_benchmark") else app_benchmarks  # before / after the opener
    patch(where, "get_benchmark", counting("benchmark opened", where.get_benchmark))
    patch(app_search, "resolve_teacher", counting("teacher resolved", app_search.resolve_teacher))
    patch(app_benchmarks, "resolve_teacher", counting("teacher resolved", app_benchmarks.resolve_teacher))
    assert main(["search", "--config", "experiments/synthetic.toml", "--out", out, "--quiet", *SETS]) == 0
    return counts


def test_one_config_reaches_the_worker_without_rebuilds_and_each_benchmark_opens_once(tmp_path, monkeypatch):
    counts = walk_counts(str(tmp_path / "run"), monkeypatch.setattr)
    assert counts["benchmark opened"] == 2          # once in the driver, once in the (serial) worker
    assert counts["teacher resolved"] == 1
    assert counts["EvalSetup built"] <= 2           # the worker's setup (the serial backend sets its threads)
    assert counts["RunConfig built"] <= 3           # defaults, the file, the file with --set applied


if __name__ == "__main__":   # python tests/evolve/test_config_walk.py OUT_DIR
    saved = []

    def patch(obj, name, value):
        saved.append((obj, name, getattr(obj, name, None)))
        setattr(obj, name, value)
    print(dict(walk_counts(sys.argv[1], patch)))
