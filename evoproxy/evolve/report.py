"""The end-of-run report: the hall of fame (chosen on the selection split) and the evolved ensemble
on the final holdout beside the baselines, the Pareto front, and each winner's lineage."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from evoproxy.lang.program import Program, parse
from evoproxy.lang.proxies import PROXIES
from evoproxy.lang.ranks import all_network_parts, is_set_level
from evoproxy.scoring.fitness import rank_measure
from evoproxy.evolve.diversity import distinct
from evoproxy.evolve.splits import per_benchmark
from evoproxy.evolve.gp import Individual, pareto_front
from evoproxy.evolve.ensemble import ensemble_program, forward_select
from evoproxy.evolve import learned
from evoproxy.evolve.store import RunStore

LINEAGE_DEPTH = 12
FINALISTS_PER_PLACE = 4
"""The hall of fame is chosen on the selection split among this many times its size of finalists."""


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


def finalists(search) -> list[Individual]:
    """The best distinct behaviours on the search networks that are finite on every transfer
    network: the hall of fame's candidates."""
    top = distinct(list(search.evaluated.values()), search.config.evolution.same_behaviour,
                   FINALISTS_PER_PLACE * search.config.evolution.hall_of_fame)
    if search.splits.transfer_keys:
        search.splits.transfer_many([i.program for i in top])  # one statistics-major pass
    return [i for i in top if search.splits.transfers(i.program)]


def hall_of_fame(search) -> list[Individual]:
    """The finalists best on the selection networks (ties: search fitness, then size)."""
    chosen_from, splits = finalists(search), search.splits
    chosen = [splits.selection_fitness(f) for f in splits.selection_many([i.program for i in chosen_from])]
    order = sorted(range(len(chosen_from)), key=lambda k: (-chosen[k], -chosen_from[k].value,
                                                           chosen_from[k].program.size, k))
    return [chosen_from[k] for k in order[:search.config.evolution.hall_of_fame]]


def final_report(search, baselines: Sequence[str]) -> dict:
    """The report; ``search.progress`` follows its steps (each scores programs on one split)."""
    step = _Steps(search, 6)
    hof = hall_of_fame(search)
    base_programs = [PROXIES.get(n).program for n in baselines]
    step("the ensemble, chosen on the selection networks")
    ensemble = build_ensemble(search, hof, base_programs)
    extra = [ensemble["program"]] if ensemble else []
    summaries = search.store.summaries()
    curve = progress_programs(summaries)
    step(f"{len(hof) + len(base_programs) + len(extra) + len(curve)} programs on the final holdout")
    holdout = search.splits.holdout_many([i.program for i in hof] + base_programs + extra + list(curve.values()))
    progress = time_to_quality(summaries, dict(zip(curve, holdout[len(holdout) - len(curve):])))
    holdout = holdout[:len(holdout) - len(curve)]
    step("their figures on the selection networks")
    selection = search.splits.selection_many([i.program for i in hof] + base_programs)
    step("transfer benchmarks")
    transfer = search.splits.transfer_many([i.program for i in hof] + base_programs + extra)
    step("baselines on the search networks")
    search_split = search.splits.search_scores(base_programs) if base_programs else []
    step("learned baselines, trained on the search and selection networks")
    fitted, predictions = learned_baselines(search.splits, feature_programs(base_programs),
                                             search.config.task.learned, search.config.evolution.seed)
    step("done")
    entries = [{"rank": r + 1, "formula": i.program.text, "hash": i.program.hash,
                "canonical": i.program.canonical().text, "size": i.program.size, "direction": 1,
                "search_fitness": i.value, "selection": sel, "holdout": h, "transfer": t,
                "lineage": lineage(search.store, i.program.hash)}
               for r, (i, h, sel, t) in enumerate(zip(hof, holdout, selection, transfer))]
    base = [{"proxy": n, "formula": p.text, "holdout": h, "selection": sel, "transfer": t, "search": s}
            for n, p, h, sel, t, s in zip(baselines, base_programs, holdout[len(hof):],
                                          selection[len(hof):], transfer[len(hof):], search_split)]
    if ensemble:
        ensemble["holdout"], ensemble["transfer"] = holdout[-1], transfer[-1]
        ensemble["formula"] = ensemble.pop("program").text
    pareto = [{"formula": i.program.text, "size": i.program.size, "search_fitness": i.value}
              for i in pareto_front(list(search.evaluated.values()))]
    totals: dict[str, int] = {}
    for summary in summaries:
        for reason, n in summary["rejections"].items():
            totals[reason] = totals.get(reason, 0) + n
    named = {**({"evolved #1": hof[0].program} if hof else {}), **dict(zip(baselines, base_programs)),
             **({"ensemble": extra[0]} if extra else {})}
    holdout_scores = search.splits.holdout_table(named)
    for bench, columns in predictions.items():
        holdout_scores[bench]["scores"].update(columns)
    return {"hall_of_fame": entries, "baselines": base, "ensemble": ensemble, "learned": fitted, "pareto": pareto,
            "rejections": totals, "fitness": search.config.evolution.fitness, "seed": search.config.evolution.seed,
            "holdout_scores": holdout_scores, "progress": progress}


