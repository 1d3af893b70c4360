"""Proxy-guided bit allocation: a DEAP genetic search over bit configurations under a size budget.

Individuals hold one bit-width index per free layer (first/last layers stay fixed). Offspring over
the budget are repaired by lowering the bit width of seeded random layers until they fit, so
every evaluated configuration is feasible. The proxy is scored on each configuration's quantized
network (memoised per configuration); a configuration whose score is NaN/inf ranks lowest.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from deap import base, tools

from .errors import EvoproxyError
from .evaluate import evaluate_many
from .probe import collect
from .program import Program
from .spaces.bitconfig import BitConfig, BitSpace

CALIBRATION_FREE = frozenset({"weight", "numel", "fan_in", "bits", "act_bits", "qweight", "qerror",
                              "quant_std", "hess_trace", "hess_eig", "orthogonality", "params"})
"""Statistics that do not depend on activation calibration (weight quantization does not)."""


class _Fitness(base.Fitness):
    weights = (1.0,)


class _Individual(list):
    def __init__(self, genes) -> None:
        super().__init__(genes)
        self.fitness = _Fitness()


@dataclass(frozen=True)
class Allocation:
    config: BitConfig
    score: float
    size_mb: float
    evaluations: int


class ProxyScorer:
    """Scores a program on quantized networks of one reference, one configuration at a time."""

    def __init__(self, program: Program, quantize: Callable[[BitConfig, bool], torch.nn.Module],
                 x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> None:
        self.program, self.quantize, self.x, self.y, self.seed = program, quantize, x, y, seed
        self.calibrate = not program.stats <= CALIBRATION_FREE
        self.memo: dict[str, float] = {}

    def __call__(self, cfg: BitConfig) -> float:
        if cfg.canonical not in self.memo:
            net = self.quantize(cfg, self.calibrate)
            stats = collect(net, self.x, self.y, self.program.stats, seed=self.seed)
            score = evaluate_many([self.program], stats)[0]
            self.memo[cfg.canonical] = score if math.isfinite(score) else -math.inf
        return self.memo[cfg.canonical]


def allocate(space: BitSpace, score: Callable[[BitConfig], float], budget_mb: float, seed: int = 0,
             population: int = 16, generations: int = 10, cx_prob: float = 0.6, mut_prob: float = 0.3,
             on_generation: Optional[Callable[[int, float], None]] = None) -> Allocation:
    """The best-scoring configuration within ``budget_mb`` found by a seeded genetic search.

    DEAP's operators draw from Python's global ``random``; it is seeded here and restored after.
    """
    smallest = space.uniform(space.choices[0])
    if space.size_mb(smallest) > budget_mb:
        raise EvoproxyError(f"budget {budget_mb} MB is below the smallest configuration "
                            f"({space.size_mb(smallest):.4f} MB, all free layers at {space.choices[0]} bits)")
    state = random.getstate()
    random.seed(seed)
    try:
        return _evolve(space, score, budget_mb, population, generations, cx_prob, mut_prob, on_generation)
    finally:
        random.setstate(state)


def _evolve(space, score, budget_mb, population, generations, cx_prob, mut_prob, on_generation) -> Allocation:
    free = [i for i in range(space.n_layers) if space._fixed(i) is None]
    rng = random
    top = len(space.choices) - 1

    def config(genes) -> BitConfig:
        bits = [space._fixed(i) for i in range(space.n_layers)]
        for i, g in zip(free, genes):
            bits[i] = space.choices[g]
        return BitConfig(tuple(bits))

    def repair(ind: _Individual) -> _Individual:
        while space.size_mb(config(ind)) > budget_mb:
            j = rng.choice([k for k, g in enumerate(ind) if g > 0])
            ind[j] -= 1
        return ind

    def evaluate(ind: _Individual) -> None:
        ind.fitness.values = (score(config(ind)),)

    pop = [repair(_Individual([rng.randint(0, top) for _ in free])) for _ in range(population)]
    for ind in pop:
        evaluate(ind)
    best = tools.HallOfFame(1)
    best.update(pop)
    for gen in range(1, generations + 1):
        offspring = [_Individual(ind) for ind in tools.selTournament(pop, len(pop), 3)]
        for a, b in zip(offspring[::2], offspring[1::2]):
            if rng.random() < cx_prob:
                tools.cxTwoPoint(a, b)
        for ind in offspring:
            if rng.random() < mut_prob:
                tools.mutUniformInt(ind, 0, top, indpb=2.0 / len(free))
            evaluate(repair(ind))
        pop = offspring
        best.update(pop)
        if on_generation is not None:
            on_generation(gen, best[0].fitness.values[0])
    cfg = config(best[0])
    return Allocation(cfg, best[0].fitness.values[0], space.size_mb(cfg), len(getattr(score, "memo", ())))


def uniform_within(space: BitSpace, budget_mb: float) -> BitConfig:
    """The widest uniform configuration within ``budget_mb``."""
    fits = [b for b in space.choices if space.size_mb(space.uniform(b)) <= budget_mb]
    if not fits:
        raise EvoproxyError(f"no uniform configuration fits {budget_mb} MB")
    return space.uniform(max(fits))
