"""Where a command's memory peaks: its memory sampled over time beside what it was doing.

    python experiments/perf/memory_trace.py [--every 0.5] [--csv trace.csv] -- evoproxy search --config ...

Runs the command and samples the memory of it and all its descendants (Ray's workers when it starts
Ray) every ``--every`` seconds: their proportional set sizes from /proc, so a page shared by several
processes counts once (``/usr/bin/time -v`` gives one process's resident peak). Keeps the last progress
line the command wrote to stderr (tqdm bars, notes) at each sample, and prints the peak, the line that
was current then, and the largest figure seen per line (the phases); ``--csv`` keeps every sample.
Linux only (it reads /proc).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # a terminal's cursor moves (nested tqdm bars)
PROGRESS = re.compile(r"^([^:|]{1,60}?):?\s+\d+%\|.*?\[[^,\]]*,[^,\]]*(?:, (.*))?\]\s*$")  # tqdm: desc, postfix


def tree_mb(pid: int) -> float:
    """MiB held by ``pid`` and every process below it: the sum of their proportional set sizes (a page
    shared by n processes, Ray's object store or torch's libraries, counts 1/n in each), or of their
    resident sizes where /proc has no ``smaps_rollup``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        total += _process_mb(p)
    return total


def _process_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def phase_of(line: str) -> str:
    """A progress line reduced to what it names (a tqdm bar: its description, and its postfix when that
    names a step rather than figures such as ``best=0.63``)."""
    line = ESCAPE.sub("", line).strip()
    bar = PROGRESS.match(line)
    if not bar:
        return line[:80]
    step = bar.group(2) or ""
    return bar.group(1).strip() + (f": {step}" if step and "=" not in step else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--every", type=float, default=0.5, help="seconds between samples (default 0.5)")
    ap.add_argument("--csv", type=Path, help="write every sample (seconds, MiB, phase) here")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give the command after --")
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, errors="replace")
    current = ["(start)"]

    def follow() -> None:
        for chunk in proc.stderr:
            sys.stderr.write(chunk)
            for part in re.split(r"[\r\n]", chunk):
                if part.strip():
                    current[0] = phase_of(part)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    samples, start = [], time.perf_counter()
    while proc.poll() is None:
        samples.append((time.perf_counter() - start, tree_mb(proc.pid), current[0]))
        time.sleep(args.every)
    reader.join(timeout=5)
    if not samples:
        return proc.returncode
    peak = max(samples, key=lambda s: s[1])
    phases: dict[str, float] = {}
    for _, mb, phase in samples:
        phases[phase] = max(phases.get(phase, 0.0), mb)
    print(f"\npeak {peak[1]:,.0f} MiB at {peak[0]:.0f} s, during: {peak[2]}")
    print("largest resident size per phase, in the order they began:")
    for phase, mb in phases.items():
        print(f"  {mb:8,.0f} MiB  {phase}")
    if args.csv:
        with args.csv.open("w", newline="") as f:
            csv.writer(f).writerows([("seconds", "mib", "phase"), *samples])
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
