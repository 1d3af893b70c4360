"""Warm starts (``init_from``): programs generation 0 begins with, before random ones fill it up.

The source is a run directory (its last committed population, best first), a proxy JSON file
(``evoproxy export`` output: the formula and its ``others``), or a text file with one formula or
proxy name per line (``#`` starts a comment). Every program must be one the run could evolve:
a whole-network program over the run's statistics and ops.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

from evoproxy.errors import EvoproxyError
from evoproxy.lang.program import Program
from evoproxy.lang.proxyfile import resolve
from evoproxy.lang.ranks import is_set_level
from evoproxy.evolve.store import RunStore, damaged_store


def seed_programs(source: str, stats: Iterable[str], ops: Optional[Iterable[str]]) -> list[Program]:
    """The programs of ``source``, checked against the run's statistics and ops."""
    programs = [_program(t, source) for t in _texts(Path(source))]
    allowed_stats, allowed_ops = set(stats), None if ops is None else set(ops)
    for p in programs:
        problem = _problem(p, allowed_stats, allowed_ops)
        if problem:
            raise EvoproxyError(f"init_from {source}: {p.text} {problem}; edit the file or the config's stats/ops")
    return list({p.hash: p for p in programs}.values())


def _texts(path: Path) -> list[str]:
    if (path / "run.sqlite").exists():
        with damaged_store(path / "run.sqlite", structural=True):
            with RunStore.reader(path) as store:  # another run's store: only read
                last = store.last_generation()
                if last is None:
                    raise EvoproxyError(f"init_from {path}: the run has no committed generation to start from")
                population = store.load_generation(last)[0]
        return [i["text"] for i in sorted(population, key=lambda i: -(i["fitness"] or float("-inf")))]
    if not path.is_file():
        raise EvoproxyError(f"init_from {path}: no such run directory or file; give a run directory, a proxy "
                            "JSON file or a text file with one formula per line")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
            return [doc["formula"]] + [o["formula"] for o in doc.get("others", [])]
        except (ValueError, KeyError, TypeError):
            raise EvoproxyError(f"init_from {path}: not a proxy JSON file (it needs a \"formula\")") from None
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def _program(text: str, source: str) -> Program:
    try:
        return resolve(text).program
    except EvoproxyError as e:
        raise EvoproxyError(f"init_from {source}: {e}") from None


def _problem(p: Program, stats: set[str], ops: Optional[set[str]]) -> str:
    if is_set_level(p):
        return "ranks networks among each other (a set-level proxy); a search evolves per-network programs"
    missing = sorted(p.stats - stats)
    if missing:
        return f"uses statistic(s) {', '.join(missing)} that the run's stats do not include"
    used = {n.head for n in p.nodes() if n.args}
    if ops is not None and used - ops:
        return f"uses op(s) {', '.join(sorted(used - ops))} outside the run's ops"
    return ""



