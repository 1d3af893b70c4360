"""End-to-end search on the synthetic benchmark (known ground truth), determinism and resume."""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evoproxy.evolve.config import RunConfig
from evoproxy.app.search import run_search
from evoproxy.evolve.store import RunStore

TARGET = "layer_sum(l2(grad))"


def config(**changes) -> RunConfig:
    base = RunConfig(benchmarks=("synthetic",), search_archs=40, holdout_archs=60, screen_archs=16,
                     population=20, generations=30, offspring=8, stats=("weight", "grad", "act"),
                     baselines=("params", "l2_norm"), seed=1)
    return base.replace(**changes)


def search(tmp_path, name="run", **changes):
    store = RunStore(tmp_path / name)
    cfg = config(**changes)
    store.save_config(cfg.identity())
    report = run_search(cfg, store)
    return report, store


def trace(store: RunStore) -> list:
    """Everything a run decided, in order: candidates with their verdicts, and populations."""
    rows = [(r.generation, r.index, r.text, None if math.isnan(r.fitness) else r.fitness,
             r.rejection, r.reused_from) for r in store.candidates()]
    pops = [store.load_generation(g)[0] for g in range(store.last_generation() + 1)]
    return [rows, pops]


@pytest.mark.slow
def test_search_recovers_the_known_formula_serially(tmp_path):
    report, store = search(tmp_path)
    assert report.best.holdout["synthetic"]["kendall"] >= 0.95, report.best
    baseline = {b.proxy: b for b in report.baselines}
    assert baseline["params"].holdout["synthetic"]["kendall"] < 0.9
    summaries = store.summaries()
    assert len(summaries) == 31 and all("rejections" in s for s in summaries)
    assert sum(sum(s["rejections"].values()) for s in summaries) > 0  # screening does reject


@pytest.mark.slow
def test_same_seed_same_run_and_other_seed_differs(tmp_path):
    _, a = search(tmp_path, "a", generations=4)
    _, b = search(tmp_path, "b", generations=4)
    _, c = search(tmp_path, "c", generations=4, seed=2)
    assert trace(a) == trace(b)
    assert trace(a) != trace(c)


@pytest.mark.parametrize("selection", ["tournament", "aging"])
def test_other_selections_run(tmp_path, selection):
    report, store = search(tmp_path, selection=selection, generations=3)
    assert report.hall_of_fame and store.last_generation() == 3


@pytest.mark.slow
def test_two_branch_preset_keeps_its_shape(tmp_path):
    from evoproxy.lang.program import parse
    from evoproxy.evolve.variation import slots_of

    report, store = search(tmp_path, representation="two-branch", generations=3)
    for row in store.candidates():
        slots_of(parse(row.text))  # raises if a candidate left the two-branch structure


@pytest.mark.slow
def test_resume_after_kill_gives_the_uninterrupted_result(tmp_path):
    args = ["--benchmark", "synthetic", "--generations", "12", "--population", "20", "--quiet",
            "--set", "stats=['weight','grad','act']", "--set", "baselines=['params']",
            "--set", "search_archs=40", "--set", "screen_archs=16", "--seed", "3",
            "--set", "score_cache=false"]  # the cut run must compute, or it ends before the kill
    cli = [sys.executable, "-m", "evoproxy", "search"]
    subprocess.run(cli + args + ["--out", str(tmp_path / "whole")], check=True, capture_output=True)
    proc = subprocess.Popen(cli + args + ["--out", str(tmp_path / "cut")], stderr=subprocess.DEVNULL)
    store_path = tmp_path / "cut" / "run.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill -9 once some generations are committed
        time.sleep(0.2)
        if store_path.exists() and (RunStore(tmp_path / "cut", create=False).last_generation() or 0) >= 3:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cut = RunStore(tmp_path / "cut", create=False)
    assert cut.get_meta("status") != "finished" and cut.last_generation() < 12
    subprocess.run(cli + ["--resume", str(tmp_path / "cut"), "--quiet"], check=True, capture_output=True)
    whole, resumed = RunStore(tmp_path / "whole", create=False), RunStore(tmp_path / "cut", create=False)
    assert trace(whole) == trace(resumed)
    assert whole.hall_of_fame() == resumed.hall_of_fame()


def test_resume_refuses_a_changed_config(tmp_path, capsys):
    from evoproxy.cli import main

    assert main(["search", "--benchmark", "synthetic", "--generations", "1", "--population", "6",
                 "--out", str(tmp_path / "r"), "--quiet", "--set", "baselines=['params']"]) == 0
    capsys.readouterr()
    assert main(["search", "--resume", str(tmp_path / "r"), "--population", "8"]) == 2
    assert "drop population" in capsys.readouterr().err


@pytest.mark.slow
def test_the_main_job_runs_on_the_embedded_default_with_the_data_directory_hidden(tmp_path):
    """A fresh machine: no data directory; the run's store, output and export name the EMBEDDED source."""
    import json

    empty = tmp_path / "no-data"
    empty.mkdir()
    cfg = tmp_path / "small.toml"
    cfg.write_text((Path(__file__).parents[2] / "experiments/quick.toml").read_text())
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "evoproxy", "search", "--config", str(cfg), "--out", str(out), "--quiet",
            "--generations", "1", "--population", "4", "--set", "search_archs=8", "--set", "holdout_archs=8",
            "--set", "screen_archs=4", "--set", 'baselines=["params"]']
    env = {**os.environ, "EVOPROXY_DATA": str(empty)}
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "EMBEDDED default table" in run.stderr and "EMBEDDED probe set" in run.stderr
    exported = subprocess.run([sys.executable, "-m", "evoproxy", "export", str(out)], capture_output=True,
                              text=True, env=env, timeout=120)
    doc = json.loads(exported.stdout)
    assert "EMBEDDED" in doc["data"]["benchmarks"]["nb201-cifar10"]
    assert "EMBEDDED" in doc["data"]["probe"]["nb201-cifar10"]
