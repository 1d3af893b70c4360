"""``evoproxy report``: a run's (or an ``eval --save`` file's, or an ``allocate --json`` file's)
figures as PNGs, the data of each figure as CSV beside it, and one self-contained HTML page.

The tables are the report's substance (tests check them, not pixels); :mod:`.figures` draws them.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from evoproxy.app import figures, report_page
from evoproxy.app.file_reports import allocate_tables, eval_tables
from evoproxy.app.runs import StoredRun, read_run
from evoproxy.evolve.results import BaselineEntry, SearchResult
from evoproxy.errors import EvoproxyError, EvoproxyNote
from evoproxy.lang.program import Program, parse
from evoproxy.scoring.fitness import kendall, spearman
from evoproxy.scoring.summary import rankable
from evoproxy.evolve.store import rundir

Table = tuple[list[str], list[dict]]
MAX_PANELS = 60  # an eval file's figure draws at most this many proxies (all are in its CSV)


def build_report(target: str, out: Optional[str] = None, compare: Sequence[str] = ()) -> Path:
    """Write the report of ``target`` into ``out`` (default beside it); the HTML page's path. Every
    file is written under a temporary name and renamed, so a full disk leaves no partial file.
    ``compare``: other finished runs whose time-to-quality curves are drawn beside the target's."""
    kind, tables, meta, default_out = _read_target(Path(target))
    if compare:
        if kind != "search":
            raise EvoproxyError(f"--compare draws runs beside a run; {target} is not a run directory")
        rows = tables.get("time_to_quality", (TTQ_COLUMNS, []))[1] + [r for c in compare for r in _curve_rows(c)]
        tables["time_to_quality"] = (TTQ_COLUMNS, rows)
    out_dir = Path(out) if out else default_out
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, (columns, rows) in tables.items():
            report_page.write_atomic(out_dir / f"{name}.csv", rundir.csv_text(columns, rows))
        pngs = draw(kind, tables, meta, out_dir)
        return report_page.write(out_dir, meta, tables, pngs)
    except OSError as err:
        raise EvoproxyError(report_page.cannot_write(err, out_dir)) from None


def _read_target(path: Path) -> tuple[str, dict[str, Table], dict, Path]:
    """What the report is of: its kind, tables, page metadata and default output folder."""
    if path.is_dir():
        run = read_run(path)
        meta = {"title": f"evoproxy search: {path}", "config": run.config, "result": run.result,
                "status": run.status or "not finished"}
        return "search", search_tables(run), meta, path / "report"
    beside = path.with_name(path.stem + "-report")
    if path.suffix == ".csv" and path.is_file():
        return "eval", eval_tables(path), {"title": f"evoproxy eval: {path.name}"}, beside
    if path.suffix == ".json" and path.is_file():
        return "allocate", allocate_tables(path), {"title": f"evoproxy allocate: {path.name}"}, beside
    raise EvoproxyError(f"{path} is neither a run directory, an `evoproxy eval --save` CSV nor an "
                        "`evoproxy allocate --json` file")


# ---- a search run --------------------------------------------------------------------------------

def search_tables(run: StoredRun) -> dict[str, Table]:
    """The tables of a run read by :func:`evoproxy.app.runs.read_run`."""
    summaries, result = run.summaries, run.result
    gens = [rundir.generation_row(s, run.config.get("combine", "mean")) for s in summaries]
    tables: dict[str, Table] = {
        "generations": (list(rundir.GENERATION_COLUMNS), gens),
        "rejections": (["generation", "reason", "count"],
                       [{"generation": s["generation"], "reason": r, "count": n}
                        for s in summaries for r, n in sorted((s.get("rejections") or {}).items())])}
    if result is None:
        return tables  # a running or stopped run: what the generations show
    rows = rundir.hall_of_fame_rows(result)
    tables["hall_of_fame"] = (rundir.hall_of_fame_columns(rows), rows)
    tables["baselines"] = (["proxy", "search", "selection", "holdout_kendall", "holdout_spearman"],
                           [_baseline_row(b) for b in result.baselines])
    tables["pareto"] = (["size", "search_fitness", "formula"], result.pareto)
    if result.holdout_scores:
        tables["holdout_scores"] = holdout_table(result.holdout_scores)
    if result.progress:
        tables["time_to_quality"] = (TTQ_COLUMNS, quality_rows(result, str(run.run_dir)))
    if result.best:
        tables["formula"] = (["id", "label", "parent", "depth", "x"], tree_nodes(parse(result.best.formula)))
    return tables


TTQ_COLUMNS = ["run", "generation", "minutes", "benchmark", "kendall", "spearman", "formula"]


def quality_rows(result: SearchResult, label: str) -> list[dict]:
    """Time to quality, long: per generation and benchmark, the population's best program's final-holdout
    figures against the minutes since the start."""
    return [{"run": label, "generation": p["generation"], "minutes": p["minutes"], "benchmark": bench,
             "kendall": f.get("kendall"), "spearman": f.get("spearman"), "formula": p["formula"]}
            for p in result.progress for bench, f in p["holdout"].items()]


def _curve_rows(run_dir: str) -> list[dict]:
    run = read_run(run_dir)
    if run.result is None or not run.result.progress:
        why = ("no finished search" if run.result is None else
               "its report has no time-to-quality record (a run finished before evoproxy kept one)")
        raise EvoproxyError(f"--compare {run_dir}: {why}; give a run finished by this version")
    return quality_rows(run.result, str(run_dir))


