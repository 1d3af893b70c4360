"""``evoproxy data status``: what each part needs, what was found where, what is missing."""
from __future__ import annotations

import argparse

from evoproxy.app import data
from evoproxy.cli.registry import CommandGroup, add_data_dir, print_table, register_commands


def cmd_data_status(args: argparse.Namespace) -> int:
    where, rows = data.status(args.data_dir)
    print(f"data directory: {where}")
    print_table(rows, ("file", "used by", "found", "to do"))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("data", help="the data directory: what is found where, and what is missing")
    dsub = p.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("status", help="each data file evoproxy reads, where it was found, what to do if missing")
    add_data_dir(p)
    p.set_defaults(func=cmd_data_status)


register_commands(CommandGroup("data", add_commands))
