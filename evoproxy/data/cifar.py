"""The CIFAR-10 training and test sets, decoded from the data directory's JPEG packs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from evoproxy.data.images import PACKS, decode_jpeg, jpeg_pack
from evoproxy.data.paths import data_file
from evoproxy.errors import EvoproxyError

PathLike = Union[str, os.PathLike]
SPLITS = {"train": PACKS["cifar10"], "test": PACKS["cifar10-test"]}


def pack_path(split: str = "train", data_dir: Optional[PathLike] = None) -> Path:
    """Path of the CIFAR-10 JPEG pack of ``split``; :class:`DataMissing` if it is absent."""
    if split not in SPLITS:
        raise EvoproxyError(f"unknown CIFAR-10 split {split!r}; use 'train' or 'test'")
    return data_file(SPLITS[split], data_dir)


def load_cifar10(split: str = "train", data_dir: Optional[PathLike] = None, limit: Optional[int] = None,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Decode the CIFAR-10 ``split`` pack: uint8 (N, 32, 32, 3) images and int64 labels.

    With ``limit``, a seeded random subset of that many images (in that random order);
    otherwise every image, in the pack's order (sorted by class: shuffle before training).
    """
    path = pack_path(split, data_dir)
    data, offsets, labels = jpeg_pack(str(path))
    n = len(labels)
    if limit is None:
        idx = np.arange(n)
    elif not 0 < limit <= n:
        raise EvoproxyError(f"limit {limit} must be between 1 and {n} (the {split} split's size)")
    else:
        idx = np.random.default_rng(seed).choice(n, size=limit, replace=False)
    images = np.empty((len(idx), 32, 32, 3), np.uint8)
    for j, i in enumerate(idx):
        images[j] = decode_jpeg(data[offsets[i]:offsets[i + 1]], f"image {i} of {path}")
    return images, labels[idx].astype(np.int64)
