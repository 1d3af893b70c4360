"""Bit allocation at each budget, measured: the evolved MQ proxies against HAWQ-v2, HAWQ-v1, OMPQ,
QE score, bsynflow, uniform widths, random configurations and the best measured one (issue 37).

    python experiments/mq_allocation.py --run   # allocate (GA seeds 0-2 per proxy and budget) and measure
    python experiments/mq_allocation.py         # the tables from what is saved

Every allocation is one JSON line in ``runs/mq-alloc/allocations.jsonl`` as soon as it is measured, so a
cut run continues where it stopped; ``alloc.json`` beside it is what ``evoproxy report`` draws (top-1
against size per method). Top-1 is measured once per configuration (the data directory's cache).
Per budget the table also shows, from the budget's stratum (``mq-resnet20-cifar10-<B>mb``: 60 random
configurations within 3% below it, measured): the mean and best of its first 20 (random allocation),
the best of all of them (the oracle among what was measured), and each proxy's Kendall tau within the
stratum (what explains its allocation).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from evoproxy.allocation import allocate, mixed_uniform, uniform_within
from evoproxy.app.allocate import network_benchmark, proxy_scorer
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.app.catalog import resolve
from evoproxy.benchmarks.mq.benchmark import STRATA
from evoproxy.benchmarks.mq.build import stratum_name
from evoproxy.cli.registry import add_data_dir
from evoproxy.errors import EvoproxyError

BENCHMARK = "mq-resnet20-cifar10"
PROXIES = {"evolved (within budget)": "experiments/proxies/mq-resnet20-allocation.json",
           "evolved ensemble (within budget)": "experiments/proxies/mq-resnet20-allocation-ensemble.json",
           "evolved": "experiments/proxies/mq-resnet20-best.json",
           "evolved ensemble": "experiments/proxies/mq-resnet20-ensemble.json",
           "HAWQ-v2": "hawq_v2", "HAWQ-v1": "hawq_v1", "OMPQ": "ompq", "QE score": "qe_score",
           "bsynflow": "bsynflow"}
OWN = {"mq-mobilenetv2-cifar10": {"evolved on MobileNetV2": "experiments/proxies/mq-mobilenetv2-allocation.json"}}
"""Proxies evolved on a network itself (on the others, the ResNet-20 proxies above are transferred unchanged)."""
GA_SEEDS, POPULATION, GENERATIONS, RANDOM = 3, 16, 10, 20


def done_rows(path: Path) -> list[dict]:
    """The saved allocations (a line cut short by a kill is left out, and measured again)."""
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def append_row(log: Path, row: dict) -> None:
    """One finished allocation, on a line of its own (after a line a kill cut short)."""
    text = log.read_text() if log.exists() else ""
    with open(log, "a") as f:
        f.write(("\n" if text and not text.endswith("\n") else "") + json.dumps(row) + "\n")


def label(row: dict) -> str:
    """The table's name for a row's method: the GA's start is named when it was the mixed-uniform one."""
    return row["method"] + (" (GA from mixed uniform)" if row.get("start") == "mixed-uniform" else "")


