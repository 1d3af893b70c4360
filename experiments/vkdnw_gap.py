"""VKDNW in this project's setting and in its paper's, on the same 200 NAS-Bench-201 holdout networks.

    python experiments/vkdnw_gap.py --run   # score both settings into runs/vkdnw-gap (resumable), then the table
    python experiments/vkdnw_gap.py         # the table from the saved scores

``ours``: each network's own init, 32 CIFAR-10 training images (the learned-baselines study's
setting). ``paper``: Kaiming-normal re-init and 64 N(0, 1) images (Tybl & Neumann, CVPR 2025,
Table 1: all of NB201, 5 runs). Prints Kendall and Spearman of ``vkdnw`` (VKDNW_single) and
``vkdnw_agg`` per dataset, beside the paper's.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import studylib
from evoproxy.app import evaluate
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.cli.registry import add_data_dir

PROXIES, ARCHS = "vkdnw;vkdnw_agg", 200
SETTINGS = {"ours": {"batch_size": 32, "init": "benchmark"},
            "paper": {"batch_size": 64, "init": "kaiming", "probe": "synthetic"}}
PAPER = {"vkdnw": ((0.618, 0.815), (0.634, 0.829), (0.622, 0.814)),
         "vkdnw_agg": ((0.750, 0.919), (0.753, 0.919), (0.743, 0.906))}
"""Tybl & Neumann, CVPR 2025, Table 1 (Kendall, Spearman on CIFAR-10, CIFAR-100, ImageNet16-120)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="score what is missing first (resumable)")
    ap.add_argument("--out", type=Path, default=Path("runs/vkdnw-gap"), help="where the score files go")
    add_data_dir(ap)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bench = open_benchmark("nb201-cifar10", args.data_dir, studylib.SEED, "test_200ep", None)
    archs = bench.sample(ARCHS, "holdout", studylib.SEED)
    specs = evaluate.proxy_specs(PROXIES, bench)
    print("| setting | proxy | " + " | ".join(f"{ds} tau / rho" for ds in studylib.DATASETS) + " |")
    print("|---" * (2 + len(studylib.DATASETS)) + "|")
    for name, options in SETTINGS.items():
        save = args.out / f"{name}.csv"
        if args.run:
            studylib.score(PROXIES, "nb201-cifar10", ARCHS, "holdout", save, seed=studylib.SEED,
                           data_dir=args.data_dir, **options)
        done = studylib.saved_scores(save, specs, archs, "run this script with --run")
        figures = studylib.per_dataset(specs, archs, done, args.data_dir)
        for proxy in ("vkdnw", "vkdnw_agg"):
            cells = [f"{figures[ds][proxy][0]:.3f} / {figures[ds][proxy][1]:.3f}" for ds in studylib.DATASETS]
            print(f"| {name} | {proxy} | " + " | ".join(cells) + " |")
    for proxy, figures in PAPER.items():
        print(f"| paper, Table 1 (all of NB201) | {proxy} | " + " | ".join(f"{t:.3f} / {r:.3f}" for t, r in figures)
              + " |")


if __name__ == "__main__":
    main()
