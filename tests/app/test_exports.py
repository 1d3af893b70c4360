"""Exports that round-trip: what `evoproxy export` writes loads back and gives `evoproxy eval`'s numbers."""
import csv
import importlib.util
import io
import json

import pytest

from evoproxy.app import exports, runs
from evoproxy.app.runs import is_finished
from evoproxy.benchmarks import get_benchmark
from evoproxy.cli import main
from evoproxy.lang.export import read_sympy, to_sympy
from evoproxy.lang.interpret import evaluate
from evoproxy.lang.program import parse
from evoproxy.probe.base import collect
from evoproxy.scoring.score import build_seeded
from evoproxy.evolve.store import RunStore

SETS = ["--set", "generations=3", "--set", "population=8", "--set", "offspring=4", "--set", "search_archs=16",
        "--set", "selection_archs=12", "--set", "holdout_archs=20", "--set", "screen_archs=8"]
ARCHS = 6


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "syn"
    assert main(["search", "--config", "experiments/synthetic.toml", "--out", str(out), "--quiet", *SETS]) == 0
    with RunStore(out, create=False) as store:
        return out, store.get_meta("report")


@pytest.fixture(scope="module")
def networks():
    """Statistics of a few synthetic networks built and probed as `evoproxy eval` does."""
    bench = get_benchmark("synthetic")
    pb, seed = bench.probe_batch(), bench.probe_seed
    ids = bench.sample(ARCHS, "holdout")
    models = [build_seeded(lambda a=a: bench.build(a), seed) for a in ids]
    return ids, models, (pb.x, pb.y), seed


def exported(capsys, run_dir, *args) -> str:
    assert main(["export", str(run_dir), *args]) == 0
    return capsys.readouterr().out


def eval_scores(capsys, tmp_path, proxy_json: dict, ids) -> list[float]:
    path, save = tmp_path / "proxy.json", tmp_path / "scores.csv"
    path.write_text(json.dumps(proxy_json))
    assert main(["eval", "--proxy", str(path), "--benchmark", "synthetic", "--archs", str(len(ids)),
                 "--split", "holdout", "--save", str(save), "--quiet"]) == 0  # the same sample
    capsys.readouterr()
    with open(save, newline="") as f:
        rows = {int(r["arch_id"]): r for r in csv.DictReader(f)}
    return [float(list(rows[a].values())[2]) for a in ids]


def test_python_module_gives_evals_numbers(run, networks, capsys, tmp_path):
    run_dir, report = run
    ids, models, batch, seed = networks
    module = tmp_path / "evolved.py"
    module.write_text(exported(capsys, run_dir, "--format", "python", "--top", "2"))
    spec = importlib.util.spec_from_file_location("evolved", module)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mine = [mod.proxy(m, batch, seed=seed) for m in models]
    best = json.loads(exported(capsys, run_dir))
    assert mine == pytest.approx(eval_scores(capsys, tmp_path, best, ids), rel=1e-5)  # float32 sums: thread counts
    assert mod.proxy_2.__doc__.endswith(report["hall_of_fame"][1]["formula"])


def test_sympy_reads_back_with_evoproxys_own_functions(run, networks, capsys):
    run_dir, report = run
    _, models, (x, y), seed = networks
    lines = exported(capsys, run_dir, "--format", "sympy", "--top", "5").strip().splitlines()
    assert len(lines) == min(5, len(report["hall_of_fame"]))
    for line, entry in zip(lines, report["hall_of_fame"]):
        original, back = parse(entry["formula"]), read_sympy(line)
        for m in models[:3]:
            stats = collect(m, x, y, original.stats | back.stats, seed=seed)
            assert evaluate(back, stats) == pytest.approx(evaluate(original, stats), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("formula", ["layer_sum(max(abs(grad)))", "layer_mean(min(grad))",
                                     "layer_sum(sum(mul(grad, weight)))", "sub(layer_mean(log(numel)), 2.0)",
                                     "layer_sum(l2(div(grad, sub(weight, grad))))",
                                     "negate(layer_sum(sqrt(l1(invert(square(grad))))))"])
def test_sympy_keeps_max_min_sum_and_log(formula):
    back = read_sympy(str(to_sympy(parse(formula))))
    assert {n.head for n in back.nodes() if n.args} >= {n.head for n in parse(formula).nodes()
                                                       if n.args and n.head in ("max", "min", "sum", "log", "l2")}


def test_csv_lists_every_reported_proxy(run, capsys):
    run_dir, report = run
    rows = list(csv.DictReader(io.StringIO(exported(capsys, run_dir, "--format", "csv"))))
    evolved = [r for r in rows if r["kind"] == "evolved"]
    assert [r["formula"] for r in evolved] == [e["formula"] for e in report["hall_of_fame"]]
    assert [float(r["search_fitness"]) for r in evolved] == pytest.approx(
        [e["search_fitness"] for e in report["hall_of_fame"]])
    assert {r["name"] for r in rows if r["kind"] == "baseline"} == {b["proxy"] for b in report["baselines"]}


def test_max_size_exports_the_best_of_the_pareto_front_within_it(run, capsys):
    run_dir, report = run
    smallest = min(e["size"] for e in report["pareto"])
    doc = json.loads(exported(capsys, run_dir, "--max-size", str(smallest)))
    fits = [e for e in report["pareto"] if e["size"] <= smallest]
    assert doc["formula"] == max(fits, key=lambda e: e["search_fitness"])["formula"]
    assert main(["export", str(run_dir), "--max-size", str(smallest - 1)]) == 2 if smallest > 1 else True
    assert main(["export", str(run_dir), "--max-size", "3", "--top", "2"]) == 2
    assert "drop --top" in capsys.readouterr().err


def test_is_finished_tells_a_finished_run_from_none(run, tmp_path):
    assert is_finished(str(run[0]))
    assert not is_finished(str(tmp_path / "nothing-here"))


def test_study_search_starts_resumes_or_leaves_a_run(run, tmp_path, monkeypatch):
    """A study's search: fresh where nothing is, --resume where a run was cut, nothing where it finished."""
    calls = []
    monkeypatch.setattr(runs.subprocess, "run", lambda cmd, check: calls.append(cmd[4:]))
    fresh, extra = ["--config", "c.toml", "--seed", "1"], ("--data-dir", "d")
    runs.study_search(tmp_path / "new", fresh, "new", extra)
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "run.sqlite").write_bytes(b"")
    runs.study_search(tmp_path / "cut", fresh, "cut", extra)
    runs.study_search(run[0], fresh, "done", extra)
    assert calls == [[*fresh, "--out", str(tmp_path / "new"), "--quiet", *extra],
                     ["--resume", str(tmp_path / "cut"), "--quiet", *extra]]