def progress_programs(summaries: list[dict]) -> dict[str, Program]:
    """The distinct programs that were the population's best after some generation, by text."""
    return {s["best"]: parse(s["best"]) for s in summaries if s.get("best")}


def time_to_quality(summaries: list[dict], holdout: dict[str, dict]) -> list[dict]:
    """Per generation: minutes since the start (the generations' own seconds, summed), the population's
    best program and its final-holdout figures (``holdout``: by program text)."""
    minutes, out = 0.0, []
    for s in summaries:
        minutes += s.get("seconds", 0.0) / 60
        if s.get("best") in holdout:
            out.append({"generation": s["generation"], "minutes": minutes, "formula": s["best"],
                        "search_fitness": s["best_fitness"], "holdout": holdout[s["best"]]})
    return out


class _Steps:
    """Tells ``search.progress`` which step of the final report runs now."""

    def __init__(self, search, total: int) -> None:
        self.search, self.total, self.done = search, total, 0

    def __call__(self, what: str) -> None:
        self.search.progress("final report", self.done, self.total, what)
        self.done += 1


def feature_programs(base_programs: Sequence[Program]) -> list[Program]:
    """The per-network programs among the baselines and the parts of set-level ones: a learned model's features."""
    own = [p for p in base_programs if not is_set_level(p)]
    return list({p.text: p for p in own + all_network_parts(base_programs)}.values())


def ensemble_pool(hof: Sequence, base_programs: Sequence[Program]) -> list[Program]:
    """The hall of fame, the baselines, and the per-network parts of set-level baselines."""
    programs = [i.program for i in hof] + list(base_programs)
    return list({p.text: p for p in programs + all_network_parts(base_programs)}.values())


def build_ensemble(search, hof: Sequence, base_programs: Sequence[Program]) -> Optional[dict]:
    """Forward selection on the selection networks; None when disabled or nothing to choose from."""
    size = search.config.evolution.ensemble_size
    pool = ensemble_pool(hof, base_programs)
    if size < 1 or len(pool) < 1:
        return None
    matrix = search.splits.selection_rows(pool)
    accs = list(search.splits.selection_acc.values())
    metric = rank_measure(search.config.evolution.fitness)
    chosen = forward_select(matrix, accs, metric, search.config.evolution.combine, size,
                            search.config.evolution.ensemble_repeats)
    members = [pool[i] for i in chosen.members]
    return {"program": ensemble_program(members), "members": [m.text for m in members],
            "selection_fitness": chosen.fitness, "trace": list(chosen.trace)}


def learned_baselines(splits, features: list, names, seed: int) -> tuple[list[dict], dict[str, dict]]:
    """Each model in ``names`` trained per benchmark on the search + selection networks (``features``:
    per-network programs, the run's baselines) and its holdout figures; also its predictions
    (``{bench: {"learned NAME": [...]}}``) for the report's holdout table."""
    if not names or not features:
        return [], {}
    if not learned.available():
        learned.skip_note(names)
        return [], {}
    train = np.hstack([splits.raw_rows(features, "search"), splits.raw_rows(features, "selection")])
    test = splits.raw_rows(features, "holdout")
    arch = {split: splits.arch_features(split) for split in ("search", "selection", "holdout")}
    entries, predictions = [], {}
    for name in names:
        model = learned.LEARNED.get(name)
        figures = {}
        for bench in splits.holdout_keys:
            x_train, x_test = _bench_columns(splits, train, test, bench)
            if model.uses_arch:
                a_train = learned.arch_matrix(arch["search"][bench] + arch["selection"][bench])
                a_test = learned.arch_matrix(arch["holdout"][bench])
                if a_train is None or a_test is None:
                    continue   # no architecture features on this benchmark
                x_train, x_test = np.hstack([x_train, a_train]), np.hstack([x_test, a_test])
            y = np.concatenate([splits.accuracies[bench], splits.selection_acc[bench]])
            pred = learned.fit_predict(model, seed, x_train, y, x_test)
            figures.update(_figures(splits, pred, bench))
            predictions.setdefault(bench, {})[f"learned {name}"] = pred.tolist()
        if figures:
            entries.append({"name": name, "features": [p.text for p in features], "uses_arch": model.uses_arch,
                            "trained_on": {b: len(splits.search_keys[b]) + len(splits.selection_keys[b])
                                           for b in figures}, "holdout": figures})
    return entries, predictions


def _bench_columns(splits, train: np.ndarray, test: np.ndarray, bench: str) -> tuple[np.ndarray, np.ndarray]:
    """Networks x features of one benchmark: its search then selection networks; its holdout networks."""
    def block(keys: dict, rows: np.ndarray, offset: int = 0) -> np.ndarray:
        start = offset + sum(len(keys[n]) for n in list(keys)[:list(keys).index(bench)])
        return rows[:, start:start + len(keys[bench])]
    n_search = sum(len(k) for k in splits.search_keys.values())
    x_train = np.hstack([block(splits.search_keys, train), block(splits.selection_keys, train, n_search)])
    return x_train.T, block(splits.holdout_keys, test).T


def _figures(splits, pred: np.ndarray, bench: str) -> dict:
    return per_benchmark(pred, {bench: splits.holdout_keys[bench]}, {bench: splits.holdout_acc[bench]})
