"""``evoproxy search`` and ``evoproxy export``: thin commands over the search engine and run store."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import EXECUTION_KEYS, RunConfig, from_dict, load_config, parse_override
from .errors import EvoproxyError
from .store import RunStore

OVERRIDES = ("generations", "population", "seed", "backend", "workers", "ray_address", "data_dir", "teacher")


def _config(args: argparse.Namespace, store: RunStore | None) -> RunConfig:
    given = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
    given.update(parse_override(s) for s in args.set or [])
    if args.benchmark:
        given["benchmarks"] = tuple(args.benchmark.split(","))
    if store is not None:
        stored = from_dict(store.load_config() or {}, "stored config")
        free = EXECUTION_KEYS + ("generations",)
        changed = sorted(k for k in given if k not in free and given[k] != getattr(stored, k))
        if changed:
            raise EvoproxyError(f"--resume continues the stored config; drop {', '.join(changed)} "
                                "(only --generations and execution settings such as --backend may change)")
        return stored.replace(**{k: v for k, v in given.items() if k in free})
    base = load_config(args.config) if args.config else RunConfig()
    return base.replace(**given)


def _open_store(args: argparse.Namespace) -> tuple[RunStore, bool]:
    if args.resume:
        return RunStore(args.resume, create=False), True
    out = Path(args.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    if (out / "run.sqlite").exists():
        raise EvoproxyError(f"{out} already holds a run; continue it with --resume {out} or pick --out")
    return RunStore(out), False


def use_teacher_for(path: str, benchmarks) -> None:
    """``--teacher``: check the checkpoint and make it the teacher of these (vit-*) benchmarks."""
    from .benchmarks.vit import use_teacher

    other = [b for b in benchmarks if not b.startswith("vit-")]
    if other:
        raise EvoproxyError(f"--teacher only applies to vit-* benchmarks, not {', '.join(other)}")
    use_teacher(path)


def run_search(config: RunConfig, store: RunStore, on_generation=None) -> dict:
    """Run (or continue) a search into ``store`` and write its final report there."""
    from .backends import make_backend
    from .benchmarks import get_benchmark
    from .report import final_report
    from .search import Search
    from .worker import EvalSetup

    if config.teacher:
        use_teacher_for(config.teacher, config.benchmarks)
    benches = {n: get_benchmark(n, config.data_dir, config.split_seed, config.metric)
               for n in config.benchmarks}
    setup = EvalSetup(config.data_dir, config.split_seed, config.metric, config.probe,
                      config.batch_size, config.seed, config.memory_mb, config.threads,
                      config.timeout_s, config.device)
    backend = make_backend(config.backend, setup, get_benchmark, config.workers, config.ray_address)
    try:
        search = Search(config, backend, benches, store, on_generation)
        search.run()
        report = final_report(search, config.baselines)
    finally:
        backend.close()
    store.save_hall_of_fame(report["hall_of_fame"])
    store.set_meta("report", report)
    store.set_meta("status", "finished")
    return report


def cmd_search(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .benchmarks import get_benchmark

    store, resuming = _open_store(args)
    config = _config(args, store if resuming else None)
    if config.teacher:
        use_teacher_for(config.teacher, config.benchmarks)
    if not resuming:
        store.save_config(config.identity())
    for n in config.benchmarks:
        print(f"benchmark: {get_benchmark(n, config.data_dir, config.split_seed, config.metric).label}",
              file=sys.stderr)
    last = store.last_generation()
    bar = tqdm(total=config.generations + 1, initial=0 if last is None else last + 1,
               desc="generation", unit="gen", file=sys.stderr, disable=args.quiet)
    try:
        report = run_search(config, store, on_generation=lambda s: _progress(bar, s))
    except KeyboardInterrupt:
        raise EvoproxyError("interrupted; nothing committed is lost: "
                            f"evoproxy search --resume {store.run_dir}") from None
    finally:
        bar.close()
    _print_report(report, store.run_dir)
    return 0


def _progress(bar, s: dict) -> None:
    hold = next(iter(s["best_holdout"].values()), {}).get("kendall")
    bar.set_postfix(best=f"{s['best_fitness']:.3f}", holdout=f"{hold:.3f}" if hold is not None else "-",
                    evals_s=f"{s['evals_per_s']:.1f}", rejected=sum(s["rejections"].values()))
    bar.update(1)


def _fmt(d: dict) -> str:
    return "  ".join(f"{n}: tau {v['kendall']:.3f} rho {v['spearman']:.3f}" for n, v in d.items())


def _print_report(report: dict, run_dir: Path) -> None:
    print(f"hall of fame (holdout; fitness = search-split {report['fitness']}):")
    for e in report["hall_of_fame"]:
        print(f"  {e['rank']}. fitness {e['search_fitness']:.3f}  {_fmt(e['holdout'])}\n     {e['formula']}")
    print("baselines on the same holdout networks and batch:")
    for b in report["baselines"]:
        print(f"  {b['proxy']:10s} {_fmt(b['holdout'])}")
    print("Pareto front (search fitness vs program size):")
    for e in report["pareto"]:
        print(f"  size {e['size']:2d}  fitness {e['search_fitness']:.3f}  {e['formula']}")
    totals = report.get("rejections", {})
    print("rejections over the run: " + (", ".join(f"{k} {v}" for k, v in sorted(totals.items())) or "none")
          + " (per generation in the run store)")
    print(f"run store: {run_dir / 'run.sqlite'}; export with: evoproxy export {run_dir}")


def cmd_export(args: argparse.Namespace) -> int:
    from . import export
    from .program import parse
    from .proxyfile import ProxySpec, proxy_document

    store = RunStore(args.run_dir, create=False)
    report = store.get_meta("report")
    if report is None:
        raise EvoproxyError(f"{args.run_dir} has no finished search; finish it with "
                            f"evoproxy search --resume {args.run_dir}")
    top = report["hall_of_fame"][:args.top]
    specs = [ProxySpec(f"evolved-{e['hash']}", parse(e["formula"])) for e in top]
    if args.format == "json":
        meta = {"run": str(args.run_dir), "seed": report["seed"], "baselines": report["baselines"],
                "config": store.load_config()}
        docs = [proxy_document(s, search_fitness=e["search_fitness"], holdout=e["holdout"],
                               lineage=e["lineage"]) for s, e in zip(specs, top)]
        print(json.dumps({**docs[0], **meta, "others": docs[1:]}, indent=2))
    for s, e in zip(specs, top) if args.format != "json" else []:
        p = s.program
        text = {"text": lambda: f"{e['search_fitness']:.4f}  {_fmt(e['holdout'])}  {p.text}",
                "latex": lambda: export.to_latex(p), "sympy": lambda: str(export.to_sympy(p)),
                "python": lambda: f"proxy_{e['rank']} = to_callable(parse({p.text!r}))  # f(stats) -> float"}
        if args.format == "python" and e["rank"] == 1:
            print("from evoproxy import parse, to_callable\n")
        print(text[args.format]())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from . import __version__
    from .data import describe_data_dir
    from .train import build_model, load_cifar10, pack_path, save_checkpoint, sha256_file, train_model

    model_name, out = args.model, args.out or f"{args.model}.pt"
    torch.manual_seed(args.seed)
    model = build_model(model_name)  # an unknown name fails before any data is read
    packs = {s: pack_path(s, args.data_dir) for s in ("train", "test")}
    print(f"data: {describe_data_dir(args.data_dir)}", file=sys.stderr)
    x_tr, y_tr = load_cifar10("train", args.data_dir, args.limit, args.seed)
    test_limit = None if args.limit is None else min(args.limit, 10000)
    x_te, y_te = load_cifar10("test", args.data_dir, test_limit, args.seed)
    print(f"{model_name}: {sum(p.numel() for p in model.parameters()):,} parameters; "
          f"{len(y_tr)} train / {len(y_te)} test images, {args.epochs} epoch(s)", file=sys.stderr)
    steps = -(-len(y_tr) // args.batch_size)
    bar = tqdm(total=args.epochs * steps, desc=f"epoch 1/{args.epochs}", unit="batch", file=sys.stderr,
               disable=args.quiet)

    def on_batch(epoch: int, step: int, loss: float) -> None:
        bar.set_description(f"epoch {epoch}/{args.epochs}", refresh=False)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.update(1)

    def on_epoch(epoch: int, m: dict) -> None:
        bar.set_postfix(loss=f"{m['train_loss']:.3f}", train_acc=f"{m['train_acc']:.1f}%")

    try:
        result = train_model(model, x_tr, y_tr, x_te, y_te, args.epochs, args.batch_size, args.lr,
                             seed=args.seed, on_epoch=on_epoch, on_batch=on_batch)
    finally:
        bar.close()
    command = ["evoproxy", "train", "--model", model_name, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--lr", repr(args.lr), "--seed", str(args.seed)]
    command += ["--limit", str(args.limit)] if args.limit is not None else []
    meta = {"arch": model_name, "depth": int(model_name[len("resnet"):]), "num_classes": 10,
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "weight_decay": 5e-4,
            "seed": args.seed, "limit": args.limit, "n_train": len(y_tr), "n_test": len(y_te),
            "test_acc": result["test_acc"], "train_loss": result["train_loss"],
            "seconds": round(result["seconds"], 2), "command": " ".join(command),
            "data": {s: {"file": p.name, "sha256": sha256_file(p)} for s, p in packs.items()},
            "evoproxy": __version__, "torch": str(torch.__version__)}
    save_checkpoint(out, model, meta)
    print(f"test accuracy: {result['test_acc']:.2f}% ({len(y_te)} test images) after {args.epochs} "
          f"epoch(s) in {result['seconds']:.1f} s\ncheckpoint: {out} (metadata {out}.json)")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("search", help="evolve proxies on a benchmark (the main job)")
    p.add_argument("--benchmark", help="benchmark name(s), comma-separated")
    p.add_argument("--config", help="a TOML file, e.g. experiments/quick.toml")
    p.add_argument("--generations", type=int)
    p.add_argument("--population", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--backend", choices=["serial", "ray"])
    p.add_argument("--ray-address", dest="ray_address", help="join this Ray cluster (or set RAY_ADDRESS)")
    p.add_argument("--workers", type=int)
    p.add_argument("--out", help="run directory (default runs/<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last committed generation")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any config key")
    p.add_argument("--teacher", help="vit-* benchmarks: teacher checkpoint (default: the shipped ResNet-20)")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("export", help="export a finished run's discovered proxies")
    p.add_argument("run_dir")
    p.add_argument("--top", type=int, default=1)
    p.add_argument("--format", default="json", choices=["json", "text", "latex", "sympy", "python"])
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("train", help="train a CIFAR-10 network from scratch and save a checkpoint")
    p.add_argument("--model", default="resnet20", help="resnet8/14/20/32/44/56/110 (default resnet20)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--limit", type=int, help="train on a seeded subset of N images (and test on at most N)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate (cosine schedule)")
    p.add_argument("--seed", type=int, default=0, help="seeds init, data subset, shuffling and augmentation")
    p.add_argument("--out", help="checkpoint path (default MODEL.pt; a .json sidecar is written beside it)")
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
