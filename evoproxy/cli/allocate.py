"""``evoproxy allocate``: proxy-guided per-layer bit widths under a size budget."""
from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from evoproxy.app import allocate, build
from evoproxy.app.catalog import resolve
from evoproxy.cli.registry import CommandGroup, add_data_dir, at_least, positive_number, register_commands
from evoproxy.errors import EvoproxyError


FIXED = {"uniform": allocate.uniform_within, "mixed-uniform": allocate.mixed_uniform}


def cmd_allocate(args: argparse.Namespace) -> int:
    name = f"mq-{args.model}-cifar10"
    if name not in build.MQ_BENCHMARKS:
        raise EvoproxyError(f"no MQ benchmark for model {args.model!r}; "
                            f"choose {', '.join(build.MQ_BENCHMARKS.values())}")
    bench = allocate.network_benchmark(name, args.data_dir)
    _, space = bench.reference()
    baselines = args.baselines.split(",")
    methods = [resolve(args.proxy)] + [resolve(b) for b in baselines if b and b not in FIXED]
    unique: dict = {}
    for m in methods:  # the searched proxy may also be a baseline: each formula runs once
        unique.setdefault(m.program.text, m)
    methods = list(unique.values())
    rows = []
    print(f"{'budget':>10}  {'method':<12} {'size':>10}  {'top1':>6}  config")
    for budget in args.budget_mb:
        found = []
        start = [allocate.mixed_uniform(space, budget)] if args.start == "mixed-uniform" else []
        for spec in methods:
            scorer = allocate.proxy_scorer(spec.program, bench, name, budget, args.data_dir)
            with tqdm(total=args.generations, desc=f"{spec.name} @ {budget} MB", unit="gen",
                      file=sys.stderr, disable=args.quiet) as bar:
                result = allocate.allocate(space, scorer, budget, args.seed, args.population, args.generations,
                                           on_generation=lambda g, best: bar.update(1), start=start)
            found.append((spec.name, result.config, result.evaluations))
        found += [(b, FIXED[b](space, budget), 0) for b in baselines if b in FIXED]
        measuring = tqdm(found, desc=f"measuring top-1 @ {budget} MB", unit="config", file=sys.stderr,
                         disable=args.quiet or args.no_measure)
        for method, cfg, evals in measuring:
            top1 = None if args.no_measure else bench.measure(cfg, f"allocate {method} seed {args.seed}")
            rows.append({"budget_mb": budget, "method": method, "size_mb": round(space.size_mb(cfg), 4),
                         "top1": top1, "evaluations": evals, "config": cfg.canonical})
            top1_text = "-" if top1 is None else f"{top1:.2f}"
            print(f"{budget:>7} MB  {method:<12} {space.size_mb(cfg):>7.4f} MB  {top1_text:>6}  {cfg.canonical}",
                  flush=True)
    if not args.no_measure:
        print(f"top-1: {bench.measured_counts()}", file=sys.stderr)
    if args.json:
        print(json.dumps({"benchmark": name, "proxy": args.proxy, "seed": args.seed, "rows": rows}))
    return 0


def add_allocate(sub) -> None:
    p = sub.add_parser("allocate", help="choose per-layer bit widths under a size budget with a proxy")
    p.add_argument("--proxy", required=True, help="a registered name, a formula, or a proxy .json file")
    p.add_argument("--model", default="resnet20", help="the network to quantize (default: resnet20)")
    p.add_argument("--budget-mb", type=positive_number, nargs="+", required=True,
                   help="weight-size budget(s) in MiB, one allocation each")
    p.add_argument("--baselines", default="uniform,mixed-uniform,hawq_v2",
                   help="comma-separated: uniform (widest uniform config that fits), mixed-uniform (that width "
                   "with as many layers as fit one width up) and/or proxies (default: uniform,mixed-uniform,hawq_v2)")
    p.add_argument("--start", choices=("mixed-uniform", "random"), default="mixed-uniform",
                   help="the bit-width search's first population: the mixed-uniform configuration and random "
                   "ones, so a proxy leaves it only for what it scores higher (default), or all random (EMQ's)")
    p.add_argument("--generations", type=at_least(1), default=10, help="generations of the bit-width search per "
                   "budget (default: 10)")
    p.add_argument("--population", type=at_least(2), default=16, help="bit configurations per generation "
                   "(default: 16)")
    p.add_argument("--seed", type=at_least(0), default=0, help="seeds the search and the probe batch (default: 0)")
    p.add_argument("--no-measure", action="store_true", help="skip measuring test accuracy")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line of stdout")
    add_data_dir(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_allocate)


register_commands(CommandGroup("allocate", add_allocate))
