"""Training from scratch: determinism, augmentation, checkpoints, the ``train`` command."""
import json
import math

import numpy as np
import pytest
import torch

from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.data.images import normalise
from evoproxy.spaces.resnet_cifar import resnet_cifar
from evoproxy.training.loop import augment, to_input, train_model
from evoproxy.spaces.cifar_models import build_model
from evoproxy.training.checkpoint import load_checkpoint, save_checkpoint, sha256_file


from tests.datahelp import have_data as _have


needs_packs = pytest.mark.skipif(
    not (_have("images/cifar10_train_jpeg_bytes.npz") and _have("images/cifar10_test_jpeg_bytes.npz")),
    reason="CIFAR-10 JPEG packs not in the data directory")


def _fake_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def _run(seed: int, x, y):
    torch.manual_seed(seed)
    model = resnet_cifar(depth=8)
    seen = []
    result = train_model(model, x, y, x[:64], y[:64], epochs=1, batch_size=64, seed=seed,
                         on_epoch=lambda e, m: seen.append((e, m)))
    return model, result, seen


def test_tiny_training_is_finite_and_deterministic(one_thread):
    x, y = _fake_data(256)
    x_before = x.copy()
    m1, r1, seen = _run(3, x, y)
    m2, r2, _ = _run(3, x, y)
    assert r1["epochs"] == 1 and math.isfinite(r1["train_loss"]) and 0 <= r1["test_acc"] <= 100
    assert r1["seconds"] > 0 and [e for e, _ in seen] == [1] and math.isfinite(seen[0][1]["train_loss"])
    assert np.array_equal(x, x_before)
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)
    assert r1["train_loss"] == r2["train_loss"] and r1["test_acc"] == r2["test_acc"]
    m3, _, _ = _run(4, x, y)
    assert not all(torch.equal(s1[k], m3.state_dict()[k]) for k in s1)


def test_augment_keeps_shape_and_input():
    x, _ = _fake_data(50, seed=1)
    x_before = x.copy()
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert np.array_equal(x, x_before)
    assert torch.equal(out, augment(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, torch.from_numpy(x))
    # every output is a shifted (maybe flipped) window of the zero-padded input
    padded = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)))
    for i in range(len(x)):
        o = out[i].numpy()
        assert any(np.array_equal(o, w) or np.array_equal(o, w[:, ::-1])
                   for w in (padded[i, a:a + 32, b:b + 32] for a in range(9) for b in range(9)))
    assert torch.allclose(to_input(torch.from_numpy(x)), normalise(x), atol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = resnet_cifar(depth=8)
    meta = {"arch": "resnet8", "seed": 0, "command": "evoproxy train --model resnet8", "test_acc": 12.5,
            "torch": torch.__version__}  # a str subclass: stored as plain str so weights_only loads it
    path = tmp_path / "m.pt"
    sidecar = save_checkpoint(path, model, meta)
    state, meta2 = load_checkpoint(path)
    ref = model.state_dict()
    assert meta2 == meta and type(meta2["torch"]) is str and state.keys() == ref.keys() and all(torch.equal(state[k], ref[k]) for k in ref)
    side = json.loads((tmp_path / "m.pt.json").read_text())
    assert side == sidecar and side["meta"] == meta and side["sha256"] == sha256_file(path)
    fresh = resnet_cifar(depth=8)
    fresh.load_state_dict(state)


def test_checkpoint_rejects_bad_meta(tmp_path):
    with pytest.raises(EvoproxyError, match="JSON"):
        save_checkpoint(tmp_path / "m.pt", resnet_cifar(depth=8), {"x": object()})


@pytest.mark.parametrize("content", [None, b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_load_bad_checkpoint_is_one_line_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EvoproxyError) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_load_checkpoint_of_other_shape(tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(EvoproxyError, match="not an evoproxy checkpoint"):
        load_checkpoint(path)


def test_unknown_model_lists_choices(capsys):
    with pytest.raises(EvoproxyError, match="resnet20"):
        build_model("vgg")
    assert main(["train", "--model", "vgg", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model 'vgg'" in err and "resnet56" in err


def test_train_missing_data_is_one_line(tmp_path, capsys):
    assert main(["train", "--model", "resnet8", "--data-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CIFAR-10 train images" in err and str(tmp_path) in err


@pytest.mark.data
@needs_packs
def test_cli_train_writes_checkpoint(tmp_path, capsys, one_thread):
    out = tmp_path / "r8.pt"
    code = main(["train", "--model", "resnet8", "--epochs", "1", "--limit", "256", "--batch-size", "64",
                 "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "test accuracy:" in captured.out and str(out) in captured.out and "data:" in captured.err
    state, meta = load_checkpoint(out)
    assert meta["arch"] == "resnet8" and meta["seed"] == 0 and meta["n_train"] == 256
    assert "--limit 256" in meta["command"] and len(meta["data"]["train"]["sha256"]) == 64
    resnet_cifar(depth=8).load_state_dict(state)
    assert json.loads((tmp_path / "r8.pt.json").read_text())["sha256"] == sha256_file(out)


@pytest.mark.data
@needs_packs
def test_load_cifar10_subset_is_seeded():
    from evoproxy.data.cifar import load_cifar10

    x, y = load_cifar10("test", limit=20, seed=1)
    x2, y2 = load_cifar10("test", limit=20, seed=1)
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x, x2) and np.array_equal(y, y2) and set(y) <= set(range(10))
    with pytest.raises(EvoproxyError, match="between 1 and"):
        load_cifar10("test", limit=0)


def test_gzipped_checkpoint_round_trips_with_the_uncompressed_sha256(tmp_path):
    model = resnet_cifar(depth=8)
    plain = save_checkpoint(tmp_path / "m.pt", model, {"arch": "resnet8"})
    packed = save_checkpoint(tmp_path / "m.pt.gz", model, {"arch": "resnet8"})
    raw = (tmp_path / "m.pt.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and len(raw) < (tmp_path / "m.pt").stat().st_size
    assert packed["sha256"] == plain["sha256"] == sha256_file(tmp_path / "m.pt.gz")
    state, meta = load_checkpoint(tmp_path / "m.pt.gz")
    assert meta == {"arch": "resnet8"} and all(torch.equal(state[k], v) for k, v in model.state_dict().items())
