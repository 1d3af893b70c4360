"""Does holding the resident statistics in bfloat16 change what a search finds? Whole searches, several seeds.

    python experiments/dtype_study.py --run [--seeds 4]    # the searches (resumable), then the table
    python experiments/dtype_study.py                      # the table from what is there

A per-program comparison (``store_dtype.py``: median Kendall change .0004) cannot say it: a search's path
turns on near-ties, so one bfloat16 seed may find another formula than its float32 twin. What matters is
whether the formulas found are as good. Each seed of ``experiments/quick.toml`` runs once per storage
(``runs/dtype/<dtype>-s<seed>``); the table gives the best formula's and the ensemble's final-holdout
Kendall per seed, the mean and spread per storage, and the paired difference.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import studylib

import evoproxy
from evoproxy.app.runs import is_finished

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "quick.toml"
DTYPES = ("float32", "bfloat16")


def run_dir(runs: Path, dtype: str, seed: int) -> Path:
    return runs / f"{dtype}-s{seed}"


def figures(run: Path) -> dict[str, float]:
    """The best formula's and the ensemble's final-holdout Kendall (mean over benchmarks), and minutes."""
    result = evoproxy.load_result(run)
    out = {"best": statistics.mean(f["kendall"] for f in result.best.holdout.values())}
    if result.ensemble:
        out["ensemble"] = statistics.mean(f["kendall"] for f in result.ensemble.holdout.values())
    out["minutes"] = sum(g.get("seconds", 0.0) for g in result.generations) / 60
    return out


def _cell(values: list[float]) -> str:
    spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.3f}{spread}"


def table(runs: Path, seeds: range) -> None:
    done = [s for s in seeds if all(is_finished(str(run_dir(runs, d, s))) for d in DTYPES)]
    if not done:
        print(f"no seed has both searches finished under {runs}; run with --run")
        return
    figs = {(d, s): figures(run_dir(runs, d, s)) for d in DTYPES for s in done}
    print(f"final-holdout Kendall of the winners, seeds {', '.join(map(str, done))}")
    print("| winner | " + " | ".join(DTYPES) + " | bfloat16 - float32 (per seed) | mean difference |")
    print("|---|---|---|---|---|")
    for kind in ("best", "ensemble"):
        if all(kind in f for f in figs.values()):
            cols = {d: [figs[d, s][kind] for s in done] for d in DTYPES}
            diffs = [b - a for a, b in zip(cols["float32"], cols["bfloat16"])]
            print(f"| {kind} | " + " | ".join(_cell(cols[d]) for d in DTYPES) + " | "
                  + ", ".join(f"{x:+.3f}" for x in diffs) + f" | {statistics.mean(diffs):+.3f} |")
    minutes = {d: [figs[d, s]["minutes"] for s in done] for d in DTYPES}
    print("| search minutes | " + " | ".join(_cell(minutes[d]) for d in DTYPES) + " | | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="run (or continue) the searches first")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "dtype", help="where the runs go (default runs/dtype)")
    ap.add_argument("--seeds", type=int, default=4, help="seeds per storage (default 4)")
    ap.add_argument("--config", default=str(CONFIG), help="the searches' config (default experiments/quick.toml)")
    ap.add_argument("--data-dir", help="the data directory (default: evoproxy's)")
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    if args.run:
        for seed in range(args.seeds):
            for dtype in DTYPES:
                studylib.search(run_dir(args.runs, dtype, seed), f"{dtype} seed {seed}", args.config,
                                {"seed": seed, "store_dtype": dtype}, args.data_dir)
    table(args.runs, range(args.seeds))


if __name__ == "__main__":
    main()
