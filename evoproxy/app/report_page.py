"""The report's one HTML page: self-contained (figures inlined as base64 PNG), no server, no script."""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence

MAX_ROWS = 40  # longer tables are in their CSV, linked


def _table(columns: Sequence[str], rows: Sequence[dict]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows[:MAX_ROWS])
    more = f"<p>{len(rows) - MAX_ROWS} more rows in the CSV.</p>" if len(rows) > MAX_ROWS else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


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
             "img{max-width:100%}figure{margin:1em 0}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(meta['title'])}</title>" \
           f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
