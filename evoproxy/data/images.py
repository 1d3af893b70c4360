"""Probe batches: the labelled images every statistic is computed on.

Sources: a dataset's image set (``"cifar10"``, ``"cifar100"``, ``"imagenet16"`` for training
images; ``"cifar10-test"``, ``"cifar100-test"``, ``"imagenet16-val"``), ``"auto"`` (the benchmark's
own dataset's training images when the data directory has them, else CIFAR-10's, labelled a
SUBSTITUTE), ``"synthetic"`` (seeded N(0,1) images and random labels), or an official release
folder or archive (CIFAR-10/100 python version, ImageNet16-120; read through the allow-list of
:mod:`.safepickle`). CIFAR-10 training batches missing from the data directory come from the
embedded probe set (the same images). Every batch's ``label`` says where it came from.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from evoproxy.data import embedded, image_release
from evoproxy.data.packs import SPLITS, STATS, decode_jpeg, find_pack
from evoproxy.data.paths import describe_data_dir, resolve_data_dir
from evoproxy.errors import DataMissing, EvoproxyError

CIFAR10_MEAN, CIFAR10_STD = STATS["cifar10"]
SOURCES = {**{d: (d, splits[0]) for d, splits in SPLITS.items()},
           **{f"{d}-{splits[1]}": (d, splits[1]) for d, splits in SPLITS.items()}}
NAMED_SOURCES = ("auto", *SOURCES, "synthetic")


@dataclass(frozen=True, eq=False)
class ProbeBatch:
    """``x``: float32 (N, 3, H, W), normalised; ``y``: int64 (N,); ``label``: provenance."""

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


def normalise(images_nhwc: np.ndarray, dataset: str = "cifar10") -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) with ``dataset``'s channel mean/std."""
    mean, std = STATS[dataset]
    x = images_nhwc.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _make(images: np.ndarray, labels: np.ndarray, label: str, dataset: str = "cifar10") -> ProbeBatch:
    return ProbeBatch(normalise(images, dataset), torch.from_numpy(labels.astype(np.int64)), label)


def _sample(n_total: int, batch_size: int, seed: int) -> np.ndarray:
    if not 0 < batch_size <= n_total:
        raise EvoproxyError(f"batch size {batch_size} must be between 1 and {n_total}; "
                            "pass a smaller --batch-size")
    return embedded.sample_indices(n_total, batch_size, seed)


def _embedded_batch(batch_size: int, seed: int, err: DataMissing) -> ProbeBatch:
    _sample(embedded.CIFAR10_TRAIN_IMAGES, batch_size, seed)  # the same size check as a full pack's
    found = embedded.probe_images(batch_size, seed)
    if found is None:
        raise DataMissing(f"{err}; the embedded probe set has only cifar10 training batches of "
                          f"{'/'.join(map(str, embedded.PROBE_BATCH_SIZES))} images with seeds "
                          f"{embedded.PROBE_SEEDS[0]}-{embedded.PROBE_SEEDS[-1]} "
                          "(or pass --probe synthetic for Gaussian input)") from None
    blobs, labels = found
    images = np.stack([decode_jpeg(b, "an image of the embedded probe set") for b in blobs])
    return _make(images, labels, f"cifar10-train (real, {batch_size} images, seed {seed}; EMBEDDED probe set)")


def _from_pack(dataset: str, split: str, batch_size: int, seed: int,
               data_dir: Optional[Union[str, Path]]) -> ProbeBatch:
    """From the data directory's pack, else (CIFAR-10 training images) from the embedded probe
    set: the same images either way, so seeded results do not depend on where they came from."""
    pack = find_pack(dataset, split, data_dir)
    if pack is None:
        err = DataMissing(f"no {dataset} {split} images in the data directory ({describe_data_dir(data_dir)}); "
                          f"get them with `evoproxy data download {dataset}` or `evoproxy data import PATH`")
        if (dataset, split) != ("cifar10", "train"):
            raise err
        return _embedded_batch(batch_size, seed, err)
    idx = _sample(len(pack), batch_size, seed)
    return _make(pack.images(idx), pack.labels[idx], f"{dataset}-{split} (real, {batch_size} images, "
                 f"seed {seed}; data directory: {pack.path})", dataset)


def _auto(dataset: str, batch_size: int, seed: int, data_dir: Optional[Union[str, Path]]) -> ProbeBatch:
    """The benchmark's own dataset's training images when present, else CIFAR-10's (SUBSTITUTE)."""
    if dataset == "cifar10" or find_pack(dataset, "train", data_dir) is not None:
        return _from_pack(dataset, "train", batch_size, seed, data_dir)
    batch = _from_pack("cifar10", "train", batch_size, seed, data_dir)
    return ProbeBatch(batch.x, batch.y, f"{batch.label}; SUBSTITUTE for {dataset} images "
                      f"(none in the data directory: `evoproxy data import`)")


def synthetic_batch(batch_size: int = 64, seed: int = 0, why: str = "") -> ProbeBatch:
    """Seeded N(0, 1) images with random labels 0..9; the label says SYNTHETIC."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=batch_size).astype(np.int64)
    note = f" ({why})" if why else ""
    return ProbeBatch(torch.from_numpy(x), torch.from_numpy(y),
                      f"SYNTHETIC gaussian input{note}, {batch_size} images, seed {seed}")


def load_probe_batch(source: str = "auto", batch_size: int = 64, seed: int = 0,
                     data_dir: Optional[Union[str, Path]] = None, dataset: str = "cifar10") -> ProbeBatch:
    """A deterministic probe batch (same arguments -> identical batch); its label names its source.

    ``dataset`` is the benchmark's own (what ``"auto"`` draws from). Real images are never
    replaced silently: without them, :class:`DataMissing` says what is missing; Gaussian input
    comes only from ``source="synthetic"`` (labelled SYNTHETIC).
    """
    if source == "synthetic":
        return synthetic_batch(batch_size, seed)
    if source == "auto" or source in SOURCES:
        resolve_data_dir(data_dir)  # a missing --data-dir / EVOPROXY_DATA folder is an error
        if source == "auto":
            return _auto(dataset if dataset in SPLITS else "cifar10", batch_size, seed, data_dir)
        return _from_pack(*SOURCES[source], batch_size, seed, data_dir)
    path = Path(source).expanduser()
    if path.exists():
        return _from_release(path, batch_size, seed)
    raise EvoproxyError(f"unknown probe source {source!r}: use {', '.join(NAMED_SOURCES)} or an "
                        "existing CIFAR-10/100 (python version) or ImageNet16-120 folder or archive")


def _from_release(path: Path, batch_size: int, seed: int) -> ProbeBatch:
    rel = image_release.detect(path)
    if rel is None:
        raise DataMissing(f"{path} is not a CIFAR-10/100 python-version or ImageNet16-120 release "
                          "(folder or archive with its batch files)")
    images, labels = _release_arrays(str(path.resolve()), rel.dataset)
    idx = _sample(len(labels), batch_size, seed)
    return _make(images[idx], labels[idx], f"{rel.dataset}-train (real, {batch_size} images, seed {seed}; "
                 f"user file: {path})", rel.dataset)


@lru_cache(maxsize=2)
def _release_arrays(path: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    rel = image_release.RELEASES[dataset]
    return image_release.read_split(Path(path), rel, next(iter(rel.splits)))


__all__ = ["ProbeBatch", "load_probe_batch", "synthetic_batch", "normalise", "CIFAR10_MEAN", "CIFAR10_STD",
           "NAMED_SOURCES"]
