"""Kendall tau-b of ViT proxies on the published Auto-Prox tables (and the table built here).

Each space's architectures are probed once (substitute teacher and probe set: this project's
CIFAR-10 ResNet-20 and CIFAR-10 images at 32x32) and the scores ranked against every dataset
and metric of the table. Usage::

    python experiments/vit_tables.py [--proxies params,flops,tvt,diswot,autoprox] [--spaces autoformer,pit,cifar-vit]
        [--holdout] [--save scores.csv]
"""
from __future__ import annotations

import argparse
import csv
import sys

import numpy as np
from tqdm import tqdm

from evoproxy.scoring import fitness
from evoproxy.benchmarks import DATASETS, get_benchmark
from evoproxy.lang.proxyfile import resolve
from evoproxy.scoring.score import score_matrix

TABLE_OF = {"autoformer": "vit-autoformer-{}", "pit": "vit-pit-{}", "cifar-vit": "vit-kd-cifar10"}


def targets(space: str, data_dir):
    """(label, benchmark) for every dataset x metric of a space's table."""
    if space == "cifar-vit":
        return [("cifar10 top1", get_benchmark("vit-kd-cifar10", data_dir))]
    return [(f"{ds} {m}", get_benchmark(TABLE_OF[space].format(ds), data_dir, metric=m))
            for ds in DATASETS for m in ("kd", "base")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proxies", default="params,flops,tvt,diswot,autoprox",
                    help="comma-separated proxies (default: %(default)s)")
    ap.add_argument("--spaces", default="autoformer,pit,cifar-vit",
                    help="comma-separated tables (default: %(default)s)")
    ap.add_argument("--holdout", action="store_true", help="rank on each table's holdout split only")
    ap.add_argument("--save", help="write every architecture's scores here")
    ap.add_argument("--data-dir", help="the data directory (default: EVOPROXY_DATA, then ../shared/data)")
    args = ap.parse_args()
    specs = [resolve(p) for p in args.proxies.split(",")]
    rows = []
    for space in args.spaces.split(","):
        tables = targets(space, args.data_dir)
        probe_bench = max((b for _, b in tables), key=len)  # the table listing every architecture
        split = "holdout" if args.holdout else "all"
        wanted = {b.arch_of(i) for _, b in tables for i in b.arch_ids(split)}
        ids = [i for i in probe_bench.arch_ids() if probe_bench.arch_of(i) in wanted]
        batch = probe_bench.probe_batch()
        with tqdm(total=len(ids), desc=f"probing {space}", unit="net", file=sys.stderr) as bar:
            scores = score_matrix(probe_bench, [s.program for s in specs], ids, batch.x, batch.y,
                                  probe_bench.probe_seed, on_arch=lambda j, col: bar.update(1))
        by_arch = {probe_bench.arch_of(i): scores[:, j] for j, i in enumerate(ids)}
        for label, bench in tables:
            keep = bench.arch_ids(split)
            accs = bench.accuracies(keep)
            for k, spec in enumerate(specs):
                s = spec.direction * np.array([by_arch[bench.arch_of(i)][k] for i in keep])
                s = np.where(np.isfinite(s), s, -np.inf)
                rows.append((space, label, spec.name, len(keep), fitness.kendall(s, accs)))
                print(f"{space:<11} {label:<16} {spec.name:<24} n={len(keep):<4} tau {rows[-1][-1]:.3f}",
                      flush=True)
        if args.save:
            with open(args.save, "a", newline="") as f:
                w = csv.writer(f)
                for j, i in enumerate(ids):
                    w.writerow([space, probe_bench.arch_of(i)] + [f"{v:.6g}" for v in scores[:, j]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
