"""Diversity-prompting selection vs tournament vs aging at an equal candidate budget.

    python experiments/perf/selection_study.py [--config experiments/synthetic.toml] [--seeds 8] [--out DIR]
    python experiments/perf/selection_study.py --config experiments/nb201-30min.toml --seeds 3 \\
        --out runs/selection --diversity-runs runs/study

Diversity spends half its candidates on fresh random programs (one per child), so the other
strategies get twice the children per generation: every strategy sees the same number of
candidates. Each run is an ``evoproxy.search`` in ``OUT/<selection>-s<seed>`` (the serial backend,
resumed if cut off; the same seed gives the same run on Ray); the final report scores only the
hall of fame (no baselines, ensemble or transfer). ``--diversity-runs DIR`` takes the diversity
runs from ``DIR/seed-<seed>`` (the search study's) instead; ``--print-only`` runs nothing and
prints the finished runs. Prints, per strategy, over its finished runs: the mean final holdout
Kendall of the best program (the hall of fame's first, chosen on the selection split), its spread,
its Spearman, how many runs reached 0.95, the generation at which the search fitness first reached
its final best, minutes of search, seconds per generation, and the mean candidate size at
generation 40.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import evoproxy
from evoproxy.app.runs import is_finished
from evoproxy.evolve.store import RunStore
from evoproxy.lang.program import parse
from evoproxy.evolve.config import load_config

STRATEGIES = ("diversity", "tournament", "aging")


def run(config_path: str, offspring: int, seed: int, selection: str, out: Path) -> None:
    """One strategy's search into ``out``: nothing when finished, continued when started."""
    if is_finished(str(out)):
        return
    print(f"{selection} seed {seed}: {out}", file=sys.stderr, flush=True)
    if (out / "run.sqlite").exists():
        evoproxy.search(resume=out)
    else:
        evoproxy.search(config_path, out=out, seed=seed, backend="serial", selection=selection, offspring=offspring,
                        baselines=[], ensemble_size=0, transfer=[])


def figures(run_dir: Path) -> dict:
    """The best program's final-holdout Kendall and Spearman (min over benchmarks), the generation
    of the best search fitness, minutes of search, mean seconds per generation after the first, and
    the mean size of the candidates of generation 40 (or the last)."""
    result = evoproxy.load_result(run_dir)
    summaries = result.generations
    last = min(40, summaries[-1]["generation"])
    with RunStore.reader(run_dir) as store:
        sizes = [parse(c.text).size for c in store.candidates(last)]
    holdout = result.best.holdout.values()
    curve = [s["best_fitness"] for s in summaries]
    seconds = [s.get("seconds", 0.0) for s in summaries]
    return {"kendall": min(v["kendall"] for v in holdout), "spearman": min(v["spearman"] for v in holdout),
            "best_generation": curve.index(max(curve)), "minutes": sum(seconds) / 60,
            "s_per_generation": statistics.mean(seconds[1:] or seconds), "size": statistics.mean(sizes)}


def run_dirs(args, config) -> dict:
    """``{(selection, seed): run directory}``, running (or continuing) each run unless ``--print-only``."""
    dirs = {}
    for seed in range(args.seeds):  # seed by seed, so that a cut-off study has every strategy's first seeds
        for selection in STRATEGIES:
            out = dirs[selection, seed] = Path(args.out) / f"{selection}-s{seed}"
            if selection == "diversity" and args.diversity_runs:
                dirs[selection, seed] = Path(args.diversity_runs) / f"seed-{seed}"
            elif not args.print_only:
                offspring = config.evolution.offspring if selection == "diversity" else 2 * config.evolution.offspring
                run(args.config, offspring, seed, selection, out)
    return dirs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="experiments/synthetic.toml",
                    help="the searches' config (default experiments/synthetic.toml)")
    ap.add_argument("--seeds", type=int, default=8, help="seeds 0.. per strategy (default 8)")
    ap.add_argument("--out", default="runs/selection-study", help="one run directory per strategy and seed")
    ap.add_argument("--diversity-runs", help="take the diversity runs from DIR/seed-<seed>")
    ap.add_argument("--print-only", action="store_true", help="run nothing: print the finished runs")
    args = ap.parse_args()
    config = load_config(args.config)
    print(f"{args.config}: {config.evolution.generations} generations, {2 * config.evolution.offspring} candidates "
          f"per generation, {args.seeds} seeds")
    dirs = run_dirs(args, config)
    print("selection    runs  holdout kendall (sd)  rho   >= 0.95  generation of best  minutes  s/generation  "
          "size at gen 40  kendall per seed")
    for selection in STRATEGIES:
        results = [figures(d) for (sel, _), d in dirs.items() if sel == selection and is_finished(str(d))]
        if not results:
            continue
        kendalls = [r["kendall"] for r in results]
        sd = statistics.stdev(kendalls) if len(kendalls) > 1 else 0.0
        mean = {k: statistics.mean(r[k] for r in results) for k in results[0]}
        print(f"{selection:11s}  {len(results):4d}  {mean['kendall']:14.3f} ({sd:.3f})  {mean['spearman']:.3f}  "
              f"{sum(k >= 0.95 for k in kendalls):7d}  {mean['best_generation']:18.1f}  {mean['minutes']:7.1f}  "
              f"{mean['s_per_generation']:12.1f}  {mean['size']:14.1f}  {' '.join(f'{k:.3f}' for k in kendalls)}")


if __name__ == "__main__":
    main()
