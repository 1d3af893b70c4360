"""The built ViT table: the shipped vit-kd-cifar10 rows, a tiny resumable build, the arch plan,
augmented views and the KD loss."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from evoproxy.benchmarks.vit import load_built
from evoproxy.benchmarks.vit.build import COLUMNS, SPACE, build_vit_table, plan_archs, read_rows
from evoproxy.benchmarks import get_benchmark
from evoproxy.errors import EvoproxyError
from evoproxy.training import distill
from evoproxy.training.distill import KDRecipe, augmented_views, kd_loss, train_kd
from evoproxy.spaces.vit import arch_from_json, build_vit, canonical, count_params, vit_flops

from tests.datahelp import needs_cifar

RECIPE = KDRecipe(train_images=64, test_images=32, views=1, epochs=1, batch_size=32)


@pytest.fixture(autouse=True)
def _default_teacher(monkeypatch):
    monkeypatch.delenv("EVOPROXY_TEACHER", raising=False)


# ---- a tiny table build ------------------------------------------------------------------------

def _rows(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, list(reader)


def test_shipped_table_matches_its_plan_and_provenance():
    from evoproxy.benchmarks.vit.benchmark import DATA, DEFAULT_TEACHER
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
