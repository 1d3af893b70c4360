"""``evoproxy report``, ``evoproxy runs`` and ``evoproxy status``: look at runs without SQL."""
from __future__ import annotations

import argparse
import webbrowser

from evoproxy.app import runs
from evoproxy.app.run_report import build_report
from evoproxy.cli.registry import CommandGroup, register_commands
from evoproxy.errors import EvoproxyError


def cmd_report(args: argparse.Namespace) -> int:
    runs.check_report_out(args.target, args.out)
    page = build_report(args.target, args.out, args.compare or ())
    print(f"report: {page} (figures as PNG, each figure's data as CSV, beside it)")
    if args.open:
        webbrowser.open(page.resolve().as_uri())
    return 0


def _fmt(v, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _elapsed(seconds) -> str:
    return "-" if seconds is None else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def cmd_runs(args: argparse.Namespace) -> int:
    listed = runs.list_runs(args.folder)
    if not listed:
        print(f"no runs under {args.folder} (a run is a directory holding run.sqlite)")
        return 0
    print(f"{'run':40s} {'state':9s} {'generation':>10s} {'best':>7s} {'selection':>9s} {'elapsed':>14s}")
    for s in listed:
        if "problem" in s:
            print(f"{s['run']:40s} {s['state']:9s} {s['problem']}")
            continue
        gen = "-" if s["generation"] is None else f"{s['generation']}/{s['generations']}"
        print(f"{s['run']:40s} {s['state']:9s} {gen:>10s} {_fmt(s['best_fitness']):>7s} "
              f"{_fmt(s['best_selection']):>9s} {_elapsed(s['elapsed_s']):>14s}")
    bad = sum("problem" in s for s in listed)
    if bad:
        raise EvoproxyError(f"{bad} of the {len(listed)} runs under {args.folder} could not be read; their rows "
                            "above say why and what to do")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    s = runs.run_status(args.run_dir)
    gen = "-" if s["generation"] is None else f"{s['generation']} of {s['generations']}"
    print(f"run:        {s['run']} ({s['benchmarks']})\nstate:      {s['state']}\n"
          f"generation: {gen}\nbest:       {s['best_is']}: search fitness {_fmt(s['best_fitness'])}, selection "
          f"Kendall {_fmt(s['best_selection'])}\n            {s['best'] or '-'}\nelapsed:    {_elapsed(s['elapsed_s'])} "
          f"(last commit {s['updated'] or '-'})\nnext:       {runs.next_step(s)}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("report", help="figures (PNG), their data (CSV) and one HTML page for a run, an "
                       "`eval --save` CSV or an `allocate --json` file")
    p.add_argument("target", help="a run directory, an `evoproxy eval --save` CSV or an `evoproxy allocate --json` file")
    p.add_argument("--out", help="where to write (default: RUN/report, or FILE-report beside a file)")
    p.add_argument("--open", action="store_true", help="open the HTML page in a browser when done")
    p.add_argument("--compare", nargs="+", metavar="RUN", help="other finished runs whose time-to-quality curves "
                   "(the best program's final-holdout figure against minutes) are drawn beside this run's")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("runs", help="list the runs in a folder: state, generation, best so far, elapsed time")
    p.add_argument("folder", nargs="?", default="runs", help="the folder to look in, 3 levels deep (default: runs)")
    p.set_defaults(func=cmd_runs)
    p = sub.add_parser("status", help="where one run stands, and what to do next")
    p.add_argument("run_dir", help="a search's run directory (its --out)")
    p.set_defaults(func=cmd_status)


register_commands(CommandGroup("report", add_commands))
