"""The official image releases -> lossless image packs in the data directory.

* CIFAR-10 ``cifar-10-python.tar.gz`` (or the extracted ``cifar-10-batches-py/``): ``data_batch_1..5``
  and ``test_batch``, each a pickle of ``{b"data": uint8 (10000, 3072), b"labels": [int], ...}``;
* CIFAR-100 ``cifar-100-python.tar.gz`` (or ``cifar-100-python/``): ``train`` and ``test`` with
  ``b"fine_labels"``;
* ImageNet16-120 (NAS-Bench-201's ``ImageNet16/`` folder or a tar of it): ``train_data_batch_1..10``
  and ``val_data``, pickles of ``{"data": uint8 (N, 768), "labels": [1..1000]}``; like NB201's own
  loader, only classes 1..120 are kept (as 0..119).

Pickles are read through the array-only allow-list of :mod:`.safepickle`. A pack is
``images/<dataset>_<split>_uint8.npz`` with ``images`` (N, H, W, 3) uint8 and ``labels`` int64.
"""
from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from evoproxy.data import archive
from evoproxy.data.safepickle import ARRAYS, load_restricted
from evoproxy.errors import EvoproxyError


@dataclass(frozen=True)
class ImageRelease:
    dataset: str
    side: int
    splits: dict[str, tuple[str, ...]]
    """Our split name -> the release's member file names, in order."""
    label_key: str
    encoding: str
    keep_classes: Optional[int] = None


RELEASES = {
    "cifar10": ImageRelease("cifar10", 32, {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                                            "test": ("test_batch",)}, "labels", "bytes"),
    "cifar100": ImageRelease("cifar100", 32, {"train": ("train",), "test": ("test",)}, "fine_labels", "bytes"),
    "imagenet16": ImageRelease("imagenet16", 16, {"train": tuple(f"train_data_batch_{i}" for i in range(1, 11)),
                                                  "val": ("val_data",)}, "labels", "latin1", keep_classes=120),
}


CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}


def pack_name(dataset: str, split: str) -> str:
    return f"images/{dataset}_{split}_uint8.npz"


def integer_labels(labels: np.ndarray) -> bool:
    """Whether ``labels`` is one integer per image (a 1-D integer array; an empty one is)."""
    return labels.ndim == 1 and (np.issubdtype(labels.dtype, np.integer) or labels.size == 0)


def check_labels(labels, dataset: str, where: str, fix: str) -> np.ndarray:
    """``labels`` as int64, refused in one line naming ``where`` when they cannot be ``dataset``'s classes:
    not one integer per image, or any outside ``0..classes-1`` (a probe or training loss would index past
    the networks' outputs; a damaged or foreign file). ``fix`` says what to do."""
    labels = np.asarray(labels)
    if not integer_labels(labels):
        raise EvoproxyError(f"{where}: labels are {labels.dtype} of shape {labels.shape}, not one integer class "
                            f"per image; {fix}")
    n = CLASSES[dataset]
    bad = (labels < 0) | (labels >= n)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise EvoproxyError(f"{where}: {int(bad.sum())} of its {len(labels)} labels are outside 0..{n - 1} "
                            f"({dataset} has {n} classes; first: image {first}, label {int(labels[first])}); {fix}")
    return labels.astype(np.int64, copy=False)


class _Files:
    """Member files of a release folder or archive, found by base name wherever they sit."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.tar, self.members = None, {p.name: p for p in path.rglob("*") if p.is_file()}
        else:
            try:
                self.tar = tarfile.open(path)
                self.members = {Path(m.name).name: m for m in self.tar.getmembers() if m.isfile()}
            except (tarfile.TarError, OSError, EOFError) as err:
                raise EvoproxyError(f"{path} is not a readable tar archive ({err}); re-download it") from None

    def has(self, names: tuple[str, ...]) -> bool:
        return all(n in self.members for n in names)

    def read(self, name: str) -> bytes:
        m = self.members[name]
        try:
            where = f"{self.path}:{name}"
            return archive.read_member(self.tar, m, where) if self.tar else archive.read_file(m, where)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise EvoproxyError(f"{self.path}: cannot read {name} ({err}; truncated?); re-download it") from None


def _batch(rel: ImageRelease, raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    obj = load_restricted(raw, where, ARRAYS, encoding=rel.encoding)
    key = (lambda k: k.encode()) if rel.encoding == "bytes" else (lambda k: k)
    if not isinstance(obj, dict) or key("data") not in obj or key(rel.label_key) not in obj:
        raise EvoproxyError(f"{where} is not a {rel.dataset} batch (no {rel.label_key!r} and data entries)")
    data, labels = np.asarray(obj[key("data")]), np.asarray(obj[key(rel.label_key)])
    if (data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * rel.side ** 2 or not integer_labels(labels)
            or len(labels) != len(data)):
        raise EvoproxyError(f"{where} is not a {rel.dataset} batch (expected uint8 N x {3 * rel.side ** 2} data and "
                            f"N integer labels, got {data.dtype} {data.shape} and {labels.dtype} {labels.shape} labels)")
    images = data.reshape(-1, 3, rel.side, rel.side).transpose(0, 2, 3, 1)
    if rel.keep_classes:   # the release's labels 1..1000: NB201 keeps 1..keep_classes, as 0..keep_classes-1
        keep = (labels >= 1) & (labels <= rel.keep_classes)
        images, labels = images[keep], labels[keep] - 1
    return np.ascontiguousarray(images), check_labels(labels, rel.dataset, where, "re-download it")


def detect(path: Path) -> Optional[ImageRelease]:
    """The image release at ``path`` (a folder or archive), or None when it is not one."""
    try:
        files = _Files(path)
    except EvoproxyError:
        return None
    return next((r for r in RELEASES.values() if all(files.has(n) for n in r.splits.values())), None)


def read_split(path: Path, rel: ImageRelease, split: str,
               tick: Optional[Callable[[], None]] = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of one split of the release at ``path``."""
    files, parts = _Files(path), []
    for name in rel.splits[split]:
        if not files.has((name,)):
            raise EvoproxyError(f"{path} has no {name}; is it the whole {rel.dataset} release?")
        parts.append(_batch(rel, files.read(name), f"{path}:{name}"))
        if tick:
            tick()
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def convert(path: Path, rel: ImageRelease, data_dir: Path,
            progress: Optional[Callable[[int, int], None]] = None) -> dict[str, int]:
    """Write each split's pack into ``data_dir``; ``{pack file: images}``."""
    total, done, written = sum(len(n) for n in rel.splits.values()), [0], {}

    def tick() -> None:
        done[0] += 1
        if progress:
            progress(done[0], total)

    for split in rel.splits:
        images, labels = read_split(path, rel, split, tick)
        out = data_dir / pack_name(rel.dataset, split)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        with open(tmp, "wb") as f:
            np.savez(f, images=images, labels=labels)
        tmp.replace(out)
        written[str(out)] = len(labels)
    return written
