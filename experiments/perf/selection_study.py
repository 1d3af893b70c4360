"""Diversity-prompting selection vs tournament vs aging at an equal candidate budget.

    python experiments/perf/selection_study.py [--config experiments/synthetic.toml] [--seeds 8] [--out DIR]
    python experiments/perf/selection_study.py --config experiments/nb201-30min.toml --seeds 3 \\
        --out runs/selection --diversity-runs runs/study

Diversity spends half its candidates on fresh random programs (one per child), so the other
strategies get twice the children per generation: every strategy sees the same number of
candidates. Each run is an ``evoproxy search`` in ``OUT/<selection>-s<seed>`` (the serial backend,
resumed if cut off; the same seed gives the same run on Ray); the final report scores only the
hall of fame (no baselines, ensemble or transfer). ``--diversity-runs DIR`` takes the diversity
runs from ``DIR/seed-<seed>`` (the search study's) instead. Prints, per strategy, the mean final
holdout Kendall of the best program (the hall of fame's first, chosen on the selection split), its
spread, how many runs reached 0.95, the mean generation at which the search fitness first reached
its final best, and the mean minutes of search.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from evoproxy.app.exports import finished_report
from evoproxy.search.config import load_config

STRATEGIES = ("diversity", "tournament", "aging")


def run(config_path: str, offspring: int, seed: int, selection: str, out: Path) -> None:
    if (out / "run.sqlite").exists():
        cmd = ["--resume", str(out)]
    else:
        cmd = ["--config", config_path, "--seed", str(seed), "--out", str(out), "--backend", "serial",
               "--set", f'selection="{selection}"', "--set", f"offspring={offspring}", "--set", "baselines=[]",
               "--set", "ensemble_size=0", "--set", "transfer=[]"]
    print(f"{selection} seed {seed}: evoproxy search {' '.join(cmd)}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "evoproxy", "search", *cmd, "--quiet"], check=True)


def figures(run_dir: Path) -> tuple[float, int, float]:
    """Best program's final-holdout Kendall (min over benchmarks), generation of the best search
    fitness, minutes of search."""
    store, report = finished_report(str(run_dir))
    with store:
        curve = [s["best_fitness"] for s in store.summaries()]
        minutes = sum(s.get("seconds", 0.0) for s in store.summaries()) / 60
    kendall = min(v["kendall"] for v in report["hall_of_fame"][0]["holdout"].values())
    return kendall, curve.index(max(curve)), minutes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="experiments/synthetic.toml")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--out", default="runs/selection-study", help="one run directory per strategy and seed")
    ap.add_argument("--diversity-runs", help="take the diversity runs from DIR/seed-<seed>")
    args = ap.parse_args()
    config = load_config(args.config)
    print(f"{args.config}: {config.generations} generations, {2 * config.offspring} candidates "
          f"per generation, {args.seeds} seeds")
    dirs = {}
    for seed in range(args.seeds):  # seed by seed, so that a cut-off study has every strategy's first seeds
        for selection in STRATEGIES:
            out = dirs[selection, seed] = Path(args.out) / f"{selection}-s{seed}"
            if selection == "diversity" and args.diversity_runs:
                dirs[selection, seed] = Path(args.diversity_runs) / f"seed-{seed}"
            else:
                offspring = config.offspring if selection == "diversity" else 2 * config.offspring
                run(args.config, offspring, seed, selection, out)
    rows = [(selection, [figures(dirs[selection, seed]) for seed in range(args.seeds)]) for selection in STRATEGIES]
    print("selection    mean holdout kendall (sd)  runs >= 0.95  mean generation of best  minutes  per seed")
    for selection, results in rows:
        kendalls = [k for k, _, _ in results]
        sd = statistics.stdev(kendalls) if len(kendalls) > 1 else 0.0
        print(f"{selection:11s}  {statistics.mean(kendalls):20.3f} ({sd:.3f})  {sum(k >= 0.95 for k in kendalls):5d}/"
              f"{args.seeds:<6d}  {statistics.mean(g for _, g, _ in results):10.1f}  "
              f"{statistics.mean(m for _, _, m in results):15.1f}  {' '.join(f'{k:.3f}' for k in kendalls)}")


if __name__ == "__main__":
    main()
