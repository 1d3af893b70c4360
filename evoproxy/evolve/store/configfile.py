"""``RUN/config.toml``: the resolved config of a run, as TOML anyone can read (and repeat the run with
``evoproxy search --config RUN/config.toml``).

The run store keeps the config a run continues with; the file is only a copy. A user who edits the
copy and resumes would otherwise see the edit silently overwritten (and not applied): evoproxy writes
a digest of the keys into the file, and when the file no longer matches it (or, for a file written
before digests, its keys differ from the run's) the file is left as it is, the run's config goes to
``RUN/config.stored.toml`` beside it, and a note says so and how to start a new run from the edit.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
import warnings
from pathlib import Path
from typing import Any, Optional

from evoproxy.errors import EvoproxyNote
from evoproxy.evolve.config import EXECUTION_KEYS

NAME, STORED = "config.toml", "config.stored.toml"
HEADER = "# the resolved config of this run (evoproxy writes this file; the run store keeps the original)"
DIGEST = "# digest "
FREE_KEYS = (*EXECUTION_KEYS, "generations")
"""Keys a resume may change (an older file that differs only in these was written by evoproxy)."""


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a TOML basic string: JSON's escapes are TOML's


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def config_text(config: dict) -> str:
    """The file: a header, the digest of the key lines, the keys (None, i.e. unset, left out)."""
    body = "".join(f"{k} = {toml_value(v)}\n" for k, v in config.items() if v is not None)
    return (f"{HEADER}\n{DIGEST}{_digest(body)} (evoproxy notes an edit of this file on --resume and leaves "
            f"it as it is)\n{body}")


def write_config(run_dir: Path, config: dict) -> None:
    """Write ``RUN/config.toml`` unless the user edited it; then write ``RUN/config.stored.toml`` and note it."""
    path, text = Path(run_dir) / NAME, config_text(config)
    edit = edited(path, config)
    if not edit:  # evoproxy's own file (None), or the user's with the very same keys ("")
        if edit is None:
            _write(path, text)
        (Path(run_dir) / STORED).unlink(missing_ok=True)
        return
    _write(Path(run_dir) / STORED, text)
    warnings.warn(f"{path} {edit}: this run continues the config stored in its run.sqlite, so the edit is not "
                  f"applied; your file is left as it is and the run's config is in {Path(run_dir) / STORED} (to run "
                  f"the edited config, start a new run: evoproxy search --config {path} --out NEW_DIR)",
                  EvoproxyNote, stacklevel=2)


def edited(path: Path, config: dict) -> Optional[str]:
    """None when ``path`` is missing or as evoproxy wrote it, "" when the user's file holds the same keys
    (comments or layout changed), else what differs, in words."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        return f"cannot be read as the run's config ({type(err).__name__})"
    lines = text.split("\n", 2)
    if len(lines) == 3 and lines[0] == HEADER and lines[1].startswith(DIGEST):
        if lines[1][len(DIGEST):].split(" ", 1)[0] == _digest(lines[2]):
            return None
    try:
        found = tomllib.loads(text)
        keys = differing(found, config)
    except tomllib.TOMLDecodeError as err:
        return f"is no longer valid TOML ({err})"
    legacy = lines[0] == HEADER and not lines[1].startswith(DIGEST)
    if legacy and not [k for k in keys if k not in FREE_KEYS and k in found]:
        return None  # written by an evoproxy before digests: only keys a resume may change, or keys it did not know
    shown = [k for k in keys if k not in FREE_KEYS] or keys  # keys a resume changes itself, only when alone
    return f"was edited (it differs from the run's config in: {', '.join(shown)})" if keys else ""


def differing(found: dict, config: dict) -> list[str]:
    """Keys whose values differ between a parsed TOML file and ``config`` (unset keys are absent)."""
    want = {k: v for k, v in config.items() if v is not None}
    same = lambda k: json.dumps(found.get(k), sort_keys=True) == json.dumps(want.get(k), sort_keys=True)  # noqa: E731
    return sorted(k for k in found.keys() | want.keys() if not same(k))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
