"""The package's layout rules, read from the source with ``ast`` (nothing is imported to check them).

* each room imports only the rooms below it (the engine never sees spaces, benchmarks, app or cli);
* no import cycle between modules, lazy imports included;
* no module imports another module's ``_private`` names;
* deap only in ``evolve/gp.py``, ray only in ``backends/ray.py``, sklearn (optional) only in
  ``evolve/learned.py``, torch hooks only in ``probe/``;
* no module over 300 lines, no function over 50 (measured exceptions below, each with its reason);
* every extension point is a registry of frozen records.
"""
from __future__ import annotations

import ast
import dataclasses
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"evoproxy": ROOT / "evoproxy", "evoproxy.spaces": ROOT / "spaces",
           "evoproxy.benchmarks": ROOT / "benchmarks"}
BASE = {"errors", "registry", "plugins"}
ENGINE = {"lang", "probe", "scoring", "evolve", "backends"}
ALLOWED = {  # room -> rooms it may import (besides itself and BASE)
    "lang": set(), "data": set(), "training": {"data"}, "spaces": set(),
    "probe": {"lang"}, "scoring": {"lang", "probe", "data"},
    "backends": {"scoring", "lang", "probe", "data"},
    "evolve": {"scoring", "backends", "lang", "probe", "data"},
    "benchmarks": ENGINE | {"data", "training", "spaces"},
    "allocation": {"lang", "probe", "scoring", "spaces"},
    "app": ENGINE | {"data", "training", "spaces", "benchmarks", "allocation", "facade"},
    "cli": {"app"},
}
ONLY_IN = {"deap": {"evoproxy.evolve.gp"}, "ray": {"evoproxy.backends.ray"}, "sklearn": {"evoproxy.evolve.learned"}}
HOOKS = ("register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
         "register_backward_hook", "register_hook")
HOOK_EXCEPTIONS = {"evoproxy.spaces.bitconfig": "traces the order quantizable layers run in, to number "
                   "a network's bit widths; spaces may not import the probe"}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 50
