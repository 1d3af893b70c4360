"""Resolve a proxy given by name, formula or JSON file; read and write proxy files.

A proxy file is JSON: ``{"evoproxy_proxy": 1, "name": ..., "formula": TEXT, "direction": 1, ...}``
(extra keys such as scores and lineage are kept for people, ignored here). Loading parses the
formula with the grammar: no eval, no pickle.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoproxy.errors import EvoproxyError
from evoproxy.lang.program import FormulaError, Program, check_proxy, parse
from evoproxy.lang.proxies import PROXIES

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ProxySpec:
    """A whole-network program with a name and a direction (+1: higher score = better)."""

    name: str
    program: Program
    direction: int = 1
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


def resolve(spec: str) -> ProxySpec:
    """A registered proxy name, a path to a proxy JSON file, or a formula."""
    if spec in PROXIES:
        return ProxySpec(spec, PROXIES.get(spec).program)
    if spec.endswith(".json") or _is_file(spec):
        return read_proxy(spec)
    return ProxySpec(spec, check_proxy(parse(spec)))


def _is_file(spec: str) -> bool:
    """Whether ``spec`` names an existing file (a formula longer than a file name is not one)."""
    try:
        return len(spec) < 4096 and "(" not in spec and Path(spec).is_file()
    except (OSError, ValueError):
        return False


def read_proxy(path: str | Path) -> ProxySpec:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise EvoproxyError(f"proxy file {path} not found") from None
    except (OSError, ValueError, RecursionError) as e:
        why = ("JSON nested too deeply" if isinstance(e, RecursionError) else
               e.strerror if isinstance(e, OSError) and e.strerror else str(e)[:120] or type(e).__name__)
        raise EvoproxyError(f"cannot read proxy file {str(path)[:200]}: {why}") from None
    if not isinstance(doc, dict) or ("formula" not in doc and "tree" not in doc):
        raise EvoproxyError(f"{path} is not an evoproxy proxy file (no 'formula' key)")
    if "formula" in doc and not isinstance(doc["formula"], str):
        raise EvoproxyError(f"{path}: 'formula' must be a text formula, got {type(doc['formula']).__name__}")
    try:
        program = parse(doc["formula"]) if "formula" in doc else Program.from_json(doc["tree"])
        check_proxy(program)
    except FormulaError as e:
        raise FormulaError(f"{path}: {e}") from None
    direction = doc.get("direction", 1)
    if type(direction) is not int or direction not in (1, -1):
        raise EvoproxyError(f"{path}: direction must be 1 or -1, got {direction!r}")
    return ProxySpec(str(doc.get("name", path.stem)), program, direction, doc)


def proxy_document(spec: ProxySpec, **extra: Any) -> dict[str, Any]:
    return {"evoproxy_proxy": FORMAT_VERSION, "name": spec.name, "formula": spec.program.text,
            "canonical": spec.program.canonical().text, "hash": spec.program.hash,
            "direction": spec.direction, "tree": spec.program.to_json(), **extra}


def write_proxy(path: str | Path, spec: ProxySpec, **extra: Any) -> None:
    Path(path).write_text(json.dumps(proxy_document(spec, **extra), indent=2) + "\n")
