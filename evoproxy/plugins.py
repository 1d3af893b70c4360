"""Plugins: the user's own modules that register ops, statistics, passes, benchmarks, selections,
backends or commands. ``--plugin NAME`` (any command) or the config key ``plugins`` names them, as
a module (``mypkg.ops``) or a file (``my_ops.py``); the search passes them to every worker, Ray's
included, so a worker knows what the driver registered.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

from evoproxy.errors import EvoproxyError

PluginRef = tuple[str, str]
"""(module name, the folder it is imported from): what a worker needs to import it again."""


def import_plugin(name: str, root: Optional[str] = None) -> PluginRef:
    """Import one plugin module (once per process); its folder goes first on ``sys.path``. A module of
    that name imported from elsewhere (a plugin file named like a module already loaded) is refused."""
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
    file = getattr(module, "__file__", None)
    if root and file and not Path(file).resolve().is_relative_to(Path(root).resolve()):
        raise EvoproxyError(f"plugin {name!r} should come from {root} but the module of that name already loaded "
                            f"is {file}; rename the plugin so that its name is its own")
    return name, root or _root_of(name, file)


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
        path = path.resolve()
        _check_file_name(path)
        return import_plugin(path.stem, str(path.parent))
    return import_plugin(spec)


def _check_file_name(path: Path) -> None:
    """A plugin file is imported as the module its name says: one line when that name is not a module
    name, or is already another module's (``csv.py``: the standard ``csv``), which would be imported instead."""
    name = path.stem
    if not name.isidentifier():
        raise EvoproxyError(f"plugin file {path} cannot be imported: {name!r} is not a Python module name; "
                            "rename it (letters, digits and _, not starting with a digit)")
    other = _taken_by(name, path)
    if other:
        raise EvoproxyError(f"plugin file {path} has the name of {other}, which Python would import instead of "
                            f"your file; rename the file (e.g. my_{name}.py)")


def _taken_by(name: str, path: Path) -> str:
    """Which other module already answers to ``name`` ("" when none, or when it is this very file)."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        file = getattr(loaded, "__file__", None)
        same = file is not None and Path(file).resolve() == path
        return "" if same else f"the module {name!r} already loaded ({file or 'built into Python'})"
    if name in sys.stdlib_module_names:
        return f"Python's standard module {name!r}"
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return ""
    origin = spec.origin if spec is not None else None
    if origin and origin not in ("built-in", "frozen") and Path(origin).resolve() != path:
        return f"the installed module {name!r} ({origin})"
    return ""


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
