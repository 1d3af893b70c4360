"""``evoproxy bench build vit-kd-cifar10`` and ``evoproxy select`` (proxy-guided ViT choice under a budget)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .distill import KDRecipe
from .errors import EvoproxyError

SPACES = {"autoformer": "vit-autoformer-{dataset}", "pit": "vit-pit-{dataset}", "cifar-vit": "vit-kd-cifar10"}


def cmd_bench_build_vit(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .benchmarks.vit_build import build_vit_table
    from .data import describe_data_dir

    recipe = KDRecipe(train_images=args.train_images, test_images=args.test_images, views=args.views,
                      epochs=args.epochs, lr=args.lr, batch_size=args.batch_size)
    out = Path(args.out or f"{args.name}.csv")
    command = (f"evoproxy bench build {args.name} --configs {args.configs} --seed {args.seed} "
               f"--train-images {args.train_images} --views {args.views} --epochs {args.epochs} "
               f"--lr {args.lr:g} --batch-size {args.batch_size} --test-images {args.test_images}")
    print(f"data: {describe_data_dir(args.data_dir)}", file=sys.stderr)
    bar = tqdm(total=args.configs, desc=args.name, unit="student", file=sys.stderr, disable=args.quiet)

    def on_row(done: int, total: int, row: dict) -> None:
        bar.n = done
        bar.set_postfix(top1=row["top1"], params=row["params"])

    try:
        path = build_vit_table(out, args.configs, args.seed, recipe, args.teacher, args.data_dir, command, on_row,
                               args.jobs)
    finally:
        bar.close()
    print(f"table: {path} (provenance {path}.json)")
    return 0


def _choose(bench, ids: list[int], scores: np.ndarray, params: dict[int, int]) -> dict[str, int]:
    finite = [i for i, s in zip(ids, scores) if np.isfinite(s)]
    if not finite:
        raise EvoproxyError("the proxy scored every candidate NaN/inf; choose another proxy")
    by_score = dict(zip(ids, scores))
    return {"proxy": max(finite, key=lambda i: by_score[i]),
            "params-best": max(ids, key=lambda i: params[i]),
            "oracle": max(ids, key=bench.accuracy)}


def cmd_select(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .benchmarks import get_benchmark
    from .proxyfile import resolve
    from .scoring import score_matrix
    from .spaces.vit import count_params

    if args.space not in SPACES:
        raise EvoproxyError(f"unknown space {args.space!r}; choose one of {', '.join(SPACES)}")
    name = SPACES[args.space].format(dataset=args.dataset)
    bench = get_benchmark(name, args.data_dir, metric=args.metric)
    spec = resolve(args.proxy)
    params = {i: count_params(bench.student(i)) for i in bench.arch_ids()}
    ids = [i for i in bench.arch_ids() if params[i] <= args.budget_params * 1e6]
    if not ids:
        raise EvoproxyError(f"no {args.space} architecture of {name} has <= {args.budget_params}M params "
                            f"(smallest: {min(params.values()) / 1e6:.2f}M); raise --budget-params")
    batch = bench.probe_batch()
    with tqdm(total=len(ids), desc=f"probing {args.space}", unit="net", file=sys.stderr,
              disable=args.quiet) as bar:
        raw = score_matrix(bench, [spec.program], ids, batch.x, batch.y, bench.probe_seed,
                           on_arch=lambda j, col: bar.update(1))
    scores = spec.direction * raw[0]
    picks = _choose(bench, ids, scores, params)
    accs = np.array([bench.accuracy(i) for i in ids])
    rng = np.random.default_rng(args.seed)
    picks["random"] = ids[int(rng.integers(len(ids)))]
    rows = [{"method": m, "id": i, "params_m": round(params[i] / 1e6, 3), "accuracy": bench.accuracy(i),
             "arch": bench.arch_of(i)} for m, i in picks.items()]
    print(f"{name}: {len(ids)} of {len(params)} architectures within {args.budget_params}M params; "
          f"accuracy ({args.metric}) of a random pick: mean {accs.mean():.2f} +- {accs.std():.2f}")
    for r in rows:
        print(f"  {r['method']:<12} {r['params_m']:>7.3f}M  {r['accuracy']:6.2f}  {r['arch']}")
    if args.json:
        print(json.dumps({"benchmark": name, "proxy": spec.name, "budget_params_m": args.budget_params,
                          "candidates": len(ids), "random_mean": float(accs.mean()), "rows": rows}))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("select", help="choose a ViT under a params budget with a proxy (published tables)")
    p.add_argument("--proxy", required=True, help="a registered name, a formula, or a proxy .json file")
    p.add_argument("--space", required=True, help=f"one of {', '.join(SPACES)}")
    p.add_argument("--budget-params", type=float, required=True, help="millions of parameters (32-px build)")
    p.add_argument("--dataset", default="c100", choices=["c100", "flowers", "chaoyang"],
                   help="which published accuracies to report (autoformer, pit)")
    p.add_argument("--metric", default="kd", help="kd or base (published tables), top1 (cifar-vit)")
    p.add_argument("--seed", type=int, default=0, help="seeds the random pick")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--data-dir", dest="data_dir")
    p.set_defaults(func=cmd_select)


def add_build_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("vit-kd-cifar10")
    g.add_argument("--train-images", type=int, default=KDRecipe.train_images,
                   help="CIFAR-10 training subset per student")
    g.add_argument("--test-images", type=int, default=KDRecipe.test_images, help="CIFAR-10 test subset for top-1")
    g.add_argument("--views", type=int, default=KDRecipe.views,
                   help="augmented views per image (1 = none, 2 = + mirror, more = + padded crops)")
    g.add_argument("--epochs", type=int, default=KDRecipe.epochs)
    g.add_argument("--lr", type=float, default=KDRecipe.lr)
    g.add_argument("--batch-size", type=int, default=KDRecipe.batch_size)
    g.add_argument("--jobs", type=int, default=1, help="students trained at once, one process each")
    g.add_argument("--teacher", help="teacher checkpoint from `evoproxy train` (default: the shipped ResNet-20)")
