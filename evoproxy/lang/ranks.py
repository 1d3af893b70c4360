"""Set-level programs: ranks over the networks scored together, and ensembles built from them.

A program of kind ``set`` (see :mod:`evoproxy.lang.types`) is scored in two stages. First its
*network parts*, the largest subexpressions that give one number per network, are scored on
every network like any proxy. Then the set-level rest runs once on the vectors of those numbers
over the networks, e.g. AZ-NAS's ``add(log(rank(E)), log(rank(P)))``. Its value for a network
therefore depends on which networks were scored with it: scores of one set are comparable
with each other only.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from scipy.stats import rankdata

from evoproxy.lang.interpret import eval_node
from evoproxy.lang.ops import Op, register_op
from evoproxy.lang.program import Program
from evoproxy.lang.types import SET


def _fractional_rank(v: torch.Tensor) -> torch.Tensor:
    """rank / n in (0, 1], ascending (the largest gets 1), ties averaged; non-finite ranks lowest."""
    x = v.reshape(-1).double().numpy()
    r = rankdata(np.where(np.isfinite(x), x, -np.inf)) / max(x.size, 1)
    return torch.from_numpy(r).reshape(v.shape)


register_op(Op("rank", "rank", _fractional_rank,
               "rank among the networks scored together / their number, in (0, 1]: the largest gets 1, "
               "ties share their mean rank, NaN ranks lowest (a set-level value)",
               r"\operatorname{{rank}}\left({0}\right)", default=False))


def is_set_level(p: Program) -> bool:
    return p.vtype.kind == SET


def network_parts(p: Program) -> list[Program]:
    """The per-network subexpressions a program's score is computed from (itself if not set-level)."""
    if not is_set_level(p):
        return [p]
    return list({q.text: q for a in p.args for q in network_parts(a)}.values())


def all_network_parts(programs: Sequence[Program]) -> list[Program]:
    """The distinct network parts of several programs, in first-seen order."""
    return list({q.text: q for p in programs for q in network_parts(p)}.values())


def combine(programs: Sequence[Program], parts: Sequence[Program], matrix: np.ndarray) -> np.ndarray:
    """(programs x networks) scores from the (parts x networks) scores of the same networks."""
    row = {q.text: i for i, q in enumerate(parts)}
    out = np.full((len(programs), matrix.shape[1]), math.nan)
    for i, p in enumerate(programs):
        if not is_set_level(p):
            out[i] = matrix[row[p.text]]
            continue
        memo = {q.text: torch.from_numpy(np.ascontiguousarray(matrix[row[q.text]], dtype=np.float64))
                for q in network_parts(p)}
        try:
            out[i] = eval_node(p, {}, memo).double().expand(matrix.shape[1]).numpy()
        except (RuntimeError, ValueError):
            pass  # the whole set scores NaN (screened)
    return out
