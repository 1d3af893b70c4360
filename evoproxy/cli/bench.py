"""``evoproxy bench build`` (an MQ table or the ViT distillation table) and ``bench convert``."""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from evoproxy.app import build
from evoproxy.app.benchmarks import resolve_teacher
from evoproxy.cli.registry import CommandGroup, add_data_dir, at_least, positive_number, register_commands


def cmd_bench_build(args: argparse.Namespace) -> int:
    build.check_buildable(args.name)
    if args.name == build.VIT_TABLE:
        return cmd_bench_build_vit(args)
    method = build.MQMethod(model=build.MQ_BENCHMARKS[args.name], choices=tuple(args.choices),
                            calib_images=args.calib_images, bn_reestimate=args.bn_reestimate,
                            test_limit=args.test_limit)
    command = (f"evoproxy bench build {args.name} --configs {args.configs} --seed {args.seed} "
               f"--choices {' '.join(map(str, method.choices))} --calib-images {args.calib_images}"
               + (" --bn-reestimate" if args.bn_reestimate else "")
               + (f" --test-limit {args.test_limit}" if args.test_limit else "")
               + (f" --budget-mb {args.budget_mb:g} --tolerance {args.tolerance:g}" if args.budget_mb else ""))
    stratum = build.Stratum(args.budget_mb, args.tolerance) if args.budget_mb else None
    name = build.stratum_name(args.name, args.budget_mb) if stratum else args.name
    print(f"data: {build.describe_data_dir(args.data_dir)}", file=sys.stderr)
    bar = tqdm(total=args.configs, desc=name, unit="config", file=sys.stderr, disable=args.quiet)

    def on_row(done: int, total: int, row: dict) -> None:
        bar.n = done
        bar.set_postfix(top1=row["top1"], size_mb=f"{float(row['size_mb']):.3f}")

    try:
        path = build.build_mq_table(build.default_out(name, args.out), args.configs,
                                    args.checkpoint or build.SHIPPED[method.model], args.seed, method, args.data_dir,
                                    command, on_row, stratum)
    finally:
        bar.close()
    print(f"table: {path} (provenance {path}.json)")
    return 0


def cmd_bench_build_vit(args: argparse.Namespace) -> int:
    recipe = build.KDRecipe(train_images=args.train_images, test_images=args.test_images, views=args.views,
                            epochs=args.epochs, lr=args.lr, batch_size=args.batch_size)
    command = (f"evoproxy bench build {args.name} --configs {args.configs} --seed {args.seed} "
               f"--train-images {args.train_images} --views {args.views} --epochs {args.epochs} "
               f"--lr {args.lr:g} --batch-size {args.batch_size} --test-images {args.test_images}")
    print(f"data: {build.describe_data_dir(args.data_dir)}", file=sys.stderr)
    bar = tqdm(total=args.configs, desc=args.name, unit="student", file=sys.stderr, disable=args.quiet)

    def on_row(done: int, total: int, row: dict) -> None:
        bar.n = done
        bar.set_postfix(top1=row["top1"], params=row["params"])

    try:
        teacher = resolve_teacher(args.teacher, [args.name])
        path = build.build_vit_table(build.default_out(args.name, args.out), args.configs, args.seed, recipe,
                                     teacher, args.data_dir, command, on_row, args.jobs)
    finally:
        bar.close()
    print(f"table: {path} (provenance {path}.json)")
    return 0


def cmd_bench_convert(args: argparse.Namespace) -> int:
    n, layers = build.convert_mqbench101(args.path, args.out)
    print(f"{n} MQ-Bench-101 rows ({layers} layers each) -> {args.out}")
    return 0


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help=f"build a benchmark table ({', '.join(build.BUILDABLE)})")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("build", help="measure a ground-truth table: quantized bit configs (mq-*) or "
                        "distilled ViT students (vit-kd-cifar10)")
    p.add_argument("name", help=f"one of {', '.join(build.BUILDABLE)}")
    p.add_argument("--configs", type=at_least(2), default=150,
                   help="bit configurations / students, stratified over size (default: 150)")
    p.add_argument("--seed", type=at_least(0), default=0, help="seeds the sample (default: 0)")
    p.add_argument("--checkpoint", help="trained float network (default: the shipped checkpoint of the "
                   "benchmark's network)")
    p.add_argument("--choices", type=at_least(1), nargs="+", default=[2, 3, 4, 8],
                   help="weight bit widths (default: 2 3 4 8)")
    p.add_argument("--calib-images", type=at_least(1), default=1024,
                   help="training images for calibration (default: 1024)")
    p.add_argument("--bn-reestimate", action="store_true", help="also re-estimate BN statistics")
    p.add_argument("--test-limit", type=at_least(1), help="measure on a seeded subset of the test set")
    p.add_argument("--budget-mb", type=positive_number, help="mq-*: a budget stratum instead: configurations "
                   "of size within --tolerance below this many MiB (table NAME-<budget>mb)")
    p.add_argument("--tolerance", type=fraction, default=0.03, help="mq-* with --budget-mb: how far below the "
                   "budget a stratum reaches, as a fraction (default: 0.03)")
    p.add_argument("--out", help="table CSV (default NAME.csv); an existing one with the same "
                   "settings is continued")
    add_data_dir(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_build_options(p)
    p.set_defaults(func=cmd_bench_build)
    p = bsub.add_parser("convert", help="read EMQ's MQ-Bench-101 file (pickle read safely, CSV or JSON) into CSV")
    p.add_argument("path", help="PTQ-GT.pkl / MQ-Bench-101-PTQ-GT.pkl, or a CSV/JSON conversion")
    p.add_argument("--out", required=True, help="CSV to write (index,bit_cfg,acc)")
    p.set_defaults(func=cmd_bench_convert)


def fraction(text: str) -> float:
    value = positive_number(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text}")
    return value


def add_build_options(p: argparse.ArgumentParser) -> None:
    r = build.KDRecipe
    g = p.add_argument_group("vit-kd-cifar10")
    g.add_argument("--train-images", type=at_least(1), default=r.train_images,
                   help="CIFAR-10 training subset per student (default: %(default)s)")
    g.add_argument("--test-images", type=at_least(1), default=r.test_images,
                   help="CIFAR-10 test subset for top-1 (default: %(default)s)")
    g.add_argument("--views", type=at_least(1), default=r.views,
                   help="augmented views per image (1 = none, 2 = + mirror, more = + padded crops; default: %(default)s)")
    g.add_argument("--epochs", type=at_least(1), default=r.epochs, help="distillation epochs per student "
                   "(default: %(default)s)")
    g.add_argument("--lr", type=positive_number, default=r.lr, help="peak learning rate (default: %(default)s)")
    g.add_argument("--batch-size", type=at_least(1), default=r.batch_size, help="training batch size "
                   "(default: %(default)s)")
    g.add_argument("--jobs", type=at_least(1), default=1, help="students trained at once, one process each "
                   "(default: 1)")
    g.add_argument("--teacher", help="teacher checkpoint from `evoproxy train` (default: the shipped ResNet-20)")


register_commands(CommandGroup("bench", add_bench))
