"""Whether two runs are the same run: every table and meta row of their run stores, wall-clock fields left out.

    python experiments/compare_runs.py RUN_A RUN_B     # exit 0 when identical, 1 (and the first difference) otherwise

Used to check that a refactoring changes no result: run the same config at two commits and compare.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

CLOCK = {"seconds", "evals_per_s", "committed_at", "started", "elapsed_s", "data", "report_seconds", "minutes"}
"""Fields that record when or how fast, or where the data came from (a path), not what was found."""


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in CLOCK}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _cell(value):
    if isinstance(value, (str, bytes)):
        try:
            return _strip(json.loads(value))
        except ValueError:
            return value
    return value


def read_store(run_dir: Path) -> dict[str, list[dict]]:
    """Every table of ``run_dir/run.sqlite`` as rows of column -> value (JSON cells decoded), clock fields dropped."""
    con = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True)
    try:
        out = {}
        for (table,) in con.execute("select name from sqlite_master where type = 'table' order by name"):
            columns = [r[1] for r in con.execute(f"pragma table_info({table})")]
            rows = con.execute(f"select * from {table} order by 1").fetchall()
            out[table] = [{c: _cell(v) for c, v in zip(columns, row) if c not in CLOCK} for row in rows
                          if table != "meta" or row[0] not in CLOCK]  # a meta row per key: drop the clock ones
        return out
    finally:
        con.close()


def differences(a: Path, b: Path) -> list[str]:
    """One line per table: its row count and whether it matches; the first differing row's fields when not."""
    left, right = read_store(a), read_store(b)
    lines = []
    for table in sorted(set(left) | set(right)):
        x, y = left.get(table, []), right.get(table, [])
        if x == y:
            lines.append(f"{table}: {len(x)} rows, same")
            continue
        first = next(((r, s) for r, s in zip(x, y) if r != s), (None, None))
        changed = sorted(k for k in set(first[0] or {}) | set(first[1] or {})
                         if (first[0] or {}).get(k) != (first[1] or {}).get(k))
        lines.append(f"{table}: {len(x)} vs {len(y)} rows, DIFFERENT (first in: {', '.join(changed) or 'row count'})")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    args = ap.parse_args(argv)
    for run in (args.run_a, args.run_b):
        if not (run / "run.sqlite").is_file():
            print(f"{run} holds no run.sqlite; give two run directories", file=sys.stderr)
            return 2
    lines = differences(args.run_a, args.run_b)
    print("\n".join(lines))
    return 0 if all(line.endswith("same") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
