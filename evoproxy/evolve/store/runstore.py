"""The embedded SQLite run store of an evolution run: one file, ``RUN_DIR/run.sqlite``.

Durability: WAL journal with ``synchronous=FULL``; everything of one generation (its
candidates, the population after it, the driver state and the summary) is written in one
transaction, so a killed run resumes from its last committed generation and never sees a
partly written one.

Values are stored as JSON text or SQLite rows, never pickled. Before encoding, NaN and
infinite floats become ``null`` (``None``), tuples become lists and numpy scalars/arrays
become Python numbers/lists. The REAL column ``candidates.fitness`` stores NaN and ``None``
as SQL NULL and reads NULL back as ``float("nan")``; infinities are kept there.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

from evoproxy.errors import EvoproxyError
from evoproxy.evolve.store.codec import dumps, to_real
from evoproxy.evolve.store.connect import open_readonly, open_readwrite

SCHEMA_VERSION = 1
DB_NAME = "run.sqlite"
_RESERVED = ("schema_version", "config")
_MISSING = object()
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generations (generation INTEGER PRIMARY KEY,
    population TEXT NOT NULL, state TEXT NOT NULL, summary TEXT NOT NULL,
    committed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (generation INTEGER NOT NULL, idx INTEGER NOT NULL,
    text TEXT NOT NULL, canonical TEXT NOT NULL, hash TEXT NOT NULL, origin TEXT NOT NULL,
    parents TEXT NOT NULL, fitness REAL, scores TEXT NOT NULL, rejection TEXT,
    reused_from TEXT, PRIMARY KEY (generation, idx));
CREATE INDEX IF NOT EXISTS candidates_hash ON candidates (hash);
CREATE TABLE IF NOT EXISTS hall_of_fame (rank INTEGER PRIMARY KEY, entry TEXT NOT NULL)
"""
_CAND_COLS = ("generation, idx, text, canonical, hash, origin, parents, fitness, scores, "
              "rejection, reused_from")


@dataclass(frozen=True)
class CandidateRow:
    """One candidate program created during a run, with how it was judged."""

    generation: int  # generation number (0 = initial population)
    index: int  # position within the generation (order of creation)
    text: str  # program text as created
    canonical: str  # canonical text
    hash: str  # 16-hex hash of the canonical text
    origin: str  # "init", "random", "crossover", "mutation", "crossover+mutation", ...
    parents: list[str]  # parent hashes (lineage)
    fitness: Optional[float]  # search fitness; None/NaN if rejected (read back as NaN)
    scores: dict  # e.g. {"kendall": .., "spearman": .., "per_benchmark": {...}}
    rejection: Optional[str]  # None if fully evaluated, else the reason ("nan", "ties", ...)
    reused_from: Optional[str]  # hash whose fitness was reused, else None


