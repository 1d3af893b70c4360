"""Probe batches: synthetic determinism, real CIFAR-10 samples, the embedded set, damaged packs.

Release folders as probe sources and the restricted unpickler: tests/data/test_data_import.py."""

import numpy as np
import pytest
import torch

from evoproxy.errors import DataMissing, EvoproxyError
from evoproxy.data.images import load_probe_batch


from tests.datahelp import have_data as _have


needs_train = pytest.mark.skipif(not _have("images/cifar10_train_jpeg_bytes.npz"),
                                 reason="CIFAR-10 train pack not in the data directory")


def _same(a, b) -> bool:
    return torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and a.label == b.label


def test_synthetic_is_deterministic():
    a, b = load_probe_batch("synthetic", 16, seed=3), load_probe_batch("synthetic", 16, seed=3)
    assert _same(a, b)
    assert not torch.equal(a.x, load_probe_batch("synthetic", 16, seed=4).x)
    assert a.x.shape == (16, 3, 32, 32) and a.x.dtype == torch.float32 and a.y.dtype == torch.int64
    assert a.label.startswith("SYNTHETIC") and a.is_synthetic and len(a) == 16


def test_without_a_pack_the_embedded_probe_set_serves_and_nothing_is_substituted(tmp_path):
    batch = load_probe_batch("cifar10", 16, seed=0, data_dir=tmp_path)
    assert "EMBEDDED probe set" in batch.label and "real" in batch.label and not batch.is_synthetic
    assert batch.x.shape == (16, 3, 32, 32) and 0 <= int(batch.y.min()) and int(batch.y.max()) <= 9
    assert _same(batch, load_probe_batch("cifar10", 16, seed=0, data_dir=tmp_path))
    with pytest.raises(DataMissing, match="--probe synthetic") as err:   # not embedded: refused, in one line
        load_probe_batch("cifar10", 12, seed=0, data_dir=tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(DataMissing, match="cifar10 test"):
        load_probe_batch("cifar10-test", 16, data_dir=tmp_path)
    with pytest.raises(EvoproxyError, match="batch size 0"):
        load_probe_batch("cifar10", 0, data_dir=tmp_path)
    with pytest.raises(DataMissing, match="--data-dir"):  # a typo'd folder is never papered over
        load_probe_batch("cifar10", 8, data_dir=tmp_path / "typo")


@pytest.mark.data
@needs_train
def test_the_embedded_probe_set_gives_the_same_batches_as_the_full_pack(tmp_path):
    from evoproxy.data import embedded

    for size in embedded.PROBE_BATCH_SIZES:
        for seed in embedded.PROBE_SEEDS:
            full, small = load_probe_batch("cifar10", size, seed), load_probe_batch("cifar10", size, seed, tmp_path)
            assert torch.equal(full.x, small.x) and torch.equal(full.y, small.y), (size, seed)


def test_unknown_source():
    with pytest.raises(EvoproxyError, match="synthetic"):
        load_probe_batch("mnist")


@pytest.mark.data
@needs_train
def test_real_cifar10_batch():
    a = load_probe_batch("cifar10", 64, seed=0)
    assert a.x.shape == (64, 3, 32, 32) and a.x.dtype == torch.float32
    assert a.y.dtype == torch.int64 and 0 <= int(a.y.min()) and int(a.y.max()) <= 9
    assert "real" in a.label and "cifar10-train" in a.label
    assert _same(a, load_probe_batch("cifar10", 64, seed=0))
    assert not torch.equal(a.x, load_probe_batch("cifar10", 64, seed=1).x)
    mean, std = a.x.mean(dim=(0, 2, 3)), a.x.std(dim=(0, 2, 3))
    assert torch.all(mean.abs() < 0.3) and torch.all((std > 0.7) & (std < 1.3))


def _pack(root, blobs, labels):
    (root / "images").mkdir(parents=True, exist_ok=True)
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    np.savez(root / "images" / "cifar10_train_jpeg_bytes.npz", data=np.frombuffer(b"".join(blobs), np.uint8),
             offsets=offsets, labels=np.asarray(labels, np.uint8))


def _one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_a_corrupt_pack_or_image_gives_one_line_naming_the_file(tmp_path):
    from evoproxy.data.packs import jpeg_pack

    bad = tmp_path / "images" / "cifar10_train_jpeg_bytes.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(EvoproxyError) as err:
        load_probe_batch("cifar10", 8, data_dir=tmp_path)
    assert str(bad) in _one_line(err) and "not a readable image pack" in str(err.value)
    jpeg_pack.cache_clear()
    np.savez(bad, data=np.zeros(4, np.uint8))   # a zip, but without offsets and labels
    with pytest.raises(EvoproxyError) as err:
        load_probe_batch("cifar10", 8, data_dir=tmp_path)
    assert str(bad) in _one_line(err)
    jpeg_pack.cache_clear()
    _pack(tmp_path, [b"\xff\xd8 not really a jpeg"] * 8, [0] * 8)
    with pytest.raises(EvoproxyError) as err:
        load_probe_batch("cifar10", 8, data_dir=tmp_path)
    assert "not a readable JPEG" in _one_line(err) and str(bad) in str(err.value)
    jpeg_pack.cache_clear()
