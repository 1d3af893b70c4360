"""Checkpoints: tensors and JSON-able metadata only, read with ``torch.load(weights_only=True)``.

A ``.json`` sidecar repeats the metadata and records the checkpoint's sha256; ``*.gz`` paths
are gzip streams whose sha256 is of the uncompressed bytes.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Union

import torch
from torch import nn

from evoproxy.errors import EvoproxyError

PathLike = Union[str, os.PathLike]


def _open(path: PathLike, mode: str = "rb"):
    """A checkpoint file; ``*.gz`` paths are gzip streams (written with a fixed mtime: reproducible)."""
    return gzip.GzipFile(path, mode, mtime=0) if str(path).endswith(".gz") else open(path, mode)


def sha256_file(path: PathLike) -> str:
    """sha256 of a file's content (of the uncompressed bytes for ``*.gz``, so compressing a
    checkpoint does not change its identity)."""
    h = hashlib.sha256()
    with _open(path) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(path: PathLike, model: nn.Module, meta: dict) -> dict:
    """Write ``{"state_dict", "meta"}`` to ``path`` (gzipped if it ends in ``.gz``) and a
    ``path + ".json"`` sidecar; returns the sidecar."""
    try:  # a JSON round trip leaves only plain types, which weights_only loading accepts
        meta = json.loads(json.dumps(meta, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise EvoproxyError(f"checkpoint metadata must be plain JSON: {err}") from None
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(".tmp-" + path.name)  # keeps the suffix: a .gz stays gzipped
    try:
        with _open(tmp, "wb") as f:
            torch.save({"state_dict": state, "meta": meta}, f)
        os.replace(tmp, path)
        sidecar = {"checkpoint": path.name, "sha256": sha256_file(path), "meta": meta}
        Path(str(path) + ".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    except OSError as err:
        raise EvoproxyError(f"cannot write checkpoint {path}: {err.strerror or err}") from None
    return sidecar


def load_checkpoint(path: PathLike) -> tuple[dict, dict]:
    """``(state_dict, meta)`` of a checkpoint written by :func:`save_checkpoint` (tensors only;
    ``*.pt.gz`` is read through gzip)."""
    path = Path(path)
    if not path.is_file():
        raise EvoproxyError(f"checkpoint not found: {path}")
    try:
        with _open(path) as f:
            obj = torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError, zipfile.BadZipFile,
            KeyError, AttributeError, TypeError) as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()] or [type(err).__name__]
        why = next((ln for ln in lines if ln.startswith("WeightsUnpickler error")), lines[0])
        raise EvoproxyError(f"cannot read checkpoint {path} (not a tensors-only torch file?): "
                            f"{why[:200]}") from None
    if not (isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict)
            and isinstance(obj.get("meta"), dict)):
        raise EvoproxyError(f"{path} is not an evoproxy checkpoint (expected state_dict and meta)")
    return obj["state_dict"], obj["meta"]


def load_into(net: nn.Module, state: dict, path: PathLike) -> nn.Module:
    """``net`` with the checkpoint's weights, or one line naming the first tensor that does not fit."""
    try:
        net.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()] or [type(err).__name__]
        detail = next((ln for ln in lines[1:] if ln), lines[0])
        raise EvoproxyError(f"checkpoint {path} does not fit a {type(net).__name__}: {detail[:200]}") from None
    return net
