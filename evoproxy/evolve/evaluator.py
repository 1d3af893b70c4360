"""The search's one seam to scoring: a :class:`~evoproxy.backends.Backend` plus set-level combining.

The loop, the screening judge, the splits and the final report score programs only through an
:class:`Evaluator`; scoring itself never calls a backend. A set-level program (one that ranks
networks against each other, e.g. an ensemble) has its per-network parts scored by the backend,
then each benchmark's networks are ranked together here.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from evoproxy.backends import Backend
from evoproxy.lang.program import parse
from evoproxy.lang.ranks import all_network_parts, combine, network_parts
from evoproxy.scoring.worker import Key


class Evaluator:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def score(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        """(programs x keys) scores and ``{program index: why it failed}``; set-level programs are
        ranked among each benchmark's networks in ``keys``."""
        programs = [parse(t) for t in texts]
        parts = all_network_parts(programs)
        if [q.text for q in parts] == list(texts):
            return self.backend.score(texts, keys)
        matrix, failed_parts = self.backend.score([q.text for q in parts], keys)
        out = np.full((len(programs), len(keys)), math.nan)
        for name in dict.fromkeys(k[0] for k in keys):
            cols = [j for j, k in enumerate(keys) if k[0] == name]
            out[:, cols] = combine(programs, parts, matrix[:, cols])
        row = {q.text: i for i, q in enumerate(parts)}
        failed = {i: failed_parts[row[q.text]] for i, p in enumerate(programs) for q in network_parts(p)
                  if row[q.text] in failed_parts}
        return out, failed

    def score_per_network(self, texts: Sequence[str], keys: Sequence[Key]) -> tuple[np.ndarray, dict[int, str]]:
        """:meth:`score` for programs known to be per-network (no ranking across networks)."""
        return self.backend.score(texts, keys)

    def warm(self, keys: Sequence[Key], names: Sequence[str]) -> None:
        self.backend.warm(keys, names)
