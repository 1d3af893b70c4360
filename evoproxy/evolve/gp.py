"""DEAP glue: individuals, the operator toolbox and the Pareto front.

The only module that imports deap. Selection draws from the run's own ``random.Random`` (DEAP's
built-in selectors use the global ``random`` module, which would break seeded replays).
"""
from __future__ import annotations

import random
from functools import cached_property
from typing import Optional, Sequence

import numpy as np
from deap import base, tools

from evoproxy.evolve.diversity import unit_vector
from evoproxy.evolve.generate import Generator
from evoproxy.lang.program import Program
from evoproxy.lang.types import SCALAR_T
from evoproxy.evolve.variation import Limits, TwoBranch, crossover, mutate

INIT_DEPTH = 5


class FitnessMax(base.Fitness):
    weights = (1.0,)


class FitnessSize(base.Fitness):
    """Fitness up, program size down: the Pareto front's two objectives."""

    weights = (1.0, -1.0)


class Individual:
    def __init__(self, program: Program, fitness: float, born: int,
                 ranks: Optional[list[int]] = None) -> None:
        self.program = program
        self.fitness = FitnessMax((fitness,))
        self.born = born  # serial number of its creation, for aging
        self.ranks = ranks  # behaviour on the search networks (search.diversity)

    @property
    def value(self) -> float:
        return self.fitness.values[0]

    @cached_property
    def behaviour(self) -> Optional[np.ndarray]:
        """``ranks`` centred and scaled to length 1, computed once (diversity compares it with every member)."""
        return unit_vector(self.ranks)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Individual) and other.program.hash == self.program.hash

    def __hash__(self) -> int:
        return hash(self.program.hash)

    def to_json(self) -> dict:
        return {"text": self.program.text, "hash": self.program.hash, "fitness": self.value,
                "born": self.born}


class SizedIndividual(Individual):
    def __init__(self, program: Program, fitness: float, born: int) -> None:
        super().__init__(program, fitness, born)
        self.fitness = FitnessSize((fitness, program.size))


def make_toolbox(generator: Generator, representation: str, limits: Limits) -> base.Toolbox:
    """``random(rng)``, ``mate(rng, a, b)`` and ``mutate(rng, p)`` for the chosen representation;
    each variation returns a program or None."""
    tb = base.Toolbox()
    if representation == "two-branch":
        preset = TwoBranch(generator)
        tb.register("random", preset.random)
        tb.register("mate", preset.crossover)
        tb.register("mutate", preset.mutate)
    else:
        top = min(INIT_DEPTH, limits.max_depth)

        def ramped(rng: random.Random) -> Program:  # depths from 3 up, so small programs are drawn too
            for _ in range(100):
                p = generator.program(rng, SCALAR_T, rng.randint(min(3, top), top))
                if limits.ok(p):
                    return p
            raise ValueError(f"no random program fits within {limits}")
        tb.register("random", ramped)
        tb.register("mate", crossover, limits=limits)
        tb.register("mutate", lambda rng, p: mutate(rng, p, generator, limits))
    return tb


def tournament(rng: random.Random, pop: Sequence[Individual], size: int) -> Individual:
    return max(rng.sample(list(pop), min(size, len(pop))), key=lambda i: (i.value, -i.born))


def pareto_front(members: Sequence[Individual]) -> list[Individual]:
    """Non-dominated (fitness, size) trade-offs, smallest program first."""
    front = tools.ParetoFront(similar=lambda a, b: a == b)
    front.update([SizedIndividual(m.program, m.value, m.born) for m in members])
    first: dict[tuple, Individual] = {}  # one program per (fitness, size) point
    for m in front:
        first.setdefault((m.value, m.program.size), m)
    return sorted(first.values(), key=lambda m: m.program.size)
