"""Plugins: the user's own modules that register ops, statistics, passes, benchmarks, selections,
backends or commands. ``--plugin NAME`` (any command) or the config key ``plugins`` names them, as
a module (``mypkg.ops``) or a file (``my_ops.py``); the search passes them to every worker, Ray's
included, so a worker knows what the driver registered.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

from evoproxy.errors import EvoproxyError

PluginRef = tuple[str, str]
"""(module name, the folder it is imported from): what a worker needs to import it again."""


def import_plugin(name: str, root: Optional[str] = None) -> PluginRef:
    """Import one plugin module (once per process); its folder goes first on ``sys.path``."""
    if root and root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and name.startswith(err.name):
            raise EvoproxyError(f"plugin {name!r} not found (searched sys.path{' and ' + root if root else ''}); "
                                "give a module on the path or a .py file") from None
        raise EvoproxyError(f"plugin {name!r} failed to import: {err}") from None
    except EvoproxyError:
        raise
    except Exception as err:  # noqa: BLE001  (the user's code: one line naming it and what it raised)
        raise EvoproxyError(f"plugin {name!r} failed to import: {type(err).__name__}: {err}") from None
    return name, root or _root_of(name, getattr(module, "__file__", None))


def _root_of(name: str, file: Optional[str]) -> str:
    if file is None:  # a namespace package: importable as it is
        return ""
    path = Path(file).resolve()
    return str(path.parents[name.count(".") + (path.name == "__init__.py")])


def load_plugin(spec: str) -> PluginRef:
    """A module name or a ``.py`` file, imported; its :data:`PluginRef`."""
    if spec.endswith(".py"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise EvoproxyError(f"plugin file {spec} not found")
        return import_plugin(path.stem, str(path.resolve().parent))
    return import_plugin(spec)


def load_plugins(specs: Iterable[str]) -> tuple[PluginRef, ...]:
    return tuple(load_plugin(s) for s in specs)


def import_refs(refs: Sequence[Sequence[str]]) -> None:
    """In a worker: import what the driver loaded."""
    for name, root in refs:
        import_plugin(name, root or None)


def plugin_args(argv: Sequence[str]) -> list[str]:
    """The ``--plugin X`` / ``--plugin=X`` values anywhere in a command line."""
    return [value for _, value in _plugin_spans(argv)]


def without_plugin_args(argv: Sequence[str]) -> list[str]:
    taken = {i for span, _ in _plugin_spans(argv) for i in span}
    return [a for i, a in enumerate(argv) if i not in taken]


def _plugin_spans(argv: Sequence[str]) -> list[tuple[tuple[int, ...], str]]:
    spans, i = [], 0
    while i < len(argv):
        if argv[i] == "--":
            break
        if argv[i] == "--plugin" and i + 1 < len(argv):
            spans.append(((i, i + 1), argv[i + 1]))
            i += 1
        elif argv[i].startswith("--plugin="):
            spans.append(((i,), argv[i].split("=", 1)[1]))
        i += 1
    return spans
