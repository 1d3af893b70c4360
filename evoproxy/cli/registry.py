"""Command groups of the command line, and the small helpers their commands share."""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
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


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the argument and pointing at --help."""

    def error(self, message: str):
        self.exit(2, f"evoproxy: error: {message} (see `{self.prog} --help`)\n")


def run_dir(text: str) -> str:
    """An argparse type: a search's run directory (it holds ``run.sqlite``)."""
    if not (Path(text) / "run.sqlite").is_file():
        raise argparse.ArgumentTypeError(f"{text} holds no run store (run.sqlite); give the --out folder of a search")
    return text


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", dest="data_dir", default=None,
                   help="data directory (default: $EVOPROXY_DATA, ../shared/data, the user's own)")


def fmt_holdout(d: dict) -> str:
    return "  ".join(f"{n}: tau {v['kendall']:.3f} rho {v['spearman']:.3f}" for n, v in d.items())
