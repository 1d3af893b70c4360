"""ViT distillation benchmarks: the published Auto-Prox tables, the teacher, and ``evoproxy select``
(the built table and its recipe: ``test_vit_build.py``)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from evoproxy.benchmarks import BENCHMARKS, get_benchmark
from evoproxy.benchmarks.checkpoints import load_teacher
from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.probe.teacher import DistillPair
from evoproxy.spaces.vit import arch_from_json, canonical, count_params, vit_flops

from tests.datahelp import needs_cifar, needs_vit_tables as needs_tables

PUBLISHED = [f"vit-{space}-{ds}" for space in ("autoformer", "pit") for ds in ("c100", "flowers", "chaoyang")]


@pytest.fixture(autouse=True)
def _default_teacher(monkeypatch):
    monkeypatch.delenv("EVOPROXY_TEACHER", raising=False)


# ---- registry and published tables -------------------------------------------------------------

def test_vit_benchmarks_are_registered():
    vit = {n for n in BENCHMARKS if n.startswith("vit-")}
    assert vit == set(PUBLISHED) | {"vit-kd-cifar10"}


@needs_tables
@pytest.mark.parametrize("name", PUBLISHED)
def test_published_table_sizes_labels_and_splits(name):
    n_kd = 200 if "autoformer" in name else 100
    for metric, n in (("test_200ep", n_kd), ("kd", n_kd), ("base", 100)):
        bench = get_benchmark(name, metric=metric)
        assert len(bench) == n == len(bench.arch_ids())
        assert "SUBSTITUTE" in bench.label and bench.proxy_line == "vit"
        search, holdout = set(bench.arch_ids("search")), set(bench.arch_ids("holdout"))
        assert search.isdisjoint(holdout) and search | holdout == set(range(n))
        assert abs(len(search) - len(holdout)) <= 1
        accs = bench.accuracies(bench.arch_ids())
        assert np.isfinite(accs).all() and 0 < accs.min() and accs.max() <= 100
    with pytest.raises(EvoproxyError, match="metric must be kd or base"):
        get_benchmark(name, metric="top5")


@needs_tables
def test_published_metrics_differ_and_archs_parse():
    kd, base = get_benchmark("vit-pit-c100", metric="kd"), get_benchmark("vit-pit-c100", metric="base")
    assert [kd.arch_of(i) for i in kd.arch_ids()] == [base.arch_of(i) for i in base.arch_ids()]
    assert not np.array_equal(kd.accuracies(kd.arch_ids()), base.accuracies(base.arch_ids()))
    af = get_benchmark("vit-autoformer-c100")
    for i in (0, 150, 199):
        assert canonical(arch_from_json(af.arch_of(i), "autoformer")) == af.arch_of(i)


@needs_tables
@pytest.mark.parametrize("name,i", [("vit-pit-c100", 0), ("vit-pit-c100", 57), ("vit-autoformer-c100", 3)])
def test_build_is_a_distill_pair_of_the_student(name, i):
    bench = get_benchmark(name)
    pair = bench.build(i)
    assert isinstance(pair, DistillPair)
    want = count_params(bench.student(i))
    assert count_params(pair.student) == want == count_params(pair)
    assert pair.teacher_key.startswith("resnet20:") and not pair.teacher.training
    assert pair.flops() == pytest.approx(vit_flops(bench.arch_of(i), bench.space) / 1e6)
    with pytest.raises(EvoproxyError, match="outside"):
        bench.build(len(bench))


# ---- evoproxy select ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pit_params():
    bench = get_benchmark("vit-pit-c100", metric="kd")
    return bench, {i: count_params(bench.student(i)) for i in bench.arch_ids()}


@needs_tables
@needs_cifar
def test_cli_select_under_a_params_budget(capsys, pit_params):
    bench, params = pit_params
    assert main(["select", "--proxy", "params", "--space", "pit", "--budget-params", "1.0", "--json"]) == 0
    captured = capsys.readouterr()
    assert "probing pit" in captured.err   # the progress bar
    out = captured.out.strip().splitlines()
    doc = json.loads(out[-1])
    cands = [i for i, p in params.items() if p <= 1e6]
    assert doc["benchmark"] == "vit-pit-c100" and doc["candidates"] == len(cands) > 1
    rows = {r["method"]: r for r in doc["rows"]}
    assert set(rows) == {"proxy", "params-best", "oracle", "random"}
    for method, r in rows.items():
        assert r["id"] in cands and r["params_m"] <= 1.0
        assert params[r["id"]] <= 1e6 and r["accuracy"] == bench.accuracy(r["id"])
        assert r["arch"] == bench.arch_of(r["id"])
        assert any(line.split()[:1] == [method] for line in out[:-1]), method
    biggest = max(params[i] for i in cands)
    assert params[rows["params-best"]["id"]] == biggest
    assert params[rows["proxy"]["id"]] == biggest   # the params proxy picks the largest candidate
    assert rows["oracle"]["accuracy"] == max(bench.accuracy(i) for i in cands)
    assert doc["random_mean"] == pytest.approx(np.mean([bench.accuracy(i) for i in cands]))


def test_cli_select_unknown_space_is_one_line(capsys):
    assert main(["select", "--proxy", "params", "--space", "nope", "--budget-params", "1.0"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "unknown space 'nope'" in err[0] and "pit" in err[0]
    assert captured.out == ""


@needs_tables
def test_cli_select_budget_below_the_smallest(capsys, pit_params):
    _, params = pit_params
    assert main(["select", "--proxy", "params", "--space", "pit", "--budget-params", "0.001"]) == 2
    captured = capsys.readouterr()
    err = [line for line in captured.err.strip().splitlines() if not line.startswith("counting parameters")]
    assert len(err) == 1 and captured.out == ""  # the error is one line, after the counting's progress bar
    assert f"smallest: {min(params.values()) / 1e6:.2f}M" in err[0] and "--budget-params" in err[0]


# ---- --teacher -----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["eval", "--benchmark", "nb201-cifar10", "--proxy", "params", "--teacher", "t.pt"],
     "--teacher only applies to vit-* benchmarks, not nb201-cifar10"),
    (["eval", "--benchmark", "vit-pit-c100", "--proxy", "params", "--teacher", "no/such.pt"],
     "teacher checkpoint"),
    (["search", "--benchmark", "synthetic", "--teacher", "t.pt", "--generations", "0"],
     "--teacher only applies to vit-* benchmarks, not synthetic"),
])
def test_teacher_flag_errors_are_one_line(capsys, tmp_path, argv, message):
    if argv[0] == "search":
        argv = argv + ["--out", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@needs_tables
def test_a_given_teacher_is_named_in_the_label(tmp_path, monkeypatch):
    import gzip
    import shutil

    from evoproxy.app.benchmarks import open_benchmark
    from evoproxy.benchmarks.vit.benchmark import DEFAULT_TEACHER
    plain = tmp_path / "teacher.pt"
    with gzip.open(DEFAULT_TEACHER) as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    monkeypatch.delenv("EVOPROXY_TEACHER", raising=False)
    assert "SUBSTITUTE teacher" in get_benchmark("vit-pit-c100").label
    assert f"teacher {plain}" in get_benchmark("vit-pit-c100", teacher=str(plain)).label
    monkeypatch.setenv("EVOPROXY_TEACHER", str(plain))   # the command line's default
    assert f"teacher {plain.resolve()}" in open_benchmark("vit-pit-c100").label
    assert "SUBSTITUTE teacher" in get_benchmark("vit-pit-c100").label   # the library reads no environment
    assert load_teacher()[1] == load_teacher(str(DEFAULT_TEACHER))[1]   # same weights, same key
