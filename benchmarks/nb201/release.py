"""The official NAS-Bench-201 / NATS-Bench topology releases -> the NB201 accuracy table.

Layouts (from the releases' own loaders, ``nas_201_api/api_201.py`` and ``nats_bench/api_utils.py``):

* ``NAS-Bench-201-v1_0-e61699.pth`` / ``v1_1-096897.pth``: one ``torch.save`` of
  ``{"meta_archs": [arch str], "arch2infos": {index: {"less": R12, "full": R200}}, "evaluated_indexes"}``;
* ``NATS-tss-v1_0-3ffb9-simple/`` (or its ``.tar``): ``meta.pickle.pbz2`` with ``meta_archs`` and one
  ``{index:06d}.pickle.pbz2`` per architecture holding ``{"12": R12, "200": R200}``.

Each ``R`` is an ``ArchResults`` state dict: ``dataset_seed`` (dataset -> seeds) and
``all_results[(dataset, seed)]`` with ``eval_acc1es`` keyed ``"<set>@<epoch>"``. A table cell is
what the export in the data directory has (checked on the release's own sample files): test =
the mean over seeds of ``ori-test`` (cifar10) or ``x-test`` (cifar100, ImageNet16-120); 12-epoch
valid = the mean of ``x-valid`` (cifar10: the ``cifar10-valid`` runs); NASLib's 200-epoch "valid"
= seed 888's ``ori-test`` of the ``cifar10-valid`` runs, or ``x-test`` (NASLib's own choice). Everything is read through the allow-list of :mod:`.safepickle`.
"""
from __future__ import annotations

import csv
import tarfile
from pathlib import Path
from typing import Callable, Iterator, Mapping, Optional

import numpy as np

from evoproxy.data import archive
from evoproxy.data.safepickle import load_restricted, torch_load_plain
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.nb201 import op_indices

DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "ImageNet16-120"}
# column -> (hp, seed (None: the mean over all), {our dataset: (runs, eval set)}, eval set otherwise)
CELLS = {
    "test_200ep": ("200", None, {"cifar10": ("cifar10", "ori-test")}, "x-test"),
    "valid_200ep_naslib": ("200", 888, {"cifar10": ("cifar10-valid", "ori-test")}, "x-test"),
    "test_12ep": ("12", None, {"cifar10": ("cifar10", "ori-test")}, "x-test"),
    "valid_12ep": ("12", None, {"cifar10": ("cifar10-valid", "x-valid")}, "x-valid"),
}
COLUMNS = ("index", "arch_str", "naslib_op_indices",
           *(f"{d}_{c}" for c in CELLS for d in DATASETS))
Progress = Optional[Callable[[int, int], None]]


def _mean_acc(results: Mapping, dataset: str, eval_set: str, hp: str, seed: Optional[int]) -> float:
    seeds = results["dataset_seed"][dataset] if seed is None else [seed]
    epoch = int(hp) - 1
    accs = [results["all_results"][(dataset, s)]["eval_acc1es"][f"{eval_set}@{epoch}"] for s in seeds]
    return float(np.mean(accs))


def table_row(index: int, arch: str, by_hp: Mapping[str, Mapping], where: str) -> dict:
    """One table row from an architecture's ``{hp: ArchResults state dict}``."""
    row = {"index": index, "arch_str": arch, "naslib_op_indices": op_indices(arch)}
    try:
        for col, (hp, seed, special, default_set) in CELLS.items():
            for ours, theirs in DATASETS.items():
                runs, eval_set = special.get(ours, (theirs, default_set))
                row[f"{ours}_{col}"] = round(_mean_acc(by_hp[hp], runs, eval_set, hp, seed), 4)
    except (KeyError, TypeError, ValueError) as err:
        raise EvoproxyError(f"{where}: architecture {index} lacks {err} (not the NAS-Bench-201 "
                            "layout: {hp: {dataset_seed, all_results}}); re-download the release") from None
    return row


def _check_meta(meta: object, where: str) -> list[str]:
    if not isinstance(meta, dict) or not isinstance(meta.get("meta_archs"), list):
        raise EvoproxyError(f"{where} is not a NAS-Bench-201 release (no meta_archs list)")
    return meta["meta_archs"]


def rows_from_pth(path: Path, progress: Progress = None) -> Iterator[dict]:
    """Rows of a NAS-Bench-201 ``.pth`` (v1_0 or v1_1)."""
    obj = torch_load_plain(path)
    archs = _check_meta(obj, str(path))
    infos = obj.get("arch2infos")
    if not isinstance(infos, dict) or len(infos) != len(archs):
        raise EvoproxyError(f"{path}: arch2infos must hold one entry per architecture "
                            f"({len(archs)}); re-download the release")
    for i, arch in enumerate(archs):
        info = infos.get(i, {})
        yield table_row(i, arch, {"12": info.get("less"), "200": info.get("full")}, str(path))
        if progress:
            progress(i + 1, len(archs))


class _Members:
    """The ``*.pickle.pbz2`` files of a NATS directory or of its ``.tar``, by file name."""

    def __init__(self, path: Path):
        self.path = path
        self.tar = tarfile.open(path) if path.is_file() else None
        self.names = ({Path(m.name).name: m for m in self.tar.getmembers() if m.isfile()}
                      if self.tar else {p.name: p for p in path.glob("*.pickle.pbz2")})

    def load(self, name: str) -> object:
        where = f"{self.path}:{name}" if self.tar else str(self.path / name)
        if name not in self.names:
            raise EvoproxyError(f"{self.path} has no {name}; is it the whole NATS-tss-v1_0-3ffb9-simple release?")
        member = self.names[name]
        raw = archive.read_member(self.tar, member, where) if self.tar else archive.read_file(member, where)
        try:
            data = archive.bz2_decompress(raw, where)
        except (OSError, ValueError, EOFError) as err:
            raise EvoproxyError(f"{where} is not bz2-compressed ({err}); re-download the release") from None
        return load_restricted(data, where)


def rows_from_nats(path: Path, progress: Progress = None) -> Iterator[dict]:
    """Rows of NATS-Bench's ``NATS-tss-v1_0-3ffb9-simple`` directory or ``.tar``."""
    try:
        members = _Members(path)
    except (tarfile.TarError, OSError) as err:
        raise EvoproxyError(f"{path} is not a readable tar ({err}); re-download the release") from None
    archs = _check_meta(members.load("meta.pickle.pbz2"), str(path))
    for i, arch in enumerate(archs):
        by_hp = members.load(f"{i:06d}.pickle.pbz2")
        if not isinstance(by_hp, dict):
            raise EvoproxyError(f"{path}: {i:06d}.pickle.pbz2 is not a dict of hp -> results")
        yield table_row(i, arch, by_hp, f"{path}:{i:06d}")
        if progress:
            progress(i + 1, len(archs))


def write_table(rows: Iterator[dict], out: Path) -> int:
    """Write the rows as the data directory's ``nb201/nb201_all_15625.csv``; the row count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".csv.part")
    n = 0
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
            w.writeheader()
            for n, row in enumerate(rows, 1):
                w.writerow(row)
    except BaseException:
        tmp.unlink(missing_ok=True)   # a failed import leaves nothing behind
        raise
    tmp.replace(out)
    return n