def run(out: Path, benchmark: str, data_dir, proxies: dict[str, str], budgets, seeds: int, start: str) -> None:
    """Every (budget, method, seed) allocation not yet in ``out/allocations.jsonl``, measured."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "allocations.jsonl"
    have = {(r["budget_mb"], label(r), r["seed"]) for r in done_rows(log)}
    bench = network_benchmark(benchmark, data_dir)
    _, space = bench.reference()
    for budget in budgets:
        fixed = {"uniform": uniform_within(space, budget), "mixed uniform": mixed_uniform(space, budget)}
        todo = [(m, None, s) for m, s in ((m, 0) for m in fixed)]
        todo += [(m, spec, s) for m, spec in proxies.items() for s in range(seeds)]
        first = [fixed["mixed uniform"]] if start == "mixed-uniform" else []
        for method, spec, seed in todo:
            row = {"budget_mb": budget, "method": method, "seed": seed}
            if spec is not None:
                row["start"] = start
            if (budget, label(row), seed) in have:
                continue
            if spec is None:
                cfg, evaluations = fixed[method], 0
            else:
                scorer = proxy_scorer(resolve(spec).program, bench, benchmark, budget, data_dir)
                found = allocate(space, scorer, budget, seed, POPULATION, GENERATIONS, start=first)
                cfg, evaluations = found.config, found.evaluations
            top1 = bench.measure(cfg, f"allocation {label(row)} seed {seed}")
            row.update(size_mb=round(space.size_mb(cfg), 4), top1=top1, evaluations=evaluations, config=cfg.canonical)
            append_row(log, row)
            print(f"{budget} MB  {label(row):<40} seed {seed}  {row['size_mb']:.4f} MB  {top1:.2f}", flush=True)
    (out / "alloc.json").write_text(json.dumps({"benchmark": benchmark, "rows": done_rows(log)}))


def stratum_figures(benchmark: str, budget: float, proxies: dict[str, str], data_dir) -> dict[str, str]:
    """Random / oracle cells and each proxy's within-stratum tau, from the budget's stratum table."""
    from evoproxy import evaluate_proxies

    name = stratum_name(benchmark, budget)
    try:
        stratum = open_benchmark(name, data_dir)
    except EvoproxyError as e:
        return {"note": str(e)}
    acc = np.array([stratum.accuracy(i) for i in stratum.arch_ids()])
    cells = {"random (mean of 20)": f"{acc[:RANDOM].mean():.2f}", "random (best of 20)": f"{acc[:RANDOM].max():.2f}",
             "oracle (best measured)": f"{acc.max():.2f} of {len(acc)}"}
    result = evaluate_proxies(list(proxies.values()), name, archs=len(acc), metric="top1", data_dir=data_dir)
    for method, r in zip(proxies, result.results):
        cells[f"tau {method}"] = f"{r.kendall:.3f}"
    return cells


def table(out: Path, benchmark: str, proxies: dict[str, str], budgets, data_dir) -> None:
    rows = done_rows(out / "allocations.jsonl")
    print("| method | " + " | ".join(f"{b} MB top-1 (mean of seeds; size)" for b in budgets) + " |")
    print("|---" * (1 + len(budgets)) + "|")
    for method in dict.fromkeys(["uniform", "mixed uniform", *(label(r) for r in rows if r["method"] in proxies)]):
        cells = []
        for b in budgets:
            mine = [r for r in rows if r["budget_mb"] == b and label(r) == method]
            seeds = ", ".join(f"{r['top1']:.1f}" for r in mine)
            cells.append(f"{np.mean([r['top1'] for r in mine]):.2f} ({seeds}; {max(r['size_mb'] for r in mine):.4f} MB)"
                         if mine else "-")
        print(f"| {method} | " + " | ".join(cells) + " |")
    figures = {b: stratum_figures(benchmark, b, proxies, data_dir) for b in budgets}
    for key in dict.fromkeys(k for f in figures.values() for k in f):
        print(f"| {key} | " + " | ".join(figures[b].get(key, "-") for b in budgets) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="allocate and measure what is not saved yet, then the tables")
    ap.add_argument("--benchmark", choices=list(STRATA), default=BENCHMARK,
                    help=f"the network's MQ benchmark (default {BENCHMARK})")
    ap.add_argument("--out", type=Path, help="where the allocations go (default runs/mq-alloc, for another "
                    "network runs/mq-alloc-<network>)")
    ap.add_argument("--budgets", type=float, nargs="+", help="MiB (default: the benchmark's strata, "
                    + "; ".join(f"{b}: {' '.join(map(str, s))}" for b, s in STRATA.items()) + ")")
    ap.add_argument("--methods", nargs="+", choices=list(PROXIES) + [m for own in OWN.values() for m in own],
                    help="the proxies that allocate (default: all the network's)")
    ap.add_argument("--seeds", type=int, default=GA_SEEDS, help=f"GA seeds per proxy and budget (default {GA_SEEDS})")
    ap.add_argument("--start", choices=("random", "mixed-uniform"), default="random",
                    help="the GA's first population: all random (EMQ's; default) or the mixed-uniform "
                    "configuration and random ones")
    add_data_dir(ap)
    args = ap.parse_args()
    known = {**PROXIES, **OWN.get(args.benchmark, {})}
    proxies = {m: known[m] for m in args.methods or known if m in known}
    out = args.out or Path("runs/mq-alloc" + ("" if args.benchmark == BENCHMARK else
                                              "-" + args.benchmark.split("-")[1]))
    budgets = args.budgets or list(STRATA[args.benchmark])
    if args.run:
        run(out, args.benchmark, args.data_dir, proxies, budgets, args.seeds, args.start)
    table(out, args.benchmark, proxies, budgets, args.data_dir)


if __name__ == "__main__":
    main()
