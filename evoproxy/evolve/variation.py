"""Type-respecting variation of programs: subtree crossover, subtree/point mutation, and the
EMQ-style two-branch preset with slot-wise variation.

Every operator returns a well-typed program within the size/depth limits, or ``None`` when
it found none (the caller then draws again); nothing here can produce an ill-typed program.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

from evoproxy.evolve.generate import Generator
from evoproxy.lang.ops import OPS
from evoproxy.lang.program import Program
from evoproxy.lang.types import TENSOR

Path = tuple[int, ...]


@dataclass(frozen=True)
class Limits:
    max_depth: int = 8
    max_size: int = 24

    def ok(self, p: Program) -> bool:
        return p.depth <= self.max_depth and p.size <= self.max_size


def positions(p: Program, path: Path = ()) -> list[tuple[Path, Program]]:
    """Every (path, node) of ``p``, the root first."""
    out = [(path, p)]
    for i, a in enumerate(p.args):
        out += positions(a, path + (i,))
    return out


def replace(p: Program, path: Path, new: Program) -> Program:
    if not path:
        return new
    args = list(p.args)
    args[path[0]] = replace(args[path[0]], path[1:], new)
    return Program(p.head, tuple(args))


def crossover(rng: random.Random, a: Program, b: Program, limits: Limits) -> Optional[Program]:
    """Replace a random subtree of ``a`` by a subtree of ``b`` of the same type."""
    for _ in range(10):
        path, node = rng.choice(positions(a))
        donors = [n for _, n in positions(b) if n.vtype == node.vtype and n != node]
        if donors:
            child = replace(a, path, rng.choice(donors))
            if limits.ok(child):
                return child
    return None


def subtree_mutation(rng: random.Random, p: Program, gen: Generator, limits: Limits) -> Optional[Program]:
    """Replace a random subtree by a fresh random one of the same type."""
    for _ in range(10):
        path, node = rng.choice(positions(p))
        room = max(1, limits.max_depth - len(path))
        try:
            child = replace(p, path, gen.program(rng, node.vtype, min(room, 4), require_stat=False))
        except ValueError:  # nothing of this type fits in the room left
            continue
        if child != p and limits.ok(child):
            return child
    return None


def point_mutation(rng: random.Random, p: Program, gen: Generator) -> Optional[Program]:
    """Swap one op for another of its family, or a leaf for another of its type."""
    for _ in range(10):
        path, node = rng.choice(positions(p))
        if node.is_stat or node.is_const:
            choices = [leaf for leaf in gen.leaves(node.vtype) if leaf != node]
            if choices:
                return replace(p, path, rng.choice(choices))
            continue
        family = OPS.get(node.head).family
        if family in ("reshape", "matmul"):
            continue  # their result type depends on the op itself
        same = [o.name for o in gen.by_family.get(family, []) if o.name != node.head]
        if same:
            return replace(p, path, Program(rng.choice(same), node.args))
    return None


def mutate(rng: random.Random, p: Program, gen: Generator, limits: Limits) -> Optional[Program]:
    if rng.random() < 0.5:
        return point_mutation(rng, p, gen)
    return subtree_mutation(rng, p, gen, limits)


# ---- EMQ's two-branch structure ---------------------------------------------------------------
# aggregate(reduce(binary(unary(unary(s1)), unary(unary(s2))))) with s1, s2 of one domain

SLOTS = ("aggregate", "reduce", "binary", "u1a", "u1b", "u2a", "u2b", "s1", "s2")


def two_branch(slots: dict[str, str]) -> Program:
    def branch(u_inner: str, u_outer: str, stat: str) -> Program:
        return Program.call(u_outer, Program.call(u_inner, Program.stat(stat)))
    inner = Program.call(slots["binary"], branch(slots["u1a"], slots["u1b"], slots["s1"]),
                         branch(slots["u2a"], slots["u2b"], slots["s2"]))
    return Program.call(slots["aggregate"], Program.call(slots["reduce"], inner))


def slots_of(p: Program) -> dict[str, str]:
    (red,) = p.args
    (binary,) = red.args
    b1, b2 = binary.args
    return {"aggregate": p.head, "reduce": red.head, "binary": binary.head,
            "u1b": b1.head, "u1a": b1.args[0].head, "s1": b1.args[0].args[0].head,
            "u2b": b2.head, "u2a": b2.args[0].head, "s2": b2.args[0].args[0].head}


class TwoBranch:
    """Random draws and slot-wise variation for the two-branch preset."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        fam = gen.by_family
        self.choices = {"aggregate": fam["aggregate"], "reduce": fam["reduce"], "binary": fam["binary"],
                        **{u: fam["unary"] for u in ("u1a", "u1b", "u2a", "u2b")}}
        self.by_domain: dict[str, list[str]] = {}
        for s in gen.stats:
            if s.vtype.kind == TENSOR:
                self.by_domain.setdefault(s.vtype.domain, []).append(s.name)

    def _stats(self, rng: random.Random) -> tuple[str, str]:
        pool = self.by_domain[rng.choice(sorted(self.by_domain))]
        return rng.choice(pool), rng.choice(pool)

    def random(self, rng: random.Random) -> Program:
        slots = {k: rng.choice(v).name for k, v in self.choices.items()}
        slots["s1"], slots["s2"] = self._stats(rng)
        return two_branch(slots)

    def mutate(self, rng: random.Random, p: Program) -> Program:
        slots = slots_of(p)
        slot = rng.choice(SLOTS)
        if slot in ("s1", "s2") and rng.random() < 0.3:
            slots["s1"], slots["s2"] = self._stats(rng)  # a new pair, possibly of another domain
        elif slot in ("s1", "s2"):
            slots[slot] = rng.choice(self.by_domain[self._domain(slots[slot])])
        else:
            slots[slot] = rng.choice(self.choices[slot]).name
        return two_branch(slots)

    def crossover(self, rng: random.Random, a: Program, b: Program) -> Program:
        sa, sb = slots_of(a), slots_of(b)
        child = {k: (sa if rng.random() < 0.5 else sb)[k] for k in SLOTS if k not in ("s1", "s2")}
        leaves = sa if rng.random() < 0.5 else sb  # the stat pair travels together (one domain)
        child["s1"], child["s2"] = leaves["s1"], leaves["s2"]
        return two_branch(child)

    def _domain(self, stat: str) -> str:
        return next(d for d, names in self.by_domain.items() if stat in names)

