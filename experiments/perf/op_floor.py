"""How fast could scoring be? Where a search stream's scoring time goes, and the floor it implies.

    python experiments/perf/op_floor.py [--archs 48] [--generations 5] [--offspring 16]

Scores the stream of ``search_throughput.py`` (a random population, then generations of children)
with packs + reuse, one thread, and times every op call by what it works on:

* ``tensor ops``: calls with an activation-sized operand (a tensor statistic or a value computed
  from one), split into nodes computed for the first time in the stream and nodes an earlier call
  had computed already (a cache of every tensor value ever computed would skip those; the reuse
  store keeps only layer and scalar values, as tensor values are the size of the statistics);
* ``small ops``: calls on layer or scalar values only;
* the rest: the interpreter, packing, memo and screening around them.

A program's value needs its first-time tensor ops (skipping elements would change its score),
whatever the interpreter does around them. The script prints three bounds on the speed-up of an
evaluator that gives the same scores: total / first-time tensor ops (same kernels, same data flow);
total / those ops at their in-cache speed (each op timed again on one 1 MB layer held in the cache);
total / one pass over the statistics each call reads, at ``torch.sum``'s speed (compute not counted).
``--mmap-mib`` sets glibc's mmap threshold (the worker's is 1 MiB) to see what page faults cost.
"""
from __future__ import annotations

import argparse
import resource
import time
from collections import defaultdict

import torch
from evoproxy.benchmarks import get_benchmark
from search_throughput import PROBE_ALL, STATS, add_stream_options, search_keys, stream  # noqa: E402  (this script's folder is on the path)

import evoproxy.lang.packed as packed
import evoproxy.scoring.memory as memory
from evoproxy.backends.serial import SerialBackend
from evoproxy.cli.registry import at_least
from evoproxy.lang.ops import OPS
from evoproxy.scoring.setup import EvalSetup, ScoringConfig


class OpClock:
    """Times op calls: an :class:`~evoproxy.lang.packed.OpObserver` of the packed interpreter, sorting
    each op call by what it works on (a pack's node seen in an earlier call is recomputed)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every op seen so far (the call that probes the statistics is not the stream's)."""
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.seen: set[tuple] = set()
        self.by_op: dict[str, list] = defaultdict(lambda: [0.0, 0])  # first-time tensor ops: seconds, bytes
        self.stat_bytes: dict[tuple, int] = {}  # (pack, statistic): bytes of its tensor
        self.call_reads: set[tuple] = set()  # (pack, statistic) read by this call's first-time tensor ops

    def stat(self, node, value, pack) -> None:
        if isinstance(value, packed.Groups):
            self.stat_bytes[(pack, node.head)] = _bytes(value)

    def op(self, node, op, args, out, seconds: float, pack) -> None:
        key = (pack, node.text)  # a node on one pack of networks
        if any(isinstance(a, packed.Groups) for a in args):
            kind = "tensor ops, recomputed" if key in self.seen else "tensor ops, first time"
            self.seen.add(key)
        else:
            kind = "small ops"
        self.seconds[kind] += seconds
        self.calls[kind] += 1
        if kind == "tensor ops, first time":
            self.call_reads.update((pack, s) for s in node.stats)
            self.by_op[op.name][0] += seconds
            self.by_op[op.name][1] += sum(map(_bytes, [*args, out]))


def _bytes(value) -> int:
    if isinstance(value, packed.Groups):
        return sum(t.numel() * t.element_size() for _, t in value.groups)
    return value.v.numel() * value.v.element_size()


def reference_gbps(mb: float = 1.0, repeats: int = 200, read_only: bool = False) -> float:
    """GB/s of ``torch.add`` on two float32 tensors of ``mb`` MB (read twice, write once), or of
    ``torch.sum`` of one (``read_only``), one thread."""
    x = torch.rand(int(mb * 2**18))
    y = torch.rand_like(x)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.sum(x) if read_only else torch.add(x, y)
    return repeats * (1 if read_only else 3) * x.numel() * 4 / (time.perf_counter() - start) / 1e9


