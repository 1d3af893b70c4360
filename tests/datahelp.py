"""Shared by the data-marked tests: is a file present in the data directory?"""
from evoproxy.data.paths import resolve_data_dir
from evoproxy.errors import DataMissing


def have_data(relpath: str) -> bool:
    try:
        root = resolve_data_dir()
    except DataMissing:
        return False
    return root is not None and (root / relpath).is_file()
