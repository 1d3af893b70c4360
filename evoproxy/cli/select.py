"""``evoproxy select``: proxy-guided ViT choice under a params budget."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from tqdm import tqdm

from evoproxy.app import select
from evoproxy.cli.registry import CommandGroup, add_data_dir, at_least, positive_number, register_commands


def cmd_select(args: argparse.Namespace) -> int:
    bench = select.open_space(args.space, args.dataset, args.metric, args.data_dir)
    spec = select.resolve(args.proxy)
    with tqdm(total=len(bench.arch_ids()), desc="counting parameters", unit="net", file=sys.stderr,
              disable=args.quiet) as bar:
        ids, params = select.candidates(bench, args.space, args.budget_params, on_arch=lambda i: bar.update(1))
    with tqdm(total=len(ids), desc=f"probing {args.space}", unit="net", file=sys.stderr,
              disable=args.quiet) as bar:
        rows = select.select(spec, bench, ids, params, args.seed, on_arch=lambda j, col: bar.update(1))
    accs = np.array([bench.accuracy(i) for i in ids])
    print(f"{bench.name}: {len(ids)} of {len(params)} architectures within {args.budget_params}M params; "
          f"accuracy ({args.metric}) of a random pick: mean {accs.mean():.2f} +- {accs.std():.2f}")
    print(f"  {'method':<12} {'params':>8}  {'acc.':>6}  architecture")
    for r in rows:
        print(f"  {r['method']:<12} {r['params_m']:>7.3f}M  {r['accuracy']:6.2f}  {r['arch']}")
    if args.json:
        print(json.dumps({"benchmark": bench.name, "proxy": spec.name, "budget_params_m": args.budget_params,
                          "candidates": len(ids), "random_mean": float(accs.mean()), "rows": rows}))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("select", help="choose a ViT under a params budget with a proxy (published tables)")
    p.add_argument("--proxy", required=True, help="a registered name, a formula, or a proxy .json file")
    p.add_argument("--space", required=True, help=f"one of {', '.join(select.SPACES)}")
    p.add_argument("--budget-params", type=positive_number, required=True, help="millions of parameters (32-px build)")
    p.add_argument("--dataset", default="c100", choices=["c100", "flowers", "chaoyang"],
                   help="which published accuracies to report (autoformer, pit; default: c100)")
    p.add_argument("--metric", default="kd", help="kd or base (published tables), top1 (cifar-vit) (default: kd)")
    p.add_argument("--seed", type=at_least(0), default=0, help="seeds the random pick (default: 0)")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line of stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    p.set_defaults(func=cmd_select)


register_commands(CommandGroup("select", add_commands))
