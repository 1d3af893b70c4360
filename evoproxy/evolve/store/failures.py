"""What goes wrong with a run store, in one line: damage (garbage, bad JSON, rows of the wrong shape) and a
full disk (what to do once space is freed: resume, or start again when nothing was stored)."""
from __future__ import annotations

import errno
import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from evoproxy.errors import EvoproxyError


@contextmanager
def damaged_store(path: Path, structural: bool = False) -> Iterator[None]:
    """Turn a damaged run store (garbage in the file, bad JSON, and with ``structural`` rows of the
    wrong shape) into one line naming it; a full disk into one line saying what to do once space is freed."""
    kinds: tuple = (sqlite3.DatabaseError, json.JSONDecodeError)
    if structural:
        kinds += (KeyError, TypeError, ValueError, IndexError, AttributeError)
    try:
        yield
    except (sqlite3.OperationalError, OSError) as err:
        if _disk_full(err):  # the store is fine: what is stored stays
            raise EvoproxyError(_full_disk(Path(path), err)) from None
        if isinstance(err, OSError):
            raise
        raise EvoproxyError(_damaged(path, err)) from None
    except kinds as err:
        raise EvoproxyError(_damaged(path, err)) from None


def _disk_full(err: Exception) -> bool:
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    return "disk is full" in str(err) or "disk I/O error" in str(err)


def _full_disk(path: Path, err: Exception) -> str:
    why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    then = (f"continue with --resume {path.parent}; nothing it stored is lost" if _stored_generations(path)
            else "start the run again (it had stored no generation, so its folder is removed)")
    return f"cannot write to run {path.parent} ({why}): free some disk space, then {then}"


def _stored_generations(path: Path) -> int:
    """Generations committed in the store at ``path`` (0 when there is no store or no table yet; 1 when it
    cannot be read, so the advice keeps the run)."""
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as err:  # a store cut short before its tables were written holds nothing to resume
        return 0 if "no such table" in str(err) else 1


def _damaged(path: Path, err: Exception) -> str:
    return (f"run store {path} is damaged ({type(err).__name__}: {str(err)[:100]}); restore it from a copy, or start "
            "a new run with another --out")