LONG_MODULES: dict[str, str] = {}  # module -> reason
LONG_FUNCTIONS: dict[str, str] = {}  # "module:function" -> reason


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the installed package."""
    out = {}
    for prefix, folder in FOLDERS.items():
        for f in sorted(folder.rglob("*.py")):
            parts = list(f.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([prefix, *parts])] = f
    return out


@lru_cache(maxsize=None)
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def room(name: str) -> str:
    """``evoproxy.lang.ops`` -> ``lang``; the top ``evoproxy`` package is the facade."""
    parts = name.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "facade"
    return parts[1] if parts[1] not in BASE else "base"


def _absolute(mods: dict, name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    pkg = name if mods[name].name == "__init__.py" else name.rpartition(".")[0]
    base = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mods: dict, name: str) -> list[tuple[str, list[str], int]]:
    """``(module imported, names taken from it, line)`` for every import of ``name``, lazy ones too."""
    out = []
    for node in ast.walk(parsed(mods[name])):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(mods, name, node)
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((sub, [], node.lineno) if sub in mods else (mod, [a.name], node.lineno))
    return out


def upward_imports(mods: dict) -> list[str]:
    wrong = []
    for name in mods:
        here = room(name)
        if here in ("facade", "base"):
            continue
        allowed = ALLOWED[here] | {here, "base"}
        for target, _, line in imports(mods, name):
            if target.split(".")[0] == "evoproxy" and room(target) not in allowed:
                wrong.append(f"{name}:{line} imports {target} ({here} may not import {room(target)})")
    return wrong


def import_cycles(mods: dict) -> list[str]:
    edges = {n: sorted({m for m, _, _ in imports(mods, n) if m in mods}) for n in mods}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    found = []

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for m in edges[n]:
            if state.get(m) == 1:
                found.append(" -> ".join(path[path.index(m):] + [m]))
            elif m not in state:
                visit(m, path + [m])
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n, [n])
    return found


def private_imports(mods: dict) -> list[str]:
    wrong = []
    for name in mods:
        for target, names, line in imports(mods, name):
            if target.startswith("evoproxy") and target != name:
                wrong += [f"{name}:{line} takes {n} from {target}" for n in names if _private(n)]
    return wrong


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_every_module_is_found():
    assert {"evoproxy.lang.ops", "evoproxy.probe.base", "evoproxy.evolve.loop", "evoproxy.cli",
            "evoproxy.spaces.nb201", "evoproxy.benchmarks.base"} <= set(modules())


def test_rooms_import_only_the_rooms_below_them():
    assert not upward_imports(modules()), "\n".join(upward_imports(modules()))


def test_the_base_modules_import_nothing_of_the_package():
    for name in ("evoproxy.errors", "evoproxy.registry"):
        assert all(room(t) == "base" for t, _, _ in imports(modules(), name) if t.startswith("evoproxy")), name


def test_no_import_cycles():
    assert not import_cycles(modules()), import_cycles(modules())


def test_no_module_imports_another_modules_private_names():
    assert not private_imports(modules()), "\n".join(private_imports(modules()))


def test_the_rules_catch_an_upward_import_a_cycle_and_a_private_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from evoproxy.benchmarks import get_benchmark\nfrom evoproxy.lang.ops import _x\n")
    ops = tmp_path / "ops.py"
    ops.write_text(modules()["evoproxy.lang.ops"].read_text() + "\nimport evoproxy.lang.bad\n")
    fake = {**modules(), "evoproxy.lang.bad": bad, "evoproxy.lang.ops": ops}
    assert any("lang may not import benchmarks" in w for w in upward_imports(fake))
    assert any("takes _x from evoproxy.lang.ops" in w for w in private_imports(fake))
    assert any("evoproxy.lang.bad" in c and "evoproxy.lang.ops" in c for c in import_cycles(fake))


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_deap_and_ray_each_live_in_one_module(library):
    mods = modules()
    users = {n for n in mods for t, _, _ in imports(mods, n) if t.split(".")[0] == library}
    assert users == ONLY_IN[library]


def test_torch_hooks_are_installed_only_in_the_probe():
    wrong = []
    for name, path in modules().items():
        if room(name) == "probe" or name in HOOK_EXCEPTIONS:
            continue
        wrong += [f"{name}:{node.lineno}" for node in ast.walk(parsed(path))
                  if isinstance(node, ast.Attribute) and node.attr in HOOKS]
    assert not wrong, wrong


def test_modules_and_functions_are_short():
    too_long = []
    for name, path in modules().items():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES and name not in LONG_MODULES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES and f"{name}:{node.name}" not in LONG_FUNCTIONS:
                    too_long.append(f"{name}:{node.name}: {n} lines")
    assert not too_long, too_long


def test_every_extension_point_is_a_registry_of_frozen_records():
    from evoproxy.backends import BACKENDS
    from evoproxy.benchmarks import BENCHMARKS
    from evoproxy.cli import COMMANDS
    from evoproxy.lang.ops import OPS
    from evoproxy.lang.proxies import PROXIES
    from evoproxy.lang.stats import STATS
    from evoproxy.probe.base import PASSES
    from evoproxy.evolve.selection import SELECTIONS

    for registry in (OPS, STATS, PASSES, PROXIES, BENCHMARKS, SELECTIONS, BACKENDS, COMMANDS):
        assert len(registry) > 0
        for record in registry.values():
            assert dataclasses.is_dataclass(record) and record.__dataclass_params__.frozen, (registry.kind, record)


def test_the_tests_mirror_the_rooms():
    """tests/<room>/ holds the tests of that room; cross-cutting checks stay at the top."""
    rooms = {room(n) for n in modules()}
    folders = {d.name for d in (ROOT / "tests").iterdir() if d.is_dir() and (d / "__init__.py").is_file()}
    assert folders and folders <= rooms, folders - rooms
