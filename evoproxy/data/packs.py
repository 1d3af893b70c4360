"""Image packs in the data directory: one labelled image set per dataset and split.

Two layouts, both ``.npz`` read with ``allow_pickle=False``:

* JPEG bytes (``images/cifar10_{train,test}_jpeg_bytes.npz``, as the shared data directory has CIFAR-10):
  ``data`` (all files concatenated), ``offsets`` (n+1), ``labels``; only the images drawn are decoded;
* raw pixels (``images/<dataset>_<split>_uint8.npz``, written by ``evoproxy data import``):
  ``images`` uint8 (N, H, W, 3) and ``labels``.

The first layout found, in that order, is used.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from evoproxy.data.image_release import check_labels, pack_name
from evoproxy.data.paths import resolve_data_dir
from evoproxy.errors import EvoproxyError

SPLITS = {"cifar10": ("train", "test"), "cifar100": ("train", "test"), "imagenet16": ("train", "val")}
SIDE = {"cifar10": 32, "cifar100": 32, "imagenet16": 16}
# channel mean / std (0..1) each dataset's NAS-Bench-201 networks were trained with
STATS = {"cifar10": ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
         "cifar100": ((129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
         "imagenet16": ((122.68, 116.66, 104.01), (63.22, 61.26, 65.09))}
STATS = {d: (tuple(v / 255 for v in m), tuple(v / 255 for v in s)) for d, (m, s) in STATS.items()}


def jpeg_pack_name(dataset: str, split: str) -> str:
    return f"images/{dataset}_{split}_jpeg_bytes.npz"


def candidates(dataset: str, split: str) -> tuple[str, ...]:
    """Relative paths a pack of ``dataset``/``split`` may have, in order of preference (JPEG packs
    exist for CIFAR-10 only, as the data directory ships it)."""
    jpeg = (jpeg_pack_name(dataset, split),) if dataset == "cifar10" else ()
    return (*jpeg, pack_name(dataset, split))


def _unreadable(path: str, err: Exception, keys: str) -> EvoproxyError:
    why = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
    return EvoproxyError(f"{path} is not a readable image pack (npz with {keys}): {why}; re-copy it")


_JPEG_FIX = ("re-copy it, or delete it and use the lossless pack `evoproxy data download cifar10` writes "
             "(the JPEG pack is read first)")


def _offsets_problem(data: np.ndarray, offsets: np.ndarray, n: int) -> Optional[str]:
    """Why ``offsets`` cannot cut ``data`` into ``n`` images (n+1 integers from 0 up to len(data), each
    image at least one byte), or None."""
    if data.dtype != np.uint8 or data.ndim != 1:
        return f"data is {data.dtype} of shape {data.shape}, not the uint8 bytes of the JPEG files"
    if offsets.ndim != 1 or not np.issubdtype(offsets.dtype, np.integer):
        return f"offsets is {offsets.dtype} of shape {offsets.shape}, not a list of integer positions"
    if len(offsets) != n + 1:
        return f"offsets has {len(offsets)} entries for {n} labels (it needs {n + 1}: one more than the images)"
    if offsets[0] != 0 or offsets[-1] != len(data):
        return (f"offsets run from {int(offsets[0])} to {int(offsets[-1])}, not from 0 to the {len(data)} bytes of "
                "data")
    step = np.diff(offsets)
    if (step <= 0).any():
        i = int(np.flatnonzero(step <= 0)[0])
        return f"{int((step <= 0).sum())} images are empty or run backwards (first: image {i}, {int(step[i])} bytes)"
    return None


@lru_cache(maxsize=4)
def jpeg_pack(path: str, dataset: str = "cifar10") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(data, offsets, labels)`` of a JPEG-bytes pack of ``dataset``, checked whole on load: one line naming
    the file if it is unreadable, its offsets do not cut its bytes into one image per label, or a label is not
    one of the dataset's classes."""
    try:
        with np.load(path, allow_pickle=False) as pack:
            data, offsets, labels = pack["data"], pack["offsets"], pack["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise _unreadable(path, err, "data, offsets, labels") from None
    labels = check_labels(labels, dataset, path, _JPEG_FIX)
    problem = _offsets_problem(data, offsets, len(labels))
    if problem:
        raise EvoproxyError(f"{path} is not a consistent JPEG image pack: {problem}; {_JPEG_FIX}")
    return data, offsets.astype(np.int64, copy=False), labels


_IMPORT_FIX = "re-import it (`evoproxy data import` the release, or `evoproxy data download`)"


@lru_cache(maxsize=2)
def array_pack(path: str, dataset: str = "cifar10") -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of a raw-pixel pack of ``dataset``, checked as :func:`jpeg_pack`."""
    try:
        with np.load(path, allow_pickle=False) as pack:
            images, labels = pack["images"], pack["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise _unreadable(path, err, "images, labels") from None
    side = SIDE[dataset]
    if images.dtype != np.uint8 or images.shape[1:] != (side, side, 3) or np.ndim(labels) != 1 \
            or len(labels) != len(images):
        raise EvoproxyError(f"{path} is not a {dataset} image pack (expected uint8 N x {side} x {side} x 3 images "
                            f"and N labels, got {images.dtype} {images.shape} and {np.shape(labels)} labels); "
                            f"{_IMPORT_FIX}")
    return images, check_labels(labels, dataset, path, _IMPORT_FIX)


def decode_jpeg(blob: np.ndarray, where: str = "a probe image", side: int = 32) -> np.ndarray:
    """One ``side`` x ``side`` RGB image; ``where`` names it in the one-line error for a damaged one."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(blob.tobytes())) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:   # PIL's errors for a damaged image
        raise EvoproxyError(f"{where} is not a readable JPEG ({type(err).__name__}); "
                            "re-copy the image pack") from None
    if arr.shape != (side, side, 3):
        raise EvoproxyError(f"{where} has shape {arr.shape}, expected {side}x{side} RGB; check the image pack")
    return arr


@dataclass(frozen=True)
class Pack:
    """One image set: its file, labels and (lazily decoded) images."""

    dataset: str
    split: str
    path: Path

    @property
    def labels(self) -> np.ndarray:
        return self._jpeg()[2] if self._is_jpeg else self._array()[1]

    def __len__(self) -> int:
        return len(self.labels)

    def images(self, idx: Sequence[int]) -> np.ndarray:
        """uint8 (len(idx), H, W, 3) of the images at ``idx``."""
        if not self._is_jpeg:
            return self._array()[0][np.asarray(idx, dtype=np.int64)]
        data, offsets, _ = self._jpeg()
        side = SIDE[self.dataset]
        out = np.empty((len(idx), side, side, 3), np.uint8)
        for j, i in enumerate(idx):
            out[j] = decode_jpeg(data[offsets[i]:offsets[i + 1]], f"image {i} of {self.path}", side)
        return out

    @property
    def _is_jpeg(self) -> bool:
        return self.path.name.endswith("_jpeg_bytes.npz")

    def _jpeg(self):
        return jpeg_pack(str(self.path), self.dataset)

    def _array(self):
        return array_pack(str(self.path), self.dataset)


def find_pack(dataset: str, split: str, data_dir: Optional[Union[str, Path]] = None) -> Optional[Pack]:
    """The data directory's pack of ``dataset``/``split``, or None when it has none."""
    if split not in SPLITS.get(dataset, ()):
        raise EvoproxyError(f"no image split {dataset}/{split}; splits: "
                            + ", ".join(f"{d}/{s}" for d, ss in SPLITS.items() for s in ss))
    root = resolve_data_dir(data_dir)
    for rel in candidates(dataset, split) if root is not None else ():
        if (root / rel).is_file():
            return Pack(dataset, split, root / rel)
    return None
