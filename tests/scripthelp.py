"""Loading an experiment script as a module, for the tests of the study and perf scripts."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_script(name: str):
    """experiments/NAME.py as a module, its folder first on sys.path while it loads (as when it is run:
    ``import studylib`` finds the study library beside it)."""
    path = EXPERIMENTS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module
