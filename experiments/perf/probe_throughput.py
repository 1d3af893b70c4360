"""Statistics-probe throughput and peak memory on this machine (a benchmark script, not a test).

    python experiments/perf/probe_throughput.py [--archs 200] [--batch-size 64]

Each configuration runs in its own process so that its peak resident memory is its own.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CONFIGS = {
    "weight+grad": ["weight", "grad"],
    "train pass (weight, grad, act, act_grad)": ["weight", "grad", "act", "act_grad"],
    "all classic proxies (= eval --proxy all)": None,
}


def measure(stats: list[str] | None, archs: int, batch_size: int) -> dict:
    import torch

    from evoproxy.benchmarks import get_benchmark
    from evoproxy.data.images import load_probe_batch
    from evoproxy.probe.base import collect
    from evoproxy.lang.proxies import PROXIES
    from evoproxy.scoring.score import needed_stats

    names = stats or sorted(needed_stats([PROXIES.get(p).program for p in PROXIES]))
    bench = get_benchmark("nb201-cifar10")
    batch = load_probe_batch("cifar10", batch_size, seed=0)
    ids = bench.sample(archs, seed=0)
    start = time.perf_counter()
    for arch in ids:
        torch.manual_seed(0)
        collect(bench.build(arch), batch.x, batch.y, names)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stats": names, "archs": archs, "seconds": round(seconds, 1),
            "nets_per_s": round(archs / seconds, 2), "peak_rss_mb": round(peak_mb)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=200, help="NAS-Bench-201 networks probed (default 200)")
    ap.add_argument("--batch-size", type=int, default=64, help="CIFAR-10 images per probe (default 64)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(measure(json.loads(args.one), args.archs, args.batch_size)))
        return
    import torch
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, "
          f"{args.archs} NB201 architectures")
    for label, stats in CONFIGS.items():
        out = subprocess.run([sys.executable, __file__, "--archs", str(args.archs), "--batch-size",
                              str(args.batch_size), "--one", json.dumps(stats)],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{label:45s} {r['nets_per_s']:6.2f} nets/s  {r['seconds']:7.1f} s  "
              f"peak RSS {r['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
