"""Our classic proxies on NAS-Bench-101 and NAS-Bench-301 beside NAS-Bench-Suite-Zero's own values.

    python experiments/suite_zero_spaces.py --run [--archs 60]   # score (or continue), then print
    python experiments/suite_zero_spaces.py [--archs 60]         # print from the saved scores
    ... [--space nb101-cifar10]                                    # one space only

Setting: ``--archs`` rows of each table (a seeded sample of all of them, seed 0), one probe batch
of 64 CIFAR-10 training images and init seed 0 for every network (``evoproxy eval --save``, which an
interrupted run continues). For each proxy Suite-Zero reports there: Spearman of ours with the
table's validation accuracy, Spearman of Suite-Zero's values on the same rows, the gap, the
Spearman between our values and theirs network by network, and Suite-Zero's Spearman over the
whole table (its published figure).
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from evoproxy.benchmarks import get_benchmark
from evoproxy.scoring.fitness import spearman
from evoproxy.scoring.summary import rankable

OUT = Path(__file__).parent / "suite_zero_spaces"
SPACES = ("nb101-cifar10", "nb301-cifar10")
PROXIES = ("synflow", "grasp", "fisher", "grad_norm", "l2_norm", "plain", "nwot", "epe_nas", "jacov", "snip",
           "params", "flops")


def wanted(bench) -> list[str]:
    return [p for p in PROXIES if p in bench.reference(0)]


def score(name: str, archs: int) -> None:
    bench = get_benchmark(name)
    OUT.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "evoproxy", "eval", "--proxy", ";".join(wanted(bench)), "--benchmark", name,
           "--archs", str(archs), "--split", "all", "--batch-size", "64", "--save", str(OUT / f"{name}.csv")]
    print(" ".join(cmd[2:]), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def table(name: str) -> None:
    bench = get_benchmark(name)
    with open(OUT / f"{name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ids = [int(r["arch_id"]) for r in rows]
    acc = np.array([bench.accuracy(i) for i in ids])
    every = bench.arch_ids("all")
    acc_all = np.array([bench.accuracy(i) for i in every])
    print(f"\n{name}: {len(ids)} networks, Spearman with the table's validation accuracy\n")
    print(f"| proxy | ours | Suite-Zero, same rows | gap | ours vs Suite-Zero, per network | "
          f"Suite-Zero, all {len(every)} rows |\n|---|---|---|---|---|---|")
    for p in wanted(bench):
        ours = rankable(np.array([float(r[p]) for r in rows]))
        theirs = rankable(np.array([bench.reference(i)[p] for i in ids]))
        whole = spearman(rankable(np.array([bench.reference(i)[p] for i in every])), acc_all)
        mine, ref = spearman(ours, acc), spearman(theirs, acc)
        print(f"| {p} | {mine:.3f} | {ref:.3f} | {mine - ref:+.3f} | {spearman(ours, theirs):.3f} | {whole:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="store_true", help="score (or continue scoring) before printing")
    ap.add_argument("--archs", type=int, default=60, help="networks per space (default 60)")
    ap.add_argument("--space", choices=SPACES, action="append", help="only this space (repeatable; default both)")
    args = ap.parse_args()
    for name in args.space or SPACES:
        if args.run:
            score(name, args.archs)
        table(name)


if __name__ == "__main__":
    main()
