"""``evoproxy list`` and ``evoproxy show``: what is registered, and one proxy in each format."""
from __future__ import annotations

import argparse

from evoproxy.app import catalog
from evoproxy.cli.registry import CommandGroup, print_table, register_commands


def cmd_list(args: argparse.Namespace) -> int:
    header, rows = catalog.table(args.what)
    print_table(rows, header)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    print(catalog.show(args.proxy, args.format))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("list", help="list registered ops, statistics or proxies")
    p.add_argument("what", choices=list(catalog.LISTS), help="ops (with their type signatures), stats (the "
                   "statistics a program reads from a network) or proxies (registered names and their formulas)")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="parse, check and print a proxy (name, formula or JSON file)")
    p.add_argument("proxy", help="a registered proxy name, a formula, or a proxy .json file")
    p.add_argument("--format", default="text", choices=["text", "json", "latex", "sympy", "dot"],
                   help="text (formula, canonical form, size, statistics), json (a proxy file), latex, sympy or dot (a "
                   "graph) (default: text)")
    p.set_defaults(func=cmd_show)


register_commands(CommandGroup("proxies", add_commands))
