"""The allocation-aware loop (issue 37): evolve a proxy on the budget strata, let it allocate bits under
each budget (GA seeds 0-2), measure what it chose, add those configurations to the strata (origin
``allocation round R seed S``: searched on, never held out), evolve again.

    python experiments/mq_loop.py --rounds 3   # into runs/mq-loop (resumable: each part is kept as it ends)
    python experiments/mq_loop.py              # the round-by-round table from what is saved

Each round's proxy is judged on what no round evolved on: its Kendall tau within the holdout half of
each shipped stratum (``mq-resnet20-cifar10-<B>mb``), and the measured top-1 of its allocations. The
grown strata live in ``runs/mq-loop/tables`` (the plugin ``mq_loop_tables.py`` registers them as
``mq-loop-<B>mb``); top-1 is measured once per configuration (the data directory's cache).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np

import studylib
import evoproxy
from evoproxy import evaluate_proxies
from evoproxy.allocation import ProxyScorer, allocate, mixed_uniform
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.benchmarks.checkpoints import DATA
from evoproxy.benchmarks.mq.benchmark import STRATA
from evoproxy.benchmarks.mq.build import read_rows, stratum_name
from evoproxy.benchmarks.tables import append_row as append_row_to_table
from evoproxy.cli.registry import add_data_dir
from evoproxy.lang.program import parse
from evoproxy.plugins import load_plugins
from mq_allocation import POPULATION, GENERATIONS, append_row, done_rows

CONFIG, PLUGIN = "experiments/mq-strata.toml", Path(__file__).with_name("mq_loop_tables.py")
BASE, SELECTION, GA_SEEDS = "mq-resnet20-cifar10", 14, 3
BUDGETS = STRATA[BASE]


def prepare(out: Path) -> None:
    """Copies of the shipped strata to grow (once; a continued loop keeps what it added)."""
    import mq_loop_tables as loop

    loop.tables().mkdir(parents=True, exist_ok=True)
    for budget in BUDGETS:
        table = loop.loop_table(budget)
        if not table.exists():
            shipped = DATA / f"{stratum_name(BASE, budget)}.csv"
            side = json.loads(Path(f"{shipped}.json").read_text())
            side.update(benchmark=loop.loop_name(budget), checkpoint=str((DATA / side["checkpoint"]).resolve()))
            Path(f"{table}.json").write_text(json.dumps(side, indent=2) + "\n")
            shutil.copyfile(shipped, table)


def evolve(out: Path, r: int, data_dir) -> str:
    """Round ``r``'s search on the strata as grown so far; its hall of fame's first formula."""
    import mq_loop_tables as loop

    run = out / f"round-{r}"
    search = min(len(open_benchmark(loop.loop_name(b), data_dir).arch_ids("search")) for b in BUDGETS)
    studylib.search(run, f"round {r}", CONFIG, {"benchmarks": [loop.loop_name(b) for b in BUDGETS],
                                                "plugins": [str(PLUGIN)], "seed": r,
                                                "search_archs": search - SELECTION, "selection_archs": SELECTION},
                    data_dir)
    formula = evoproxy.load_result(run).best.formula
    studylib.write_proxy(run / "proxy.json", f"round-{r}", formula)
    return formula


def add_row(table: Path, space, cfg, top1: float, origin: str) -> bool:
    """``cfg`` as a new row of the stratum ``table`` unless it is there already."""
    rows = read_rows(table)
    if any(r["config"] == cfg.canonical for r in rows):
        return False
    append_row_to_table(table, [max(int(r["id"]) for r in rows) + 1, cfg.canonical, f"{space.size_mb(cfg):.6f}",
                                f"{space.bops(cfg) / 1e9:.6f}", f"{top1:.2f}", origin])
    return True


def allocate_round(out: Path, r: int, formula: str, data_dir, start: str) -> None:
    """The round's proxy allocates under each budget (GA seeds), each choice measured and added."""
    import mq_loop_tables as loop

    log = out / f"round-{r}" / "allocations.jsonl"
    have = {(row["budget_mb"], row["seed"]) for row in done_rows(log)}
    bench = open_benchmark(BASE, data_dir)
    _, space = bench.reference()
    batch = bench.probe_batch()
    scorer = ProxyScorer(parse(formula), bench.quantize, batch.x, batch.y, bench.probe_seed)
    for budget in BUDGETS:
        for seed in range(GA_SEEDS):
            if (budget, seed) in have:
                continue
            first = [mixed_uniform(space, budget)] if start == "mixed-uniform" else []
            found = allocate(space, scorer, budget, seed, POPULATION, GENERATIONS, start=first)
            origin = f"allocation round {r} seed {seed}"
            top1 = bench.measure(found.config, origin)
            added = add_row(loop.loop_table(budget), space, found.config, top1, origin)
            append_row(log, {"budget_mb": budget, "seed": seed, "size_mb": round(found.size_mb, 4), "top1": top1,
                             "config": found.config.canonical, "added": added, "start": start})
            print(f"round {r}: {budget} MB seed {seed}: {top1:.2f}{'' if added else ' (known)'}", flush=True)


def holdout_tau(proxy: str, data_dir) -> list[float]:
    """Kendall tau within the holdout half of each shipped stratum."""
    names = [stratum_name(BASE, b) for b in BUDGETS]
    return [evaluate_proxies(proxy, name, archs=len(open_benchmark(name, data_dir).arch_ids("holdout")),
                             split="holdout", metric="top1", data_dir=data_dir).results[0].kendall
            for name in names]


def table(out: Path, data_dir) -> None:
    print("| round | formula | " + " | ".join(f"{b} MB holdout tau / top-1 (3 seeds)" for b in BUDGETS) + " |")
    print("|---" * (2 + len(BUDGETS)) + "|")
    rows = [("HAWQ-v2", "hawq_v2", None)]
    done = sorted((r for r in out.glob("round-*") if (r / "proxy.json").exists()), key=lambda p: int(p.name[6:]))
    rows += [(r.name[6:], str(r / "proxy.json"), r / "allocations.jsonl") for r in done]
    for name, proxy, log in rows:
        taus, allocations = holdout_tau(proxy, data_dir), done_rows(log) if log else []
        cells = []
        starts = {a.get("start", "random") for a in allocations}
        name += " (GA from mixed uniform)" if starts == {"mixed-uniform"} else ""
        for b, tau in zip(BUDGETS, taus):
            top1 = [a["top1"] for a in allocations if a["budget_mb"] == b]
            cells.append(f"{tau:.3f} / " + (f"{np.mean(top1):.2f}" if top1 else "-"))
        formula = json.loads(Path(proxy).read_text())["formula"] if proxy.endswith(".json") else proxy
        print(f"| {name} | `{formula}` | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=0, help="run (or continue) this many rounds first")
    ap.add_argument("--out", type=Path, default=Path("runs/mq-loop"), help="where the rounds and grown strata go")
    ap.add_argument("--start", choices=("random", "mixed-uniform"), default="random",
                    help="the allocation GA's first population in the rounds run now: all random (default) or "
                    "the mixed-uniform configuration and random ones")
    add_data_dir(ap)
    args = ap.parse_args()
    os.environ["EVOPROXY_MQ_LOOP"] = str(args.out.resolve())
    load_plugins([str(PLUGIN)])
    prepare(args.out)
    for r in range(args.rounds):
        allocate_round(args.out, r, evolve(args.out, r, args.data_dir), args.data_dir, args.start)
    table(args.out, args.data_dir)


if __name__ == "__main__":
    main()
