"""Typed variation (crossover, subtree/point mutation), the two-branch preset and the DEAP glue."""
import random

import pytest

from evoproxy.evolve.generate import Generator
from evoproxy.evolve.gp import Individual, make_toolbox, pareto_front
from evoproxy.lang.program import Program, check_proxy, parse
from evoproxy.lang.types import SCALAR_T, TENSOR
from evoproxy.evolve.variation import (SLOTS, Limits, TwoBranch, crossover, mutate, point_mutation,
                                positions, replace, slots_of, subtree_mutation, two_branch)

STATS = ("weight", "grad", "act", "act_grad", "virtual_grad", "fan_in", "params")
LIMITS = Limits(max_depth=7, max_size=20)
N = 300


@pytest.fixture(scope="module")
def gen():
    return Generator(stats=STATS)


@pytest.fixture(scope="module")
def pairs(gen):
    """N random parent pairs, all within LIMITS (the parents a search would hold)."""
    rng, out = random.Random(7), []
    while len(out) < N:
        a, b = gen.program(rng, max_depth=5), gen.program(rng, max_depth=5)
        if LIMITS.ok(a) and LIMITS.ok(b):
            out.append((a, b))
    return out


def well_typed_within(p: Program, limits: Limits = LIMITS) -> None:
    check_proxy(p)  # raises unless one number per network
    assert p.vtype == SCALAR_T
    assert limits.ok(p), (p.text, p.depth, p.size)
    assert parse(p.text) == p  # every node type-checks again from scratch


def shape(p: Program):
    """The tree without its labels."""
    return tuple(shape(a) for a in p.args)


# ---- subtree crossover -------------------------------------------------------------------------

def test_crossover_gives_none_or_a_well_typed_scalar_program_within_limits(pairs):
    rng, made, changed = random.Random(0), 0, 0
    for a, b in pairs:
        child = crossover(rng, a, b, LIMITS)
        if child is None:
            continue
        made += 1
        well_typed_within(child)
        changed += child != a
    assert made > N // 2  # crossover usually finds a donor
    assert changed == made  # a donor always differs from the subtree it replaces


def test_crossover_swaps_only_subtrees_of_equal_type(pairs):
    """The child is ``a`` with one subtree replaced by an equal-typed, different subtree of ``b``."""
    rng = random.Random(1)
    for a, b in pairs[:100]:
        child = crossover(rng, a, b, LIMITS)
        if child is None:
            continue
        donors_of_b = {n for _, n in positions(b)}
        matches = [(path, node) for path, node in positions(a)
                   if _subtree_at(child, path) is not None
                   and replace(a, path, _subtree_at(child, path)) == child
                   and _subtree_at(child, path) in donors_of_b
                   and _subtree_at(child, path).vtype == node.vtype
                   and _subtree_at(child, path) != node]
        assert matches, (a.text, b.text, child.text)


def _subtree_at(p: Program, path):
    for i in path:
        if i >= len(p.args):
            return None
        p = p.args[i]
    return p


def test_crossover_respects_tight_limits(pairs):
    tight = Limits(max_depth=4, max_size=8)
    rng = random.Random(2)
    for a, b in pairs:
        child = crossover(rng, a, b, tight)
        if child is not None:
            well_typed_within(child, tight)


def test_crossover_without_a_donor_of_that_type_is_none():
    a, b = parse("params"), parse("layer_sum(l2(grad))")
    # the only node of `a` is a scalar stat; b's scalar subtree (its root) is a donor
    assert crossover(random.Random(0), a, b, LIMITS) == b
    # b's root needs a scalar donor, its other nodes need a layer / tensor[W] donor: none in `a`
    c = parse("flops")
    results = {crossover(random.Random(s), b, c, LIMITS) for s in range(20)}
    assert results <= {None, c}


# ---- mutation -----------------------------------------------------------------------------------

def test_subtree_mutation_and_mutate_give_well_typed_programs_within_limits(gen, pairs):
    rng, made = random.Random(3), 0
    for a, _ in pairs:
        for child in (subtree_mutation(rng, a, gen, LIMITS), mutate(rng, a, gen, LIMITS)):
            if child is not None:
                made += 1
                well_typed_within(child)
    assert made > N  # most calls succeed


def test_subtree_mutation_changes_the_program(gen, pairs):
    rng = random.Random(4)
    for a, _ in pairs[:100]:
        child = subtree_mutation(rng, a, gen, LIMITS)
        assert child is None or child != a


def test_point_mutation_keeps_the_tree_shape(gen, pairs):
    rng, made = random.Random(5), 0
    for a, _ in pairs:
        child = point_mutation(rng, a, gen)
        if child is None:
            continue
        made += 1
        well_typed_within(child)
        assert child != a
        assert (child.size, child.depth) == (a.size, a.depth)
        assert shape(child) == shape(a)
        # exactly one node's label changed
        diff = [(p1, n1, n2) for (p1, n1), (_, n2) in zip(positions(a), positions(child))
                if (n1.head, n1.value) != (n2.head, n2.value)]
        assert len(diff) == 1, (a.text, child.text)
        assert diff[0][1].vtype == diff[0][2].vtype
    assert made > N * 0.9


