"""Our classic proxies on NAS-Bench-101 and NAS-Bench-301 beside NAS-Bench-Suite-Zero's own values.

    python experiments/suite_zero_spaces.py --run [--archs 60]   # score (or continue), then print
    python experiments/suite_zero_spaces.py [--archs 60]         # print from the saved scores
    ... [--space nb101-cifar10]                                    # one space only
    ... --draw 1 --draw 2 [--run] [--batch-size 32]                # the probe-dependent proxies, other draws

Setting: ``--archs`` rows of each table (a seeded sample of all of them, seed 0), one probe batch
of 64 CIFAR-10 training images and init seed 0 for every network (``evoproxy eval --save``, which an
interrupted run continues). For each proxy Suite-Zero reports there: Spearman of ours with the
table's validation accuracy, Spearman of Suite-Zero's values on the same rows, the gap, the
Spearman between our values and theirs network by network, and Suite-Zero's Spearman over the
whole table (its published figure).

``--draw D`` re-scores the proxies that disagree with Suite-Zero (``NOISY``) on the same rows with
probe batch and init seed ``D`` (draw 0 is the setting above), and prints how far another draw of
our own moves them: their Spearman with accuracy per draw, and per network how well draw 0 agrees
with Suite-Zero's values and with our other draws. Draw files continue like ``--save`` files, so
each draw can run in its own process. ``--batch-size`` sets the draws' probe batch (default 64).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

import studylib
from evoproxy.app import evaluate
from evoproxy.benchmarks import get_benchmark
from evoproxy.scoring.fitness import spearman
from evoproxy.scoring.summary import rankable

OUT = Path(__file__).parent / "suite_zero_spaces"
SPACES = ("nb101-cifar10", "nb301-cifar10")
PROXIES = ("synflow", "grasp", "fisher", "grad_norm", "l2_norm", "plain", "nwot", "epe_nas", "jacov", "snip",
           "params", "flops")
NOISY = ("grasp", "plain", "epe_nas", "jacov")


def wanted(bench) -> list[str]:
    return [p for p in PROXIES if p in bench.reference(0)]


def score(name: str, archs: int) -> None:
    """Suite-Zero's proxies on ``archs`` networks of ``name`` into OUT/NAME.csv (continued if cut)."""
    OUT.mkdir(exist_ok=True)
    studylib.score(";".join(wanted(get_benchmark(name))), name, archs, "all", OUT / f"{name}.csv", batch_size=64)


def draw_path(name: str, draw: int, batch: int = 64, out: Path = OUT) -> Path:
    return out / (f"{name}-draw{draw}.csv" if batch == 64 else f"{name}-b{batch}-draw{draw}.csv")


def score_draw(name: str, archs: int, draw: int, device: str, batch_size: int) -> None:
    """The ``NOISY`` proxies on the sample of ``--archs`` with probe batch and init seed ``draw``."""
    bench = get_benchmark(name)
    specs = evaluate.proxy_specs(";".join(NOISY), bench)
    ids = evaluate.resolve_archs(bench, str(archs), "all", 0, None)
    batch, _ = evaluate.probe_for(bench, None, batch_size, draw, None)
    OUT.mkdir(exist_ok=True)
    saver = evaluate.ScoreWriter(str(draw_path(name, draw, batch_size)), bench, ids, evaluate.network_specs(specs))
    print(f"{name} draw {draw}: {len(saver.todo)} of {len(ids)} networks to score", file=sys.stderr, flush=True)
    evaluate.run_eval(bench, specs, ids, batch.x, batch.y, draw, device, saver.write, saver.done)
    saver.close()


def read_rows(path: Path) -> dict[int, dict]:
    with open(path, newline="") as f:
        return {int(r["arch_id"]): r for r in csv.DictReader(f)}


def draw_table(name: str, draws: list[int], batch_size: int = 64, mixings: int = 500, out: Path = OUT) -> None:
    """Per ``NOISY`` proxy: Spearman with accuracy per draw and their mean; the same with each network's
    value taken from a random draw (NASLib drew a fresh batch per network), mean and sd over
    ``mixings``; Suite-Zero's; and per network, draw 0 against Suite-Zero and against our other draws."""
    bench = get_benchmark(name)
    paths = {d: draw_path(name, d, batch_size, out) for d in sorted({0, *draws})}
    files = {d: read_rows(path) for d, path in paths.items() if path.is_file()}
    if 0 not in files:
        print(f"{name}: draw 0 is not scored yet (scored: {sorted(files)}); score it with --run --draw 0")
        return
    ids = sorted(set.intersection(*(set(rows) for rows in files.values())))
    acc = np.array([bench.accuracy(i) for i in ids])
    rng = np.random.default_rng(0)
    print(f"\n{name}: the {len(ids)} networks scored in draws {sorted(files)} (batch {batch_size}; probe batch and init seed = draw)\n")
    print("| proxy | ours, each draw | mean | a draw per network, mean (sd) | Suite-Zero, same rows | per network: "
          "draw 0 vs Suite-Zero | draw 0 vs our other draws (mean) |\n|---|---|---|---|---|---|---|")
    for p in NOISY:
        values = np.array([[float(rows[i][p]) for i in ids] for rows in files.values()])
        rhos = [spearman(rankable(v), acc) for v in values]
        mixed = [spearman(rankable(values[rng.integers(0, len(values), len(ids)), np.arange(len(ids))]), acc)
                 for _ in range(mixings)]
        theirs = rankable(np.array([bench.reference(i)[p] for i in ids]))
        agree = [spearman(rankable(values[0]), rankable(v)) for v in values[1:]]
        print(f"| {p} | {' '.join(f'{r:.3f}' for r in rhos)} | {np.mean(rhos):.3f} | {np.mean(mixed):.3f} "
              f"({np.std(mixed):.3f}) | {spearman(theirs, acc):.3f} | {spearman(rankable(values[0]), theirs):.3f} | "
              f"{f'{np.mean(agree):.3f}' if agree else '–'} |")


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
    ap.add_argument("--draw", type=int, action="append",
                    help="the probe-dependent proxies with probe batch and init seed D (repeatable; 0 is the main "
                         "setting); with --run, score only these draws")
    ap.add_argument("--batch-size", type=int, default=64, help="probe images per network in the draws (default 64; the main table always uses 64)")
    ap.add_argument("--device", default="cpu", help="torch device for the draws' probes (cpu, cuda)")
    args = ap.parse_args()
    for name in args.space or SPACES:
        for draw in (args.draw or []) if args.run else []:
            score_draw(name, args.archs, draw, args.device, args.batch_size)
        if args.run and not args.draw:
            score(name, args.archs)
        if args.draw:
            draw_table(name, args.draw, args.batch_size)
        else:
            table(name)


if __name__ == "__main__":
    main()
