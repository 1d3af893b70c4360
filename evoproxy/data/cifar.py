"""The CIFAR-10 training and test sets, from the data directory's image packs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from evoproxy.data.packs import Pack, candidates, find_pack
from evoproxy.data.paths import describe_data_dir
from evoproxy.errors import DataMissing, EvoproxyError

PathLike = Union[str, os.PathLike]
SPLITS = ("train", "test")


def cifar10_pack(split: str = "train", data_dir: Optional[PathLike] = None) -> Pack:
    """The CIFAR-10 pack of ``split``; :class:`DataMissing` if the data directory has none."""
    if split not in SPLITS:
        raise EvoproxyError(f"unknown CIFAR-10 split {split!r}; use 'train' or 'test'")
    pack = find_pack("cifar10", split, data_dir)
    if pack is None:
        raise DataMissing(f"no CIFAR-10 {split} images in the data directory ({describe_data_dir(data_dir)}; "
                          f"looked for {' or '.join(candidates('cifar10', split))}); get them with "
                          "`evoproxy data download cifar10` (or `evoproxy data import PATH`)")
    return pack


def pack_path(split: str = "train", data_dir: Optional[PathLike] = None) -> Path:
    """Path of the CIFAR-10 pack of ``split``; :class:`DataMissing` if it is absent."""
    return cifar10_pack(split, data_dir).path


def load_cifar10(split: str = "train", data_dir: Optional[PathLike] = None, limit: Optional[int] = None,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 ``split``: uint8 (N, 32, 32, 3) images and int64 labels.

    With ``limit``, a seeded random subset of that many images (in that random order);
    otherwise every image, in the pack's order (the JPEG pack is sorted by class: shuffle before training).
    """
    pack = cifar10_pack(split, data_dir)
    n = len(pack)
    if limit is None:
        idx = np.arange(n)
    elif not 0 < limit <= n:
        raise EvoproxyError(f"limit {limit} must be between 1 and {n} (the {split} split's size)")
    else:
        idx = np.random.default_rng(seed).choice(n, size=limit, replace=False)
    return pack.images(idx), pack.labels[idx].astype(np.int64)
