"""Programs scored per minute on resident statistics: one network at a time vs packs vs Ray.

    python experiments/perf/search_throughput.py [--archs 200] [--generations 5] [--offspring 16]

A search scores a stream of programs: a random population, then each generation's children (made
by the search's own mutation and crossover from random parents, so they share subtrees with them
as in a run). Every evaluator scores the same stream, one call per generation, on the same
resident statistics of ``--archs`` NAS-Bench-201 networks (probing is timed once, apart):

* ``one by one``: network by network, nothing kept across calls (the evaluator before packs);
* ``packs``: ``pack_networks`` networks at a time, same-shape small layers as one op call;
* ``packs + reuse``: and layer/scalar values of program nodes kept across calls (``reuse_mb``);
* ``2 threads``: two packs scored at once, one thread each (the serial backend's ``workers``);
* ``Ray, 2 workers``: packs + reuse, the networks split over two processes.

It prints programs per minute for generation 0 and for the later generations (the best of
``--repeats`` runs of each serial evaluator, in alternating order), and how far each evaluator's
scores are from the one-by-one scores.
"""
from __future__ import annotations

import argparse
import random
import resource
import time

import numpy as np

from evoproxy.app.runs import scored_programs
from evoproxy.backends.serial import SerialBackend
from evoproxy.benchmarks import get_benchmark
from evoproxy.cli.registry import at_least, run_dir
from evoproxy.errors import EvoproxyError
from evoproxy.evolve.generate import Generator
from evoproxy.evolve.variation import Limits, crossover, mutate
from evoproxy.scoring.setup import EvalSetup, ScoringConfig

STATS = ["weight", "grad", "act", "act_grad", "virtual_grad"]
EVALUATORS = (  # name, pack_networks, reuse_mb, pack_threads
    ("one by one", 0, 0, 1), ("packs", 4, 0, 1), ("packs + reuse", 4, 256, 1), ("packs + reuse, 2 threads", 4, 256, 2))
PROBE_ALL = ["add(layer_sum(l1(add(act, act_grad))), layer_sum(l1(add(virtual_grad, add(weight, grad)))))"]


def stream(population: int, generations: int, offspring: int, seed: int) -> list[list[str]]:
    """Program texts per call: the population, then each generation's children."""
    gen, rng, limits = Generator(stats=STATS), random.Random(seed), Limits()
    pop = [gen.program(rng) for _ in range(population)]
    calls = [[p.text for p in pop]]
    for _ in range(generations):
        children = []
        while len(children) < offspring:
            a, b = rng.sample(pop, 2)
            child = crossover(rng, a, b, limits) if rng.random() < 0.5 else mutate(rng, a, gen, limits)
            if child is not None:
                children.append(child)
        for child in children:
            pop[rng.randrange(population)] = child
        calls.append([c.text for c in children])
    return calls


def run(backend, calls: list[list[str]], keys) -> tuple[float, float, np.ndarray]:
    """(programs/min in generation 0, programs/min later, all scores in stream order)."""
    times, scores = [], []
    for texts in calls:
        start = time.perf_counter()
        s, _ = backend.score(texts, keys)
        times.append(time.perf_counter() - start)
        scores.append(s)
    later = sum(len(c) for c in calls[1:]) / sum(times[1:]) * 60
    return len(calls[0]) / times[0] * 60, later, np.vstack(scores)


def serial_rows(args, calls, keys, cache) -> list[tuple]:
    """(name, best programs/min in generation 0, best later, scores) of each serial evaluator, run
    ``--repeats`` times in alternating order (forwards, backwards, ...), so drift favours none."""
    best: dict[str, list] = {}
    for rep in range(args.repeats):
        for name, pack, reuse, threads in EVALUATORS[::1 if rep % 2 == 0 else -1]:
            setup = EvalSetup(scoring=ScoringConfig(batch_size=args.batch_size), memory_mb=64000,
                              pack_networks=pack, reuse_mb=reuse, pack_threads=threads)
            backend = SerialBackend(setup, get_benchmark)
            backend.worker.cache = cache  # the same resident statistics
            first, later, scores = run(backend, calls, keys)
            print(f"  {name:32s} generation 0 {first:7.1f} prog/min   later {later:7.1f} prog/min", flush=True)
            old = best.setdefault(name, [name, first, later, scores])
            old[1], old[2] = max(old[1], first), max(old[2], later)
    return [tuple(best[e[0]]) for e in EVALUATORS]


