"""Resumable benchmark tables: a CSV that grows one finished row at a time, with a provenance sidecar.

A build appends each row as soon as it is measured, so an interrupted build resumes; the ``.json``
sidecar records how the rows were made, and a build resumes only into a table with the same record.
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Sequence

from evoproxy.errors import EvoproxyError


def read_table(path: Path, columns: Sequence[str], what: str) -> list[dict]:
    """Rows of a table CSV whose header must be exactly ``columns``."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or tuple(reader.fieldnames) != tuple(columns):
            raise EvoproxyError(f"{path} is not {what}: expected columns {', '.join(columns)}")
        return [row for row in reader]


def resume_table(out: Path, prov: dict, columns: Sequence[str], what: str) -> set[int]:
    """Ids already in ``out`` when its sidecar matches ``prov``; starts a new table otherwise.

    Drops a row cut short by a kill. A table built with other settings is refused, naming them.
    """
    side = Path(str(out) + ".json")
    if out.exists() and out.stat().st_size > 0:
        old = json.loads(side.read_text()) if side.exists() else {}
        want = json.loads(json.dumps(prov))
        differ = sorted(k for k in {**old, **want} if k not in ("command", "started")
                        and old.get(k) != want.get(k))
        if differ:
            raise EvoproxyError(f"{out} was built with other settings ({', '.join(differ)} differ; see "
                                f"{side.name}); pass another --out or delete it to start over")
        rows = [r for r in read_table(out, columns, what) if all(r.get(c) for c in columns)]
        with open(out, "w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(rows)
        return {int(r["id"]) for r in rows}
    side.write_text(json.dumps({**prov, "started": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2) + "\n")
    with open(out, "w", newline="") as f:
        csv.writer(f).writerow(columns)
    return set()


def append_row(out: Path, row: Sequence) -> None:
    """Append one finished row and flush it to disk."""
    with open(out, "a", newline="") as f:
        csv.writer(f).writerow(row)
