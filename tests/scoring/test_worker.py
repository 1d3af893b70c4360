"""The statistics-major Worker: memory budget and eviction, lazy statistics, timeouts, determinism."""
import math
import random

import numpy as np
import pytest
from evoproxy.benchmarks import get_benchmark

import evoproxy.scoring.worker as worker_mod
from evoproxy.evolve.generate import Generator
from evoproxy.lang.program import Program, parse
from evoproxy.scoring.setup import EvalSetup
from evoproxy.scoring.worker import Worker

# act dominates the memory: 8 images x up to 16 channels x 32 x 32 floats per layer (~0.5 MB)
PROGRAMS = ["layer_sum(l2(grad))", "layer_sum(l2(act))", "layer_mean(sum(mul(act, act_grad)))",
            "layer_sum(l1(mul(weight, grad)))", "add(layer_sum(fan_in), 1.0)"]
WEIGHT_ONLY = ["layer_sum(l2(weight))", "layer_mean(std(weight))"]
GRAD_ONLY = ["layer_sum(l2(grad))", "layer_sum(max(abs(grad)))"]


@pytest.fixture(scope="module")
def keys():
    bench = get_benchmark("synthetic")
    return [("synthetic", i) for i in bench.sample(12, "search", seed=3)]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def nbytes(stats: dict) -> int:
    return sum(worker_mod._nbytes(v) for v in stats.values())


# ---- memory budget ------------------------------------------------------------------------------

def test_a_tiny_memory_budget_gives_the_same_scores_with_more_probes(keys):
    small = Worker(EvalSetup(memory_mb=1), get_benchmark)
    large = Worker(EvalSetup(memory_mb=4096), get_benchmark)
    results = {}
    for name, w in (("small", small), ("large", large)):
        # twice over the same networks, then once more in reverse order
        first, late1 = w.score(PROGRAMS, keys)
        second, late2 = w.score(PROGRAMS, keys)
        third, late3 = w.score(PROGRAMS, keys[::-1])
        assert late1 == late2 == late3 == {}
        assert np.isfinite(first).all()
        assert same_bits(first, second) and same_bits(first, third[:, ::-1])
        results[name] = first
    assert same_bits(results["small"], results["large"])

    assert large.probes == len(keys)  # every network probed once, then served from the cache
    assert len(large.cache) == len(keys)
    assert small.probes > large.probes  # evicted networks were probed again
    budget = 2**20
    assert small.cached_bytes <= budget or len(small.cache) == 1
    assert small.cached_bytes == sum(nbytes(s) for s in small.cache.values())
    assert large.cached_bytes == sum(nbytes(s) for s in large.cache.values()) > budget


def test_eviction_drops_the_least_recently_used_network(keys):
    w = Worker(EvalSetup(memory_mb=1), get_benchmark)
    for key in keys:
        w.score(["layer_sum(l2(act))"], [key])
        assert next(reversed(w.cache)) == key  # the network just used is always kept
    kept = list(w.cache)
    assert kept == keys[len(keys) - len(kept):]  # the most recent ones, in order of use
    probes = w.probes
    w.score(["layer_sum(l2(act))"], [kept[-1]])
    assert w.probes == probes  # resident: no probe
    w.score(["layer_sum(l2(act))"], [keys[0]])
    assert w.probes == probes + 1  # evicted long ago: probed again


def test_a_pass_over_more_networks_than_fit_keeps_its_first_ones_for_the_next_pass(keys, monkeypatch):
    """Generation after generation scores the same networks in the same order: least-recently-used
    eviction alone would probe every one of them again each time."""
    probe = Worker(EvalSetup(), get_benchmark)
    probe.score(["layer_sum(l2(act))"], keys)
    sizes = [nbytes(probe.cache[k]) for k in keys]
    room = sum(sizes) // 2 + max(sizes)        # about half of the 12 networks fit
    w = Worker(EvalSetup(memory_mb=4096, pack_networks=0), get_benchmark)
    monkeypatch.setattr(worker_mod, "resident_bytes", lambda: 4096 * 2**20 - room + w.cached_bytes)
    first, _ = w.score(["layer_sum(l2(act))"], keys)
    kept = set(w.cache)
    assert 3 <= len(kept) < len(keys) and w.cached_bytes <= room
    assert set(keys[:len(kept) - 1]) <= kept   # the pass's first networks stay
    before = w.probes
    again, _ = w.score(["layer_sum(l2(act))"], keys)
    assert w.probes - before <= len(keys) - len(kept) + 1   # not all 12 again
    assert same_bits(first, again)
    w.score(["layer_sum(l2(act))"], keys[:2])     # another call: networks it does not use go first
    assert set(keys[:2]) <= set(w.cache)


