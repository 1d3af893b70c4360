"""Numbers kept across commands and runs, each kind in one SQLite file of the cache folder: ``cache/`` in
the data directory, or ``$EVOPROXY_CACHE_DIR``.

Two processes may write at once (WAL, one short transaction per write, the first value of a key kept).
A cache that cannot be opened, read or written is one warning line, and the work goes on without it.
A value may be NaN (stored as NULL): known to be NaN, which is not the same as unknown.
"""
from __future__ import annotations

import math
import os
import sqlite3
import sys
from pathlib import Path
from typing import Iterable, Optional

from evoproxy.data.paths import resolve_data_dir, user_data_dir
from evoproxy.errors import DataMissing

CACHE_ENV = "EVOPROXY_CACHE_DIR"
CHUNK = 500  # keys per SELECT (SQLite's parameter limit is 999 on old builds)


def cache_dir(data_dir=None) -> Path:
    """``$EVOPROXY_CACHE_DIR``, else ``cache/`` in the data directory (the per-user one when none)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return (resolve_data_dir(data_dir) or user_data_dir()) / "cache"


def cache_file(name: str, data_dir=None) -> Optional[Path]:
    """``name`` in the cache folder, or None (one warning) when there is no folder to put it in."""
    try:
        return cache_dir(data_dir) / name
    except DataMissing as e:  # reported again by whatever loads the data
        print(f"warning: no cache folder ({e})", file=sys.stderr)
        return None


class KeyValueCache:
    """``key -> float`` in the table ``table`` of the SQLite file ``path`` (``None``: nothing kept)."""

    def __init__(self, path: Optional[Path], table: str, what: str) -> None:
        self.table, self.what = table, what
        self.db: Optional[sqlite3.Connection] = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value REAL, note TEXT)")
            except (OSError, sqlite3.Error) as e:
                self._give_up(f"cannot open the {what} {path} ({e})")

    def _give_up(self, why: str) -> None:
        print(f"warning: {why}; going on without it (set {CACHE_ENV} to a writable folder to keep "
              f"the {self.what} between runs)", file=sys.stderr)
        if self.db is not None:
            self.db.close()
        self.db = None

    def get_many(self, keys: Iterable[str]) -> dict[str, float]:
        """The known values among ``keys`` (NaN where NaN was stored)."""
        keys, out = list(dict.fromkeys(keys)), {}
        for start in range(0, len(keys), CHUNK):
            if self.db is None:
                break
            chunk = keys[start:start + CHUNK]
            try:
                rows = self.db.execute(f"SELECT key, value FROM {self.table} WHERE key IN "
                                       f"({','.join('?' * len(chunk))})", chunk).fetchall()
            except sqlite3.Error as e:
                self._give_up(f"cannot read the {self.what} ({e})")
                break
            out.update({k: math.nan if v is None else float(v) for k, v in rows})
        return out

    def put_many(self, items: dict[str, float], note: str = "") -> None:
        """Store ``items`` (a key already there keeps its first value)."""
        if self.db is None or not items:
            return
        rows = [(k, None if math.isnan(v) else float(v), note) for k, v in items.items()]
        try:
            with self.db:
                self.db.executemany(f"INSERT OR IGNORE INTO {self.table} VALUES (?, ?, ?)", rows)
        except sqlite3.Error as e:
            self._give_up(f"cannot write the {self.what} ({e})")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
