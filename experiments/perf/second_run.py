"""The default search run twice on the same networks: the second reads the score cache (issue 38).

    python experiments/perf/second_run.py [--generations 3] [--population 12]

Runs ``evoproxy search --benchmark nb201-cifar10 --generations G --population P`` (no config: the defaults)
three times in one process, each into a fresh folder: with an empty score cache, again with the cache the
first run filled, and with ``score_cache = false``. Prints each run's wall time, the ratio to the first,
and whether the halls of fame and baselines are the same. The cache lives in a temporary folder (removed at
the end), never the user's.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generations", type=int, default=3, help="generations per run (default 3)")
    ap.add_argument("--population", type=int, default=12, help="population (default 12)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="second-run-") as tmp:
        os.environ["EVOPROXY_CACHE_DIR"] = str(Path(tmp) / "cache")
        import evoproxy

        runs, seconds = [], []
        for name, extra in (("empty cache", {}), ("second run", {}), ("no cache", {"score_cache": False})):
            start = time.perf_counter()
            runs.append(evoproxy.search(benchmarks=["nb201-cifar10"], generations=args.generations,
                                        population=args.population, out=Path(tmp) / name.replace(" ", "-"),
                                        **extra))
            seconds.append(time.perf_counter() - start)
            same = runs[-1].hall_of_fame == runs[0].hall_of_fame and runs[-1].baselines == runs[0].baselines
            print(f"{name:<12} {seconds[-1]:7.1f} s  ({seconds[-1] / seconds[0]:.2f} of the first)  "
                  f"same hall of fame and baselines as the first: {same}", flush=True)


if __name__ == "__main__":
    main()
