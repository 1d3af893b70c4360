"""``evoproxy bench build`` (an MQ benchmark table) and ``evoproxy allocate`` (proxy-guided bits)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import EvoproxyError

MQ_BENCHMARKS = {"mq-resnet20-cifar10": "resnet20"}


def cmd_bench_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .benchmarks.mq import CHECKPOINT
    from .benchmarks.mq_build import MQMethod, build_mq_table
    from .data import describe_data_dir

    if args.name not in MQ_BENCHMARKS:
        raise EvoproxyError(f"cannot build {args.name!r}; buildable: {', '.join(MQ_BENCHMARKS)}")
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


def add_commands(sub) -> None:
    p = sub.add_parser("bench", help="build a benchmark table (bench build mq-resnet20-cifar10)")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("build", help="quantize K bit configs of a trained network, measure test top-1")
    p.add_argument("name", help=f"one of {', '.join(MQ_BENCHMARKS)}")
    p.add_argument("--configs", type=int, default=150, help="bit configurations, stratified over size")
    p.add_argument("--seed", type=int, default=0, help="seeds the configuration sample")
    p.add_argument("--checkpoint", help="trained float network (default: the shipped resnet20 checkpoint)")
    p.add_argument("--choices", type=int, nargs="+", default=[2, 3, 4, 8], help="weight bit widths")
    p.add_argument("--calib-images", type=int, default=1024, help="training images for calibration")
    p.add_argument("--bn-reestimate", action="store_true", help="also re-estimate BN statistics")
    p.add_argument("--test-limit", type=int, help="measure on a seeded subset of the test set")
    p.add_argument("--out", help="table CSV (default NAME.csv); an existing one with the same "
                   "settings is continued")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_bench_build)