def test_networks_every_call_asks_for_outlast_a_one_off_pass_over_others(keys, monkeypatch):
    """A selection check or the final report's holdout must not push out the search networks."""
    often, once = keys[:5], keys[5:]
    probe = Worker(EvalSetup(), get_benchmark)
    probe.score(["layer_sum(l2(act))"], keys)
    room = sum(nbytes(probe.cache[k]) for k in often) + max(nbytes(probe.cache[k]) for k in once)
    w = Worker(EvalSetup(memory_mb=4096, pack_networks=0), get_benchmark)
    monkeypatch.setattr(worker_mod, "resident_bytes", lambda: 4096 * 2**20 - room + w.cached_bytes)
    for _ in range(3):
        w.score(["layer_sum(l2(act))"], often)
    w.score(["layer_sum(l2(act))"], once)
    assert set(often) <= set(w.cache)
    before = w.probes
    w.score(["layer_sum(l2(act))"], often)
    assert w.probes == before


def test_the_budget_bounds_the_process_not_only_the_statistics(keys, monkeypatch):
    """What the rest of the process holds (torch, temporaries) comes off the statistics' share."""
    rest = 3000 * 2**20
    w = Worker(EvalSetup(memory_mb=3001), get_benchmark)
    monkeypatch.setattr(worker_mod, "resident_bytes", lambda: rest + w.cached_bytes)
    w.score(["layer_sum(l2(act))"], keys)
    assert 0 < w.cached_bytes <= 2**20 and len(w.cache) < len(keys)  # 1 MiB left for the statistics
    roomy = Worker(EvalSetup(memory_mb=3001), get_benchmark)
    monkeypatch.setattr(worker_mod, "resident_bytes", lambda: None)  # unreadable: the statistics alone count
    roomy.score(["layer_sum(l2(act))"], keys)
    assert len(roomy.cache) == len(keys)


def test_the_budget_leaves_room_for_the_temporaries_a_call_peaked_at(keys, monkeypatch):
    """Temporaries come and go between two readings after probes; the largest a call held is kept back."""
    import time
    spike, state = 2 * 2**20, {"scoring": False}
    w = Worker(EvalSetup(memory_mb=3004, pack_networks=0), get_benchmark)
    monkeypatch.setattr(worker_mod, "resident_bytes",
                        lambda: 3000 * 2**20 + w.cached_bytes + (spike if state["scoring"] else 0))
    real = w._score_pack

    def spiking(*args):
        state["scoring"] = True
        time.sleep(0.15)            # held long enough for the sampler to see it
        try:
            return real(*args)
        finally:
            state["scoring"] = False
    monkeypatch.setattr(w, "_score_pack", spiking)
    w.score(["layer_sum(l2(act))"], keys[:1])
    assert w.rest_peak == 3000 * 2**20 + spike
    w.score(["layer_sum(l2(act))"], keys)
    assert w.cached_bytes <= 2 * 2**20 or len(w.cache) == 1   # 4 MiB less the 2 MiB peak


# ---- lazy statistics ----------------------------------------------------------------------------

def test_statistics_are_computed_lazily_and_kept(keys, monkeypatch):
    asked = []
    real_collect = worker_mod.collect

    def spy(model, x, y, names, seed=0):
        asked.append(frozenset(names))
        return real_collect(model, x, y, names, seed=seed)
    monkeypatch.setattr(worker_mod, "collect", spy)

    w, n = Worker(EvalSetup(), get_benchmark), len(keys)
    w.score(WEIGHT_ONLY, keys)
    assert w.probes == n and asked == [frozenset({"weight"})] * n
    assert all(set(s) == {"weight"} for s in w.cache.values())
    weights = {k: s["weight"] for k, s in w.cache.items()}

    w.score(GRAD_ONLY, keys)
    assert w.probes == 2 * n
    assert asked[n:] == [frozenset({"grad"})] * n  # weight is not computed again
    assert all(set(s) == {"weight", "grad"} for s in w.cache.values())
    assert all(w.cache[k]["weight"] is weights[k] for k in keys)

    w.score(WEIGHT_ONLY + GRAD_ONLY, keys)  # everything resident
    assert w.probes == 2 * n and len(asked) == 2 * n

    w.score(["layer_sum(l2(act))"] + WEIGHT_ONLY, keys[:3])  # only the missing one is asked for
    assert asked[2 * n:] == [frozenset({"act"})] * 3