def distance(a: np.ndarray, ref: np.ndarray) -> str:
    both = np.isfinite(a) & np.isfinite(ref)
    same_nan = (np.isfinite(a) == np.isfinite(ref)).all()
    rel = np.abs(a - ref)[both] / np.maximum(np.abs(ref[both]), 1e-300)
    exact = int(np.all((a == ref) | ~both, axis=1).sum())
    return (f"{exact}/{len(a)} programs bit-identical, median rel. diff {np.median(rel):.1e}, "
            f"NaN pattern {'same' if same_nan else 'DIFFERENT'}")


def add_stream_options(ap: argparse.ArgumentParser, archs: int) -> None:
    """The options of the stream and of the networks it is scored on (shared by the perf scripts)."""
    ap.add_argument("--archs", type=at_least(2), default=archs, help=f"search networks held resident (default {archs})")
    ap.add_argument("--population", type=at_least(1), default=24, help="random programs of generation 0 (default 24)")
    ap.add_argument("--generations", type=at_least(1), default=5, help="generations of children after generation 0 (default 5)")
    ap.add_argument("--offspring", type=at_least(1), default=16, help="children per generation (default 16)")
    ap.add_argument("--batch-size", type=at_least(1), default=16, help="probe batch (default 16)")
    ap.add_argument("--benchmark", default="nb201-cifar10", help="whose networks (default nb201-cifar10)")


def search_keys(ap: argparse.ArgumentParser, args: argparse.Namespace) -> list[tuple[str, int]]:
    """``--archs`` search networks of ``--benchmark``, or the parser's one-line error."""
    try:
        return [(args.benchmark, a) for a in get_benchmark(args.benchmark).sample(args.archs, "search")]
    except EvoproxyError as e:  # an unknown name, or its tables not in the data directory
        ap.error(str(e))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_stream_options(ap, archs=200)
    ap.add_argument("--repeats", type=at_least(1), default=2, help="runs of each serial evaluator, the best "
                    "counted (default 2; alternating order)")
    ap.add_argument("--no-ray", action="store_true", help="leave out the Ray row")
    ap.add_argument("--from-run", type=run_dir, metavar="RUN_DIR", help="replay the programs a search run scored "
                    "(generation 0 and the next --generations) instead of a made-up stream")
    args = ap.parse_args()
    keys = search_keys(ap, args)
    calls = scored_programs(args.from_run, range(args.generations + 1)) if args.from_run else \
        stream(args.population, args.generations, args.offspring, seed=0)
    n = sum(map(len, calls))
    print(f"{args.benchmark}: {args.archs} networks, batch {args.batch_size}, statistics {', '.join(STATS)}; "
          f"{n} programs ({len(calls[0])} in generation 0, then {len(calls) - 1} generations"
          f"{' of ' + args.from_run if args.from_run else ''}); 1 torch thread per worker")
    setup = EvalSetup(scoring=ScoringConfig(batch_size=args.batch_size), memory_mb=64000)
    ray_row = None
    if not args.no_ray:  # first: its workers' memory is gone when it closes
        from evoproxy.backends.ray import RayBackend
        ray_backend = RayBackend(setup, get_benchmark, workers=2)
        ray_backend.score(PROBE_ALL, keys)
        ray_row = ("Ray, 2 workers", *run(ray_backend, calls, keys))
        ray_backend.close()
        print(f"  {ray_row[0]:32s} generation 0 {ray_row[1]:7.1f} prog/min   later {ray_row[2]:7.1f} prog/min")
    serial = SerialBackend(setup, get_benchmark)
    start = time.perf_counter()
    serial.score(PROBE_ALL, keys)
    print(f"probing {args.archs} networks once: {time.perf_counter() - start:.0f} s, "
          f"{serial.worker.cached_bytes / 2**30:.1f} GiB resident")
    rows = serial_rows(args, calls, keys, serial.worker.cache)
    ref = rows[0][3]
    rows = [(name, first, later, distance(scores, ref)) for name, first, later, scores in rows]
    if ray_row is not None:
        rows.append((*ray_row[:3], distance(ray_row[3], ref)))
    base = rows[0]
    print("\n| evaluator | generation 0 | later generations | vs one by one (later) | scores |")
    print("|---|---|---|---|---|")
    for name, first, later, dist in rows:
        print(f"| {name} | {first:.1f} prog/min | {later:.1f} prog/min | {later / base[2]:.1f}x | {dist} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of this process (serial worker inside): {peak:.1f} GiB")


if __name__ == "__main__":
    main()
