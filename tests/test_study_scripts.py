"""The study scripts' own arithmetic (experiments/*.py), on files written here."""
from __future__ import annotations

import ast
import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.datahelp import have_data
from tests.scripthelp import EXPERIMENTS, load_script

@pytest.mark.skipif(not have_data("naslib-suite-zero/nb101_zc_proxies_500_cifar10.csv"),
                    reason="Suite-Zero NB101 table not in the data directory")
def test_draw_table_of_draws_equal_to_suite_zero(tmp_path, capsys):
    """Draws that all equal Suite-Zero's values: ours is theirs, per network 1, the mixing has no spread."""
    script = load_script("suite_zero_spaces")
    bench = script.get_benchmark("nb101-cifar10")
    ids = bench.sample(12, "all", 0)
    for draw in (0, 1, 2):
        with open(script.draw_path("nb101-cifar10", draw, out=tmp_path), "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["arch_id", "accuracy", *script.NOISY])
            for i in ids[: 12 - draw]:  # the files share the first 10 networks
                out.writerow([i, bench.accuracy(i), *(bench.reference(i)[p] for p in script.NOISY)])
    script.draw_table("nb101-cifar10", [1, 2], mixings=20, out=tmp_path)
    text = capsys.readouterr().out
    assert "the 10 networks scored in draws [0, 1, 2]" in text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ") and line[2:4] != "pr"]
    assert [r[0][2:] for r in rows] == list(script.NOISY)
    for r in rows:
        each, mean, mixed, theirs, vs_theirs, vs_ours = r[1].split(), r[2], r[3], r[4], r[5], r[6].rstrip(" |")
        assert each == [theirs] * 3 and mean == theirs and mixed == f"{theirs} (0.000)"
        assert vs_theirs == "1.000" and vs_ours == "1.000"


def test_every_shipped_config_loads_with_registered_names_and_its_warm_start_fits():
    """A config in experiments/ names only registered stats and ops, and its init_from programs fit them."""
    from evoproxy.evolve.config import load_config
    from evoproxy.evolve.seeds import seed_programs
    from evoproxy.lang.ops import OPS
    from evoproxy.lang.stats import STATS

    configs = sorted(EXPERIMENTS.glob("*.toml"))
    assert len(configs) >= 5
    for path in configs:
        cfg = load_config(path)
        assert all(s in STATS for s in cfg.language.stats), path
        assert cfg.language.ops is None or all(o in OPS for o in cfg.language.ops), path
        if cfg.evolution.init_from:
            language = cfg.language
            seeds = seed_programs(str(EXPERIMENTS.parent / cfg.evolution.init_from), language.stats, language.ops)
            assert "layer_sum(eig_min(corr(channels(act_single))))" in [p.text for p in seeds], path


def test_search_study_reads_each_baseline_from_its_own_holdout_file(tmp_path):
    """Each baseline's scores come from RUNS/holdoutN-baseline-NAME.csv; --baselines picks the names."""
    from evoproxy.app.benchmarks import open_benchmark

    script = load_script("search_study")
    assert script.baseline_names("sota", "unused.toml") == list(script.BASELINES)
    assert script.baseline_names("meco;;zico", "unused.toml") == ["meco", "zico"]
    assert script.baseline_names(None, str(EXPERIMENTS / "nb201-meco.toml"))[:2] == ["synflow", "nwot"]
    seed = script.studylib.SEED
    bench = open_benchmark("nb201-cifar10", None, seed, "test_200ep", None)
    assert script.holdout_file(tmp_path, "s0", 500).name == "holdout-s0.csv"
    for name, sign in (("params", 1), ("synflow", -1)):
        with open(script.holdout_file(tmp_path, f"baseline-{name}", 12), "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["arch_id", "accuracy", name])
            for arch in bench.sample(12, "holdout", seed):
                out.writerow([arch, bench.accuracy(arch), sign * bench.accuracy(arch)])
    found = script.baseline_scores(["params", "synflow"], tmp_path, 12, False, None)
    assert found["params"]["cifar10"] == pytest.approx((1.0, 1.0))
    assert found["synflow"]["cifar10"] == pytest.approx((-1.0, -1.0))
    assert -1 < found["params"]["imagenet16"][0] < 1
    with pytest.raises(SystemExit, match="holdout12-baseline-meco.csv"):
        script.baseline_scores(["meco"], tmp_path, 12, False, None)


SELF_RUNS = {"perf/memo_memory.py", "perf/probe_throughput.py"}
"""Scripts allowed a subprocess: one that runs themselves again (``sys.executable, __file__``), for a
fresh process's memory figures."""
OUTSIDE_RUNS = {"robustness/issue39.py", "perf/memory_trace.py"}
"""Scripts that must watch evoproxy from outside: a segmentation fault, a memory cap, a private mount namespace
(read-only and full disks), a command's resident size over time are only seen from another process."""
SHELL_HELPERS = {"subprocess", "study_search", "Popen"}
OS_SHELL = ("system", "popen", "exec", "spawn", "posix_spawn")


def _names(node: ast.AST) -> list[str]:
    """The names a node imports or refers to (each part of a dotted import)."""
    if isinstance(node, ast.Import):
        return [part for a in node.names for part in a.name.split(".")]
    if isinstance(node, ast.ImportFrom):
        return [*(node.module or "").split("."), *(a.name for a in node.names)]
    return [node.attr] if isinstance(node, ast.Attribute) else [node.id] if isinstance(node, ast.Name) else []


def shell_outs(root: Path) -> list[str]:
    """Where a script under ``root`` runs evoproxy (or anything) in another process instead of
    through its Python API: ``"-m", "evoproxy"``, subprocess, os.system / popen, the CLI-running
    study_search; in ``SELF_RUNS`` only a subprocess of the script itself is allowed."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in OUTSIDE_RUNS:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else \
                node.args if isinstance(node, ast.Call) else []
            words = [a.value if isinstance(a, ast.Constant) else None for a in items]
            if any(a == "-m" and b in ("evoproxy", "evoproxy.cli") for a, b in zip(words, words[1:])):
                found.append(f"{where}: runs python -m evoproxy")
            used = set(_names(node)) & SHELL_HELPERS
            if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "os" and node.attr.startswith(OS_SHELL):
                used.add(f"os.{node.attr}")
            if rel not in SELF_RUNS and used:
                found.append(f"{where}: uses {', '.join(sorted(used))}")
            if rel in SELF_RUNS and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and ast.unparse(node.func.value) == "subprocess":
                argv = node.args[0] if node.args else None
                head = [ast.unparse(a) for a in argv.elts[:2]] if isinstance(argv, ast.List) else []
                if head != ["sys.executable", "__file__"]:
                    found.append(f"{where}: a subprocess other than this script itself")
    return found


def test_no_study_script_runs_evoproxy_in_a_subprocess(tmp_path):
    """Experiments use evoproxy's Python API; the detector itself finds each way of shelling out."""
    assert shell_outs(EXPERIMENTS) == []
    (tmp_path / "perf").mkdir()
    (tmp_path / "bad.py").write_text('import subprocess, sys\nsubprocess.run([sys.executable, "-m", "evoproxy", "eval"])\n')
    (tmp_path / "helper.py").write_text("from evoproxy.app.runs import study_search\nimport os\nos.system('ls')\n")
    (tmp_path / "perf" / "memo_memory.py").write_text(
        "import subprocess, sys\nsubprocess.run([sys.executable, __file__, '--child'])\nsubprocess.run(['ls'])\n")
    found = shell_outs(tmp_path)
    assert [f.split(":")[0] for f in found] == ["bad.py"] * 3 + ["helper.py"] * 2 + ["perf/memo_memory.py"]
    assert any("python -m evoproxy" in f for f in found)
    assert found[-1] == "perf/memo_memory.py:3: a subprocess other than this script itself"


def test_compare_runs_finds_two_runs_of_one_seed_the_same_and_another_seed_different(tmp_path, capsys):
    import evoproxy
    compare = load_script("compare_runs")
    small = dict(generations=2, population=6, offspring=2, search_archs=8, selection_archs=6, holdout_archs=6,
                 screen_archs=4, baselines=("params",), hall_of_fame=2, ensemble_size=0)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        evoproxy.search("experiments/synthetic.toml", out=tmp_path / name, seed=seed, **small)
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "c")]) == 1
    assert "DIFFERENT (first in:" in capsys.readouterr().out
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "nothing")]) == 2


