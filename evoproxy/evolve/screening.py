"""Compatibility screening and fitness: the path every candidate takes before it may join.

1. static: the program must type-check and give one number per network ("type");
2. canonical-form deduplication: a program seen before reuses its verdict ("duplicate");
3. a cheap dynamic screen on a few fixed screening networks: exceptions and NaN ("nan"),
   infinities ("inf"), constant ("constant") or mostly tied ("ties") scores, and time ("timeout");
4. rank equivalence: a program that ranks the screening networks exactly like an evaluated one
   reuses its fitness ("rank-equivalent");
5. full evaluation on each benchmark's search networks; fitness is the rank correlation with
   accuracy (combined over benchmarks by mean or min), an invalid score vector is rejected. With racing
   (:mod:`evoproxy.evolve.racing`) a child that can no longer beat the entry bar stops early ("raced-out").
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from scipy.stats import rankdata

from evoproxy.evolve.evaluator import Evaluator
from evoproxy.evolve.racing import Race, margin
from evoproxy.scoring import fitness as fit
from evoproxy.errors import EvoproxyError
from evoproxy.lang.program import Program, check_proxy
from evoproxy.lang.ranks import is_set_level
from evoproxy.scoring.worker import Key
from evoproxy.evolve.diversity import rank_vector

REJECTIONS = ("type", "duplicate", "nan", "inf", "constant", "ties", "timeout", "rank-equivalent",
              "raced-out")


@dataclass
class Verdict:
    fitness: Optional[float]  # None when rejected without a reusable fitness
    rejection: Optional[str] = None
    reused_from: Optional[str] = None
    scores: dict = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """Has a fitness it may compete with (fresh, or reused from an equivalent program)."""
        return self.fitness is not None and self.rejection in (None, "duplicate", "rank-equivalent")


class Judge:
    """Screens and scores batches of candidate programs through the search's evaluator."""

    def __init__(self, evaluator: Evaluator, screen_keys: Sequence[Key], search_keys: dict[str, list[Key]],
                 accuracies: dict[str, np.ndarray], metric: str = "kendall", combine: str = "mean",
                 max_tie_frac: float = 0.5, control: Optional[str] = None, race: Optional[Race] = None) -> None:
        self.evaluator = evaluator
        self.screen_keys = list(screen_keys)
        flat = [k for keys in search_keys.values() for k in keys]
        if flat[:len(self.screen_keys)] != self.screen_keys:
            raise ValueError("the screening keys must be the first of the search keys")
        self.search_keys = search_keys
        self.accuracies = accuracies
        self.metric, self.combine, self.max_tie_frac = metric, combine, max_tie_frac
        fit.get_metric(metric)
        self.control = control
        self.race = race if control is None else None  # a partial correlation given the control: no racing
        self._control_scores: dict[str, np.ndarray] = {}
        self.seen: dict[str, Verdict] = {}  # canonical hash -> verdict
        self.by_ranks: dict[tuple, str] = {}  # screening rank key -> hash of the evaluated program

    def remember(self, hash_: str, verdict: Verdict) -> None:
        """Feed back a stored verdict (resume), leaving the caches as an uninterrupted run would."""
        if verdict.rejection in ("duplicate", "type"):
            return
        if verdict.rejection == "rank-equivalent":
            self.seen.setdefault(hash_, Verdict(verdict.fitness, None, None, verdict.scores))
            return
        self.seen.setdefault(hash_, verdict)
        ranks = verdict.scores.get("screen_ranks")
        if ranks is not None:
            self.by_ranks.setdefault(tuple(ranks), hash_)

    def judge(self, programs: Sequence[Program], bar: Optional[float] = None) -> list[Verdict]:
        """Verdicts in order; with racing and an entry ``bar``, a child that cannot beat it stops early."""
        verdicts: list[Optional[Verdict]] = [None] * len(programs)
        fresh: dict[str, int] = {}
        for i, p in enumerate(programs):
            try:
                check_proxy(p)
            except EvoproxyError:
                verdicts[i] = Verdict(None, "type")
                continue
            if p.hash in self.seen or p.hash in fresh:
                continue  # resolved after this batch's fresh ones
            fresh[p.hash] = i
        self._screen_and_score([programs[i] for i in fresh.values()], list(fresh.values()), verdicts, bar)
        for i, p in enumerate(programs):
            if verdicts[i] is None:  # seen before, or earlier in this batch
                base = self.seen[p.hash]
                verdicts[i] = Verdict(base.fitness if base.rejection is None else None, "duplicate",
                                      p.hash, base.scores)
        return verdicts  # type: ignore[return-value]

    def _screen_and_score(self, programs: list[Program], slots: list[int],
                          verdicts: list[Optional[Verdict]], bar: Optional[float]) -> None:
        if not programs:
            return
        texts = [p.text for p in programs]
        screen, failed = self.evaluator.score(texts, self.screen_keys)
        to_score: list[int] = []
        twins: list[tuple[int, str, tuple]] = []
        for k, p in enumerate(programs):
            reason = failed.get(k) or fit.screen(screen[k], self.max_tie_frac)
            if reason is not None:
                self._settle(p, slots[k], Verdict(None, reason), verdicts)
                continue
            ranks = tuple(int(r) for r in 2 * rankdata(screen[k]))
            if ranks in self.by_ranks:
                twins.append((k, self.by_ranks[ranks], ranks))
                continue
            self.by_ranks[ranks] = p.hash
            to_score.append(k)
        self._full(programs, slots, to_score, verdicts, screen, bar)
        for k, twin, ranks in twins:  # after _full: the twin may be in this very batch
            base = self.seen[twin]
            scores = {**base.scores, "screen_ranks": list(ranks)}
            v = Verdict(base.fitness, "rank-equivalent", twin, scores) if base.rejection is None \
                else Verdict(None, base.rejection, twin, scores)  # ranks like a rejected one
            self._settle(programs[k], slots[k], v, verdicts)

    def _full(self, programs, slots, to_score, verdicts, screen, bar: Optional[float]) -> None:
        if not to_score:
            return
        texts = [programs[k].text for k in to_score]
        keys = [key for name in self.search_keys for key in self.search_keys[name]]
        n = len(self.screen_keys)  # the screening keys lead the search keys: reuse their scores
        raced: dict[int, dict] = {}
        if any(is_set_level(programs[k]) for k in to_score):  # ranks need all networks at once
            scores, failed = self.evaluator.score(texts, keys)
        elif self.race is not None and bar is not None:
            scores, failed, raced = self._race(texts, keys, screen[to_score], bar)
        else:
            rest, failed = self.evaluator.score_per_network(texts, keys[n:])
            scores = np.hstack([screen[to_score], rest])
        for row, k in enumerate(to_score):
            ranks = [int(r) for r in 2 * rankdata(screen[k])]
            if row in raced:
                v = Verdict(None, "raced-out", None, {"raced_out": raced[row]})
            else:
                v = self._fitness(scores[row]) if row not in failed else Verdict(None, failed[row])
            v.scores["screen_ranks"] = ranks
            if v.fitness is not None:
                v.scores["search_ranks"] = rank_vector(scores[row], [len(k) for k in self.search_keys.values()])
            self._settle(programs[k], slots[k], v, verdicts)

    def _race(self, texts: list[str], keys: list[Key], screen: np.ndarray, bar: float):
        """Score stage by stage; returns (scores, NaN where not scored; failures; raced-out records)."""
        sizes = [len(k) for k in self.search_keys.values()]
        offsets = np.cumsum([0] + sizes[:-1])
        done = [len(self.screen_keys)] + [0] * (len(sizes) - 1)
        scores = np.full((len(texts), len(keys)), np.nan)
        scores[:, :done[0]] = screen
        alive, failed, raced = list(range(len(texts))), {}, {}
        for counts in self.race.stages(sizes, done):
            cols = [o + j for o, a, b in zip(offsets, done, counts) for j in range(a, b)]
            part, bad = self.evaluator.score_per_network([texts[i] for i in alive], [keys[c] for c in cols])
            scores[np.ix_(alive, cols)] = part
            failed.update({alive[r]: why for r, why in bad.items()})
            done = counts
            for i in alive:
                bound = None if i in failed or counts == sizes else self._upper_bound(scores[i], counts)
                if bound is not None and bound[1] <= bar:
                    raced[i] = {"networks": sum(counts), "partial": bound[0], "bound": bound[1], "bar": bar}
            alive = [i for i in alive if i not in failed and i not in raced]
            if not alive:
                break
        return scores, failed, raced

    def _upper_bound(self, row: np.ndarray, counts: list[int]) -> Optional[tuple[float, float]]:
        """(partial fitness, the most the full fitness can be) on the first ``counts`` networks of each
        benchmark; None when a partial value is undefined (ties, constant on the slice): no decision."""
        values, margins = [], []
        for keys, (_, value, reason), n in zip(self.search_keys.values(), self._per_benchmark(row, counts), counts):
            if reason is not None:
                return None
            values.append(value)
            margins.append(margin(self.metric, n, len(keys), self.race.z))
        return self._combined(values), self._combined(np.add(values, margins))

    def _per_benchmark(self, row: np.ndarray, counts: Sequence[int]):
        """Per benchmark: (its scores, metric value, why it is undefined or None) on its first ``counts``
        search networks."""
        start = 0
        for (name, keys), n in zip(self.search_keys.items(), counts):
            part = row[start:start + n]
            start += len(keys)
            value, reason = fit.correlate_checked(part, self.accuracies[name][:n], self.metric, self.max_tie_frac)
            if reason is None and not np.isfinite(value):
                reason = "nan"   # valid scores, undefined metric (e.g. a constant top-k subset)
            yield part, value, reason

    def _combined(self, values) -> float:
        return float(np.mean(values) if self.combine == "mean" else np.min(values))

    def _fitness(self, row: np.ndarray) -> Verdict:
        per = {}
        everything = [len(keys) for keys in self.search_keys.values()]
        for name, (part, value, reason) in zip(self.search_keys, self._per_benchmark(row, everything)):
            if reason is not None:
                return Verdict(None, reason.split()[-1], None, {"benchmark": name})
            per[name] = value if self.control is None else self._beyond_control(name, part, value)
        return Verdict(self._combined(list(per.values())), None, None, {"per_benchmark": per})

    def _beyond_control(self, name: str, scores: np.ndarray, value: float) -> float:
        """The metric with the control proxy (e.g. model size) held fixed: partial correlation."""
        if name not in self._control_scores:
            row, _ = self.evaluator.score([self.control], self.search_keys[name])
            self._control_scores[name] = row[0]
        z, acc = self._control_scores[name], self.accuracies[name]
        metric = fit.rank_measure(self.metric)
        return fit.partial_correlation(value, fit.correlate(scores, z, metric, 1.0), fit.correlate(acc, z, metric, 1.0))

    def _settle(self, p: Program, slot: int, v: Verdict, verdicts: list) -> None:
        verdicts[slot] = v
        self.seen[p.hash] = v if v.rejection != "rank-equivalent" else Verdict(
            v.fitness, None, None, v.scores)


def count_rejections(verdicts: Sequence[Verdict]) -> dict[str, int]:
    return dict(Counter(v.rejection for v in verdicts if v.rejection is not None))
