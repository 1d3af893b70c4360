"""NASLib's NAS-Bench-Suite-Zero files ``zc_nasbench201.json``, ``zc_nasbench101.json`` and
``zc_nasbench301.json`` -> the Suite-Zero reference tables.

Layout (NASLib's zero-cost benchmark loader): ``{dataset: {arch key: {"id", "val_accuracy",
proxy: {"score", "time"}, ...}}}``. NB201: datasets ``cifar10``, ``cifar100``, ``ImageNet16-120``, the
key the six NASLib op-index digits (:func:`evoproxy.spaces.nb201.op_indices`). NB101 and NB301:
``cifar10``, the key NASLib's architecture hash (the adjacency then op codes; the compact DARTS
genotype), the ``arch`` column of the tables. The space is told by the keys. Plain JSON: nothing
is executed.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

from evoproxy.errors import EvoproxyError
from ..base import check_accuracies
from evoproxy.spaces.darts import parse_nb301_arch
from evoproxy.spaces.nb101 import parse_nb101_arch, prune
from evoproxy.spaces.nb201 import arch_str

PROXIES = ("flops", "params", "synflow", "grasp", "fisher", "grad_norm", "l2_norm", "plain",
           "nwot", "epe_nas", "jacov", "snip")
COLUMNS = ("dataset", "arch_str", "naslib_op_indices", "val_accuracy", *PROXIES)
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_KEY = re.compile(r"\(\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*,\s*([0-4])\s*\)")


def _number(value) -> str:
    """A value of the file as the table writes it; TypeError for ``true``/``false`` (float() would make them
    1.0 and 0.0: a wrong value, silently), as for anything else that is not a number."""
    if isinstance(value, bool):
        raise TypeError(f"{str(value).lower()} where a number belongs")
    return repr(float(value))


def _score(entry: dict, proxy: str) -> str:
    value = entry.get(proxy)
    value = value.get("score") if isinstance(value, dict) else value
    return "" if value is None else _number(value)


def read_json(path: Path) -> dict:
    """The parsed file, checked to hold at least one of NASLib's datasets."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:  # ValueError: JSON, huge integers
        why = (f"it holds an integer of more than {sys.get_int_max_str_digits()} digits, which no accuracy or proxy "
               "value is" if "integer string conversion" in str(err) else
               "it is nested deeper than any NASLib file" if isinstance(err, RecursionError) else str(err)[:100])
        raise EvoproxyError(f"{path} is not readable JSON ({why}); re-download it") from None
    if not isinstance(obj, dict) or not any(isinstance(obj.get(d), dict) and obj[d] for d in DATASETS):
        raise EvoproxyError(f"{path} is not a NAS-Bench-Suite-Zero file of NASLib (zc_nasbench201/101/301.json: "
                            f"no {', '.join(DATASETS)} entries)")
    return obj


def space_of(obj: dict, path: Path) -> str:
    """``nb201``, ``nb101`` or ``nb301``, told by the first architecture key."""
    key = next(iter(next(obj[d] for d in DATASETS if isinstance(obj.get(d), dict) and obj[d])))
    if _KEY.fullmatch(key.strip()):
        return "nb201"
    for space, parse in (("nb101", parse_nb101_arch), ("nb301", parse_nb301_arch)):
        try:
            parse(key)
            return space
        except ValueError:
            pass
    raise EvoproxyError(f"{path}: the architecture key {key[:60]!r} is none of NB201's, NB101's or NB301's; "
                        "give NASLib's zc_nasbench201/101/301.json")


def _entries(obj: dict, dataset: str, path: Path) -> dict:
    """The architectures of ``dataset`` (a mapping); one line when the file holds something else there."""
    entries = obj.get(dataset, {})
    if not isinstance(entries, dict):
        raise EvoproxyError(f"{path}: {dataset} holds a {type(entries).__name__}, not NASLib's mapping of "
                            "architectures; re-download it")
    return entries


def _checked(rows: list[dict], path: Path) -> list[dict]:
    """The rows, after their accuracies (per dataset) pass the benchmark check: a release with a NaN,
    infinite or out-of-range accuracy is refused before anything is written."""
    for dataset in dict.fromkeys(r.get("dataset", r.get("task")) for r in rows):
        acc = [float(r["val_accuracy"]) for r in rows if r.get("dataset", r.get("task")) == dataset]
        check_accuracies(acc, str(path), f"val_accuracy ({dataset})")
    return rows


def space_rows(obj: dict, space: str, path: Path) -> tuple[list[dict], list[str]]:
    """The CIFAR-10 rows of an NB101 or NB301 file, and their columns (the proxies the file holds)."""
    parse = (lambda key: prune(*parse_nb101_arch(key))) if space == "nb101" else parse_nb301_arch
    rows, found = [], set()
    for key, entry in _entries(obj, "cifar10", path).items():
        try:
            parse(key)
            scores = {p: _score(entry, p) for p in PROXIES if p in entry}
            rows.append({"search_space": f"nasbench{space[2:]}", "task": "cifar10", "arch": key,
                         "val_accuracy": _number(entry["val_accuracy"]), **scores})
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
            raise EvoproxyError(f"{path}: cifar10 entry {key[:60]!r} is not in NASLib's layout "
                                f"({type(err).__name__}: {str(err)[:80]}); re-download it") from None
        found.update(scores)
    if not rows:
        raise EvoproxyError(f"{path} has no cifar10 architectures; give NASLib's zc_nasbench{space[2:]}.json")
    return _checked(rows, path), ["search_space", "task", "arch", "val_accuracy", *(p for p in PROXIES if p in found)]


def suite_zero_rows(obj: dict, path: Path) -> list[dict]:
    """The table rows of ``zc_nasbench201.json`` (datasets in NASLib's order, archs as in the file)."""
    rows = []
    for dataset in (d for d in DATASETS if d in obj):
        for key, entry in _entries(obj, dataset, path).items():
            m = _KEY.fullmatch(key.strip())
            try:
                if m is None or not isinstance(entry, dict):
                    raise ValueError(f"arch key {key[:40]!r}")
                digits = "".join(m.groups())
                rows.append({"dataset": dataset, "arch_str": arch_str(digits),
                             "naslib_op_indices": digits, "val_accuracy": _number(entry["val_accuracy"]),
                             **{p: _score(entry, p) for p in PROXIES}})
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
                raise EvoproxyError(f"{path}: {dataset} entry {key[:40]!r} is not in NASLib's layout "
                                    f"({type(err).__name__}: {str(err)[:80]}); re-download it") from None
    return _checked(rows, path)


def write_rows(rows: list[dict], out: Path, columns=COLUMNS) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".csv.part")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)
    return len(rows)
