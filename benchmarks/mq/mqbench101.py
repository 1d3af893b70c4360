"""MQ-Bench-101 PTQ ground truth from EMQ: ``PTQ-GT.pkl`` (a.k.a. ``MQ-Bench-101-PTQ-GT.pkl``).

A dict ``{index: {'bit_cfg': '[4, 4, 2, ...]', 'acc': 61.2}}``: 18 weight bit widths of
ResNet-18/ImageNet (stem conv, 16 block convs, fc; each 2..4); ``bit_cfg`` may also be a list
of ints. CSV (``index,bit_cfg,acc``; ``[4, 4, 2]`` or ``4-4-2``) and JSON (``{"0": {...}}`` or
a list of objects with an ``"index"`` key) conversions are read the same way.

Safety: loading a pickle can run code, so :class:`_SafeUnpickler` refuses *every* global. The
format needs only dicts, lists, str, int and float, which pickle encodes without globals, so
numpy, classes and ``os.system`` are refused before anything runs. Nothing is ever ``eval``-ed.
"""
from __future__ import annotations

import csv
import io
import json
import math
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, List, Tuple, Union

from evoproxy.errors import DataMissing, EvoproxyError

SUFFIXES = (".pkl", ".pickle", ".csv", ".json")


@dataclass(frozen=True)
class MQBench101Row:
    index: int
    bits: Tuple[int, ...]
    acc: float


class _SafeUnpickler(pickle.Unpickler):
    """Refuses every global, so loading can neither import nor call anything."""
    def find_class(self, module: str, name: str) -> Any:
        raise EvoproxyError(f"refused pickle global {module}.{name}: MQ-Bench-101 pickles hold "
                            "only dicts, lists, str, int and float")


def _bits(idx: int, cfg: Any) -> Tuple[int, ...]:
    m = re.fullmatch(r"\s*\[?\s*(.*?)\s*\]?\s*", cfg) if isinstance(cfg, str) else None
    parts = re.split(r"\s*[,-]\s*|\s+", m.group(1)) if m else cfg
    if m and all(re.fullmatch(r"\d+", p) for p in parts):
        out = tuple(int(p) for p in parts)
    elif isinstance(cfg, (list, tuple)) and all(type(b) is int for b in cfg):
        out = tuple(cfg)
    else:
        raise EvoproxyError(f"MQ-Bench-101 row {idx}: bit_cfg {cfg!r} is not a list of ints")
    bad = [b for b in out if not 2 <= b <= 32]
    if not out or bad:
        raise EvoproxyError(f"MQ-Bench-101 row {idx}: bit widths {bad or '[]'} not in 2..32")
    return out


def _row(key: Any, entry: Any) -> MQBench101Row:
    if isinstance(key, bool) or not re.fullmatch(r"\d+", str(key).strip()):
        raise EvoproxyError(f"MQ-Bench-101 index {key!r} is not a non-negative int")
    idx = int(str(key).strip())
    if not isinstance(entry, dict) or not {"bit_cfg", "acc"} <= set(entry):
        raise EvoproxyError(f"MQ-Bench-101 row {idx}: needs keys 'bit_cfg' and 'acc'")
    try:
        acc = math.nan if isinstance(entry["acc"], bool) else float(entry["acc"])
    except (TypeError, ValueError):
        acc = math.nan
    if not math.isfinite(acc):
        raise EvoproxyError(f"MQ-Bench-101 row {idx}: acc {entry['acc']!r} is not a finite number")
    return MQBench101Row(idx, _bits(idx, entry["bit_cfg"]), acc)


def _pairs(path: Path, data: bytes) -> Iterable[Tuple[Any, Any]]:
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        if not {"index", "bit_cfg", "acc"} <= set(reader.fieldnames or ()):
            raise EvoproxyError(f"{path}: CSV needs columns index,bit_cfg,acc")
        return [(r["index"], r) for r in reader]
    try:
        obj = (json.loads(data.decode("utf-8-sig")) if path.suffix.lower() == ".json"
               else _SafeUnpickler(io.BytesIO(data)).load())
    except EvoproxyError:
        raise
    except Exception as e:  # truncated/corrupt input raises many types; none may escape raw
        raise EvoproxyError(f"{path}: corrupt file ({type(e).__name__}: {e})") from None
    if isinstance(obj, list):
        return [(o.get("index") if isinstance(o, dict) else None, o) for o in obj]
    if not isinstance(obj, dict):
        raise EvoproxyError(f"{path}: expected a dict of index -> {{bit_cfg, acc}}")
    return obj.items()


def read_mqbench101(path: Union[str, Path]) -> List[MQBench101Row]:
    """Validated rows of an MQ-Bench-101 ground-truth file (.pkl/.pickle/.csv/.json), by index."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise EvoproxyError(f"{path}: unsupported suffix; use one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise DataMissing(f"MQ-Bench-101 file not found: {path} (download PTQ-GT.pkl from EMQ's "
                          "MQ-Bench-101 release, or pass its CSV/JSON conversion)")
    rows = sorted((_row(k, e) for k, e in _pairs(path, path.read_bytes())), key=lambda r: r.index)
    if not rows:
        raise EvoproxyError(f"{path}: no MQ-Bench-101 rows")
    n = len(rows[0].bits)
    for prev, r in zip([None] + rows, rows):
        if prev and prev.index == r.index:
            raise EvoproxyError(f"{path}: duplicate MQ-Bench-101 index {r.index}")
        if len(r.bits) != n:
            raise EvoproxyError(f"MQ-Bench-101 row {r.index}: {len(r.bits)} bit widths, but row "
                                f"{rows[0].index} has {n}")
    return rows


def to_csv(rows: Iterable[MQBench101Row], path: Union[str, Path]) -> None:
    """Write ``index,bit_cfg,acc`` (bit_cfg like ``4-4-2``), which read_mqbench101 reads back."""
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("index", "bit_cfg", "acc")] + [
            (r.index, "-".join(map(str, r.bits)), repr(r.acc)) for r in rows])
