"""What storing resident statistics in half precision (``store_dtype``) costs in correlation.

    python experiments/perf/store_dtype.py [--archs 100] [--batch-size 16]

Scores the classic proxies over the resident statistics and 20 random programs on ``--archs``
NAS-Bench-201 holdout networks with float32, bfloat16 and float16 storage, and prints each
proxy's Kendall tau with the accuracies per storage, the largest change, and the memory.
"""
from __future__ import annotations

import argparse
import random

import numpy as np

from evoproxy.benchmarks import get_benchmark
from evoproxy.evolve.generate import Generator
from evoproxy.lang.proxies import PROXIES
from evoproxy.scoring.fitness import kendall
from evoproxy.scoring.setup import EvalSetup, ScoringConfig
from evoproxy.scoring.worker import Worker

CLASSIC = ["grad_norm", "snip", "fisher", "plain", "l2_norm", "synflow"]
DTYPES = ("float32", "bfloat16", "float16")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archs", type=int, default=100, help="holdout networks (default 100)")
    ap.add_argument("--batch-size", type=int, default=16, help="probe batch (default 16)")
    args = ap.parse_args()
    bench = get_benchmark("nb201-cifar10")
    ids = bench.sample(args.archs, "holdout")
    acc = [bench.accuracy(a) for a in ids]
    gen, rng = Generator(stats=["weight", "grad", "act", "act_grad"]), random.Random(3)
    named = [(n, PROXIES.get(n).formula) for n in CLASSIC] + \
        [(f"random {i}", gen.program(rng).text) for i in range(20)]
    taus, memory = {}, {}
    for dtype in DTYPES:
        setup = EvalSetup(scoring=ScoringConfig(batch_size=args.batch_size, store_dtype=dtype), memory_mb=64000)
        w = Worker(setup, get_benchmark)
        scores, _ = w.score([t for _, t in named], [("nb201-cifar10", a) for a in ids])
        taus[dtype] = [kendall(s, acc) if np.isfinite(s).all() else np.nan for s in scores]
        memory[dtype] = w.cached_bytes / 2**30
        print(f"{dtype}: {memory[dtype]:.2f} GiB resident", flush=True)
    print(f"\n{args.archs} holdout networks, batch {args.batch_size}: Kendall tau with test accuracy\n")
    print("| proxy | " + " | ".join(DTYPES) + " | largest change |")
    print("|---|" + "---|" * (len(DTYPES) + 1))
    for k, (name, _) in enumerate(named):
        row = [taus[d][k] for d in DTYPES]
        change = np.nanmax(np.abs(np.array(row[1:]) - row[0])) if np.isfinite(row).any() else np.nan
        print(f"| {name} | " + " | ".join(f"{t:.3f}" for t in row) + f" | {change:.3f} |")
    changes = np.abs(np.array([taus[d] for d in DTYPES[1:]]) - np.array(taus["float32"]))
    for d, c in zip(DTYPES[1:], changes):
        lost = sum(np.isfinite(a) and not np.isfinite(b) for a, b in zip(taus["float32"], taus[d]))
        print(f"{d}: median |change| {np.nanmedian(c):.4f}, largest {np.nanmax(c):.4f}, {lost} proxies "
              f"finite in float32 are NaN (overflow), memory {memory[d] / memory['float32']:.2f} of float32")


if __name__ == "__main__":
    main()
