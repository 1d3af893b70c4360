"""The end-of-run report: hall of fame on the holdout split beside classic baselines, the Pareto
front, and each winner's lineage."""
from __future__ import annotations

from typing import Sequence

from evoproxy.lang.proxies import PROXIES
from evoproxy.search.store import RunStore

LINEAGE_DEPTH = 12


def lineage(store: RunStore, hash_: str) -> list[dict]:
    """Ancestors of a program (first appearance of each), nearest first."""
    first: dict[str, dict] = {}
    for row in store.candidates():
        first.setdefault(row.hash, {"hash": row.hash, "text": row.text, "origin": row.origin,
                                    "generation": row.generation, "parents": row.parents})
    out, frontier, seen = [], list(first.get(hash_, {}).get("parents", [])), set()
    while frontier and len(out) < LINEAGE_DEPTH:
        h = frontier.pop(0)
        if h in seen or h not in first:
            continue
        seen.add(h)
        out.append(first[h])
        frontier += first[h]["parents"]
    return out


def final_report(search, baselines: Sequence[str]) -> dict:
    hof = search.hall_of_fame()
    base_programs = [PROXIES.get(n).program for n in baselines]
    holdout = search.holdout_many([i.program for i in hof] + base_programs)
    search_split = search.search_scores(base_programs) if base_programs else []
    entries = [{"rank": r + 1, "formula": i.program.text, "hash": i.program.hash,
                "canonical": i.program.canonical().text, "size": i.program.size, "direction": 1,
                "search_fitness": i.value, "holdout": h, "lineage": lineage(search.store, i.program.hash)}
               for r, (i, h) in enumerate(zip(hof, holdout))]
    base = [{"proxy": n, "formula": p.text, "holdout": h, "search": s}
            for n, p, h, s in zip(baselines, base_programs, holdout[len(hof):], search_split)]
    pareto = [{"formula": i.program.text, "size": i.program.size, "search_fitness": i.value}
              for i in search.pareto()]
    totals: dict[str, int] = {}
    for summary in search.store.summaries():
        for reason, n in summary["rejections"].items():
            totals[reason] = totals.get(reason, 0) + n
    return {"hall_of_fame": entries, "baselines": base, "pareto": pareto, "rejections": totals,
            "fitness": search.config.fitness, "seed": search.config.seed}
