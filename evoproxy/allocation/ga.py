"""Proxy-guided bit allocation: a seeded genetic search over bit configurations under a size budget.

Individuals hold one bit-width index per free layer (first/last layers stay fixed). Offspring over
the budget are repaired by lowering the bit width of seeded random layers until they fit, so
every evaluated configuration is feasible. The proxy is scored on each configuration's quantized
network (memoised per configuration); a configuration whose score is NaN/inf ranks lowest.
The search draws from its own ``random.Random(seed)`` (tournament selection, two-point crossover,
uniform integer mutation), never from the global ``random``.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import BitConfig, BitSpace

TOURNAMENT = 3


@dataclass(frozen=True)
class Allocation:
    config: BitConfig
    score: float
    size_mb: float
    evaluations: int


@dataclass
class _Genes:
    """One individual: bit-width indices of the free layers and, once scored, its fitness."""

    genes: list[int]
    fitness: float = -math.inf


class _GA:
    """The genetic search of :func:`allocate` over one space, score and budget."""

    def __init__(self, space: BitSpace, score: Callable[[BitConfig], float], budget_mb: float,
                 rng: random.Random) -> None:
        self.space, self.score, self.budget_mb, self.rng = space, score, budget_mb, rng
        self.free = [i for i in range(space.n_layers) if space.fixed_bits(i) is None]
        self.top = len(space.choices) - 1
        self.seen: set[str] = set()

    def config(self, genes: list[int]) -> BitConfig:
        bits = [self.space.fixed_bits(i) for i in range(self.space.n_layers)]
        for i, g in zip(self.free, genes):
            bits[i] = self.space.choices[g]
        return BitConfig(tuple(bits))

    def repair_and_score(self, ind: _Genes) -> _Genes:
        while self.space.size_mb(self.config(ind.genes)) > self.budget_mb:
            j = self.rng.choice([k for k, g in enumerate(ind.genes) if g > 0])
            ind.genes[j] -= 1
        cfg = self.config(ind.genes)
        self.seen.add(cfg.canonical)
        ind.fitness = self.score(cfg)
        return ind

    def genes_of(self, cfg: BitConfig) -> _Genes:
        """The individual holding ``cfg``'s free-layer widths."""
        if len(cfg.bits) != self.space.n_layers or any(cfg.bits[i] not in self.space.choices for i in self.free):
            raise EvoproxyError(f"start configuration {cfg.canonical} does not fit this network "
                                f"({self.space.n_layers} layers, widths {self.space.choices})")
        return _Genes([self.space.choices.index(cfg.bits[i]) for i in self.free])

    def random_individual(self) -> _Genes:
        return _Genes([self.rng.randint(0, self.top) for _ in self.free])

    def tournament(self, pop: list[_Genes]) -> list[_Genes]:
        """``len(pop)`` copies, each the first best of ``TOURNAMENT`` drawn with replacement."""
        chosen = []
        for _ in pop:
            aspirants = [self.rng.choice(pop) for _ in range(TOURNAMENT)]
            chosen.append(_Genes(list(max(aspirants, key=lambda a: a.fitness).genes)))
        return chosen

    def crossover(self, a: _Genes, b: _Genes) -> None:
        """Two-point crossover in place (the cut points DEAP's ``cxTwoPoint`` draws)."""
        size = min(len(a.genes), len(b.genes))
        p1, p2 = self.rng.randint(1, size), self.rng.randint(1, size - 1)
        p1, p2 = (p1, p2 + 1) if p2 >= p1 else (p2, p1)
        a.genes[p1:p2], b.genes[p1:p2] = b.genes[p1:p2], a.genes[p1:p2]

    def mutate(self, ind: _Genes, indpb: float) -> None:
        for i in range(len(ind.genes)):
            if self.rng.random() < indpb:
                ind.genes[i] = self.rng.randint(0, self.top)


def _better(best: _Genes, pop: list[_Genes], first: bool = False) -> _Genes:
    """The hall of fame's rule: a copy of the first strictly better individual with other genes."""
    for k, ind in enumerate(pop):
        if first and k == 0:
            best = _Genes(list(ind.genes), ind.fitness)
        elif ind.fitness > best.fitness and ind.genes != best.genes:
            best = _Genes(list(ind.genes), ind.fitness)
    return best


def allocate(space: BitSpace, score: Callable[[BitConfig], float], budget_mb: float, seed: int = 0,
             population: int = 16, generations: int = 10, cx_prob: float = 0.6, mut_prob: float = 0.3,
             on_generation: Optional[Callable[[int, float], None]] = None,
             start: Sequence[BitConfig] = ()) -> Allocation:
    """The best-scoring configuration within ``budget_mb`` found by a seeded genetic search.

    ``start`` configurations (e.g. :func:`mixed_uniform`) join the first population in place of random
    ones, so the search ends at one of them unless the proxy scores something else higher.
    """
    smallest = space.uniform(space.choices[0])
    if space.size_mb(smallest) > budget_mb:
        raise EvoproxyError(f"budget {budget_mb} MB is below the smallest configuration "
                            f"({space.size_mb(smallest):.4f} MB, all free layers at {space.choices[0]} bits)")
    ga = _GA(space, score, budget_mb, random.Random(seed))
    first = [ga.genes_of(cfg) for cfg in start][:population]
    first += [ga.random_individual() for _ in range(population - len(first))]
    pop = [ga.repair_and_score(ind) for ind in first]
    best = _better(_Genes([]), pop, first=True)
    for gen in range(1, generations + 1):
        offspring = ga.tournament(pop)
        for a, b in zip(offspring[::2], offspring[1::2]):
            if ga.rng.random() < cx_prob:
                ga.crossover(a, b)
        for ind in offspring:
            if ga.rng.random() < mut_prob:
                ga.mutate(ind, 2.0 / len(ga.free))
            ga.repair_and_score(ind)
        pop = offspring
        best = _better(best, pop)
        if on_generation is not None:
            on_generation(gen, best.fitness)
    cfg = ga.config(best.genes)
    return Allocation(cfg, best.fitness, space.size_mb(cfg), len(ga.seen))


def uniform_within(space: BitSpace, budget_mb: float) -> BitConfig:
    """The widest uniform configuration within ``budget_mb``."""
    fits = [b for b in space.choices if space.size_mb(space.uniform(b)) <= budget_mb]
    if not fits:
        raise EvoproxyError(f"no uniform configuration fits {budget_mb} MB")
    return space.uniform(max(fits))


def mixed_uniform(space: BitSpace, budget_mb: float) -> BitConfig:
    """The widest uniform width that fits, with as many free layers as fit (smallest first) one width up."""
    low = uniform_within(space, budget_mb)
    free = [i for i in range(space.n_layers) if space.fixed_bits(i) is None]
    width = low.bits[free[0]]
    if width == space.choices[-1]:
        return low
    up = space.choices[space.choices.index(width) + 1]
    bits = list(low.bits)
    for i in sorted(free, key=lambda i: space.numels[i]):
        trial = BitConfig(tuple(bits[:i] + [up] + bits[i + 1:]))
        if space.size_mb(trial) <= budget_mb:
            bits = list(trial.bits)
    return BitConfig(tuple(bits))
