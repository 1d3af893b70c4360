"""Where the data files live: one resolver for every command and benchmark.

Search order (first hit wins):

1. an explicit directory (the ``--data-dir`` flag),
2. the ``EVOPROXY_DATA`` environment variable,
3. ``shared/data`` beside the checkout (``<repo>/../shared/data``),
4. a per-user folder: ``$XDG_DATA_HOME/evoproxy/data`` or ``~/.local/share/evoproxy/data``.

An explicit or environment directory that does not exist is an error (a typo should not
silently fall through to another copy); the last two are used only when present.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from evoproxy.errors import DataMissing

ENV_VAR = "EVOPROXY_DATA"
HOW_TO = f"pass --data-dir DIR or set {ENV_VAR}=DIR"

PathLike = Union[str, os.PathLike]


def checkout_data_dir() -> Path:
    """``shared/data`` beside the checkout this module was imported from."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def user_data_dir() -> Path:
    """The per-user data folder (XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "evoproxy" / "data"


def _must_exist(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataMissing(f"data directory {what}={path} does not exist; {HOW_TO} with an existing folder")
    return path


def resolve_data_dir_with_source(explicit: Optional[PathLike] = None) -> tuple[Optional[Path], str]:
    """The data directory and where it came from (``(None, reason)`` when none is found)."""
    if explicit is not None and str(explicit) != "":
        return _must_exist(Path(explicit).expanduser(), "--data-dir"), "--data-dir"
    env = os.environ.get(ENV_VAR, "")
    if env:
        return _must_exist(Path(env).expanduser(), ENV_VAR), ENV_VAR
    for path, source in ((checkout_data_dir(), "beside the checkout"), (user_data_dir(), "per-user folder")):
        if path.is_dir():
            return path, source
    return None, f"none found (tried {checkout_data_dir()} and {user_data_dir()})"


def resolve_data_dir(explicit: Optional[PathLike] = None) -> Optional[Path]:
    """The data directory to use, or ``None`` when there is none (see module docstring)."""
    return resolve_data_dir_with_source(explicit)[0]


def data_file(relpath: PathLike, data_dir: Optional[PathLike] = None) -> Path:
    """Path of ``relpath`` inside the data directory; :class:`DataMissing` if it is not there."""
    root, source = resolve_data_dir_with_source(data_dir)
    if root is None:
        raise DataMissing(f"no data directory for {relpath} ({source}); {HOW_TO}")
    path = root / relpath
    if not path.is_file():
        raise DataMissing(f"data file not found: {path} (data dir from {source}); "
                          f"put it there, or {HOW_TO} pointing at a folder that has {relpath}")
    return path


def describe_data_dir(data_dir: Optional[PathLike] = None) -> str:
    """One line for display: the directory in use and where it came from."""
    try:
        root, source = resolve_data_dir_with_source(data_dir)
    except DataMissing as err:
        return f"invalid: {err}"
    if root is None:
        return f"no data directory: {source}; {HOW_TO}"
    return f"{root} ({source})"