def test_variation_is_deterministic_given_the_rng(gen, pairs):
    def run(seed):
        rng = random.Random(seed)
        return [(crossover(rng, a, b, LIMITS), mutate(rng, a, gen, LIMITS)) for a, b in pairs[:50]]
    assert run(11) == run(11)


# ---- the two-branch preset ---------------------------------------------------------------------

def _assert_two_branch(p: Program, preset: TwoBranch) -> None:
    check_proxy(p)
    slots = slots_of(p)
    assert set(slots) == set(SLOTS)
    assert two_branch(slots) == p  # slots_of round-trips through two_branch
    s1, s2 = (Program.stat(slots[k]) for k in ("s1", "s2"))
    assert s1.vtype.kind == TENSOR and s1.vtype == s2.vtype  # the two stats share a domain
    assert p.depth == 6 and p.size == 9
    for slot, choices in preset.choices.items():
        assert slots[slot] in {o.name for o in choices}


def test_two_branch_random_mutate_crossover_keep_the_structure(gen):
    preset, rng = TwoBranch(gen), random.Random(6)
    pop = [preset.random(rng) for _ in range(50)]
    for p in pop:
        _assert_two_branch(p, preset)
    changed = 0
    for _ in range(N):
        a, b = rng.choice(pop), rng.choice(pop)
        m = preset.mutate(rng, a)
        c = preset.crossover(rng, a, b)
        _assert_two_branch(m, preset)
        _assert_two_branch(c, preset)
        changed += m != a
        # every slot of the child comes from one of its parents; the stat pair travels together
        sa, sb, sc = slots_of(a), slots_of(b), slots_of(c)
        assert all(sc[k] in (sa[k], sb[k]) for k in SLOTS)
        assert (sc["s1"], sc["s2"]) in ((sa["s1"], sa["s2"]), (sb["s1"], sb["s2"]))
        pop.append(m)
    assert changed > N // 2


def test_two_branch_stat_pairs_span_both_domains(gen):
    preset, rng = TwoBranch(gen), random.Random(8)
    domains = {Program.stat(slots_of(preset.random(rng))["s1"]).vtype.domain for _ in range(100)}
    assert domains == {"W", "A"}


# ---- the DEAP toolbox ---------------------------------------------------------------------------

def test_make_toolbox_tree(gen):
    tb, rng = make_toolbox(gen, "tree", LIMITS), random.Random(9)
    pop = [tb.random(rng) for _ in range(100)]
    for p in pop:
        check_proxy(p)
        assert p.stats and p.depth <= 5
    assert min(p.depth for p in pop) <= 3  # ramped: small programs are drawn too
    for _ in range(200):
        a, b = rng.choice(pop), rng.choice(pop)
        for child in (tb.mate(rng, a, b), tb.mutate(rng, a)):
            if child is not None:
                check_proxy(child)


def test_make_toolbox_tree_random_respects_max_size(gen):
    tight = Limits(max_depth=7, max_size=10)
    tb, rng = make_toolbox(gen, "tree", tight), random.Random(10)
    assert all(tight.ok(tb.random(rng)) for _ in range(300))


def test_make_toolbox_tree_random_with_a_shallow_depth_limit(gen):
    shallow = Limits(max_depth=2, max_size=20)
    tb, rng = make_toolbox(gen, "tree", shallow), random.Random(10)
    assert all(shallow.ok(tb.random(rng)) for _ in range(10))  # e.g. params, add(params, 1.0)


def test_make_toolbox_two_branch(gen):
    tb, rng = make_toolbox(gen, "two-branch", LIMITS), random.Random(12)
    preset = TwoBranch(gen)
    pop = [tb.random(rng) for _ in range(30)]
    for _ in range(100):
        a, b = rng.choice(pop), rng.choice(pop)
        _assert_two_branch(tb.mate(rng, a, b), preset)
        _assert_two_branch(tb.mutate(rng, a), preset)


# ---- Pareto front --------------------------------------------------------------

@pytest.fixture(scope="module")
def members(gen):
    rng = random.Random(13)
    progs = [gen.program(rng, max_depth=5) for _ in range(60)]
    # one fitness per canonical program, as the judge gives; random draws repeat some programs
    fitness = {}
    for p in progs:
        fitness.setdefault(p.hash, round(rng.uniform(-1, 1), 1))
    assert len(fitness) < len(progs)  # duplicates are present
    inds = [Individual(p, fitness[p.hash], i) for i, p in enumerate(progs)]
    rng.shuffle(inds)
    return inds


def test_pareto_front_has_no_dominated_member(members):
    front = pareto_front(members)
    assert front
    sizes = [m.program.size for m in front]
    assert sizes == sorted(sizes)

    def dominates(x, y):
        return (x.value >= y.value and x.program.size <= y.program.size
                and (x.value > y.value or x.program.size < y.program.size))
    for m in front:
        assert not any(dominates(o, m) for o in front)
        assert not any(dominates(o, m) for o in members)  # nor by anything in the population
    # every non-dominated (fitness, size) point is on the front, once
    points = {(m.value, m.program.size) for m in front}
    for m in members:
        if not any(dominates(o, m) for o in members):
            assert (m.value, m.program.size) in points
    assert len(points) == len(front)
    best = max(m.value for m in members)
    assert max(m.value for m in front) == best
    assert front[0].program.size == min(m.program.size for m in members)
