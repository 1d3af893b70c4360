"""How run-store values are encoded: plain JSON (NaN/inf -> null, tuples -> lists, numpy ->
Python), REAL fitness columns (NaN -> NULL) and ``random.Random`` states as JSON lists."""
from __future__ import annotations

import json
import math
from typing import Any, Optional

import numpy as np


def plain(obj: Any) -> Any:
    """``obj`` as plain JSON data: NaN/inf -> None, tuples -> lists, numpy -> Python."""
    if isinstance(obj, (np.generic, np.ndarray)):
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(plain(obj), allow_nan=False, separators=(",", ":"))


def to_real(x: Optional[float]) -> Optional[float]:
    """A fitness for the REAL column: NaN and None become NULL."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def rng_state_to_json(state: tuple) -> list:
    """``random.Random().getstate()`` as a JSON-able list ``[version, [625 ints], gauss_next]``."""
    version, internal, gauss_next = state
    return [version, list(internal), gauss_next]


def rng_state_from_json(obj: list) -> tuple:
    """The inverse of :func:`rng_state_to_json`, ready for ``random.Random().setstate``."""
    if not isinstance(obj, (list, tuple)) or len(obj) != 3:
        raise ValueError("rng state must be [version, [ints], gauss_next]")
    version, internal, gauss_next = obj
    return (int(version), tuple(int(i) for i in internal),
            None if gauss_next is None else float(gauss_next))
