"""The ``evoproxy`` command line: thin argument parsing per command group, calling :mod:`evoproxy.app`.

Each group is a :class:`CommandGroup` record in :data:`COMMANDS` whose ``add(subparsers)`` adds
its subcommands; add your own with ``register_commands(CommandGroup("mine", add))`` before
calling :func:`main`. Commands print; the library below them never does.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from evoproxy.cli.registry import COMMANDS, CommandGroup, OneLineParser, register_commands
from evoproxy.cli import proxies, evaluate, search, train, allocate, bench, select, data  # noqa: F401  (--help order)
from evoproxy.errors import EvoproxyError

__all__ = ["main", "build_parser", "COMMANDS", "CommandGroup", "register_commands"]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="evoproxy", description=(
        "Discover zero-cost proxies: evolve formulas over statistics of untrained networks."))
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMANDS.values():
        group.add(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:      # --help, or a usage error already printed in one line
        return int(done.code or 0)
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
