"""Scores kept across runs, so a second run on the same networks reads them instead of probing.

A program's score on one network is a pure function of the network (its benchmark's ``network_key``),
the probe batch, the init seed, the program's canonical form, the version of each statistic it reads,
and how it was computed (:data:`INTERPRETER_VERSION`, torch's version, threads, device, the resident
statistics' dtype, which scoring path). Keyed by all of these, scores live in ``scores.sqlite`` in the
cache folder (:mod:`evoproxy.data.cache`). A benchmark whose ``network_key`` is None is never cached; a
score a program did not finish (a timeout, an error) is not kept.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from evoproxy.data.cache import KeyValueCache, cache_file
from evoproxy.lang.program import Program
from evoproxy.lang.stats import STATS

FILE = "scores.sqlite"
INTERPRETER_VERSION = 1
"""Raised when the interpreter's ops change what they compute: every kept score is then computed again."""


def cache_folder(data_dir: Optional[str] = None) -> Optional[str]:
    """The score cache's folder: the data directory's ``cache/`` (or ``$EVOPROXY_CACHE_DIR``); None, with one
    warning, when there is none."""
    path = cache_file(FILE, data_dir)
    return None if path is None else str(path.parent)


def program_key(program: Program) -> str:
    """The canonical form and the versions of the statistics it reads."""
    versions = ",".join(f"{s}:{STATS.get(s).version}" for s in sorted(program.stats))
    return f"{program.canonical().text}|{versions}"


def batch_digest(x: torch.Tensor, y: torch.Tensor) -> str:
    digest = hashlib.sha256(x.detach().cpu().contiguous().numpy().tobytes())
    digest.update(y.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def context_key(path: str, batch: str, seed: int, threads: int, device: str, dtype: str = "float32") -> str:
    """Everything besides network and program that a score depends on, as one string."""
    return json.dumps({"path": path, "batch": batch, "seed": seed, "threads": threads, "device": device,
                       "dtype": dtype, "torch": torch.__version__, "interpreter": INTERPRETER_VERSION},
                      sort_keys=True)


class ScoreCache:
    """Scores by (context, network, program) in one :class:`KeyValueCache`; counts what it saved."""

    def __init__(self, store: KeyValueCache) -> None:
        self.store, self.reused, self.kept = store, 0, 0

    @classmethod
    def open(cls, folder: Optional[str]) -> Optional["ScoreCache"]:
        """The cache in ``folder`` (None: no cache)."""
        return None if folder is None else cls(KeyValueCache(Path(folder) / FILE, "scores", "score cache"))

    @staticmethod
    def _key(context: str, network: str, program: str) -> str:
        return hashlib.sha256(f"{context}\n{network}\n{program}".encode()).hexdigest()[:32]

    def _keys(self, context: str, networks: Sequence[Optional[str]],
              programs: Sequence[Program]) -> dict[tuple[int, int], str]:
        texts = [program_key(p) for p in programs]
        return {(i, j): self._key(context, net, text) for i, text in enumerate(texts)
                for j, net in enumerate(networks) if net is not None}

    def known(self, context: str, networks: Sequence[Optional[str]],
              programs: Sequence[Program]) -> dict[tuple[int, int], float]:
        """The kept scores of ``programs`` (rows) on ``networks`` (columns), by (row, column)."""
        keys = self._keys(context, networks, programs)
        values = self.store.get_many(keys.values())
        out = {ij: values[k] for ij, k in keys.items() if k in values}
        self.reused += len(out)
        return out

    def keep(self, context: str, networks: Sequence[Optional[str]], programs: Sequence[Program],
             scores: np.ndarray) -> None:
        """Keep ``scores`` (programs x networks) of programs that finished on every network."""
        keys = self._keys(context, networks, programs)
        items = {k: float(scores[i, j]) for (i, j), k in keys.items()}
        self.store.put_many(items)
        self.kept += len(items)

    def close(self) -> None:
        self.store.close()
