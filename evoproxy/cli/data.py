"""``evoproxy data``: status of the data directory, and importing or downloading official releases."""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from evoproxy.app import data, data_import
from evoproxy.cli.registry import CommandGroup, add_data_dir, print_table, register_commands


def cmd_data_status(args: argparse.Namespace) -> int:
    where, rows = data.status(args.data_dir)
    print(f"data directory: {where}")
    print_table(rows, ("file", "used by", "found", "to do"))
    return 0


class _Bar:
    """A tqdm bar driven by ``(done, total)`` callbacks (total may be unknown), drawn from the first callback
    on: a conversion that reports no progress (a JSON file), or fails before any, prints no bar before its
    result or its one-line error."""

    def __init__(self, desc: str, unit: str, quiet: bool, **kw):
        self.bar, self.kw = None, dict(desc=desc, unit=unit, file=sys.stderr, disable=quiet, **kw)

    def __call__(self, done: int, total) -> None:
        if self.bar is None:
            self.bar = tqdm(**self.kw)
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _report(root, written: dict[str, int], importer: str) -> None:
    print(f"imported ({importer}) into {root}; checksums recorded in {root / data_import.RECORD}")
    print_table([(path, str(n)) for path, n in written.items()], ("written", "rows / images"))
    other = data_import.shadowing_dir(root)
    if other is not None:
        print(f"note: commands read {other} first; pass --data-dir {root} or set EVOPROXY_DATA={root}")


def cmd_data_import(args: argparse.Namespace) -> int:
    bar = _Bar("converting", "file", args.quiet)
    try:
        importer, root, written = data_import.import_path(args.path, args.data_dir, bar)
    finally:
        bar.close()
    _report(root, written, importer.name)
    return 0


def cmd_data_download(args: argparse.Namespace) -> int:
    bar = _Bar(f"downloading {args.name}", "B", args.quiet, unit_scale=True, unit_divisor=1024)
    conv = _Bar("converting", "file", args.quiet)
    try:
        archive, root, written = data_import.download_and_import(args.name, args.data_dir, bar, conv)
    finally:
        bar.close()
        conv.close()
    print(f"downloaded {archive} (checksum verified)")
    _report(root, written, "images")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("data", help="the data directory: what is found where; import or download releases")
    dsub = p.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("status", help="each data file evoproxy reads, where it was found, what to do if missing")
    add_data_dir(p)
    p.set_defaults(func=cmd_data_status)
    formats = "; ".join(i.what for i in data_import.IMPORTERS)
    p = dsub.add_parser("import", help="convert an official release file or folder into the data directory",
                        description=f"Reads: {formats}. Pickles are read through an allow-list (never code). "
                        "Writes into --data-dir / EVOPROXY_DATA, else the per-user folder, and records the "
                        "source's checksums in imports.json there.")
    p.add_argument("path", help="the release file, archive or folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    p.set_defaults(func=cmd_data_import)
    names = ", ".join(f"{s.name} ({s.what})" for s in data_import.SOURCES.values())
    p = dsub.add_parser("download", help="download a public release (checksummed, resumable) and import it",
                        description=f"Sources: {names}. An interrupted download resumes when run again.")
    p.add_argument("name", choices=sorted(data_import.SOURCES), help="which source")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    p.set_defaults(func=cmd_data_download)


register_commands(CommandGroup("data", add_commands))
