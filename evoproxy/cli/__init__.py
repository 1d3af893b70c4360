"""The ``evoproxy`` command line: thin argument parsing per command group, calling :mod:`evoproxy.app`.

Each group is a :class:`CommandGroup` record in :data:`COMMANDS` whose ``add(subparsers)`` adds
its subcommands; add your own with ``register_commands(CommandGroup("mine", add))`` before
calling :func:`main`. Commands print; the library below them never does.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from typing import Callable, Optional, Sequence

from evoproxy.cli.registry import COMMANDS, CommandGroup, OneLineParser, register_commands
from evoproxy.cli import proxies, evaluate, search, report, train, allocate, bench, select, data  # noqa: F401  (--help order)
from evoproxy.errors import EvoproxyError, EvoproxyNote
from evoproxy.plugins import load_plugins, plugin_args, without_plugin_args
from evoproxy.app.threads import free_core_threads

__all__ = ["main", "build_parser", "COMMANDS", "CommandGroup", "register_commands"]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="evoproxy", description=(
        "Discover zero-cost proxies: evolve formulas over statistics of untrained networks."))
    parser.add_argument("--plugin", action="append", metavar="MODULE_OR_FILE", help=(
        "import your module (mypkg.ops) or file (my_ops.py) first, so what it registers (ops, stats, "
        "benchmarks, commands ...) exists; repeatable, allowed after the command too; a search also "
        "imports it in every worker, Ray's included"))
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMANDS.values():
        group.add(sub)
    return parser


def _show_note(message, category, filename, lineno, file=None, line=None) -> None:
    """Notes as one ``note:`` line; other warnings as Python prints them."""
    if issubclass(category, EvoproxyNote):
        print(f"note: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=file or sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    specs = plugin_args(argv)
    try:
        load_plugins(specs)   # before parsing: a plugin may add a command
        args = build_parser().parse_args(without_plugin_args(argv))
    except SystemExit as done:      # --help, or a usage error already printed in one line
        return int(done.code or 0)
    except EvoproxyError as e:
        print(f"evoproxy: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:       # Ctrl-C while a plugin imports
        print("evoproxy: interrupted", file=sys.stderr)
        return 130
    args.plugin = specs
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with free_core_threads(), warnings.catch_warnings():
            warnings.simplefilter("always", EvoproxyNote)
            warnings.showwarning = _show_note
            return func(args)
    except EvoproxyError as e:
        print(f"evoproxy: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("evoproxy: interrupted", file=sys.stderr)
        return 130
