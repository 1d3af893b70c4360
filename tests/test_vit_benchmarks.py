"""ViT distillation benchmarks: the published Auto-Prox tables, a tiny resumable table build, the
arch plan, the KD loss and ``evoproxy select``."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from evoproxy.training import distill
from evoproxy.benchmarks import BENCHMARKS, get_benchmark
from evoproxy.benchmarks.vit import load_built, load_teacher
from evoproxy.benchmarks.vit_build import COLUMNS, SPACE, build_vit_table, plan_archs, read_rows
from evoproxy.cli import main
from evoproxy.training.distill import KDRecipe, augmented_views, kd_loss, train_kd
from evoproxy.errors import EvoproxyError
from evoproxy.probe.teacher import DistillPair
from evoproxy.spaces.vit import arch_from_json, build_vit, canonical, count_params, vit_flops

from .datahelp import have_data

PUBLISHED = [f"vit-{space}-{ds}" for space in ("autoformer", "pit") for ds in ("c100", "flowers", "chaoyang")]
needs_tables = pytest.mark.skipif(
    not all(have_data(f"vit/{f}") for f in ("gt_pit.csv", "gt_autoformer.csv", "gt_autoformer_2.csv")),
    reason="needs the shared Auto-Prox ground-truth tables (vit/gt_*.csv)")
needs_cifar = pytest.mark.skipif(
    not (have_data("images/cifar10_train_jpeg_bytes.npz") and have_data("images/cifar10_test_jpeg_bytes.npz")),
    reason="needs the shared CIFAR-10 pack")
RECIPE = KDRecipe(train_images=64, test_images=32, views=1, epochs=1, batch_size=32)


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


# ---- a tiny table build ------------------------------------------------------------------------

def _rows(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, list(reader)


def test_shipped_table_matches_its_plan_and_provenance():
    from evoproxy.benchmarks.vit import DATA, DEFAULT_TEACHER
    from evoproxy.training.checkpoint import sha256_file

    side = json.loads((DATA / "vit-kd-cifar10.csv.json").read_text())
    assert side["recipe"] == KDRecipe().as_dict() and side["space"] == SPACE
    assert side["teacher"].split(":")[1] == sha256_file(DEFAULT_TEACHER)[:16]
    rows = read_rows(DATA / "vit-kd-cifar10.csv")
    assert len(rows) == side["configs"]
    plan = plan_archs(side["configs"], side["seed"])
    for row in rows:
        assert row["arch"] == canonical(plan[int(row["id"])])
        assert int(row["params"]) == count_params(build_vit(SPACE, json.loads(row["arch"])))
    accs = np.array([float(row["top1"]) for row in rows])
    assert 10 < accs.min() and accs.max() < 100 and accs.max() - accs.min() > 2
    bench = get_benchmark("vit-kd-cifar10")
    assert len(bench) == len(rows) and "views x" in bench.label


@needs_cifar
def test_tiny_build_resumes_refuses_other_settings_and_loads(tmp_path, monkeypatch):
    out = tmp_path / "vit.csv"
    calls = []
    real_train = distill.train_kd

    def counting(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)
    monkeypatch.setattr(distill, "train_kd", counting)

    def stop_after_one(done, total, row):
        assert total == 2
        if done == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        build_vit_table(out, 2, seed=0, recipe=RECIPE, on_row=stop_after_one)
    header, rows = _rows(out)
    assert tuple(header) == COLUMNS and len(rows) == 1 and len(calls) == 1
    build_vit_table(out, 2, seed=0, recipe=RECIPE)   # resumes: only the missing student trains
    header, rows = _rows(out)
    assert tuple(header) == COLUMNS and len(rows) == 2 and len(calls) == 2
    assert sorted(int(r[0]) for r in rows) == [0, 1]

    def refuse(*args, **kwargs):
        raise AssertionError("a finished table must not train again")
    monkeypatch.setattr(distill, "train_kd", refuse)
    before = out.read_text()
    assert build_vit_table(out, 2, seed=0, recipe=RECIPE) == out
    assert out.read_text() == before

    other = KDRecipe(train_images=64, test_images=32, epochs=2, batch_size=32)
    with pytest.raises(EvoproxyError, match=r"other settings \(recipe differ"):
        build_vit_table(out, 2, seed=0, recipe=other)
    with pytest.raises(EvoproxyError, match=r"configs differ"):
        build_vit_table(out, 3, seed=0, recipe=RECIPE)
    assert out.read_text() == before
    side = json.loads((tmp_path / "vit.csv.json").read_text())
    assert side["recipe"] == RECIPE.as_dict() and side["space"] == SPACE and side["configs"] == 2

    plan = plan_archs(2, 0)
    by_id = {int(r[0]): dict(zip(COLUMNS, r)) for r in rows}
    for i, row in by_id.items():
        arch = json.loads(row["arch"])
        assert row["arch"] == canonical(plan[i])
        assert int(row["params"]) == count_params(build_vit(SPACE, arch))
        assert float(row["macs_m"]) == pytest.approx(vit_flops(arch, SPACE) / 1e6, abs=1e-3)
        assert 0 <= float(row["top1"]) <= 100

    bench = load_built(table=out)
    assert bench.arch_ids() == [0, 1] and bench.space == SPACE and len(bench) == 2
    for i in (0, 1):
        assert bench.accuracy(i) == float(by_id[i]["top1"])
        assert bench.arch_of(i) == by_id[i]["arch"]
        assert count_params(bench.student(i)) == int(by_id[i]["params"])
    assert "64 CIFAR-10 images, 1 views x 1 epochs" in bench.label
    with pytest.raises(EvoproxyError, match="only metric is top1"):
        load_built(table=out, metric="base")

    # a resumed build holds exactly the rows of an uninterrupted one (each student is seeded by its id)
    monkeypatch.setattr(distill, "train_kd", real_train)
    fresh = build_vit_table(tmp_path / "fresh.csv", 2, seed=0, recipe=RECIPE)
    assert sorted(_rows(fresh)[1]) == sorted(rows)


@needs_cifar
def test_parallel_build_gives_the_serial_rows(tmp_path, one_thread):
    recipe = KDRecipe(train_images=64, test_images=32, epochs=1, batch_size=32, views=3)
    serial = _rows(build_vit_table(tmp_path / "serial.csv", 3, seed=0, recipe=recipe))
    done = []
    parallel = build_vit_table(tmp_path / "parallel.csv", 3, seed=0, recipe=recipe, jobs=2,
                               on_row=lambda d, t, row: done.append((d, t)))
    assert _rows(parallel)[0] == serial[0] and sorted(_rows(parallel)[1]) == sorted(serial[1])
    assert done == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(EvoproxyError, match="--jobs must be >= 1"):
        build_vit_table(tmp_path / "x.csv", 3, seed=0, recipe=recipe, jobs=0)


def test_load_built_without_a_table_says_how_to_build(tmp_path):
    with pytest.raises(EvoproxyError, match="bench build vit-kd-cifar10"):
        load_built(table=tmp_path / "none.csv")


# ---- the plan ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plan6():
    return plan_archs(6, 0)


def test_plan_is_deterministic_distinct_and_spread(plan6):
    assert plan_archs(6, 0) == plan6
    assert len(plan6) == 6 and len({canonical(a) for a in plan6}) == 6
    for a in plan6:
        assert arch_from_json(a, SPACE) == a
    params = [count_params(build_vit(SPACE, a)) for a in plan6]
    assert max(params) > 2 * min(params)
    assert plan_archs(6, 1) != plan6
    with pytest.raises(EvoproxyError, match="--configs must be >= 1"):
        plan_archs(0, 0)


# ---- augmentation views and the KD loss --------------------------------------------------------

def test_augmented_views_are_the_image_its_mirror_then_padded_crops():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    before = x.copy()
    v = augmented_views(x, 4, seed=3)
    assert v.shape == (4, 20, 32, 32, 3) and v.dtype == np.uint8
    assert np.array_equal(x, before)
    assert np.array_equal(v[0], x) and np.array_equal(v[1], x[:, :, ::-1])
    assert not np.array_equal(v[2], v[3])
    padded = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)))
    for view in v[2:]:
        for i in range(len(x)):
            assert any(np.array_equal(view[i], w) or np.array_equal(view[i], w[:, ::-1])
                       for w in (padded[i, a:a + 32, b:b + 32] for a in range(9) for b in range(9)))
    assert np.array_equal(augmented_views(x, 4, seed=3), v)
    assert augmented_views(x, 1).shape == (1, 20, 32, 32, 3)
    with pytest.raises(EvoproxyError, match="views must be >= 1"):
        augmented_views(x, 0)


def test_train_kd_draws_views_and_checks_shapes(one_thread):
    rng = np.random.default_rng(1)
    x = augmented_views(rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), 2)
    y = rng.integers(0, 10, 16)
    t = torch.randn(2, 16, 10, generator=torch.Generator().manual_seed(0))
    recipe = KDRecipe(epochs=2, batch_size=8)
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        student = build_vit(SPACE, plan_archs(1, 0)[0])
        losses.append(train_kd(student, x, y, t, recipe, seed=5))
    assert np.isfinite(losses[0]) and losses[0] == losses[1]
    assert np.isfinite(train_kd(student, x[0], y, t[0], recipe))   # one view: (N, H, W, C)
    with pytest.raises(EvoproxyError, match="teacher logits"):
        train_kd(student, x, y, t[:1], recipe)
    with pytest.raises(EvoproxyError, match="16 labels"):
        train_kd(student, x[:, :8], y, t[:, :8], recipe)


def _np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("alpha,temperature", [(0.5, 4.0), (0.3, 2.0), (0.0, 4.0), (1.0, 1.0)])
def test_kd_loss_by_hand(alpha, temperature):
    g = torch.Generator().manual_seed(4)
    s, t = torch.randn(6, 10, generator=g) * 3, torch.randn(6, 10, generator=g) * 3
    y = torch.randint(0, 10, (6,), generator=g)
    sn, tn, yn = s.double().numpy(), t.double().numpy(), y.numpy()
    ce = -np.mean(_np_log_softmax(sn)[np.arange(6), yn])
    log_p, log_q = _np_log_softmax(tn / temperature), _np_log_softmax(sn / temperature)
    kl = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=1))
    want = (1 - alpha) * ce + alpha * temperature ** 2 * kl
    assert float(kd_loss(s, t, y, alpha, temperature)) == pytest.approx(want, rel=1e-5)
    assert float(kd_loss(s, s, y, 1.0, temperature)) == pytest.approx(0.0, abs=1e-6)


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
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and captured.out == ""
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
    from evoproxy.benchmarks.vit import DEFAULT_TEACHER
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
