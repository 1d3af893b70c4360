"""The data status use case: what each part of evoproxy needs, what was found where, what is missing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from evoproxy.data import embedded
from evoproxy.data.paths import describe_data_dir, resolve_data_dir



@dataclass(frozen=True)
class Need:
    file: str
    used_by: str
    embedded: str = ""
    """What the package ships instead when the data directory lacks the file ("" for nothing)."""
    how: str = "copy it into the data directory (README, Data)"
    partial: bool = False
    """The embedded stand-in covers only part of what the file serves."""


NEEDS = (
    Need("nb201/nb201_all_15625.csv", "nb201-cifar10/-cifar100/-imagenet16",
         "the compact NAS-Bench-201 table (all 15,625 archs, same accuracies)"),
    Need("nb201/nb201_zc_proxies_725x3_naslib.csv", "eval --archs suite-zero (NAS-Bench-Suite-Zero)"),
    Need("images/cifar10_train_jpeg_bytes.npz", "probe batches, train, MQ calibration, bench build",
         f"probe batches of {'/'.join(map(str, embedded.PROBE_BATCH_SIZES))} images, seeds "
         f"{embedded.PROBE_SEEDS[0]}-{embedded.PROBE_SEEDS[-1]}", partial=True),
    Need("images/cifar10_test_jpeg_bytes.npz", "train, bench build, allocate (test accuracy)"),
    Need("vit/gt_autoformer.csv", "vit-autoformer-*"),
    Need("vit/gt_autoformer_2.csv", "vit-autoformer-*"),
    Need("vit/gt_pit.csv", "vit-pit-*"),
)


def status(data_dir: Optional[str] = None) -> tuple[str, list[tuple[str, str, str, str]]]:
    """``(data directory line, rows of (file, used by, where found, what to do))``."""
    root = resolve_data_dir(data_dir)
    rows = []
    for need in NEEDS:
        path = root / need.file if root is not None else None
        if path is not None and path.is_file():
            rows.append((need.file, need.used_by, f"data directory: {path}", ""))
        elif need.embedded:
            rows.append((need.file, need.used_by, f"EMBEDDED: {need.embedded}",
                         f"for the rest: {need.how}" if need.partial else ""))
        else:
            rows.append((need.file, need.used_by, "MISSING", need.how))
    return describe_data_dir(data_dir), rows
