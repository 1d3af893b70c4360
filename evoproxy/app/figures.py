"""The report's figures, drawn with matplotlib (Agg: files only, no display) from the tables of
:mod:`evoproxy.app.run_report`. Each function draws one PNG and returns its path."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

from evoproxy.app.report_page import write_atomic  # noqa: E402

DPI = 80


def _save(fig, path: Path, dpi: int = DPI) -> Path:
    """Draw into memory, then write under a temporary name and rename (no partial PNG on a full disk)."""
    try:
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    write_atomic(path, buf.getvalue())
    return path


def _integer_ticks(axis) -> None:
    """Whole-number ticks on an axis of whole numbers (generations, sizes, counts)."""
    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # one whole number is enough


def _col(rows: Sequence[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) in (None, "") else float(r[key]) for r in rows])


def convergence(rows: Sequence[dict], baselines: Sequence[dict], fitness: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    g = _col(rows, "generation")
    ax.plot(g, _col(rows, "best_fitness"), label=f"best search fitness ({fitness})", lw=2)
    median = _col(rows, "median_fitness")
    if np.isnan(median).all():  # runs from before the median was recorded
        ax.plot(g, _col(rows, "mean_fitness"), label="mean search fitness", lw=1)
    else:
        ax.plot(g, median, label="median search fitness", lw=1)
    ax.plot(g, _col(rows, "best_selection"), label="best program: selection Kendall", lw=1, ls="--")
    for b, color in zip(baselines, plt.cm.tab10(np.linspace(0.3, 1, max(1, len(baselines))))):
        ax.axhline(b["search"], color=color, lw=0.8, ls=":", label=f"{b['proxy']} {b['search']:.3f}")
    ax.set_xlabel("generation")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel("rank correlation")
    ax.set_title("Convergence (dotted: baselines on the search networks, Kendall)", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    return _save(fig, path)


def time_to_quality(rows: Sequence[dict], measure: str, path: Path) -> Path:
    """The population's best program's final-holdout ``measure`` against minutes, one line per run and benchmark."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for run, bench in dict.fromkeys((r["run"], r["benchmark"]) for r in rows):
        line = [r for r in rows if r["run"] == run and r["benchmark"] == bench]
        ax.step(_col(line, "minutes"), _col(line, measure), where="post", marker=".", label=f"{run}: {bench}")
    ax.set_xlabel("minutes since the start (generation 0's probing included)")
    ax.set_ylabel(f"final-holdout {measure}")
    ax.set_title("Time to quality: the population's best program on the final holdout", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
    return _save(fig, path)


def _ranks(values) -> np.ndarray:
    """Fractional ranks (NaN lowest): a rank correlation's picture, whatever the scale."""
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    return rankdata(np.where(np.isfinite(v), v, -np.inf)) / max(len(v), 1)


def holdout_scatter(panels: Sequence[dict], path: Path) -> Path:
    """One panel per proxy: the holdout networks' rank by its score against their rank by accuracy."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.8), squeeze=False)
    for ax, p in zip(axes[0], panels):
        ax.scatter(_ranks(p["accuracy"]), _ranks(p["scores"]), s=8, alpha=0.6,
                   label=f"tau {p['kendall']:.3f}, rho {p['spearman']:.3f}")
        ax.set_title(p["name"], fontsize=9)
        ax.set_xlabel("accuracy after training, rank / n")
        ax.set_ylabel("proxy score, rank / n")
        ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)


def pareto(rows: Sequence[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.step(_col(rows, "size"), _col(rows, "search_fitness"), where="post", lw=1)
    ax.scatter(_col(rows, "size"), _col(rows, "search_fitness"), s=20, zorder=3)
    ax.set_xlabel("program size (nodes)")
    ax.set_ylabel("search fitness")
    _integer_ticks(ax.xaxis)
    ax.set_title("Pareto front: fitness against size")
    return _save(fig, path)


def rejections(rows: Sequence[dict], path: Path) -> Path:
    gens = sorted({int(r["generation"]) for r in rows})
    reasons = sorted({r["reason"] for r in rows})
    counts = {(int(r["generation"]), r["reason"]): int(r["count"]) for r in rows}
    fig, ax = plt.subplots(figsize=(7, 3.6))
    bottom = np.zeros(len(gens))
    for reason in reasons:
        h = np.array([counts.get((g, reason), 0) for g in gens])
        ax.bar(gens, h, bottom=bottom, label=reason, width=0.9)
        bottom += h
    ax.set_xlabel("generation")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel("candidates rejected")
    _integer_ticks(ax.yaxis)
    ax.set_title("Rejections per generation, by reason")
    if reasons:
        ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def diversity(rows: Sequence[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    g = _col(rows, "generation")
    ax.plot(g, _col(rows, "distinct") / _col(rows, "population"), label="distinct behaviours / population")
    ax.plot(g, _col(rows, "mean_rho"), label="mean pairwise rank correlation", ls="--")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("generation")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel("share / rank correlation")
    ax.set_title("Population diversity")
    ax.legend(fontsize=8)
    return _save(fig, path)


def formula_graph(nodes: Sequence[dict], title: str, path: Path) -> Path:
    """The program as a tree: each node at its depth, leaves spread evenly, edges to the parent."""
    import networkx as nx
    g = nx.DiGraph()
    for n in nodes:
        g.add_node(n["id"], label=n["label"])
        if n["parent"] != "":
            g.add_edge(n["parent"], n["id"])
    pos = {n["id"]: (float(n["x"]), -float(n["depth"])) for n in nodes}
    depth = max((int(n["depth"]) for n in nodes), default=0)
    width = max((float(n["x"]) for n in nodes), default=0)
    fig, ax = plt.subplots(figsize=(min(14, max(6.0, 2 + 1.1 * width)), 1.2 + 0.9 * depth))
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=False, edge_color="#888")
    nx.draw_networkx_labels(g, pos, {n["id"]: n["label"] for n in nodes}, ax=ax, font_size=9,
                            bbox={"boxstyle": "round", "fc": "#eef", "ec": "#88a"})
    ax.set_title(title if len(title) < 90 else title[:87] + "...", fontsize=9)
    ax.axis("off")
    ax.margins(0.12)
    return _save(fig, path)


def eval_scatter(panels: Sequence[dict], path: Path) -> Path:
    """``evoproxy eval --save`` files: a grid of score rank against accuracy rank, one panel per proxy."""
    cols = min(5, len(panels))
    nrows = -(-len(panels) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3 * cols, 3 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, p in zip(axes.flat, panels):
        ax.scatter(_ranks(p["accuracy"]), _ranks(p["scores"]), s=4, alpha=0.5)
        name = p["name"] if len(p["name"]) <= 40 else p["name"][:37] + "..."   # a formula as a column name
        ax.set_title(f"{name}\ntau {p['kendall']:.2f}  rho {p['spearman']:.2f}", fontsize=8)
        ax.set_xlabel("accuracy rank / n", fontsize=7)
        ax.set_ylabel("score rank / n", fontsize=7)
        ax.tick_params(labelsize=6)
    return _save(fig, path, dpi=DPI if len(panels) <= 10 else 55)  # a big grid stays under ~200 KB


def allocation(rows: Sequence[dict], path: Path) -> Path:
    """``evoproxy allocate --json`` (or the allocation study's rows): top-1 accuracy against model size, one
    line per method through its mean at each budget; with several seeds per budget, each seed as a dot."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        budgets = sorted({r.get("budget_mb", r["size_mb"]) for r in mine})
        at = [[r for r in mine if r.get("budget_mb", r["size_mb"]) == b] for b in budgets]
        top1 = [[np.nan if r["top1"] is None else r["top1"] for r in group] for group in at]
        line, = ax.plot([np.mean([r["size_mb"] for r in g]) for g in at], [np.mean(t) for t in top1],
                        marker="o", label=method)
        if any(len(g) > 1 for g in at):
            ax.scatter([r["size_mb"] for r in mine], [t for ts in top1 for t in ts], s=10, alpha=0.4,
                       color=line.get_color())
    ax.set_xlabel("weight size (MB)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title("Bit-width allocations: accuracy against size")
    ax.legend(fontsize=8)
    return _save(fig, path)
