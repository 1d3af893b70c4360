"""Opening a run store's SQLite file: read-write for a search, read-only for the commands that only look.

A reading command (``status``, ``runs``, ``export``, ``report``) opens the store with ``mode=ro``, so
a run folder the user cannot write (a read-only disk, a colleague's folder, ``chmod a-w``) can still be
read. In WAL mode even a reader needs the ``-shm`` file beside the store; where that cannot be created
(the folder itself is read-only) the store is opened ``immutable=1``, which reads the main file as it
is (a run that finished, or stopped cleanly, has everything there; a note says when a left-over
write-ahead log could not be read).
"""
from __future__ import annotations

import os
import sqlite3
import warnings
from pathlib import Path

from evoproxy.errors import EvoproxyError, EvoproxyNote


def _connect(uri: str) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)


def _probe(uri: str) -> sqlite3.Connection:
    """A connection that has read the schema once (where opening actually fails)."""
    conn = _connect(uri)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the store at ``path``; nothing is written into its folder by it
    where the folder is read-only."""
    if not path.is_file():
        raise EvoproxyError(f"no run store at {path}; start a run with --out")
    if not os.access(path, os.R_OK):
        raise EvoproxyError(f"cannot read the run store {path} (permission denied); make it readable "
                            f"(chmod u+r {path}) or ask its owner for a copy")
    uri = path.resolve().as_uri()
    try:
        return _probe(uri + "?mode=ro")
    except sqlite3.OperationalError:  # the -shm/-wal beside it cannot be created: a read-only folder
        pass
    try:
        conn = _probe(uri + "?mode=ro&immutable=1")
    except sqlite3.OperationalError as exc:
        raise EvoproxyError(f"cannot read the run store {path} ({exc}); check that it and its folder are "
                            "readable") from None
    wal = Path(str(path) + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        warnings.warn(f"{path.parent} is read-only and holds a write-ahead log ({wal.name}) that could not be "
                      "read without writing; what it holds (the last generations of a run that was killed) is "
                      "left out: copy the folder somewhere writable to see everything", EvoproxyNote, stacklevel=2)
    return conn


def open_readwrite(path: Path, create: bool) -> sqlite3.Connection:
    """A read-write connection (WAL journal, ``synchronous=FULL``) for a search; one line when it cannot be."""
    if not create and not path.is_file():
        raise EvoproxyError(f"no run store at {path}; start a run with --out")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path.resolve().as_uri() + ("?mode=rwc" if create else "?mode=rw"))
    except (OSError, sqlite3.Error) as exc:
        raise EvoproxyError(f"cannot open run store at {path} ({exc}); check the --out directory") from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        conn.close()
        raise EvoproxyError(_unusable(path, exc)) from None
    return conn


def _unusable(path: Path, exc: sqlite3.Error) -> str:
    if not (os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))):
        return (f"run store {path} is read-only ({exc}); a search writes to it: make {path.parent} writable, or "
                f"copy the folder somewhere writable and --resume the copy (reading it works as it is: "
                f"evoproxy status / report --out DIR / export)")
    return f"{path} is not a usable run store ({exc}); use another --out directory"
