"""Fitness across search spaces against fitness on NAS-Bench-201 alone, at the same budget.

    python experiments/multispace_study.py --run [--seeds 3]   # the searches (resumable), then cross-scoring
    python experiments/multispace_study.py [--seeds 3]         # print from what is saved
    ... [--per-seed]                                            # each seed's value, not mean (spread)
    ... [--config C] [--out DIR] [--set KEY=VALUE ...]          # another config, folder, overrides

Two arms per seed, both ``experiments/nb-3spaces.toml`` (same population, generations, batch,
statistics): ``3spaces`` takes the minimum Kendall over the NB201, NB101 and NB301 search networks;
``nb201`` searches NB201 alone. Each arm's best single formula (its hall of fame's first, chosen
on its selection split) and its evolved ensemble are reported on the final holdout of all three
spaces: the same ``holdout_archs`` networks, probe batch and seed in both arms. The ``nb201`` arm
never saw NB101 or NB301: its winners are scored there as ``evoproxy eval`` does (float32 statistics;
the search keeps them in bfloat16, a median .0004 tau apart). Baselines come from the ``3spaces``
runs' reports (the same networks). Prints Kendall tau per space, mean over seeds with the spread
(max - min) in brackets, and each arm's minutes of search.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

import studylib
import evoproxy
from evoproxy.evolve.config import load_config, parse_override
from evoproxy.lang.program import parse
from evoproxy.lang.proxyfile import ProxySpec
from evoproxy.lang.ranks import combine
from evoproxy.scoring.fitness import kendall
from evoproxy.scoring.summary import network_specs

CONFIG = "experiments/nb-3spaces.toml"
RUNS = Path("runs/multispace")
SPACES = ("nb201-cifar10", "nb101-cifar10", "nb301-cifar10")
ARMS = {"3spaces": {}, "nb201": {"benchmarks": ["nb201-cifar10"], "transfer": []}}


def run_dir(runs: Path, arm: str, seed: int) -> Path:
    return runs / f"{arm}-s{seed}"


def run_searches(runs: Path, config: str, seeds: range, sets: dict) -> None:
    for seed in seeds:
        for arm, overrides in ARMS.items():
            studylib.search(run_dir(runs, arm, seed), f"{arm} seed {seed}", config,
                            {"seed": seed, **overrides, **sets})


def cross_scores(runs: Path, seed: int) -> None:
    """The nb201 arm's winners on the NB101 and NB301 final holdouts (one --save file per space)."""
    result = evoproxy.load_result(run_dir(runs, "nb201", seed))
    config = load_config(str(run_dir(runs, "nb201", seed) / "config.toml"))
    files = [str(studylib.write_proxy(runs / f"nb201-s{seed}-{kind}.json", kind, formula))
             for kind, formula in studylib.winners(result).items()]
    for space in SPACES[1:]:
        save = runs / f"nb201-s{seed}-{space}.csv"
        if not save.exists():
            studylib.score(";".join(files), space, config.task.holdout_archs, "holdout", save, seed=seed,
                           batch_size=config.scoring.batch_size)


def saved_kendall(path: Path, spec: ProxySpec) -> float:
    """Kendall of ``spec`` from an ``eval --save`` file; a set-level proxy (an ensemble) is saved as
    its network parts, ``NAME[1]``, ``NAME[2]``, ..., and ranked again here among the saved networks."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    parts = network_specs([spec])
    matrix = np.array([[float(r[p.name]) for r in rows] for p in parts])
    scores = combine([spec.program], [p.program for p in parts], matrix)[0]
    return kendall(scores, [float(r["accuracy"]) for r in rows])


def arm_figures(runs: Path, arm: str, seed: int) -> dict[str, dict[str, float]]:
    """{best | ensemble | baseline name: {space: final-holdout Kendall}}, and "minutes"."""
    result = evoproxy.load_result(run_dir(runs, arm, seed))
    minutes = sum(s.get("seconds", 0.0) for s in result.generations) / 60
    entries = {"best": result.best, "ensemble": result.ensemble}
    if arm == "3spaces":
        entries.update({b.proxy: b for b in result.baselines})
    out = {k: {s: v["kendall"] for s, v in (e.holdout if e else {}).items()} for k, e in entries.items()}
    if arm == "nb201":
        for kind, formula in studylib.winners(result).items():
            for space in SPACES[1:]:
                out[kind][space] = saved_kendall(runs / f"nb201-s{seed}-{space}.csv", ProxySpec(kind, parse(formula)))
    out["minutes"] = {"all": minutes}
    return out


def print_table(runs: Path, seeds: range, per_seed_cells: bool = False) -> None:
    figs = {arm: [arm_figures(runs, arm, s) for s in seeds] for arm in ARMS}
    print("| proxy | " + " | ".join(SPACES) + " | minutes of search |")
    print("|---" * (len(SPACES) + 2) + "|")
    rows = [(f"{arm} {kind}", [f[kind] for f in figs[arm]], figs[arm]) for arm in ARMS for kind in ("best", "ensemble")]
    rows += [(name, [f[name] for f in figs["3spaces"]], None) for name in figs["3spaces"][0]
             if name not in ("best", "ensemble", "minutes")]
    for label, per_seed, arm_figs in rows:
        cells = []
        for space in SPACES:
            vals = [v.get(space, float("nan")) for v in per_seed]
            cells.append(" / ".join(f"{v:.3f}" for v in vals) if per_seed_cells
                         else f"{np.mean(vals):.3f} ({np.ptp(vals):.3f})")
        minutes = f"{np.mean([f['minutes']['all'] for f in arm_figs]):.1f}" if arm_figs else ""
        print(f"| {label} | " + " | ".join(cells) + f" | {minutes} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="run (or continue) the searches, then cross-score")
    studylib.add_seeds(ap)
    ap.add_argument("--config", default=CONFIG, help=f"the search config of both arms (default {CONFIG})")
    ap.add_argument("--out", default=str(RUNS), help=f"one run directory per arm and seed (default {RUNS})")
    ap.add_argument("--per-seed", action="store_true",
                    help="each seed's value (seed 0 / 1 / ...) instead of mean (spread)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    args = ap.parse_args()
    runs, seeds = Path(args.out), range(args.seeds)
    if args.run:
        runs.mkdir(parents=True, exist_ok=True)
        run_searches(runs, args.config, seeds, dict(parse_override(kv) for kv in args.set))
        for seed in seeds:
            cross_scores(runs, seed)
    print_table(runs, seeds, args.per_seed)


if __name__ == "__main__":
    main()
