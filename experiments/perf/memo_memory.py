"""Peak memory and time of scoring a run's generations, with and without dropping memo values no later
program of the call needs (``keep_only`` in evoproxy/scoring/worker.py).

    python experiments/perf/memo_memory.py --from-run runs/selection/aging-s0 --generations 24:29 --archs 16

Each arm runs in its own process (peak RSS is per process), one after the other, on the same
networks and programs (those the run fully scored in those generations); the scores must be equal.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evoproxy.cli.registry import at_least, run_dir

ARMS = ("keep every value", "keep what later programs need")


def generation_range(text: str) -> tuple[int, int]:
    """``A:B`` with 0 <= A < B (an argparse type)."""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) >= int(parts[1]):
        raise argparse.ArgumentTypeError(f"give A:B, generations A to B-1 with A < B, not {text!r}")
    return int(parts[0]), int(parts[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from-run", required=True, type=run_dir, metavar="RUN_DIR", help="the search run whose programs are replayed")
    ap.add_argument("--generations", type=generation_range, default="24:29", help="A:B, generations A to B-1 (default 24:29)")
    ap.add_argument("--archs", type=at_least(2), default=16, help="search networks of NAS-Bench-201 CIFAR-10 (default 16)")
    ap.add_argument("--arm", type=int, choices=(0, 1), help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.arm is not None:
        return run_arm(args)
    results, tmp = [], tempfile.TemporaryDirectory()
    for k, name in enumerate(ARMS):
        out = str(Path(tmp.name) / f"arm{k}.npy")
        line = subprocess.run([sys.executable, __file__, "--from-run", args.from_run, "--generations",
                               "{}:{}".format(*args.generations), "--archs", str(args.archs), "--arm", str(k), "--save", out],
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        results.append((name, line, np.load(out)))
        print(f"{name}: {line}", flush=True)
    same = np.array_equal(results[0][2], results[1][2], equal_nan=True)
    print(f"scores {'identical' if same else 'DIFFERENT'} ({results[0][2].size} program x network values)")


def run_arm(args) -> None:
    import evoproxy.scoring.worker as worker_mod
    from evoproxy.app.runs import scored_programs
    from evoproxy.backends.serial import SerialBackend
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.scoring.setup import EvalSetup, ScoringConfig

    if args.arm == 0:
        worker_mod.keep_only = lambda memo, texts: None
    first, stop = args.generations
    calls = scored_programs(args.from_run, range(first, stop))
    keys = [("nb201-cifar10", a) for a in get_benchmark("nb201-cifar10").sample(args.archs, "search")]
    backend = SerialBackend(EvalSetup(scoring=ScoringConfig(batch_size=16), memory_mb=64000), get_benchmark)
    backend.score(["add(layer_sum(l1(add(act, act_grad))), layer_sum(l1(add(virtual_grad, add(weight, grad)))))"],
                  keys)
    probed = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    scores = np.vstack([backend.score(texts, keys)[0] for texts in calls])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    np.save(args.save, scores)
    print(f"{len(scores)} programs on {len(keys)} networks in {seconds:.0f} s; peak RSS {peak:.2f} GiB "
          f"({probed:.2f} after probing, +{peak - probed:.2f} scoring)")


if __name__ == "__main__":
    main()
