"""Minutes to a formula that ranks well: racing against full evaluation, from scratch and warm-started.

    python experiments/perf/time_to_quality.py --run            # the searches (resumable), then the table
    python experiments/perf/time_to_quality.py                  # the table from what is there

Arms: evaluation {full, racing} x start {scratch, warm} x seeds, on experiments/nb201-meco.toml (warm: its
``init_from``, the published proxies; scratch: random programs only), each into
``runs/ttq/<evaluation>-<start>-s<seed>`` with a time budget (``--minutes``; the runs of one seed go one
after another, so the machine's load falls on every arm alike). No score cache: every score is computed.
A run cut off continues where it stopped. Then each generation's best program (by search fitness) is
scored on ``--holdout-archs`` final-holdout networks in one pass (kept in ``runs/ttq/holdout.csv``).

The table: per arm, the minutes (the generations' summed seconds, generation 0's probing included) until
the best program's holdout Spearman first reaches ``--target``, and the holdout Spearman at the end of the
budget; per seed, then the mean.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

import evoproxy
from evoproxy.evolve.config import load_config
from evoproxy.evolve.store import RunStore

ROOT = Path(__file__).resolve().parents[2]

CONFIG = ROOT / "experiments" / "nb201-meco.toml"
ARMS = [(evaluation, start) for start in ("scratch", "warm") for evaluation in ("full", "racing")]
QUIET_REPORT = dict(baselines=(), learned=(), ensemble_size=0, transfer=(), score_cache=False)


def run_dir(runs: Path, evaluation: str, start: str, seed: int) -> Path:
    return runs / f"{evaluation}-{start}-s{seed}"


def run_arm(runs: Path, evaluation: str, start: str, seed: int, minutes: float) -> None:
    out = run_dir(runs, evaluation, start, seed)
    if (out / "run.sqlite").exists():
        store = RunStore(out, create=False)
        done = store.get_meta("report") is not None
        store.close()
        if done:
            return
        print(f"{out.name}: continuing", flush=True)
        evoproxy.search(resume=out)
        return
    config = load_config(CONFIG).to_dict()
    config.update(QUIET_REPORT, race=evaluation == "racing", seed=seed, max_minutes=minutes,
                  init_from=str(ROOT / config["init_from"]) if start == "warm" else None)
    print(f"{out.name}: starting", flush=True)
    evoproxy.search(config, out=out)


def curve(run: Path) -> list[tuple[float, str]]:
    """(minutes since the start, best program so far) after each generation."""
    minutes, out = 0.0, []
    for summary in RunStore(run, readonly=True).summaries():
        minutes += summary["seconds"] / 60
        out.append((minutes, summary["best"]))
    return out


def holdout_spearman(runs: Path, programs: list[str], archs: int) -> dict[str, float]:
    """Each program's Spearman on the final holdout, scored once and kept in ``holdout.csv``."""
    path = runs / "holdout.csv"
    known = {}
    if path.exists():
        with path.open() as f:
            known = {row["program"]: float(row["spearman"]) for row in csv.DictReader(f)}
    todo = sorted(set(programs) - set(known))
    if todo:
        print(f"scoring {len(todo)} programs on {archs} holdout networks", flush=True)
        result = evoproxy.evaluate_proxies(todo, benchmark="nb201-cifar10", archs=archs, split="holdout",
                                           batch_size=16)
        known.update({r.proxy: r.spearman for r in result.results})
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["program", "spearman"])
            writer.writerows(sorted(known.items()))
    return known


def reached(points: list[tuple[float, float]], target: float) -> float:
    """Minutes until the holdout Spearman first reaches ``target`` (inf: never)."""
    return next((m for m, rho in points if rho >= target), float("inf"))


def table(runs: Path, seeds: int, target: float, archs: int) -> None:
    curves = {(e, s, seed): curve(run_dir(runs, e, s, seed)) for e, s in ARMS for seed in range(seeds)
              if (run_dir(runs, e, s, seed) / "run.sqlite").exists()}
    rho = holdout_spearman(runs, [p for c in curves.values() for _, p in c], archs)
    print(f"\nminutes until the best program's holdout Spearman reaches {target}, and its Spearman when the run "
          f"ended (the generation that passed the budget); {archs} holdout networks")
    print("| evaluation | start | minutes to target (per seed) | mean | final Spearman (per seed) | mean "
          "| minutes run |")
    print("|---|---|---|---|---|---|---|")
    for e, s in ARMS:
        points = [[(m, rho[p]) for m, p in curves[e, s, seed]] for seed in range(seeds) if (e, s, seed) in curves]
        if points:
            times, finals = [reached(p, target) for p in points], [p[-1][1] for p in points]
            print(f"| {e} | {s} | {', '.join(f'{t:.1f}' for t in times)} | {np.mean(times):.1f} | "
                  f"{', '.join(f'{f:.3f}' for f in finals)} | {np.mean(finals):.3f} | "
                  f"{', '.join(f'{p[-1][0]:.1f}' for p in points)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="run (or continue) the searches first")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "ttq", help="where the runs go (default runs/ttq)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per arm (default 3)")
    ap.add_argument("--minutes", type=float, default=15.0, help="each search's time budget (default 15)")
    ap.add_argument("--target", type=float, default=0.90, help="the holdout Spearman to reach (default .90)")
    ap.add_argument("--holdout-archs", type=int, default=200, help="final-holdout networks (default 200)")
    ap.add_argument("--arms", nargs="+", choices=[f"{e}-{s}" for e, s in ARMS],
                    help="with --run: only these arms (default all)")
    args = ap.parse_args()
    if args.run:
        for seed in range(args.seeds):
            for e, s in ARMS:
                if args.arms is None or f"{e}-{s}" in args.arms:
                    run_arm(args.runs, e, s, seed, args.minutes)
    table(args.runs, args.seeds, args.target, args.holdout_archs)


if __name__ == "__main__":
    main()
