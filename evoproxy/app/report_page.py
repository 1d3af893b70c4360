"""The report's one HTML page: self-contained (figures inlined as base64 PNG), no server, no script."""
from __future__ import annotations

import base64
import contextlib
import errno
import html
import os
from pathlib import Path
from typing import Sequence

MAX_ROWS = 40  # longer tables are in their CSV, linked


def _table(columns: Sequence[str], rows: Sequence[dict]) -> str:
    """A table no wider than the page: formulas wrap anywhere, anything wider scrolls in its box."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    cls = {c: ' class="formula"' if c == "formula" else "" for c in columns}
    body = "".join("<tr>" + "".join(f"<td{cls[c]}>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows[:MAX_ROWS])
    more = f"<p>{len(rows) - MAX_ROWS} more rows in the CSV.</p>" if len(rows) > MAX_ROWS else ""
    return f'<div class="table"><table><tr>{head}</tr>{body}</table></div>{more}'


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _image(png: Path, table: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    return f'<figure><img alt="{png.stem}" src="data:image/png;base64,{data}"><figcaption>{png.name} ' \
           f'(data: <a href="{table}.csv">{table}.csv</a>)</figcaption></figure>'


def write(out: Path, meta: dict, tables: dict, pngs: Sequence[tuple[Path, str]]) -> Path:
    parts = [f"<h1>{html.escape(meta['title'])}</h1>"]
    config = meta.get("config")
    if config:
        keys = ("benchmarks", "fitness", "population", "generations", "offspring", "selection", "seed")
        parts.append("<p>" + ", ".join(f"{k} = {html.escape(str(config.get(k)))}" for k in keys if k in config)
                     + f"; status: {html.escape(str(meta.get('status')))}</p>")
    parts += [_image(png, table) for png, table in pngs]
    shown = ("hall_of_fame", "baselines", "pareto", "scores", "allocations")
    for name in (n for n in shown if n in tables):
        columns, rows = tables[name]
        parts.append(f'<h2>{name.replace("_", " ")} (<a href="{name}.csv">{name}.csv</a>)</h2>')
        parts.append(_table(columns, rows))
    others = [n for n in tables if n not in shown]
    if others:
        parts.append("<p>Data files: " + ", ".join(f'<a href="{n}.csv">{n}.csv</a>' for n in others) + "</p>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
             "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
             "img{max-width:100%}figure{margin:1em 0}"
             ".table{max-width:100%;overflow-x:auto}td.formula{word-break:break-all;min-width:16em}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(meta['title'])}</title>" \
           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    path = out / "index.html"
    write_atomic(path, page)
    return path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` under a temporary name beside ``path``, then rename it: a full disk or a kill
    leaves the old file or none, never a partial one (the temporary file is removed on failure)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def cannot_write(err: OSError, out_dir: Path) -> str:
    """One line for a report that could not be written: what failed, and what to do."""
    if err.errno in DISK_FULL:
        todo = "free some space (or give --out a folder on another disk) and run `evoproxy report` again"
    elif err.errno in NOT_WRITABLE:
        todo = "give --out a folder you can write"
    else:
        todo = "give --out another folder"
    where = f" ({err.filename})" if err.filename else ""
    return f"cannot write the report into {out_dir}: {err.strerror or err}{where}; {todo} (no partial file is left)"
