"""The packed interpreter's observer hook: it sees every op and statistic, changes no score, and
costs nothing (no clock is read) when none is given."""
import types
from collections import Counter

import numpy as np
import pytest
from evoproxy.benchmarks import get_benchmark

import evoproxy.lang.packed as packed
from evoproxy.backends.serial import SerialBackend
from evoproxy.lang.program import parse
from evoproxy.scoring.packing import PackMemo, PackScorer, ReuseStore
from evoproxy.scoring.setup import EvalSetup, ScoringConfig
from evoproxy.scoring.worker import Worker

# batched ops on tensors and layer values, an op without a batched form (eig_max, run network by
# network inside a pack), a constant, and a subtree used twice (computed once: the memo)
PROGRAMS = ["layer_sum(l2(relu(act)))", "add(layer_sum(l1(mul(weight, grad))), 1.0)",
            "layer_sum(eig_max(matmul(act, act)))", "add(layer_sum(l2(relu(act))), layer_mean(std(grad)))"]


class Recorder:
    def __init__(self) -> None:
        self.ops: list[tuple] = []
        self.stats: list[tuple] = []

    def op(self, node, op, args, out, seconds: float, pack) -> None:
        assert op.name == node.head and len(args) == len(node.args) and seconds >= 0
        assert isinstance(out, (packed.Groups, packed.Layers, packed.Nets))
        self.ops.append((pack, node.text))

    def stat(self, node, value, pack) -> None:
        assert node.is_stat
        self.stats.append((pack, node.head))


@pytest.fixture(scope="module")
def keys():
    return [("synthetic", i) for i in get_benchmark("synthetic").sample(4, "search", seed=1)]


def setup(**kw) -> EvalSetup:
    return EvalSetup(scoring=ScoringConfig(batch_size=4), **{"pack_networks": 2, "pack_threads": 1, **kw})


def test_scores_with_an_observer_are_bit_identical(keys):
    plain = SerialBackend(setup(), get_benchmark)
    observed = SerialBackend(setup(), get_benchmark, observer=Recorder())
    for texts in (PROGRAMS, PROGRAMS[::-1]):  # the second call reuses layer values
        (a, fa), (b, fb) = plain.score(texts, keys), observed.score(texts, keys)
        assert a.tobytes() == b.tobytes() and fa == fb == {}
        assert np.isfinite(a).all()


def test_the_observer_sees_every_op_node_once_per_evaluation(keys):
    rec = Recorder()
    backend = SerialBackend(setup(reuse_mb=0), get_benchmark, observer=rec)  # nothing kept across calls
    packs = [tuple(keys[:2]), tuple(keys[2:])]
    programs = [parse(t) for t in PROGRAMS]
    op_nodes = {n.text for p in programs for n in p.nodes() if not (n.is_stat or n.is_const)}
    stat_nodes = {n.head for p in programs for n in p.nodes() if n.is_stat}
    for calls in (1, 2):
        backend.score(PROGRAMS, keys)
        assert Counter(rec.ops) == {(pack, t): calls for pack in packs for t in op_nodes}
        assert Counter(rec.stats) == {(pack, s): calls for pack in packs for s in stat_nodes}


def test_the_worker_hands_its_observer_to_every_pack(keys):
    rec = Recorder()
    Worker(setup(), get_benchmark, observer=rec).score(PROGRAMS[:1], keys)
    assert {pack for pack, _ in rec.ops} == {tuple(keys[:2]), tuple(keys[2:])}


def test_nothing_is_timed_without_an_observer(keys, monkeypatch):
    worker = Worker(setup(), get_benchmark)
    stats = [worker.stats(k, frozenset({"act", "weight", "grad"})) for k in keys[:2]]
    expected = [PackScorer(stats, PackMemo(ReuseStore(0), "pack")).score(parse(t)) for t in PROGRAMS]
    assert all(row is not None for row in expected)

    def no_clock():
        raise AssertionError("perf_counter read without an observer")
    monkeypatch.setattr(packed, "time", types.SimpleNamespace(perf_counter=no_clock))
    # PackScorer falls back (None) if eval_packed raises, so a None here would mean the clock was read
    assert [PackScorer(stats, PackMemo(ReuseStore(0), "pack")).score(parse(t)) for t in PROGRAMS] == expected
    assert PackScorer(stats, PackMemo(ReuseStore(0), "pack"), Recorder()).score(parse(PROGRAMS[0])) is None
