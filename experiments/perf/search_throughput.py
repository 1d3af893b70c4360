"""Candidate evaluations per second: serial vs Ray, statistics-major vs re-probing per candidate.

    python experiments/perf/search_throughput.py [--archs 24] [--programs 60] [--batch-size 16]

"Statistics-major" scores a whole batch of programs per network with its statistics resident;
"per candidate" probes every network again for every program (what a naive loop does). Timings
include probing: the first batch pays for it, later batches reuse the resident statistics.
"""
from __future__ import annotations

import argparse
import random
import resource
import time

from evoproxy.backends.serial import SerialBackend
from evoproxy.benchmarks import get_benchmark
from evoproxy.search.generate import Generator
from evoproxy.scoring.worker import EvalSetup, Worker

STATS = ["weight", "grad", "act", "act_grad", "virtual_grad"]


def programs(n: int, seed: int) -> list[str]:
    gen, rng = Generator(stats=STATS), random.Random(seed)
    return [gen.program(rng).text for _ in range(n)]


def rate(score, texts: list[str], keys, batches: int = 2) -> tuple[float, float]:
    """(first batch incl. probing, later batches) in candidates per second."""
    out = []
    for b in range(batches):
        chunk = texts[b::batches]
        start = time.perf_counter()
        score(chunk, keys)
        out.append(len(chunk) / (time.perf_counter() - start))
    return out[0], sum(out[1:]) / max(1, len(out) - 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=24)
    ap.add_argument("--programs", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--benchmark", default="nb201-cifar10")
    args = ap.parse_args()
    setup = EvalSetup(batch_size=args.batch_size, memory_mb=16000)
    keys = [(args.benchmark, a) for a in get_benchmark(args.benchmark).sample(args.archs, "search")]
    texts = programs(args.programs, 0)
    print(f"{args.benchmark}: {args.archs} networks, {args.programs} random programs, "
          f"batch {args.batch_size}, 1 torch thread per worker")

    serial = SerialBackend(setup, get_benchmark)
    first, warm = rate(serial.score, texts, keys)
    print(f"serial, statistics-major   first batch {first:7.2f} cand/s   resident {warm:8.2f} cand/s")
    serial.close()

    few = texts[:4]
    start = time.perf_counter()
    for t in few:  # a fresh worker per candidate: every network probed again
        Worker(setup, get_benchmark).score([t], keys)
    per_candidate = len(few) / (time.perf_counter() - start)
    print(f"serial, per candidate      {per_candidate:7.2f} cand/s   "
          f"statistics-major is {warm / per_candidate:.0f}x faster once resident, "
          f"{first / per_candidate:.1f}x on the first batch")

    from evoproxy.backends.ray import RayBackend
    ray_backend = RayBackend(setup, get_benchmark, workers=2)
    first_r, warm_r = rate(ray_backend.score, texts, keys)
    ray_backend.close()
    print(f"ray, 2 workers             first batch {first_r:7.2f} cand/s   resident {warm_r:8.2f} cand/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the driver (serial worker inside): {peak:.0f} MB")


if __name__ == "__main__":
    main()
