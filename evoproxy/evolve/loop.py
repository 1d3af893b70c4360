"""The evolution loop: steady-state search over proxy programs with a resumable run store.

Each generation makes ``config.evolution.offspring`` children; the selection strategy
(:mod:`evoproxy.evolve.selection`, ``config.evolution.selection``) draws their parents and decides who joins.

Each generation is committed to the run store in one transaction together with the
population and the random generator's state, so ``--resume`` after a crash continues from the
last committed generation and ends with the same result as an uninterrupted run.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from evoproxy.backends import Backend
from evoproxy.errors import EvoproxyError
from evoproxy.lang.proxyfile import resolve
from evoproxy.evolve.config import RunConfig
from evoproxy.evolve.evaluator import Evaluator
from evoproxy.evolve.generate import Generator
from evoproxy.evolve.diversity import better, diversity, twins_of
from evoproxy.evolve.gp import Individual, make_toolbox
from evoproxy.lang.program import Program, parse
from evoproxy.evolve.racing import Race, entry_bar
from evoproxy.evolve.seeds import seed_programs
from evoproxy.evolve.screening import Judge, Verdict, count_rejections
from evoproxy.evolve.selection import SELECTIONS, SelectionParams
from evoproxy.evolve.splits import Benches, Splits, flat
from evoproxy.evolve.store import CandidateRow, RunStore, damaged_store
from evoproxy.evolve.store.codec import rng_state_from_json, rng_state_to_json
from evoproxy.evolve.variation import Limits

MAX_INIT_ROUNDS = 30
PROBE_STEP = 4  # networks per worker per progress step (a pack)


@dataclass(frozen=True)
class Candidate:
    program: Program
    origin: str
    parents: tuple[str, ...] = ()


class Search:
    def __init__(self, config: RunConfig, backend: Backend, benches: Benches, store: RunStore,
                 on_generation: Optional[Callable[[dict], None]] = None, transfer: Optional[Benches] = None,
                 on_progress: Optional[Callable[[str, int, int, str], None]] = None) -> None:
        c = self.config = config
        self.store, self.on_generation = store, on_generation
        self.on_progress = on_progress
        language, evolution = c.language, c.evolution
        self.generator = Generator(stats=language.stats, ops=language.ops)
        self.selection = SELECTIONS.get(evolution.selection)
        self.selection_params = SelectionParams(evolution.top_frac, evolution.tournament_size)
        self.toolbox = make_toolbox(self.generator, language.representation,
                                    Limits(language.max_depth, language.max_size))
        self.evaluator = Evaluator(backend)
        self.splits = Splits(c, self.evaluator, benches, transfer)
        self.search_keys, self.accuracies = self.splits.search_keys, self.splits.accuracies
        first = next(iter(self.search_keys.values()))
        control = resolve(c.task.control).program.text if c.task.control else None
        race = Race(evolution.race_first, evolution.race_z) if evolution.race else None
        self.judge = Judge(self.evaluator, first[:c.task.screen_archs], self.search_keys, self.accuracies,
                           evolution.fitness, evolution.combine, evolution.max_tie_frac, control, race)
        self.rng = random.Random(evolution.seed)
        self.population: list[Individual] = []
        self.evaluated: dict[str, Individual] = {}  # every usable candidate, by hash
        self.born = 0
        self.stopped_at: Optional[int] = None  # the generation a time budget ended the run after

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> int:
        """Run (or continue) to ``config.evolution.generations``, or until ``max_minutes`` have passed (then
        :attr:`stopped_at` is the last generation); returns the generation resumed after (-1: fresh)."""
        budget = self.config.execution.max_minutes
        deadline = None if budget is None else time.monotonic() + 60 * budget
        last = self._resume()
        if last < 0:
            self._initial()
        for g in range(max(last, 0) + 1, self.config.evolution.generations + 1):
            if deadline is not None and time.monotonic() > deadline:
                self.stopped_at = g - 1
                break
            self._generation(g)
        return last

    def _initial(self) -> None:
        start, rows = time.perf_counter(), []
        verdicts_all: list[Verdict] = []
        c = self.config
        self.seeds = [] if not c.evolution.init_from else \
            seed_programs(c.evolution.init_from, c.language.stats, c.language.ops)[:c.evolution.population]
        self._probe_all()
        for _ in range(MAX_INIT_ROUNDS):
            need = self.config.evolution.population - len(self.population)
            if need <= 0:
                break
            seeds, self.seeds = [Candidate(p, "init_from") for p in self.seeds], []
            cands = seeds + [Candidate(self.toolbox.random(self.rng), "init") for _ in range(2 * need - len(seeds))]
            verdicts = self.judge.judge([c.program for c in cands])
            for cand, v in zip(cands, verdicts):
                rows.append(self._row(0, len(rows), cand, v))
                ind = self._admit(cand, v)
                if ind is not None:
                    self._replace(ind, initial=True)
            verdicts_all += verdicts
        if len(self.population) < 2:  # parents come in pairs
            raise EvoproxyError(
                f"generation 0 found {len(self.population)} usable program(s) in {len(rows)} tried "
                f"(rejected: {count_rejections(verdicts_all)}); allow more stats or ops in the config")
        self._commit(0, rows, verdicts_all, start)

    def progress(self, bar: str, done: int, total: int, what: str = "") -> None:
        """Progress of a step longer than a moment: ``bar`` names it, ``what`` says what runs now."""
        if self.on_progress is not None:
            self.on_progress(bar, done, total, what)

    def _probe_all(self) -> None:
        """Probe the search and selection networks before generation 0, a few at a time, so a
        progress bar can follow."""
        keys = flat(self.search_keys) + flat(self.splits.selection_keys)
        step = PROBE_STEP * max(1, self.config.execution.workers)
        for start in range(0, len(keys), step):
            self.evaluator.warm(keys[start:start + step], self.config.language.stats)
            self.progress("probing", min(start + step, len(keys)), len(keys), "search and selection networks")

    def _generation(self, g: int) -> None:
        start = time.perf_counter()
        cands = []
        for _ in range(self.config.evolution.offspring):
            cands.append(self._child())
            if self.selection.random_rival:
                cands.append(Candidate(self.toolbox.random(self.rng), "random"))
        bar = entry_bar(self.population, self.config.evolution.population, self.selection.entry_bar)
        verdicts = self.judge.judge([c.program for c in cands], bar)
        rows = [self._row(g, i, c, v) for i, (c, v) in enumerate(zip(cands, verdicts))]
        admitted = [self._admit(c, v) for c, v in zip(cands, verdicts)]
        step = 2 if self.selection.random_rival else 1
        for k in range(0, len(cands), step):
            group = [ind for ind in admitted[k:k + step] if ind is not None]
            if group:
                self._replace(max(group, key=lambda i: i.value))
        self._commit(g, rows, verdicts, start)

    # ---- selection and variation ----------------------------------------------------------------
    def _child(self) -> Candidate:
        a, b = self.selection.parents(self.rng, self.population, self.selection_params)
        tb = self.toolbox
        if self.rng.random() < self.config.evolution.p_crossover:
            child, origin, parents = tb.mate(self.rng, a.program, b.program), "crossover", (a, b)
            if child is not None and self.rng.random() < 0.5:
                child, origin = tb.mutate(self.rng, child) or child, "crossover+mutation"
        else:
            child, origin, parents = tb.mutate(self.rng, a.program), "mutation", (a,)
        if child is None:
            return Candidate(tb.random(self.rng), "random")
        return Candidate(child, origin, tuple(p.program.hash for p in parents))

    def _replace(self, ind: Individual, initial: bool = False) -> None:
        """A child that behaves like members (twins) replaces them if it beats them all, else is dropped;
        one without twins fills a free place, else the strategy decides (not in generation 0)."""
        twins = twins_of(ind, self.population, self.config.evolution.same_behaviour)
        if twins:
            if all(better(ind, t) for t in twins):
                self.population[self.population.index(twins[0])] = ind
                for t in twins[1:]:
                    self.population.remove(t)
        elif len(self.population) < self.config.evolution.population:
            self.population.append(ind)
        elif not initial:
            self.selection.replace(self.population, ind)

    def _admit(self, cand: Candidate, v: Verdict) -> Optional[Individual]:
        self.born += 1
        if not v.usable:
            return None
        ind = Individual(cand.program, float(v.fitness), self.born, v.scores.get("search_ranks"))
        self.evaluated.setdefault(cand.program.hash, ind)
        return ind

    # ---- records --------------------------------------------------------------------------------
    @staticmethod
    def _row(g: int, i: int, cand: Candidate, v: Verdict) -> CandidateRow:
        p = cand.program
        return CandidateRow(g, i, p.text, p.canonical().text, p.hash, cand.origin,
                            list(cand.parents), v.fitness, v.scores, v.rejection, v.reused_from)

    def best(self) -> Individual:
        return max(self.population, key=lambda i: (i.value, -i.born))

    def _commit(self, g: int, rows: list[CandidateRow], verdicts: list[Verdict], start: float) -> None:
        best = self.best()
        summary = {"best_fitness": best.value, "best": best.program.text,
                   "best_selection": self.splits.selection_many([best.program])[0],
                   "diversity": diversity(self.population, self.config.evolution.same_behaviour),
                   "mean_fitness": float(np.mean([i.value for i in self.population])),
                   "median_fitness": float(np.median([i.value for i in self.population])),
                   "candidates": len(rows), "rejections": count_rejections(verdicts),
                   "seconds": time.perf_counter() - start}
        summary["evals_per_s"] = len(rows) / max(summary["seconds"], 1e-9)
        state = {"rng": rng_state_to_json(self.rng.getstate()), "born": self.born,
                 "holdout_cache": self.splits.holdout_cache, "selection_cache": self.splits.selection_cache}
        self.store.commit_generation(g, rows, [i.to_json() for i in self.population], state, summary)
        if self.on_generation is not None:
            self.on_generation({"generation": g, **summary})

    def _resume(self) -> int:
        with damaged_store(self.store.path, structural=True):
            return self._load_last()

    def _load_last(self) -> int:
        last = self.store.last_generation()
        if last is None:
            return -1
        population, state, _ = self.store.load_generation(last)
        self.rng.setstate(rng_state_from_json(state["rng"]))
        self.born = state["born"]
        self.splits.holdout_cache = state["holdout_cache"]
        self.splits.selection_cache = state.get("selection_cache", {})
        for row in self.store.candidates():
            v = Verdict(None if math.isnan(row.fitness) else row.fitness, row.rejection,
                        row.reused_from, row.scores)
            self.judge.remember(row.hash, v)
            if v.usable:
                self.evaluated.setdefault(row.hash, Individual(parse(row.text), v.fitness, 0,
                                                               row.scores.get("search_ranks")))
        self.population = [Individual(parse(m["text"]), m["fitness"], m["born"],
                                      getattr(self.evaluated.get(m["hash"]), "ranks", None)) for m in population]
        return last