def test_the_learned_study_weights_its_ensemble_by_selection_with_replacement():
    study = load_script("learned_study")
    rng = np.random.default_rng(0)
    good, other = rng.normal(size=(2, 400))
    acc = 2 * good + other + 0.3 * rng.normal(size=400)
    x = np.column_stack([good, other])
    row, chosen = study.weighted_ensemble(x[:128], [acc[:128]], x[128:])
    members = [["good", "other"][i] for i in chosen.members]
    assert members.count("good") >= 2 and "other" in members
    rho = study.spearman(row, acc[128:])
    assert rho > max(study.spearman(x[128:, j], acc[128:]) for j in range(2))
    # two datasets whose labels disagree on "other": with both, "other" weighs less than with the first alone
    flipped = 2 * good - other + 0.3 * rng.normal(size=400)
    _, both = study.weighted_ensemble(x[:128], [acc[:128], flipped[:128]], x[128:])
    assert both.members.count(1) / len(both.members) < members.count("other") / len(members)
    assert np.allclose(study.mean_rank([np.array([1.0, 3, 2]), np.array([10.0, 30, 20])]), [1 / 3, 1, 2 / 3])


def test_the_learned_study_refuses_an_unknown_part_and_keeps_each_label_arm_in_its_folder(monkeypatch, capsys):
    study = load_script("learned_study")
    monkeypatch.setattr(sys, "argv", ["learned_study.py", "--run", "bogus"])
    with pytest.raises(SystemExit) as stop:
        study.main()
    assert stop.value.code == 2 and "--run takes nothing, 'published' or a seed number" in capsys.readouterr().err
    assert study.label_arm(Path("runs/x"), study.LABELS) == Path("runs/x")
    assert study.label_arm(Path("runs/x"), 32) == Path("runs/x/labels-32")


@pytest.mark.slow
def test_dtype_searches_pairs_each_seed_across_storages(tmp_path, capsys, monkeypatch):
    script = load_script("dtype_study")
    monkeypatch.setattr("sys.argv", ["dtype_study.py", "--run", "--seeds", "1", "--runs", str(tmp_path),
                                     "--config", str(EXPERIMENTS / "synthetic.toml")])
    script.main()
    out = capsys.readouterr().out
    assert (tmp_path / "float32-s0" / "run.sqlite").exists() and (tmp_path / "bfloat16-s0" / "run.sqlite").exists()
    best = next(line for line in out.splitlines() if line.startswith("| best |"))
    f32, bf16 = (script.figures(tmp_path / f"{d}-s0")["best"] for d in script.DTYPES)
    assert f"{f32:.3f}" in best and f"{bf16 - f32:+.3f}" in best
