"""The embedded default data: what the main job needs, shipped inside the package.

* ``nb201_compact.csv.gz``: all 15,625 NAS-Bench-201 architectures (NASLib op-index digits) with
  the cifar10 / cifar100 / imagenet16 accuracy columns the ``nb201-*`` benchmarks read, exactly
  as in the NATS-Bench export (MIT, ``LICENSE-NATS-Bench``);
* ``cifar10_probe_jpeg.npz``: the original JPEG bytes of each CIFAR-10 training image a default
  probe batch draws (batch sizes :data:`PROBE_BATCH_SIZES`, seeds :data:`PROBE_SEEDS`), with
  their indices in the full training pack, so a probe batch is the same whether it comes from
  the full pack or from here.

A data directory, when it has the full files, takes precedence; results name their source.
``experiments/build_embedded.py`` rebuilds these files; ``provenance.json`` records the sources.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

EMBEDDED = Path(__file__).parent / "embedded"
NB201_FILE = "nb201_compact.csv.gz"
PROBE_FILE = "cifar10_probe_jpeg.npz"
TABLE_COLUMNS = ("index", "naslib_op_indices",
                 *(f"{d}_{m}" for m in ("test_200ep", "valid_200ep_naslib", "test_12ep", "valid_12ep")
                   for d in ("cifar10", "cifar100", "imagenet16")))
PROBE_BATCH_SIZES = (8, 16, 32, 64)
PROBE_SEEDS = (0, 1, 2, 3, 4)
CIFAR10_TRAIN_IMAGES = 50000


def sample_indices(n_total: int, batch_size: int, seed: int) -> np.ndarray:
    """The images a probe batch of ``batch_size`` under ``seed`` draws from ``n_total``."""
    return np.random.default_rng(seed).choice(n_total, size=batch_size, replace=False)


def probe_indices(n_total: int = CIFAR10_TRAIN_IMAGES) -> list[int]:
    """Every training-image index a default probe batch draws, sorted."""
    return sorted({int(i) for b in PROBE_BATCH_SIZES for s in PROBE_SEEDS
                   for i in sample_indices(n_total, b, s)})


def nb201_table_path() -> Path:
    return EMBEDDED / NB201_FILE


@lru_cache(maxsize=1)
def probe_set() -> tuple[dict[int, int], np.ndarray, np.ndarray, np.ndarray, int]:
    """``(position by pack index, data, offsets, labels, n_total)`` of the embedded probe set."""
    with np.load(EMBEDDED / PROBE_FILE, allow_pickle=False) as f:
        index, data, offsets, labels = f["index"], f["data"], f["offsets"], f["labels"]
        n_total = int(f["n_total"])
    return {int(i): k for k, i in enumerate(index)}, data, offsets, labels, n_total


def probe_images(batch_size: int, seed: int) -> Optional[tuple[list[np.ndarray], np.ndarray]]:
    """``(JPEG blobs, labels)`` of a default probe batch, or None when it is not embedded."""
    where, data, offsets, labels, n_total = probe_set()
    idx = sample_indices(n_total, batch_size, seed)
    if any(int(i) not in where for i in idx):
        return None
    pos = [where[int(i)] for i in idx]
    return [data[offsets[k]:offsets[k + 1]] for k in pos], labels[pos]
