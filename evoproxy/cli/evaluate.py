"""``evoproxy eval``: score proxies on a benchmark's architectures."""
from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from evoproxy.app import evaluate
from evoproxy.cli.registry import CommandGroup, add_data_dir, at_least, print_table, register_commands

METRICS = ["test_200ep", "valid_200ep", "test_12ep", "valid_12ep", "top1", "kd", "base"]


def cmd_eval(args: argparse.Namespace) -> int:
    plan = evaluate.plan_eval(args.proxy, args.benchmark, args.archs, args.split, seed=args.seed,
                              batch_size=args.batch_size, probe=args.probe, metric=args.metric, init=args.init,
                              device=args.device, teacher=args.teacher, data_dir=args.data_dir, save=args.save,
                              score_cache=not args.no_score_cache)
    bench, batch, archs = plan.bench, plan.batch, plan.archs
    print(f"benchmark: {bench.label}\nprobe: {batch.label}\narchitectures: {len(archs)} "
          f"({args.archs if args.archs == 'suite-zero' else args.split})", file=sys.stderr)
    if plan.done:
        print(f"continuing {args.save}: {len(plan.done)} architectures already scored", file=sys.stderr)
    with tqdm(total=len(archs) - len(plan.done), desc="probing", unit="net", file=sys.stderr,
              disable=args.quiet) as bar:
        run = plan.run(lambda j, column: bar.update(1))
    if args.json:
        print(json.dumps(_json_doc(args, bench, batch, archs, run), allow_nan=True))
    else:
        rows = [(r.proxy, f"{r.kendall:.3f}", f"{r.spearman:.3f}", f"{r.pearson:.3f}", f"{r.emq:.3f}",
                 str(r.invalid)) for r in run.results]
        print_table(rows, ("proxy", "kendall", "spearman", "pearson", "emq", "invalid"))
        kept = f" ({plan.kept.reused} scores read from the score cache)" if plan.kept and plan.kept.reused else ""
        print(f"{len(archs)} architectures of {bench.name} in {run.seconds:.1f} s{kept}")
    return 0


def _json_doc(args, bench, batch, archs, run) -> dict:
    doc = {"benchmark": bench.name, "label": bench.label, "probe": batch.label,
           "proxy": args.proxy, "n": len(archs), "seconds": round(run.seconds, 2),
           "results": [r.as_dict() for r in run.results]}
    if len(run.results) == 1:
        doc.update({k: v for k, v in run.results[0].as_dict().items() if k != "proxy"})
    else:  # several proxies: each headline figure keyed by proxy name
        doc.update({k: {r.proxy: getattr(r, k) for r in run.results}
                    for k in ("kendall", "spearman", "emq", "invalid")})
    return doc


def add_commands(sub) -> None:
    p = sub.add_parser("eval", help="score proxies on a benchmark's architectures")
    p.add_argument("--proxy", required=True,
                   help="'all', a registered name, a formula, or a proxy .json file ('a;b' for several)")
    p.add_argument("--benchmark", default="nb201-cifar10", help="the benchmark whose networks are scored against "
                   "their accuracy (docs/benchmarks.md lists them; default: nb201-cifar10)")
    p.add_argument("--archs", default="100", help="how many networks to sample from --split, or 'suite-zero' for "
                   "the NAS-Bench-Suite-Zero architectures of this dataset (default: 100)")
    p.add_argument("--split", default="all", choices=evaluate.SPLITS, help="which networks to sample from: search "
                   "(those a search may see), holdout (those it never sees) or all (default: all)")
    p.add_argument("--seed", type=at_least(0), default=0, help="seeds the sample, the probe batch and init "
                   "(default: 0)")
    p.add_argument("--batch-size", type=at_least(1), default=64, help="images in the probe batch (default: 64)")
    p.add_argument("--probe", help="auto (the benchmark's dataset's training images if the data directory "
                   "has them, else CIFAR-10's), cifar10, cifar10-test, cifar100, cifar100-test, imagenet16, "
                   "imagenet16-val, synthetic, or a CIFAR python-version / ImageNet16-120 folder or archive "
                   "(default: the benchmark's own probe if it has one, else auto)")
    p.add_argument("--metric", default="test_200ep", choices=METRICS, help="which accuracy of the benchmark "
                   "the scores are ranked against (default: test_200ep; top1, kd, base for quantization and ViT "
                   "tables)")
    p.add_argument("--init", default="benchmark", choices=evaluate.INIT_NAMES,
                   help="re-draw every network's weights before probing: benchmark (its own init, default) or "
                        "kaiming (AZ-NAS's Kaiming-normal fan-in, BN 1/0), to score a proxy in its paper's setting "
                        "(use a separate --save file per init)")
    p.add_argument("--device", default="cpu", help="torch device for the probe: cpu or cuda (default: cpu)")
    p.add_argument("--teacher", help="vit-* benchmarks: teacher checkpoint from `evoproxy train` "
                   "(default: EVOPROXY_TEACHER, else the shipped ResNet-20)")
    p.add_argument("--save", metavar="CSV", help="also write every architecture's scores here")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line of stdout")
    p.add_argument("--no-score-cache", action="store_true", help="neither read nor keep scores in the score cache "
                   "(cache/scores.sqlite in the data directory, or $EVOPROXY_CACHE_DIR)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    p.set_defaults(func=cmd_eval)


register_commands(CommandGroup("eval", add_commands))
