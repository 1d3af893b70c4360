"""The ``evoproxy`` command line: thin subcommands over the library."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Optional, Sequence

from .errors import EvoproxyError
from .mqcli import add_commands as add_mq_commands
from .runcli import add_commands, use_teacher_for
from .vitcli import add_commands as add_vit_commands


def _print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def cmd_list(args: argparse.Namespace) -> int:
    from .ops import OPS
    from .proxies import PROXIES
    from .stats import STATS

    if args.what == "ops":
        sig = {"unary": "x -> x", "binary": "x, x -> x", "matmul": "T[d], T[d] -> T[gram(d)]",
               "reshape": "T[d] -> T[op(d)]", "reduce": "tensor -> layer",
               "distance": "T[d], T[d] -> layer", "aggregate": "layer -> scalar"}
        rows = [(o.name, o.family, sig[o.family], o.doc) for o in OPS.values()]
        _print_table(rows, ("op", "family", "signature", "meaning"))
    elif args.what == "stats":
        rows = [(s.name, str(s.vtype), s.pass_name, s.description) for s in STATS.values()]
        _print_table(rows, ("statistic", "type", "pass", "description"))
    else:
        rows = [(p.name, p.formula, p.source) for p in PROXIES.values()]
        _print_table(rows, ("proxy", "formula", "source"))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from . import export
    from .program import check_proxy
    from .proxyfile import proxy_document, resolve

    spec = resolve(args.proxy)
    p = check_proxy(spec.program)
    fmt = args.format
    if fmt == "text":
        print(p.text)
        print(f"canonical: {p.canonical().text}\nhash: {p.hash}  size: {p.size}  depth: {p.depth}  "
              f"statistics: {', '.join(sorted(p.stats))}")
    elif fmt == "json":
        print(json.dumps(proxy_document(spec), indent=2))
    elif fmt == "latex":
        print(export.to_latex(p))
    elif fmt == "sympy":
        print(export.to_sympy(p))
    else:
        print(export.to_dot(p))
    return 0


def _resolve_archs(bench, args: argparse.Namespace) -> list[int]:
    if args.archs == "suite-zero":
        from .benchmarks.suite_zero import load_suite_zero

        dataset = bench.name.split("-", 1)[1]
        rows = load_suite_zero("ImageNet16-120" if dataset == "imagenet16" else dataset, args.data_dir)
        return [bench.index_of(r.arch_str) for r in rows]
    try:
        n = int(args.archs)
    except ValueError:
        raise EvoproxyError(f"--archs takes a number or 'suite-zero', got {args.archs!r}") from None
    return bench.sample(n, args.split, args.seed)


def _refuse_teacher_stats(specs, line: str, bench_name: str) -> None:
    """Teacher statistics exist only on distillation benchmarks: say so rather than score NaN."""
    from .stats import STATS

    for spec in specs:
        if line != "vit" and any(STATS.get(st).pass_name == "kd" for st in spec.program.stats):
            raise EvoproxyError(f"proxy {spec.name} needs teacher statistics, which {bench_name} does not "
                                "have; use a vit-* benchmark")


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .benchmarks import get_benchmark
    from .evalrun import run_eval
    from .images import load_probe_batch
    from .proxies import PROXIES, proxies_for
    from .proxyfile import ProxySpec, resolve

    if args.teacher:
        use_teacher_for(args.teacher, [args.benchmark])
    bench = get_benchmark(args.benchmark, args.data_dir, args.seed, args.metric)
    line = getattr(bench, "proxy_line", "nas")
    names = [n for part in args.proxy.split(";") for n in (proxies_for(line) if part == "all" else [part])]
    specs = [ProxySpec(n, PROXIES.get(n).program) if n in PROXIES else resolve(n) for n in names]
    _refuse_teacher_stats(specs, line, args.benchmark)
    archs = _resolve_archs(bench, args)
    seed = args.seed
    if args.probe is None and hasattr(bench, "probe_batch"):  # the benchmark's own probe
        batch, seed = bench.probe_batch(), getattr(bench, "probe_seed", args.seed)
    else:
        batch = load_probe_batch(args.probe or "cifar10", args.batch_size, args.seed, args.data_dir)
    print(f"benchmark: {bench.label}\nprobe: {batch.label}\narchitectures: {len(archs)} "
          f"({args.archs if args.archs == 'suite-zero' else args.split})", file=sys.stderr)
    saver = _ScoreWriter(args.save, bench, archs, specs) if args.save else None
    done = saver.done if saver else {}
    if done:
        print(f"continuing {args.save}: {len(done)} architectures already scored", file=sys.stderr)
    with tqdm(total=len(archs) - len(done), desc="probing", unit="net", file=sys.stderr,
              disable=args.quiet) as bar:
        def on_arch(j: int, column) -> None:
            bar.update(1)
            if saver:
                saver.write(j, column)
        run = run_eval(bench, specs, archs, batch.x, batch.y, seed, args.device, on_arch, done)
    if saver:
        saver.file.close()
    if args.json:
        doc = {"benchmark": bench.name, "label": bench.label, "probe": batch.label,
               "proxy": args.proxy, "n": len(archs), "seconds": round(run.seconds, 2),
               "results": [r.as_dict() for r in run.results]}
        if len(run.results) == 1:
            doc.update({k: v for k, v in run.results[0].as_dict().items() if k != "proxy"})
        else:  # several proxies: each headline figure keyed by proxy name
            doc.update({k: {r.proxy: getattr(r, k) for r in run.results}
                        for k in ("kendall", "spearman", "emq", "invalid")})
        print(json.dumps(doc, allow_nan=True))
    else:
        rows = [(r.proxy, f"{r.kendall:.3f}", f"{r.spearman:.3f}", f"{r.pearson:.3f}", f"{r.emq:.3f}",
                 str(r.invalid)) for r in run.results]
        _print_table(rows, ("proxy", "kendall", "spearman", "pearson", "emq", "invalid"))
        print(f"{len(archs)} architectures of {bench.name} in {run.seconds:.1f} s")
    return 0


class _ScoreWriter:
    """Writes each architecture's scores as soon as they exist, so an interrupted run keeps them.

    An existing file with the same columns is continued: its architectures are not probed again.
    """

    def __init__(self, path: str, bench, archs, specs) -> None:
        import csv

        self.bench, self.archs = bench, archs
        header = ["arch_id", "accuracy", *(s.name for s in specs)]
        self.done = _read_scores(path, header, set(archs))
        self.file = open(path, "a" if self.done else "w", newline="")
        self.csv = csv.writer(self.file)
        if not self.done:
            self.csv.writerow(header)

    def write(self, j: int, column) -> None:
        arch = self.todo[j]
        self.csv.writerow([arch, self.bench.accuracy(arch), *(repr(float(v)) for v in column)])
        self.file.flush()

    @property
    def todo(self) -> list[int]:
        return [a for a in self.archs if a not in self.done]


def _read_scores(path: str, header: list[str], wanted: set[int]) -> dict:
    """Scores already in ``path`` (if it exists with exactly ``header``) for wanted archs."""
    import csv
    from pathlib import Path

    import numpy as np

    if not Path(path).is_file() or Path(path).stat().st_size == 0:
        return {}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if rows[0] != header:
        raise EvoproxyError(f"{path} holds other columns ({', '.join(rows[0][2:])}); "
                            "choose another --save file or remove it")
    return {int(r[0]): np.array([float(v) for v in r[2:]]) for r in rows[1:]
            if len(r) == len(header) and int(r[0]) in wanted}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evoproxy", description=(
        "Discover zero-cost proxies: evolve formulas over statistics of untrained networks."))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list registered ops, statistics or proxies")
    p.add_argument("what", choices=["ops", "stats", "proxies"])
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="parse, check and print a proxy (name, formula or JSON file)")
    p.add_argument("proxy", help="a registered proxy name, a formula, or a proxy .json file")
    p.add_argument("--format", default="text", choices=["text", "json", "latex", "sympy", "dot"])
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("eval", help="score proxies on a benchmark's architectures")
    p.add_argument("--proxy", required=True,
                   help="'all', a registered name, a formula, or a proxy .json file ('a;b' for several)")
    p.add_argument("--benchmark", default="nb201-cifar10")
    p.add_argument("--archs", default="100", help="how many to sample, or 'suite-zero' for the "
                   "NAS-Bench-Suite-Zero architectures of this dataset")
    p.add_argument("--split", default="all", choices=["search", "holdout", "all"])
    p.add_argument("--seed", type=int, default=0, help="seeds the sample, the probe batch and init")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--probe", help="cifar10, cifar10-test, synthetic, or a directory of CIFAR "
                   "python-format batches (default: the benchmark's own probe if it has one, else cifar10)")
    p.add_argument("--metric", default="test_200ep",
                   choices=["test_200ep", "valid_200ep", "test_12ep", "valid_12ep", "top1", "kd", "base"])
    p.add_argument("--device", default="cpu", help="torch device for the probe (cpu, cuda)")
    p.add_argument("--teacher", help="vit-* benchmarks: teacher checkpoint from `evoproxy train` "
                   "(default: EVOPROXY_TEACHER, else the shipped ResNet-20)")
    p.add_argument("--save", metavar="CSV", help="also write every architecture's scores here")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line of stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_data_dir(p)
    p.set_defaults(func=cmd_eval)
    add_commands(sub)
    add_mq_commands(sub)
    add_vit_commands(sub)
    return parser


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None,
                   help="data directory (default: $EVOPROXY_DATA, ../shared/data, the user's own)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except EvoproxyError as e:
        print(f"evoproxy: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("evoproxy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
