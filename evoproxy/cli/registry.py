"""Command groups of the command line, and the small helpers their commands share."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from evoproxy.registry import Registry


@dataclass(frozen=True)
class CommandGroup:
    name: str
    add: Callable[[Any], None]
    """``add(subparsers)``: adds the group's subcommands, each with ``set_defaults(func=...)``."""


COMMANDS: Registry[CommandGroup] = Registry("command group")


def register_commands(group: CommandGroup) -> CommandGroup:
    return COMMANDS.add(group.name, group)


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", dest="data_dir", default=None,
                   help="data directory (default: $EVOPROXY_DATA, ../shared/data, the user's own)")


def fmt_holdout(d: dict) -> str:
    return "  ".join(f"{n}: tau {v['kendall']:.3f} rho {v['spearman']:.3f}" for n, v in d.items())
