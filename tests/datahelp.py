"""Shared by the data-marked tests: is a file present in the data directory?"""
import pytest

from evoproxy.data.paths import resolve_data_dir
from evoproxy.errors import DataMissing


def have_data(relpath: str) -> bool:
    try:
        root = resolve_data_dir()
    except DataMissing:
        return False
    return root is not None and (root / relpath).is_file()


needs_vit_tables = pytest.mark.skipif(
    not all(have_data(f"vit/{f}") for f in ("gt_pit.csv", "gt_autoformer.csv", "gt_autoformer_2.csv")),
    reason="needs the shared Auto-Prox ground-truth tables (vit/gt_*.csv)")
needs_cifar = pytest.mark.skipif(
    not (have_data("images/cifar10_train_jpeg_bytes.npz") and have_data("images/cifar10_test_jpeg_bytes.npz")),
    reason="needs the shared CIFAR-10 pack")