class RunStore:
    """The run store in ``run_dir``; a context manager that closes the connection.

    ``readonly``: for commands that only look (``status``, ``runs``, ``export``, ``report``): the
    store is opened read-only (:func:`.connect.open_readonly`), so a run folder nobody may write
    can be read; nothing is created, and a write raises.
    """

    def __init__(self, run_dir: str | Path, create: bool = True, readonly: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        self.readonly = readonly
        self._conn = open_readonly(self.path) if readonly else open_readwrite(self.path, create)
        try:
            self._check_schema(create and not readonly)
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def reader(cls, run_dir: str | Path) -> "RunStore":
        """The store of an existing run, opened read-only."""
        return cls(run_dir, create=False, readonly=True)

    def _tables(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {r[0] for r in rows}

    def _check_schema(self, create: bool) -> None:
        if self.readonly:
            self._check_version(self._tables(), create)
            return
        with self._transaction():
            self._check_version(self._tables(), create)
            for stmt in _SCHEMA.split(";"):
                self._conn.execute(stmt)
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                               (dumps(SCHEMA_VERSION),))

    def _check_version(self, tables: set[str], create: bool) -> None:
        if "meta" not in tables and (tables or not create):
            raise EvoproxyError(f"no run store at {self.path}; start a run with --out")
        if "meta" in tables:
            found = self._meta_raw("schema_version")
            if found != SCHEMA_VERSION:
                raise EvoproxyError(
                    f"run store {self.path} has schema version {found}, this evoproxy "
                    f"reads {SCHEMA_VERSION}; use a matching evoproxy or a new --out")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (holding the write lock from the start); rolled back on error."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta and config ---------------------------------------------------------------

    def _meta_raw(self, key: str) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a small JSON value under ``key`` (replacing any earlier one)."""
        if key in _RESERVED:
            raise ValueError(f"meta key {key!r} is reserved")
        with self._transaction():
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def save_config(self, config: dict) -> None:
        """Store the run config once; an equal config again is a no-op, a different one raises."""
        if not isinstance(config, dict):
            raise TypeError("config must be a dict")
        new = json.loads(dumps(config))
        with self._transaction():
            old = self._meta_raw("config")
            if old is None:
                self._conn.execute("INSERT INTO meta VALUES ('config', ?)", (dumps(new),))
                return
        if old != new:
            keys = sorted(k for k in old.keys() | new.keys()
                          if old.get(k, _MISSING) != new.get(k, _MISSING))
            raise EvoproxyError(
                f"run config differs from the one stored in {self.path} in: {', '.join(keys)}; "
                "resume with the same settings or start a new run with another --out")

    def load_config(self) -> Optional[dict]:
        """The stored run config, or None before :meth:`save_config`."""
        return self._meta_raw("config")

    # -- generations -------------------------------------------------------------------

    def commit_generation(self, generation: int, candidates: list[CandidateRow],
                          population: list[dict], state: dict, summary: dict) -> None:
        """Write one generation (candidates, population after it, state, summary) atomically."""
        if any(c.generation != generation for c in candidates):
            raise ValueError(f"a candidate of generation {generation} has another generation")
        rows = [self._cand_row(c) for c in candidates]
        gen_row = (generation, dumps(population), dumps(state), dumps(summary),
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))
        with self._transaction():
            last = self._last_generation()
            if generation < 0 or (last is not None and generation <= last):
                raise ValueError(f"cannot commit generation {generation}: last committed is {last}")
            try:
                self._insert_candidates(rows)
            except sqlite3.IntegrityError:
                raise ValueError(f"duplicate candidate index in generation {generation}") from None
            self._insert_generation(gen_row)

    @staticmethod
    def _cand_row(c: CandidateRow) -> tuple:
        return (c.generation, c.index, c.text, c.canonical, c.hash, c.origin, dumps(c.parents),
                to_real(c.fitness), dumps(c.scores), c.rejection, c.reused_from)

    def _insert_candidates(self, rows: list[tuple]) -> None:
        self._conn.executemany(f"INSERT INTO candidates ({_CAND_COLS}) "
                               "VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    def _insert_generation(self, row: tuple) -> None:
        self._conn.execute("INSERT INTO generations VALUES (?,?,?,?,?)", row)

    def _last_generation(self) -> Optional[int]:
        return self._conn.execute("SELECT MAX(generation) FROM generations").fetchone()[0]

    def last_generation(self) -> Optional[int]:
        """The last committed generation, or None if none is."""
        return self._last_generation()

    def load_generation(self, generation: int) -> tuple[list[dict], dict, dict]:
        """``(population, state, summary)`` of a committed generation."""
        row = self._conn.execute("SELECT population, state, summary FROM generations "
                                 "WHERE generation=?", (generation,)).fetchone()
        if row is None:
            raise EvoproxyError(
                f"generation {generation} is not in the run store at {self.path} (last "
                f"committed: {self._last_generation()}); pick a committed generation")
        return json.loads(row[0]), json.loads(row[1]), json.loads(row[2])

    def candidates(self, generation: Optional[int] = None) -> list[CandidateRow]:
        """All candidates, or those of one generation, in (generation, index) order."""
        sql = f"SELECT {_CAND_COLS} FROM candidates"
        args: tuple = ()
        if generation is not None:
            sql, args = sql + " WHERE generation=?", (generation,)
        rows = self._conn.execute(sql + " ORDER BY generation, idx", args).fetchall()
        return [CandidateRow(g, i, t, c, h, o, json.loads(p),
                             float("nan") if f is None else f, json.loads(s), r, u)
                for g, i, t, c, h, o, p, f, s, r, u in rows]

    def commit_times(self) -> list[tuple[int, str]]:
        """``(generation, ISO time it was committed)`` for every committed generation, in order."""
        return self._conn.execute("SELECT generation, committed_at FROM generations ORDER BY generation").fetchall()

    def summaries(self) -> list[dict]:
        """One summary per committed generation, in order, each with its ``"generation"``."""
        rows = self._conn.execute("SELECT generation, summary FROM generations "
                                  "ORDER BY generation").fetchall()
        return [{"generation": g, **{k: v for k, v in json.loads(s).items() if k != "generation"}}
                for g, s in rows]

    # -- hall of fame ------------------------------------------------------------------

    def save_hall_of_fame(self, entries: list[dict]) -> None:
        """Replace the stored hall of fame with ``entries`` (best first)."""
        rows = [(rank, dumps(e)) for rank, e in enumerate(entries)]
        with self._transaction():
            self._conn.execute("DELETE FROM hall_of_fame")
            self._conn.executemany("INSERT INTO hall_of_fame VALUES (?, ?)", rows)

    def hall_of_fame(self) -> list[dict]:
        """The stored hall of fame, in rank order (empty if none was saved)."""
        rows = self._conn.execute("SELECT entry FROM hall_of_fame ORDER BY rank").fetchall()
        return [json.loads(r[0]) for r in rows]