def _mean(figures_: Optional[dict], metric: str) -> Optional[float]:
    values = [f.get(metric) for f in (figures_ or {}).values()]
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else None


def _baseline_row(b: BaselineEntry) -> dict:
    return {"proxy": b.proxy, "search": _mean(b.search, "kendall"), "selection": _mean(b.selection, "kendall"),
            "holdout_kendall": _mean(b.holdout, "kendall"), "holdout_spearman": _mean(b.holdout, "spearman")}


def holdout_table(scores: dict) -> Table:
    """Long rows: benchmark, arch id, accuracy and one column per proxy scored there."""
    names = list(dict.fromkeys(n for b in scores.values() for n in b["scores"]))
    rows = []
    for bench, b in scores.items():
        for j, (arch, acc) in enumerate(zip(b["arch_ids"], b["accuracy"])):
            rows.append({"benchmark": bench, "arch_id": arch, "accuracy": acc,
                         **{n: b["scores"][n][j] for n in names if n in b["scores"]}})
    return ["benchmark", "arch_id", "accuracy", *names], rows


def tree_nodes(p: Program) -> list[dict]:
    """The program's nodes for drawing: leaves at x = 0, 1, 2 ... from left to right, a parent above
    the middle of its children."""
    nodes: list[dict] = []
    leaves = iter(range(p.size))

    def visit(q: Program, parent, depth: int) -> float:
        me = len(nodes)
        nodes.append({"id": me, "label": f"{q.value:g}" if q.is_const else q.head, "parent": parent,
                      "depth": depth, "x": 0.0})
        children = [] if q.is_const or q.is_stat else list(q.args)
        xs = [visit(a, me, depth + 1) for a in children]
        nodes[me]["x"] = sum(xs) / len(xs) if xs else float(next(leaves))
        return nodes[me]["x"]
    visit(p, "", 0)
    return nodes


def panels(table: Table, proxies: list[str], bench: Optional[str] = None) -> list[dict]:
    """Scatter panels (accuracy, scores, tau, rho) of named proxies from a holdout or eval table."""
    rows = [r for r in table[1] if bench is None or r.get("benchmark") == bench]
    acc = np.array([float(r["accuracy"]) for r in rows])
    out = []
    for name in proxies:
        s = np.array([np.nan if r.get(name) in (None, "") else float(r[name]) for r in rows])
        ranked = rankable(s)
        out.append({"name": name, "accuracy": acc, "scores": s, "kendall": kendall(ranked, acc),
                    "spearman": spearman(ranked, acc)})
    return out


def draw(kind: str, tables: dict[str, Table], meta: dict, out: Path) -> list[tuple[Path, str]]:
    """The figures as ``(png, the table its data is in)``."""
    if kind == "eval":
        proxies = tables["scores"][0][2:]
        if len(proxies) > MAX_PANELS:
            warnings.warn(f"the figure draws the first {MAX_PANELS} of {len(proxies)} proxies; all are in "
                          "scores.csv", EvoproxyNote, stacklevel=3)
        drawn = panels(tables["scores"], proxies[:MAX_PANELS])
        return [(figures.eval_scatter(drawn, out / "scatter.png"), "scores")]
    if kind == "allocate":
        return [(figures.allocation(tables["allocations"][1], out / "allocations.png"), "allocations")]
    gens = tables["generations"][1]
    pngs = []
    if gens:
        base = [b for b in tables.get("baselines", ([], []))[1] if b["search"] is not None]
        fitness = meta["config"].get("fitness", "kendall")
        pngs.append((figures.convergence(gens, base, fitness, out / "convergence.png"), "generations"))
    if "holdout_scores" in tables:
        pngs.append((figures.holdout_scatter(_holdout_panels(tables), out / "holdout.png"), "holdout_scores"))
    if "pareto" in tables and tables["pareto"][1]:
        pngs.append((figures.pareto(tables["pareto"][1], out / "pareto.png"), "pareto"))
    if "time_to_quality" in tables:
        measure = "spearman" if meta["config"].get("fitness") == "spearman" else "kendall"
        pngs.append((figures.time_to_quality(tables["time_to_quality"][1], measure, out / "time_to_quality.png"),
                     "time_to_quality"))
    if tables["rejections"][1]:
        pngs.append((figures.rejections(tables["rejections"][1], out / "rejections.png"), "rejections"))
    if gens:
        pngs.append((figures.diversity(gens, out / "diversity.png"), "generations"))
    if "formula" in tables:
        title = meta["result"].best.formula
        pngs.append((figures.formula_graph(tables["formula"][1], title, out / "formula.png"), "formula"))
    return pngs


def _holdout_panels(tables: dict[str, Table]) -> list[dict]:
    """The best evolved formula, the best baseline on the holdout and the ensemble (first benchmark)."""
    columns = tables["holdout_scores"][0][3:]
    bench = tables["holdout_scores"][1][0]["benchmark"]
    base = [b for b in tables["baselines"][1] if b["proxy"] in columns and b["holdout_kendall"] is not None]
    best_base = max(base, key=lambda b: b["holdout_kendall"])["proxy"] if base else None
    wanted = [n for n in ("evolved #1", best_base, "ensemble") if n in columns]
    return [{**p, "name": f"{p['name']} ({bench})"} for p in panels(tables["holdout_scores"], wanted, bench)]

