"""The ``evoproxy`` command line: thin subcommands over the library."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Optional, Sequence

from .errors import EvoproxyError


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
               "reshape": "T[d] -> T[op(d)]", "reduce": "tensor -> layer", "aggregate": "layer -> scalar"}
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
    return parser


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
