"""The one "build under a seed, probe, interpret" path: the worker, eval, allocation and
:func:`load_proxy` all score networks through these functions.

Statistics-major: each network is probed once for the union of the statistics its programs
need, and every program is interpreted on those statistics (sharing common subexpressions).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from evoproxy.data.images import ProbeBatch
from evoproxy.errors import EvoproxyError
from evoproxy.lang.interpret import evaluate_many
from evoproxy.lang.program import Program, parse
from evoproxy.lang.ranks import all_network_parts, combine, is_set_level
from evoproxy.lang.proxyfile import ProxySpec, resolve
from evoproxy.probe.base import collect
from evoproxy.probe.layers import check_network
from evoproxy.probe.requested import probing
from evoproxy.scoring.scorecache import ScoreCache, batch_digest, context_key


def needed_stats(programs: Sequence[Program]) -> frozenset[str]:
    return frozenset().union(*(p.stats for p in programs)) if programs else frozenset()


def build_seeded(build: Callable[[], torch.nn.Module], seed: int, device: str = "cpu") -> torch.nn.Module:
    """``build()`` with torch seeded to ``seed`` (the caller's random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().to(device)


def score_network(model: torch.nn.Module, programs: Sequence[Program], x: torch.Tensor,
                  y: torch.Tensor, seed: int = 0) -> list[float]:
    """Probe ``model`` once (on a private copy) and score every program on its statistics."""
    return evaluate_many(programs, collect(model, x, y, needed_stats(programs), seed=seed))


def score_arch(build: Callable[[], torch.nn.Module], programs: Sequence[Program],
               x: torch.Tensor, y: torch.Tensor, seed: int = 0, device: str = "cpu") -> list[float]:
    """Build one network with a fixed init seed, probe it once, score all programs on it."""
    return score_network(build_seeded(build, seed, device), programs, x, y, seed)


def score_matrix(bench, programs: Sequence[Program], arch_ids: Sequence[int], x: torch.Tensor,
                 y: torch.Tensor, seed: int = 0,
                 on_arch: Optional[Callable[[int, np.ndarray], None]] = None,
                 device: str = "cpu", kept: Optional[ScoreCache] = None) -> np.ndarray:
    """(programs x architectures) scores; a network that cannot be built or probed scores NaN.

    Set-level programs (:mod:`evoproxy.lang.ranks`) are ranked among ``arch_ids``.
    ``on_arch(j, column)`` is called as each architecture finishes (progress, incremental saving)
    with one score per program, or, when some are set-level, one per distinct network part.
    Scores in the score cache ``kept`` are read; the others are computed and kept.
    """
    parts = all_network_parts(programs)
    per_network = not any(is_set_level(p) for p in programs)
    scores = np.full((len(parts), len(arch_ids)), math.nan)
    context = kept and context_key("eval", batch_digest(x, y), seed, torch.get_num_threads(), device)
    for j, arch in enumerate(arch_ids):
        network = [bench.network_key(arch)] if kept else [None]
        known = kept.known(context, network, parts) if kept else {}
        todo = [i for i in range(len(parts)) if (i, 0) not in known]
        for (i, _), value in known.items():
            scores[i, j] = value
        try:
            if todo:
                with probing(needed_stats([parts[i] for i in todo])):
                    scores[todo, j] = score_arch(lambda: bench.build(arch), [parts[i] for i in todo], x, y, seed,
                                                 device)
                if kept:
                    kept.keep(context, network, [parts[i] for i in todo], scores[todo, j:j + 1])
        except (RuntimeError, ValueError) as e:  # one bad network costs its column
            if "out of memory" in str(e).lower():
                raise
        if on_arch is not None:
            on_arch(j, combine(programs, parts, scores[:, j:j + 1])[:, 0] if per_network else scores[:, j])
    return combine(programs, parts, scores)


def load_proxy(path: str | Path):
    """A proxy file as a plain function ``f(model, batch) -> float`` (higher is better).

    ``batch`` is an ``(x, y)`` pair or a :class:`~evoproxy.data.images.ProbeBatch`; the model is
    probed on a private copy, so it is left untouched. A network the probe cannot measure (see
    :mod:`evoproxy.probe.layers`) or a statistic that fails on it raises one
    :class:`~evoproxy.errors.EvoproxyError` line instead of a silent NaN. A set-level proxy (ranks
    over several networks) is refused when loaded: score those with ``evoproxy eval``.
    """
    return spec_proxy(resolve(str(path)))


def formula_proxy(formula: str, direction: int = 1):
    """A formula as ``f(model, batch) -> float``, as :func:`load_proxy` gives for a file."""
    return spec_proxy(ProxySpec(f"formula {formula}", parse(formula), direction))


def spec_proxy(spec: ProxySpec):
    if is_set_level(spec.program):
        raise EvoproxyError(f"{spec.name} ranks networks among each other (a set-level proxy): score a "
                            "set of networks with `evoproxy eval`, not one network")

    def proxy(model, batch, seed: int = 0) -> float:
        x, y = (batch.x, batch.y) if isinstance(batch, ProbeBatch) else batch
        check_network(model)
        stats = collect(model, x, y, spec.program.stats, seed=seed, strict=True)
        return spec.direction * evaluate_many([spec.program], stats)[0]

    proxy.__doc__ = f"{spec.name}: {spec.program.text}"
    return proxy
