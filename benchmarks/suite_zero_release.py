"""NASLib's NAS-Bench-Suite-Zero file ``zc_nasbench201.json`` -> the Suite-Zero reference table.

Layout (NASLib's zero-cost benchmark loader): ``{dataset: {"(d, d, d, d, d, d)": {"id", "val_accuracy",
proxy: {"score", "time"}, ...}}}`` with datasets ``cifar10``, ``cifar100``, ``ImageNet16-120`` and the
key the six NASLib op-index digits (:func:`evoproxy.spaces.nb201.op_indices`). Plain JSON: nothing is executed.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.nb201 import arch_str

PROXIES = ("flops", "params", "synflow", "grasp", "fisher", "grad_norm", "l2_norm", "plain",
           "nwot", "epe_nas", "jacov", "snip")
COLUMNS = ("dataset", "arch_str", "naslib_op_indices", "val_accuracy", *PROXIES)
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_KEY = re.compile(r"\(\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*\)")


def _score(entry: dict, proxy: str) -> str:
    value = entry.get(proxy)
    value = value.get("score") if isinstance(value, dict) else value
    return "" if value is None else repr(float(value))


def suite_zero_rows(path: Path) -> list[dict]:
    """The table rows of ``zc_nasbench201.json`` (datasets in NASLib's order, archs as in the file)."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EvoproxyError(f"{path} is not readable JSON ({str(err)[:100]}); re-download it") from None
    if not isinstance(obj, dict) or not any(d in obj for d in DATASETS):
        raise EvoproxyError(f"{path} is not NASLib's zc_nasbench201.json (no {', '.join(DATASETS)} entries)")
    rows = []
    for dataset in (d for d in DATASETS if d in obj):
        for key, entry in obj[dataset].items():
            m = _KEY.fullmatch(key.strip())
            try:
                if m is None or not isinstance(entry, dict):
                    raise ValueError(f"arch key {key[:40]!r}")
                digits = "".join(m.groups())
                rows.append({"dataset": dataset, "arch_str": arch_str(digits),
                             "naslib_op_indices": digits, "val_accuracy": repr(float(entry["val_accuracy"])),
                             **{p: _score(entry, p) for p in PROXIES}})
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise EvoproxyError(f"{path}: {dataset} entry {key[:40]!r} is not in NASLib's layout "
                                    f"({type(err).__name__}: {err}); re-download it") from None
    return rows


def write_rows(rows: list[dict], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".csv.part")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)
    return len(rows)