def test_lazily_computed_statistics_equal_those_computed_together(keys):
    texts = WEIGHT_ONLY + GRAD_ONLY + ["layer_sum(l2(act))", "layer_mean(sum(mul(act, act_grad)))"]
    lazy = Worker(EvalSetup(), get_benchmark)
    for group in (WEIGHT_ONLY, GRAD_ONLY, ["layer_sum(l2(act))"], texts):
        lazy.score(group, keys)
    together = Worker(EvalSetup(), get_benchmark)
    assert same_bits(lazy.score(texts, keys)[0], together.score(texts, keys)[0])
    assert lazy.probes == 4 * len(keys) and together.probes == len(keys)


def test_a_batch_scores_each_program_as_it_would_alone(keys):
    """Shared subexpressions (the per-network memo) never change a score."""
    texts = PROGRAMS + ["layer_sum(l2(mul(act, act)))", "layer_sum(l2(act))",
                        "mul(2.0, layer_sum(l2(act)))"]
    w = Worker(EvalSetup(), get_benchmark)
    batch, _ = w.score(texts, keys[:4])
    alone = np.vstack([w.score([t], keys[:4])[0] for t in texts])
    assert same_bits(batch, alone)


def test_programs_without_statistics_and_empty_batches(keys):
    w = Worker(EvalSetup(), get_benchmark)
    scores, late = w.score(["add(1.0, 2.0)"], keys[:3])
    assert late == {} and scores.tolist() == [[3.0, 3.0, 3.0]]
    assert w.probes == 0  # nothing to compute
    scores, late = w.score([], keys[:3])
    assert scores.shape == (0, 3) and late == {}


# ---- timeouts -----------------------------------------------------------------------------------

def test_a_candidate_out_of_time_is_reported_and_scores_nan_after(keys):
    texts = PROGRAMS[:3]
    fast = Worker(EvalSetup(timeout_s=0.0, pack_networks=4), get_benchmark)  # any time is too much
    scores, late = fast.score(texts, keys)
    assert late == {0: "timeout", 1: "timeout", 2: "timeout"}
    assert np.isfinite(scores[:, :4]).all()  # each ran on the first pack of 4 networks, then was stopped
    assert np.isnan(scores[:, 4:]).all()
    full, late_full = Worker(EvalSetup(pack_networks=4), get_benchmark).score(texts, keys)
    assert late_full == {}
    assert same_bits(scores[:, :4], full[:, :4])


# ---- determinism ----------------------------------------------------------------------------------

def test_two_fresh_workers_give_identical_scores(keys):
    gen = Generator(stats=("weight", "grad", "act", "act_grad", "virtual_grad", "fan_in", "params"))
    rng = random.Random(0)
    texts = [gen.program(rng, max_depth=5).text for _ in range(40)] + PROGRAMS
    a, late_a = Worker(EvalSetup(), get_benchmark).score(texts, keys[:6])
    b, late_b = Worker(EvalSetup(), get_benchmark).score(texts, keys[:6])
    assert late_a == late_b == {}
    assert same_bits(a, b)  # NaN in the same places too (tobytes compares the bits)
    assert np.isfinite(a).mean() > 0.5


def test_a_failing_evaluation_scores_nan_and_names_the_error():
    """_safe_eval turns an evaluation error (here: a statistic the probe did not give) into NaN."""
    stats: dict = {}
    p = Program.call("layer_sum", Program.call("l2", Program.stat("grad")))
    value, why = worker_mod._safe_eval(p, stats, {})
    assert math.isnan(value) and why == "error:KeyError"


def test_a_worker_opens_each_benchmark_once_through_the_opener_it_is_handed():
    """The worker knows no benchmark settings: it calls the opener with a name, once per benchmark."""
    opened = []

    def opener(name):
        opened.append(name)
        return get_benchmark("synthetic")

    worker = Worker(EvalSetup(), opener)
    keys = [("vit-pit-c100", a) for a in get_benchmark("synthetic").sample(3, "search")]
    worker.score(["layer_sum(l2(grad))"], keys)
    worker.bench("vit-pit-c100")
    assert opened == ["vit-pit-c100"]


def test_a_call_keeps_only_the_node_values_later_programs_need():
    a, b, c = (parse(t) for t in ("layer_sum(l1(act))", "layer_sum(sqrt(l1(act)))", "layer_sum(l2(grad))"))
    later = worker_mod.needed_later([a, b, c])
    assert "l1(act)" in later[0] and "layer_sum(l1(act))" not in later[0]
    assert "l1(act)" not in later[1] and "grad" in later[1] and later[2] == frozenset()
    memo = {node.text: 0.0 for node in (*a.nodes(), *b.nodes())}
    worker_mod.keep_only(memo, later[1])
    assert memo == {}
    memo = {node.text: 0.0 for node in a.nodes()}
    worker_mod.keep_only(memo, later[0])
    assert set(memo) == {"act", "l1(act)"}
