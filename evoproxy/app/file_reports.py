"""The tables of the files ``evoproxy report`` reads besides run folders: an ``evoproxy eval --save`` CSV
and an ``evoproxy allocate --json`` file (a wrong file is one :class:`EvoproxyError` line)."""
from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path
from typing import Optional

from evoproxy.errors import EvoproxyError, EvoproxyNote

Table = tuple[list[str], list[dict]]

AGAIN = "write the scores again with `evoproxy eval --proxy ... --save NEW.csv`"


def eval_tables(path: Path) -> dict[str, Table]:
    """An ``evoproxy eval --save`` file as one table, the last row of each network kept (as ``eval``
    reads it). A wrong file is one :class:`EvoproxyError` line; a score cell that is not a number is
    a missing score (ranked lowest, as ``eval`` ranks NaN), counted in one note."""
    lines = _csv_lines(path)
    header = lines[0][1] if lines else []
    if not {"arch_id", "accuracy"} <= set(header):
        raise EvoproxyError(f"{path} is not an `evoproxy eval --save` file (no arch_id, accuracy header, or no rows); "
                            f"give the CSV that `eval --save` wrote, or {AGAIN}")
    proxies = [c for c in header if c not in ("arch_id", "accuracy")]
    if not proxies:
        raise EvoproxyError(f"{path} has no proxy column (only arch_id and accuracy), so there is nothing to draw; "
                            f"{AGAIN}")
    if len(set(header)) < len(header) or "" in header:
        raise EvoproxyError(f"{path}: its header ({', '.join(header)[:200]}) names a column twice or leaves one "
                            f"unnamed; fix the header, or {AGAIN}")
    rows, odd = {}, {"score": [], "accuracy": 0, "short": 0}
    for line, cells in lines[1:]:
        if len(cells) > len(header):
            raise EvoproxyError(f"{path} line {line} has {len(cells)} fields, its header {len(header)}: not an "
                                f"`evoproxy eval --save` row; delete or fix that line, or {AGAIN}")
        if len(cells) < len(header):   # an interrupted write: `eval` probes that network again
            odd["short"] += bool(cells)
            continue
        row = _eval_row(path, line, dict(zip(header, cells)), proxies, odd)
        if row is not None:
            rows[row["arch_id"]] = row
    if not rows:
        raise EvoproxyError(f"{path} has no row with a finite accuracy and all its fields; {AGAIN}")
    _note_odd_cells(path, odd)
    return {"scores": (["arch_id", "accuracy", *proxies], list(rows.values()))}


def _csv_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each row of a UTF-8 text CSV; one line naming what is wrong otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise EvoproxyError(f"cannot read {path} ({err.strerror or err}); check the file and its permissions") from None
    if not raw.strip():
        raise EvoproxyError(f"{path} is empty; an `evoproxy eval --save` file starts with the header "
                            f"arch_id,accuracy,PROXY,...; {AGAIN}")
    def line(at: int) -> int:
        return raw.count(b"\n", 0, at) + 1
    if b"\0" in raw:
        raise EvoproxyError(f"{path} holds a NUL byte (line {line(raw.index(0))}): it is binary or damaged, not an "
                            f"`evoproxy eval --save` CSV; {AGAIN}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise EvoproxyError(f"{path} is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line(err.start)}); "
                            f"convert it (e.g. `iconv -f latin1 -t utf-8`) or {AGAIN}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [(reader.line_num, cells) for cells in reader if cells]
    except csv.Error as err:
        raise EvoproxyError(f"{path} is not a readable CSV (line {reader.line_num}: {err}); {AGAIN}") from None


def _eval_row(path: Path, line: int, row: dict, proxies: list[str], odd: dict) -> Optional[dict]:
    """The row with numbers for its cells; None (counted) for a network without a finite accuracy."""
    text = row["accuracy"].strip()
    try:
        row["accuracy"] = float(text) if text else math.nan
    except ValueError:
        raise EvoproxyError(f"{path} line {line}: accuracy {text[:40]!r} is not a number; the accuracy column holds "
                            f"each network's accuracy after training; fix that line, or {AGAIN}") from None
    if not math.isfinite(row["accuracy"]):
        odd["accuracy"] += 1
        return None
    for name in proxies:
        cell = row[name].strip()
        try:
            row[name] = float(cell) if cell else None
        except ValueError:
            odd["score"].append(f"line {line}, {name}: {cell[:40]!r}")
            row[name] = None
    return row


def _note_odd_cells(path: Path, odd: dict) -> None:
    said = []
    if odd["score"]:
        said.append(f"{len(odd['score'])} score cell(s) are not numbers (first: {odd['score'][0]}); "
                    "they count as missing scores, ranked lowest")
    if odd["accuracy"]:
        said.append(f"{odd['accuracy']} network(s) without a finite accuracy left out")
    if odd["short"]:
        said.append(f"{odd['short']} incomplete row(s) (fewer fields than the header) left out")
    if said:
        warnings.warn(f"{path}: " + "; ".join(said), EvoproxyNote, stacklevel=3)


def allocate_tables(path: Path) -> dict[str, Table]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8").strip().splitlines()[-1])
        rows = doc["rows"]
        if not all(isinstance(r["method"], str) and _number(r["size_mb"]) and (r["top1"] is None or _number(r["top1"]))
                   for r in rows):
            raise ValueError("a row without method, size_mb and top1")
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        raise EvoproxyError(f"{path} is not an `evoproxy allocate --json` output (its last line is one JSON "
                            "object with rows of method, size_mb, top1 ...)") from None
    except OSError as err:
        raise EvoproxyError(f"cannot read {path} ({err.strerror or err}); check the file and its permissions") from None
    return {"allocations": (["budget_mb", "method", "size_mb", "top1", "evaluations", "config"], rows)}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
