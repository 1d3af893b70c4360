"""``evoproxy export``: a finished run's proxies as JSON, text, LaTeX, sympy, a Python module or CSV.

Every format reads back: JSON with ``evoproxy eval --proxy FILE`` / ``load_proxy``; sympy with
:func:`evoproxy.lang.export.read_sympy`; the Python module by importing it (``proxy(model, batch)``);
the CSV with any CSV reader (the hall of fame's formulas, figures and the baselines).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Callable, Optional

from evoproxy.app.runs import finished_report
from evoproxy.errors import EvoproxyError
from evoproxy.lang import export
from evoproxy.lang.program import parse
from evoproxy.lang.proxyfile import ProxySpec, proxy_document
from evoproxy.lang.ranks import is_set_level
from evoproxy.evolve.results import HallOfFameEntry, SearchResult
from evoproxy.evolve.store.rundir import csv_text, hall_of_fame_columns, hall_of_fame_rows
from evoproxy.evolve.store import RunStore, damaged_store

FORMATS = ("json", "text", "latex", "sympy", "python", "csv")


def select_entries(result: SearchResult, top: int = 1, ensemble: bool = False,
                   max_size: Optional[int] = None) -> list[HallOfFameEntry]:
    """The entries to export: the best ``top`` of the hall of fame, the ensemble, or the best program of
    the Pareto front within ``max_size`` nodes."""
    if top < 1:
        raise EvoproxyError(f"--top must be >= 1, got {top}")
    run_dir = result.run_dir
    if ensemble:
        ens = result.ensemble
        if not ens:
            raise EvoproxyError(f"{run_dir} has no evolved ensemble (ensemble_size = 0, or a run from before "
                                "ensembles); export its hall of fame without --ensemble")
        return [HallOfFameEntry(1, ens.formula, ens.selection_fitness, ens.holdout, hash=parse(ens.formula).hash)]
    if max_size is not None:
        return [_within(result, max_size)]
    if not result.hall_of_fame:
        raise EvoproxyError(f"{run_dir} has an empty hall of fame (every candidate was rejected); nothing to export")
    return result.hall_of_fame[:top]


def _within(result: SearchResult, max_size: int) -> HallOfFameEntry:
    fits = [e for e in result.pareto if e["size"] <= max_size]
    if not fits:
        smallest = min((e["size"] for e in result.pareto), default=None)
        raise EvoproxyError(f"no program of {result.run_dir}'s Pareto front has at most {max_size} nodes "
                            f"(the smallest has {smallest}); raise --max-size")
    best = max(fits, key=lambda e: e["search_fitness"])
    known = {e.formula: e for e in result.hall_of_fame}
    return known.get(best["formula"]) or HallOfFameEntry(1, best["formula"], best["search_fitness"], {},
                                                         size=best["size"], hash=parse(best["formula"]).hash)


def export_run(run_dir: str, fmt: str, top: int = 1, ensemble: bool = False, max_size: Optional[int] = None,
               holdout_text: Callable[[dict], str] = str) -> str:
    """The run's proxies in ``fmt`` (one of :data:`FORMATS`) as text."""
    if fmt not in FORMATS:
        raise EvoproxyError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    store, report = finished_report(run_dir)
    try:
        with damaged_store(store.path, structural=True):
            result = SearchResult.from_report(report, run_dir)
            entries = select_entries(result, top, ensemble, max_size)
            if fmt == "json":
                return json.dumps(_json(result, store, entries), indent=2)
            if fmt == "csv":
                return _csv(result)
            if fmt == "python":
                return python_module(entries, run_dir, holdout_text)
            return "\n".join(_line(e, fmt, holdout_text) for e in entries)
    finally:
        store.close()


def _json(result: SearchResult, store: RunStore, entries: list[HallOfFameEntry]) -> dict:
    docs = [proxy_document(ProxySpec(f"evolved-{e.hash}", parse(e.formula)),
                           search_fitness=e.search_fitness, holdout=e.holdout, lineage=e.lineage)
            for e in entries]
    meta = {"run": str(result.run_dir), "seed": result.seed, "baselines": [asdict(b) for b in result.baselines],
            "config": store.load_config(), "data": store.get_meta("data")}
    return {**docs[0], **meta, "others": docs[1:]}


def _line(e: HallOfFameEntry, fmt: str, holdout_text: Callable[[dict], str]) -> str:
    p = parse(e.formula)
    if fmt == "latex":
        return export.to_latex(p)
    if fmt == "sympy":
        return str(export.to_sympy(p))
    return f"{e.search_fitness:.4f}  {holdout_text(e.holdout)}  {p.text}"


def _csv(result: SearchResult) -> str:
    rows = hall_of_fame_rows(result)
    return csv_text(hall_of_fame_columns(rows), rows).rstrip("\n")


def python_module(entries: list[HallOfFameEntry], run_dir: str, holdout_text: Callable[[dict], str]) -> str:
    """A module defining ``proxy(model, batch) -> float`` (the best) and ``proxy_<rank>`` for each."""
    if any(is_set_level(parse(e.formula)) for e in entries):
        raise EvoproxyError("an ensemble ranks networks against each other, so it is no function of one network; "
                            "export it as json and score it with evoproxy eval --proxy FILE")
    doc = [f"Proxies evolved by evoproxy (run {run_dir}).", "",
           "proxy(model, batch) -> float: higher means the network should train to a higher accuracy;",
           "batch is an (images, labels) pair. The model is probed on a private copy and left as it was.",
           "Needs evoproxy installed (pip install evoproxy).", ""]
    doc += [f"proxy_{e.rank}: {e.formula}\n    search fitness {e.search_fitness:.4f}; "
            f"final holdout {holdout_text(e.holdout)}" for e in entries]
    # every line a repr()'d literal: no folder name or label can end the docstring and run as code
    lines = ["("] + ["    " + repr(line + "\n") for line in "\n".join(doc).split("\n")] + [")"]
    lines += ["from evoproxy.scoring.score import formula_proxy", ""]
    lines += [f"proxy_{e.rank} = formula_proxy({e.formula!r})" for e in entries]
    lines += [f"proxy = proxy_{entries[0].rank}"]
    return "\n".join(lines)