def in_cache_gbps(name: str, repeats: int = 100) -> float:
    """GB/s (operands + result) of op ``name``'s batched form on one 1 MB layer (a stage-1 NB201
    activation at batch 16) held in the CPU's cache: its speed in an evaluator whose data never
    leaves the cache."""
    op = OPS.get(name)
    fn = op.batch_fn or op.fn
    args = [torch.randn(1, 16, 16, 32, 32) for _ in range(op.arity)]
    out = fn(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    seconds = (time.perf_counter() - start) / repeats
    return sum(t.numel() * t.element_size() for t in [*args, out]) / seconds / 1e9


def score_stream(backend, calls, keys, clock: OpClock) -> tuple[float, int, float, float]:
    """(seconds, bytes of statistics the first-time tensor ops read per call, user and system CPU s)."""
    total, read_bytes = 0.0, 0
    before = resource.getrusage(resource.RUSAGE_SELF)
    for texts in calls:
        clock.call_reads = set()
        start = time.perf_counter()
        backend.score(texts, keys)
        total += time.perf_counter() - start
        read_bytes += sum(clock.stat_bytes.get(k, 0) for k in clock.call_reads)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return total, read_bytes, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def report(clock: OpClock, total: float, read_bytes: int) -> None:
    ops = sum(clock.seconds.values())
    print("\n| where the time goes | seconds | share |\n|---|---|---|")
    for kind in ("tensor ops, first time", "tensor ops, recomputed", "small ops"):
        print(f"| {kind} | {clock.seconds[kind]:.1f} | {clock.seconds[kind] / total:.0%} |")
    print(f"| interpreter, packing, memo, screening | {total - ops:.1f} | {(total - ops) / total:.0%} |")
    print(f"| total | {total:.1f} | 100% |")
    print("\n| op (first-time tensor calls) | seconds | GB/s (operands + result) | GB/s in cache |\n|---|---|---|---|")
    cache_floor = 0.0
    for name, (sec, nbytes) in sorted(clock.by_op.items(), key=lambda kv: -kv[1][0]):
        gbps = in_cache_gbps(name)
        cache_floor += nbytes / 1e9 / gbps
        print(f"| {name} | {sec:.2f} | {nbytes / sec / 1e9:.1f} | {gbps:.1f} |")
    read_gbps = reference_gbps(256, 10, read_only=True)
    print(f"reference, one thread: torch.add of two 1 MB float32 tensors {reference_gbps():.1f} GB/s, of two 64 MB "
          f"tensors {reference_gbps(64, 10):.1f} GB/s; torch.sum of 256 MB {read_gbps:.1f} GB/s")
    recomputed = clock.seconds["tensor ops, recomputed"]
    print(f"\nBounds on the speed-up over this evaluator (total / the time that stays), same scores:\n"
          f"- only the first-time tensor ops left (no interpreter cost, every tensor value kept): "
          f"{total / clock.seconds['tensor ops, first time']:.1f}x; no recomputation alone: "
          f"{total / (total - recomputed):.1f}x\n"
          f"- every operand in the cache, torch's kernels op by op (they run at their in-cache speed): "
          f"{total / cache_floor:.1f}x\n"
          f"- one fused pass per call over each statistic a first-time tensor op reads "
          f"({read_bytes / 2**30:.1f} GiB at torch.sum's speed), no compute: {total / (read_bytes / 1e9 / read_gbps):.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_stream_options(ap, archs=48)
    ap.add_argument("--mmap-mib", type=at_least(1), help="glibc's mmap threshold in MiB (default: the worker's, "
                    f"{memory.MMAP_THRESHOLD >> 20} MiB)")
    args = ap.parse_args()
    keys = search_keys(ap, args)
    calls = stream(args.population, args.generations, args.offspring, seed=0)
    setup = EvalSetup(scoring=ScoringConfig(batch_size=args.batch_size), memory_mb=64000, pack_networks=4,
                      reuse_mb=256, pack_threads=1)
    clock = OpClock()
    backend = SerialBackend(setup, get_benchmark, observer=clock)
    if args.mmap_mib:
        memory.set_mmap_threshold(args.mmap_mib << 20)
    backend.score(PROBE_ALL, keys)
    print(f"{args.benchmark}: {args.archs} networks, batch {args.batch_size}, statistics {', '.join(STATS)}: "
          f"{backend.worker.cached_bytes / 2**30:.1f} GiB resident; {sum(map(len, calls))} programs in "
          f"{len(calls)} calls; packs of 4 + reuse, 1 thread")
    clock.reset()
    total, read_bytes, user, system = score_stream(backend, calls, keys, clock)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"scoring: {total:.1f} s ({sum(map(len, calls)) / total * 60:.1f} prog/min), CPU user {user:.1f} s, "
          f"system {system:.1f} s; peak RSS {peak:.2f} GiB")
    report(clock, total, read_bytes)


if __name__ == "__main__":
    main()
