"""Selection strategies: how parents are drawn and how an admitted child joins the population.

Each strategy is a :class:`Selection` record in :data:`SELECTIONS` (``config.evolution.selection`` names
one). Add one from your own code with ``register_selection(Selection("mine", parents, replace))``.

* ``diversity`` (EMQ's diversity-prompting selection): parents come from the top part of the
  population; each child competes with a freshly drawn random program, and the better of the
  two replaces the worst member if it beats it.
* ``tournament``: parents by tournament; a child replaces the worst member if it beats it.
* ``aging`` (regularized evolution): parents by tournament; each child replaces the oldest.

A strategy that admits a child only above some fitness names that bar (``entry_bar``), so racing
(``race = true``) can stop a child early once it cannot reach it.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Optional

from evoproxy.registry import Registry
from evoproxy.evolve.gp import Individual, tournament

Parents = Callable[[random.Random, list, "SelectionParams"], tuple]
"""``parents(rng, population, params) -> (a, b)``."""
Replace = Callable[[list, Individual], None]
"""``replace(population, child)``: puts the child in (or not), in place."""


@dataclass(frozen=True)
class SelectionParams:
    top_frac: float = 0.5
    tournament_size: int = 3


@dataclass(frozen=True)
class Selection:
    name: str
    parents: Parents
    replace: Replace
    random_rival: bool = False
    """Each child is drawn with a random program beside it; only the better of the two may join."""
    entry_bar: Optional[Callable[[list], float]] = None
    """``entry_bar(full population)``: a child at or below this fitness cannot join (None: any may)."""


SELECTIONS: Registry[Selection] = Registry("selection strategy")


def register_selection(selection: Selection) -> Selection:
    return SELECTIONS.add(selection.name, selection)


def top_parents(rng: random.Random, population: list, params: SelectionParams) -> tuple:
    ranked = sorted(population, key=lambda i: (-i.value, i.born))
    top = ranked[:max(2, math.ceil(params.top_frac * len(ranked)))]
    return tuple(rng.sample(top, 2))


def tournament_parents(rng: random.Random, population: list, params: SelectionParams) -> tuple:
    return (tournament(rng, population, params.tournament_size),
            tournament(rng, population, params.tournament_size))


def worst_value(population: list) -> float:
    return min(i.value for i in population)


def replace_worst(population: list, ind: Individual) -> None:
    worst = min(population, key=lambda i: (i.value, -i.born))
    if ind.value > worst.value:
        population[population.index(worst)] = ind


def replace_oldest(population: list, ind: Individual) -> None:
    population.remove(min(population, key=lambda i: i.born))
    population.append(ind)


register_selection(Selection("diversity", top_parents, replace_worst, random_rival=True,
                             entry_bar=worst_value))
register_selection(Selection("tournament", tournament_parents, replace_worst, entry_bar=worst_value))
register_selection(Selection("aging", tournament_parents, replace_oldest))
