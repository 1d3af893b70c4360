"""Probe batches: the labelled images every statistic is computed on.

Sources: ``"cifar10"`` / ``"cifar10-test"`` (a seeded sample of the JPEG packs in the data
directory; only the sampled images are decoded), ``"synthetic"`` (seeded N(0,1) images and
random labels), or a directory of CIFAR-10/100 *python* batches. Those batches are pickles,
so they are read with :class:`ArrayOnlyUnpickler`, which admits numpy's array
reconstruction helpers and nothing else. Every batch's ``label`` says where it came from.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from evoproxy.data import embedded
from evoproxy.data.paths import data_file, resolve_data_dir
from evoproxy.errors import DataMissing, EvoproxyError

# CIFAR-10 channel statistics, as NAS-Bench-201 trained its networks with.
CIFAR10_MEAN = tuple(v / 255 for v in (125.3, 123.0, 113.9))
CIFAR10_STD = tuple(v / 255 for v in (63.0, 62.1, 66.7))
PACKS = {"cifar10": "images/cifar10_train_jpeg_bytes.npz",
         "cifar10-test": "images/cifar10_test_jpeg_bytes.npz"}
NAMED_SOURCES = (*PACKS, "synthetic")


@dataclass(frozen=True, eq=False)
class ProbeBatch:
    """``x``: float32 (N, 3, 32, 32), normalised; ``y``: int64 (N,); ``label``: provenance."""

    x: torch.Tensor
    y: torch.Tensor
    label: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def is_synthetic(self) -> bool:
        return self.label.startswith("SYNTHETIC")

    def to(self, device: Union[str, torch.device]) -> "ProbeBatch":
        return ProbeBatch(self.x.to(device), self.y.to(device), self.label)


def normalise(images_nhwc: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) -> float32 (N, 3, 32, 32) with the CIFAR-10 mean/std."""
    x = images_nhwc.astype(np.float32) / 255.0
    x = (x - np.asarray(CIFAR10_MEAN, np.float32)) / np.asarray(CIFAR10_STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _make(images: np.ndarray, labels: np.ndarray, label: str) -> ProbeBatch:
    return ProbeBatch(normalise(images), torch.from_numpy(labels.astype(np.int64)), label)


def _sample(n_total: int, batch_size: int, seed: int) -> np.ndarray:
    if not 0 < batch_size <= n_total:
        raise EvoproxyError(f"batch size {batch_size} must be between 1 and {n_total}; "
                            "pass a smaller --batch-size")
    return embedded.sample_indices(n_total, batch_size, seed)


@lru_cache(maxsize=4)
def jpeg_pack(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(data, offsets, labels)`` of a JPEG-bytes pack; one line naming the file if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as pack:
            return pack["data"], pack["offsets"], pack["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise EvoproxyError(f"{path} is not a readable image pack (npz with data, offsets, labels): "
                            f"{str(err).splitlines()[0][:120] if str(err) else type(err).__name__}; re-copy it") from None


def decode_jpeg(blob: np.ndarray, where: str = "a probe image") -> np.ndarray:
    """One 32x32 RGB image; ``where`` names it in the one-line error for a damaged one."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(blob.tobytes())) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:   # PIL's errors for a damaged image
        raise EvoproxyError(f"{where} is not a readable JPEG ({type(err).__name__}); "
                            "re-copy the image pack") from None
    if arr.shape != (32, 32, 3):
        raise EvoproxyError(f"{where} has shape {arr.shape}, expected 32x32 RGB; check the image pack")
    return arr


def _from_pack(source: str, batch_size: int, seed: int, data_dir: Optional[Union[str, Path]]) -> ProbeBatch:
    """From the data directory's pack, else (training images) from the embedded probe set: the same
    images either way, so seeded results do not depend on where they came from."""
    split = "train" if source == "cifar10" else "test"
    try:
        path = data_file(PACKS[source], data_dir)
    except DataMissing as err:
        _sample(embedded.CIFAR10_TRAIN_IMAGES, batch_size, seed)  # the same size check as a full pack's
        found = embedded.probe_images(batch_size, seed) if source == "cifar10" else None
        if found is None:
            raise DataMissing(f"{err}; the embedded probe set has only cifar10 training batches of "
                              f"{'/'.join(map(str, embedded.PROBE_BATCH_SIZES))} images with seeds "
                              f"{embedded.PROBE_SEEDS[0]}-{embedded.PROBE_SEEDS[-1]} "
                              "(or pass --probe synthetic for Gaussian input)") from None
        blobs, labels = found
        images = np.stack([decode_jpeg(b, "an image of the embedded probe set") for b in blobs])
        return _make(images, labels, f"cifar10-{split} (real, {batch_size} images, seed {seed}; EMBEDDED probe set)")
    data, offsets, labels = jpeg_pack(str(path))
    idx = _sample(len(labels), batch_size, seed)
    images = np.stack([decode_jpeg(data[offsets[i]:offsets[i + 1]], f"image {i} of {path}") for i in idx])
    return _make(images, labels[idx], f"cifar10-{split} (real, {batch_size} images, seed {seed}; "
                 f"data directory: {path})")


def synthetic_batch(batch_size: int = 64, seed: int = 0, why: str = "") -> ProbeBatch:
    """Seeded N(0, 1) images with random labels 0..9; the label says SYNTHETIC."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=batch_size).astype(np.int64)
    note = f" ({why})" if why else ""
    return ProbeBatch(torch.from_numpy(x), torch.from_numpy(y),
                      f"SYNTHETIC gaussian input{note}, {batch_size} images, seed {seed}")


def load_probe_batch(source: str = "cifar10", batch_size: int = 64, seed: int = 0,
                     data_dir: Optional[Union[str, Path]] = None) -> ProbeBatch:
    """A deterministic probe batch (same arguments -> identical batch); its label names its source.

    Real images are never replaced silently: without them, :class:`DataMissing` says what is
    missing; Gaussian input comes only from ``source="synthetic"`` (labelled SYNTHETIC).
    """
    if source == "synthetic":
        return synthetic_batch(batch_size, seed)
    if source in PACKS:
        resolve_data_dir(data_dir)  # a missing --data-dir / EVOPROXY_DATA folder is an error
        return _from_pack(source, batch_size, seed, data_dir)
    path = Path(source).expanduser()
    if path.is_dir():
        return _from_python_batches(path, batch_size, seed)
    raise EvoproxyError(f"unknown probe source {source!r}: use {', '.join(NAMED_SOURCES)} "
                        "or an existing directory of CIFAR python batches")


# --- CIFAR python-format batches (pickles) -------------------------------------------------

_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy's array reconstruction helper
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array reconstruction; any other global is refused."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed") from None


def load_array_pickle(path: Path) -> object:
    """Unpickle a CIFAR batch file with :class:`ArrayOnlyUnpickler` (``encoding='bytes'``)."""
    try:
        with open(path, "rb") as f:
            return ArrayOnlyUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError) as err:
        raise EvoproxyError(f"refusing to read {path}: {err}; CIFAR batches may hold only numpy "
                            "arrays, lists and dicts (re-download the official python version)") from None


