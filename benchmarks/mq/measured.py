"""Measured PTQ top-1 by bit configuration, kept across commands and runs, so each configuration is
measured once: ``bench build`` (tables and budget strata), ``allocate`` and the allocation loop share it.

The cache is one SQLite file, ``measured-top1.sqlite`` in the data directory's ``cache/`` folder
(``EVOPROXY_CACHE_DIR`` names another folder). Rows are keyed by the measurement recipe (the
checkpoint's sha256, the quantization method, the test images) and the configuration's canonical
form; two processes may write at once (WAL, one short transaction per row, the first value kept).
A cache that cannot be opened or written is reported in one line and the run goes on uncached.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

from evoproxy.data.cache import CACHE_ENV, cache_dir
from evoproxy.errors import DataMissing

FILE = "measured-top1.sqlite"
SCHEMA = ("CREATE TABLE IF NOT EXISTS top1 (recipe TEXT NOT NULL, config TEXT NOT NULL, top1 REAL NOT NULL, "
          "origin TEXT NOT NULL, PRIMARY KEY (recipe, config))")


def recipe_key(checkpoint_sha256: str, method, test_seed: int) -> str:
    """What makes two measurements of one configuration the same: checkpoint, method, test images."""
    recipe = {"checkpoint": checkpoint_sha256, "method": asdict(method),
              "test": [method.test_limit, test_seed if method.test_limit else None]}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:24]


class MeasuredTop1:
    """Top-1 by (recipe, configuration): the SQLite file at ``path`` (``None``: this process only)."""

    def __init__(self, path: Optional[Path]) -> None:
        self.memory: dict[tuple[str, str], float] = {}
        self.db: Optional[sqlite3.Connection] = None
        self.measured = self.reused = 0
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(path), timeout=60)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute(SCHEMA)
            except (OSError, sqlite3.Error) as e:
                self._give_up(f"cannot open the measurement cache {path} ({e})")

    def _give_up(self, why: str) -> None:
        print(f"warning: {why}; measuring without it (set {CACHE_ENV} to a writable folder to keep "
              "measurements between runs)", file=sys.stderr)
        if self.db is not None:
            self.db.close()
        self.db = None

    def remember(self, recipe: str, top1: dict[str, float]) -> None:
        """Known measurements (a table's rows) for this process."""
        self.memory.update({(recipe, config): value for config, value in top1.items()})

    def get(self, recipe: str, config: str) -> Optional[float]:
        if (recipe, config) not in self.memory and self.db is not None:
            try:
                row = self.db.execute("SELECT top1 FROM top1 WHERE recipe = ? AND config = ?",
                                      (recipe, config)).fetchone()
            except sqlite3.Error as e:
                self._give_up(f"cannot read the measurement cache ({e})")
                row = None
            if row is not None:
                self.memory[(recipe, config)] = float(row[0])
        return self.memory.get((recipe, config))

    def put(self, recipe: str, config: str, top1: float, origin: str) -> None:
        self.memory[(recipe, config)] = top1
        if self.db is not None:
            try:
                with self.db:
                    self.db.execute("INSERT OR IGNORE INTO top1 VALUES (?, ?, ?, ?)", (recipe, config, top1, origin))
            except sqlite3.Error as e:
                self._give_up(f"cannot write the measurement cache ({e})")

    def get_or_measure(self, recipe: str, config: str, origin: str, measure: Callable[[], float]) -> float:
        """The cached top-1 of ``config``, else ``measure()`` (rounded as tables are) stored as ``origin``."""
        known = self.get(recipe, config)
        if known is not None:
            self.reused += 1
            return known
        top1 = round(float(measure()), 2)
        self.measured += 1
        self.put(recipe, config, top1, origin)
        return top1

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def open_measured(data_dir=None) -> MeasuredTop1:
    """The shared cache of the data directory (or ``$EVOPROXY_CACHE_DIR``)."""
    try:
        folder = cache_dir(data_dir)
    except DataMissing as e:  # reported again by whatever loads the data
        print(f"warning: no measurement cache ({e})", file=sys.stderr)
        return MeasuredTop1(None)
    return MeasuredTop1(folder / FILE)
