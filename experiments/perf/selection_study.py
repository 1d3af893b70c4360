"""Diversity-prompting selection vs tournament vs aging at an equal candidate budget.

    python experiments/perf/selection_study.py [--config experiments/synthetic.toml] [--seeds 8]

Diversity spends half its candidates on fresh random programs (one per child), so the other
strategies get twice the children per generation: every strategy sees the same number of
candidates. Prints, per strategy, the mean best holdout Kendall, how many runs reached 0.95, and
the mean generation at which the search fitness first reached its final best.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

from evoproxy.search.config import load_config
from evoproxy.app.search import run_search
from evoproxy.search.store import RunStore


def one(config, seed: int, selection: str) -> tuple[float, int]:
    offspring = config.offspring if selection == "diversity" else 2 * config.offspring
    cfg = config.replace(seed=seed, selection=selection, offspring=offspring, baselines=(), ensemble_size=0,
                         transfer=())
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        store.save_config(cfg.identity())
        report = run_search(cfg, store)
        best = report["hall_of_fame"][0]
        kendall = min(v["kendall"] for v in best["holdout"].values())
        curve = [s["best_fitness"] for s in store.summaries()]
        store.close()
    return kendall, curve.index(max(curve))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="experiments/synthetic.toml")
    ap.add_argument("--seeds", type=int, default=8)
    args = ap.parse_args()
    config = load_config(args.config)
    print(f"{args.config}: {config.generations} generations, {2 * config.offspring} candidates "
          f"per generation, {args.seeds} seeds")
    print("selection    mean holdout kendall (sd)  runs >= 0.95  mean generation of best")
    for selection in ("diversity", "tournament", "aging"):
        runs = [one(config, s, selection) for s in range(args.seeds)]
        kendalls = [k for k, _ in runs]
        sd = statistics.stdev(kendalls) if len(kendalls) > 1 else 0.0
        print(f"{selection:11s}  {statistics.mean(kendalls):20.3f} ({sd:.3f})  {sum(k >= 0.95 for k in kendalls):5d}/"
              f"{args.seeds:<6d}  {statistics.mean(g for _, g in runs):10.1f}")


if __name__ == "__main__":
    main()