def _batch_files(root: Path) -> list[Path]:
    for d in (root, root / "cifar-10-batches-py", root / "cifar-100-python"):
        train = sorted(d.glob("data_batch_*")) or [p for p in (d / "train",) if p.is_file()]
        test = [p for p in (d / "test_batch", d / "test") if p.is_file()]
        if train or test:
            return train or test
    raise DataMissing(f"no CIFAR python batches (data_batch_*, test_batch, train or test) in {root}; "
                      f"point the probe source at the extracted cifar-10-batches-py folder")


def _parse_batch(obj: object, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(obj, dict) or b"data" not in obj:
        raise EvoproxyError(f"{path} is not a CIFAR python batch (no b'data' entry)")
    labels = obj.get(b"labels", obj.get(b"fine_labels"))
    data = np.asarray(obj[b"data"], dtype=np.uint8)
    if labels is None or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise EvoproxyError(f"{path} is not a CIFAR python batch (expected N x 3072 data and N labels)")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(labels, dtype=np.int64)


@lru_cache(maxsize=2)
def _python_batches(root: str) -> tuple[np.ndarray, np.ndarray]:
    parts = [_parse_batch(load_array_pickle(p), p) for p in _batch_files(Path(root))]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _from_python_batches(root: Path, batch_size: int, seed: int) -> ProbeBatch:
    images, labels = _python_batches(str(root.resolve()))
    idx = _sample(len(labels), batch_size, seed)
    return _make(images[idx], labels[idx], f"{root} (real, {batch_size} images, seed {seed})")


__all__ = ["ProbeBatch", "load_probe_batch", "synthetic_batch", "normalise", "ArrayOnlyUnpickler",
           "load_array_pickle", "CIFAR10_MEAN", "CIFAR10_STD"]
