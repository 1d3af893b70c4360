"""``evoproxy bench build`` (an MQ benchmark table) and ``evoproxy allocate`` (proxy-guided bits)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import EvoproxyError
from .vitcli import add_build_options

MQ_BENCHMARKS = {"mq-resnet20-cifar10": "resnet20"}


def cmd_bench_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .benchmarks.mq import CHECKPOINT
    from .benchmarks.mq_build import MQMethod, build_mq_table
    from .data import describe_data_dir

    if args.name == "vit-kd-cifar10":
        from .vitcli import cmd_bench_build_vit

        return cmd_bench_build_vit(args)
    if args.name not in MQ_BENCHMARKS:
        raise EvoproxyError(f"cannot build {args.name!r}; buildable: {', '.join(MQ_BENCHMARKS)}, vit-kd-cifar10")
    method = MQMethod(model=MQ_BENCHMARKS[args.name], choices=tuple(args.choices), calib_images=args.calib_images,
                      bn_reestimate=args.bn_reestimate, test_limit=args.test_limit)
    out = Path(args.out or f"{args.name}.csv")
    command = (f"evoproxy bench build {args.name} --configs {args.configs} --seed {args.seed} "
               f"--choices {' '.join(map(str, method.choices))} --calib-images {args.calib_images}"
               + (" --bn-reestimate" if args.bn_reestimate else "")
               + (f" --test-limit {args.test_limit}" if args.test_limit else ""))
    print(f"data: {describe_data_dir(args.data_dir)}", file=sys.stderr)
    bar = tqdm(total=args.configs, desc=args.name, unit="config", file=sys.stderr, disable=args.quiet)

    def on_row(done: int, total: int, row: dict) -> None:
        bar.n = done
        bar.set_postfix(top1=row["top1"], size_mb=f"{float(row['size_mb']):.3f}")

    try:
        path = build_mq_table(out, args.configs, args.checkpoint or CHECKPOINT, args.seed, method,
                              args.data_dir, command, on_row)
    finally:
        bar.close()
    print(f"table: {path} (provenance {path}.json)")
    return 0


def _measure(bench, cfg, cache: dict) -> float:
    """CIFAR-10 test top-1 of ``cfg`` quantized by the benchmark's recipe (the table's measurement)."""
    import torch

    from .train import evaluate_accuracy, load_cifar10

    if "test" not in cache:
        cache["test"] = load_cifar10("test", bench.data_dir, limit=bench.method.test_limit,
                                     seed=bench.provenance["seed"])
    net = bench.quantize(cfg)
    with torch.inference_mode():
        return evaluate_accuracy(net, *cache["test"], batch_size=100)


def cmd_allocate(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from .allocate import ProxyScorer, allocate, uniform_within
    from .benchmarks import get_benchmark
    from .proxyfile import resolve

    name = f"mq-{args.model}-cifar10"
    if name not in MQ_BENCHMARKS:
        raise EvoproxyError(f"no MQ benchmark for model {args.model!r}; choose {', '.join(v for v in MQ_BENCHMARKS.values())}")
    bench = get_benchmark(name, args.data_dir)
    _, space = bench.reference()
    batch = bench.probe_batch()
    methods = [("proxy", resolve(args.proxy))] + [(b, resolve(b)) for b in args.baselines.split(",")
                                                  if b and b != "uniform"]
    rows, cache = [], {}
    for budget in args.budget_mb:
        found = []
        for label, spec in methods:
            scorer = ProxyScorer(spec.program, bench.quantize, batch.x, batch.y, bench.probe_seed)
            with tqdm(total=args.generations, desc=f"{spec.name} @ {budget} MB", unit="gen",
                      file=sys.stderr, disable=args.quiet) as bar:
                result = allocate(space, scorer, budget, args.seed, args.population, args.generations,
                                  on_generation=lambda g, best: bar.update(1))
            found.append((spec.name, result.config, result.evaluations))
        if "uniform" in args.baselines.split(","):
            found.append(("uniform", uniform_within(space, budget), 0))
        for method, cfg, evals in found:
            top1 = None if args.no_measure else _measure(bench, cfg, cache)
            rows.append({"budget_mb": budget, "method": method, "size_mb": round(space.size_mb(cfg), 4),
                         "top1": top1, "evaluations": evals, "config": cfg.canonical})
            print(f"{budget:>7} MB  {method:<12} size {space.size_mb(cfg):.4f} MB  "
                  f"top1 {'-' if top1 is None else f'{top1:.2f}'}  {cfg.canonical}", flush=True)
    if args.json:
        print(json.dumps({"benchmark": name, "proxy": args.proxy, "seed": args.seed, "rows": rows}))
    return 0


def cmd_bench_convert(args: argparse.Namespace) -> int:
    from .benchmarks.mqbench101 import read_mqbench101, to_csv

    rows = read_mqbench101(args.path)
    to_csv(rows, args.out)
    print(f"{len(rows)} MQ-Bench-101 rows ({len(rows[0].bits)} layers each) -> {args.out}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("allocate", help="choose per-layer bit widths under a size budget with a proxy")
    p.add_argument("--proxy", required=True, help="a registered name, a formula, or a proxy .json file")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--budget-mb", type=float, nargs="+", required=True, help="weight-size budget(s) in MiB")
    p.add_argument("--baselines", default="uniform,hawq_v2",
                   help="comma-separated: uniform (widest uniform config that fits) and/or proxies")
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--population", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-measure", action="store_true", help="skip measuring test accuracy")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line of stdout")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_allocate)
    p = sub.add_parser("bench", help="build a benchmark table (mq-resnet20-cifar10, vit-kd-cifar10)")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("build", help="measure a ground-truth table: quantized bit configs (mq-*) or "
                        "distilled ViT students (vit-kd-cifar10)")
    p.add_argument("name", help=f"one of {', '.join(MQ_BENCHMARKS)}, vit-kd-cifar10")
    p.add_argument("--configs", type=int, default=150, help="bit configurations / students, stratified over size")
    p.add_argument("--seed", type=int, default=0, help="seeds the sample")
    p.add_argument("--checkpoint", help="trained float network (default: the shipped resnet20 checkpoint)")
    p.add_argument("--choices", type=int, nargs="+", default=[2, 3, 4, 8], help="weight bit widths")
    p.add_argument("--calib-images", type=int, default=1024, help="training images for calibration")
    p.add_argument("--bn-reestimate", action="store_true", help="also re-estimate BN statistics")
    p.add_argument("--test-limit", type=int, help="measure on a seeded subset of the test set")
    p.add_argument("--out", help="table CSV (default NAME.csv); an existing one with the same "
                   "settings is continued")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--quiet", action="store_true")
    add_build_options(p)
    p.set_defaults(func=cmd_bench_build)
    p = bsub.add_parser("convert", help="read EMQ's MQ-Bench-101 file (pickle read safely, CSV or JSON) into CSV")
    p.add_argument("path", help="PTQ-GT.pkl / MQ-Bench-101-PTQ-GT.pkl, or a CSV/JSON conversion")
    p.add_argument("--out", required=True, help="CSV to write (index,bit_cfg,acc)")
    p.set_defaults(func=cmd_bench_convert)
