"""The data status use case: what each part of evoproxy needs, what was found where, what is missing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from evoproxy.benchmarks.nb201 import TABLE
from evoproxy.benchmarks.suite_zero import SUITE_ZERO
from evoproxy.benchmarks.suite_zero.spaces import FILES as SPACE_FILES
from evoproxy.data import embedded
from evoproxy.data.packs import candidates
from evoproxy.data.paths import describe_data_dir, resolve_data_dir

NB201_HOW = ("`evoproxy data import` NAS-Bench-201-v1_1-096897.pth or NATS-tss-v1_0-3ffb9-simple "
             "(https://github.com/D-X-Y/NATS-Bench)")


@dataclass(frozen=True)
class Need:
    files: tuple[str, ...]
    """Relative paths that serve it, any one of them (in order of preference)."""
    used_by: str
    how: str
    embedded: str = ""
    """What the package ships instead when the data directory lacks the file ("" for nothing)."""
    partial: bool = False
    """The embedded stand-in covers only part of what the file serves."""


def _images(dataset: str, split: str, used_by: str, how: str, **kw) -> Need:
    return Need(candidates(dataset, split), used_by, how, **kw)


NEEDS = (
    Need((TABLE,), "nb201-cifar10/-cifar100/-imagenet16", NB201_HOW,
         "the compact NAS-Bench-201 table (all 15,625 archs, same accuracies)"),
    Need((SUITE_ZERO,), "eval --archs suite-zero (NAS-Bench-Suite-Zero)",
         "`evoproxy data import zc_nasbench201.json` (NASLib zerocost branch, "
         "scripts/bash_scripts/download_nbs_zero.sh)"),
    *(Need((path,), name, f"`evoproxy data import zc_nasbench{name[2:5]}.json` (NASLib zerocost branch), or copy "
                          "NAS-Bench-Suite-Zero's table into the data directory (docs/data.md)")
      for name, path in SPACE_FILES.items()),
    _images("cifar10", "train", "probe batches, train, MQ calibration, bench build",
            "`evoproxy data download cifar10`",
            embedded=f"probe batches of {'/'.join(map(str, embedded.PROBE_BATCH_SIZES))} images, seeds "
                     f"{embedded.PROBE_SEEDS[0]}-{embedded.PROBE_SEEDS[-1]}", partial=True),
    _images("cifar10", "test", "train, bench build, allocate (test accuracy)", "`evoproxy data download cifar10`"),
    _images("cifar100", "train", "nb201-cifar100 probe images (else CIFAR-10's, labelled SUBSTITUTE)",
            "`evoproxy data download cifar100`"),
    _images("imagenet16", "train", "nb201-imagenet16 probe images (else CIFAR-10's, labelled SUBSTITUTE)",
            "`evoproxy data import` NAS-Bench-201's ImageNet16 folder (train_data_batch_1..10, val_data)"),
    Need(("vit/gt_autoformer.csv",), "vit-autoformer-*", "copy it into the data directory (docs/data.md)"),
    Need(("vit/gt_autoformer_2.csv",), "vit-autoformer-*", "copy it into the data directory (docs/data.md)"),
    Need(("vit/gt_pit.csv",), "vit-pit-*", "copy it into the data directory (docs/data.md)"),
)


def status(data_dir: Optional[str] = None) -> tuple[str, list[tuple[str, str, str, str]]]:
    """``(data directory line, rows of (file, used by, where found, what to do))``."""
    root = resolve_data_dir(data_dir)
    rows = []
    for need in NEEDS:
        found = next((root / f for f in need.files if root is not None and (root / f).is_file()), None)
        name = " or ".join(need.files)
        if found is not None:
            rows.append((name, need.used_by, f"data directory: {found}", ""))
        elif need.embedded:
            rows.append((name, need.used_by, f"EMBEDDED: {need.embedded}",
                         f"for the rest: {need.how}" if need.partial else ""))
        else:
            rows.append((name, need.used_by, "MISSING", need.how))
    return describe_data_dir(data_dir), rows
