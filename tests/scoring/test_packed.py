"""Packs: programs scored on several networks at once give the network-by-network scores."""
import random

import numpy as np
import pytest
import torch

from evoproxy.benchmarks import get_benchmark
from evoproxy.evolve.generate import Generator
from evoproxy.lang.packed import GROUP_NUMEL, Groups, Layers, Nets, pack, unpack
from evoproxy.probe.base import collect
from evoproxy.scoring.packing import Blocks, ReuseStore
from evoproxy.scoring.setup import EvalSetup, ScoringConfig
from evoproxy.scoring.worker import Worker

# one program per batched path: elementwise and whole-layer unary ops on tensors and on layer
# values, reshape, matmul, every reduction, both aggregations, tensor x layer / scalar / tensor
# binaries, and ops without a batched form (run network by network inside a pack)
COVERAGE = [
    "layer_sum(l2(sqrt(abs(grad))))", "layer_mean(std(normalize(act)))", "layer_sum(max(softmax(weight)))",
    "layer_sum(min(logsoftmax(act_grad)))", "layer_sum(mean(minmax(weight)))", "layer_sum(normalize(l1(weight)))",
    "layer_sum(sum(spatial_sum(mul(weight, grad))))", "layer_mean(l1(batch_mean(act)))",
    "layer_sum(l2(matmul(act, act_grad)))", "layer_sum(l1(mul(weight, fan_in)))",
    "layer_sum(l1(div(grad, layer_sum(l2(weight)))))", "sub(layer_mean(log(numel)), 2.0)",
    "layer_sum(mul(l2(weight), fan_in))", "layer_max(l2(grad))", "layer_sum(eig_max(matmul(act, act)))",
    "layer_sum(layer_diff(l2(weight)))", "div(layer_sum(l2(act)), add(layer_sum(numel), 1.0))",
]
STATS = ["weight", "grad", "act", "act_grad", "fan_in", "numel"]


@pytest.fixture(scope="module")
def keys():
    return [("synthetic", i) for i in get_benchmark("synthetic").sample(10, "search", seed=5)]


def scores(keys, texts, **setup):
    return Worker(EvalSetup(scoring=ScoringConfig(batch_size=8), **setup), get_benchmark).score(texts, keys)


def test_every_batched_path_gives_the_network_by_network_scores(keys):
    by_network, failed_n = scores(keys, COVERAGE, pack_networks=0)
    packed, failed_p = scores(keys, COVERAGE, pack_networks=4)
    assert failed_n == failed_p == {}
    assert np.isfinite(by_network).all()
    np.testing.assert_allclose(packed, by_network, rtol=1e-5, atol=1e-9)


def test_random_programs_agree_and_fail_alike(keys):
    gen, rng = Generator(stats=STATS), random.Random(7)
    texts = [gen.program(rng).text for _ in range(120)]
    by_network, failed_n = scores(keys, texts, pack_networks=0)
    packed, failed_p = scores(keys, texts, pack_networks=4)
    assert failed_n == failed_p
    assert (np.isfinite(by_network) == np.isfinite(packed)).all()
    both = np.isfinite(by_network)
    rel = np.abs(packed - by_network)[both] / np.maximum(np.abs(by_network[both]), 1e-300)
    assert np.median(rel) < 1e-9 and np.mean(rel < 1e-4) > 0.97  # ill-conditioned ones differ in rounding


def test_threads_and_key_order_do_not_change_a_bit(keys):
    texts = COVERAGE[:8]
    one, _ = scores(keys, texts, pack_threads=1)
    two, _ = scores(keys, texts, pack_threads=2)
    assert one.tobytes() == two.tobytes()
    w = Worker(EvalSetup(scoring=ScoringConfig(batch_size=8)), get_benchmark)
    first, _ = w.score(texts, keys)
    backwards, _ = w.score(texts, keys[::-1])  # packs are fixed when a network is first seen
    assert first.tobytes() == np.ascontiguousarray(backwards[:, ::-1]).tobytes() == one.tobytes()


def test_reduced_values_are_reused_across_calls_with_the_same_bits(keys):
    w = Worker(EvalSetup(scoring=ScoringConfig(batch_size=8)), get_benchmark)
    first, _ = w.score(COVERAGE, keys)
    assert w.reuse.bytes > 0  # the layer and scalar values of the first call are kept
    hits = w.reuse.hits
    again, _ = w.score(COVERAGE, keys)
    assert w.reuse.hits >= hits + len(COVERAGE) * 3  # every program's value served, 3 packs of 10 networks
    assert again.tobytes() == first.tobytes()
    child = "add(layer_sum(l2(sqrt(abs(grad)))), layer_mean(std(normalize(act))))"
    hits = w.reuse.hits
    w.score([child], keys)
    assert w.reuse.hits == hits + 2 * 3  # both parents' values, in each pack


def test_reuse_store_keeps_its_budget():
    store = ReuseStore(budget_mb=0.01)
    for i in range(100):
        store.put(("pack", f"p{i}"), Layers(None, torch.zeros(100, dtype=torch.float64)))
    assert store.bytes <= 0.01 * 2**20 and 0 < len(store.values) < 100
    assert store.get(("pack", "p99")) is not None and store.get(("pack", "p0")) is None
    off = ReuseStore(budget_mb=0)
    off.put(("pack", "x"), Nets(torch.zeros(3)))
    assert off.get(("pack", "x")) is None


def test_blocks_are_fixed_at_first_sight():
    blocks = Blocks(2)
    assert blocks.packs(["a", "b", "c"]) == [[0, 1], [2]]
    assert blocks.packs(["d", "c", "x", "b"]) == [[3], [1, 0], [2]]  # c, d complete the second block
    assert Blocks(0).size == 1


def test_pack_and_unpack_round_trip(keys):
    bench = get_benchmark("synthetic")
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    nets = [collect(bench.build(k[1]), x, y, {"weight", "act", "fan_in"}) for k in keys[:3]]
    for name in ("weight", "act", "fan_in"):
        values = [s[name] for s in nets]
        packed = pack(values)
        back = unpack(packed)
        if isinstance(packed, Groups):
            assert all(g.shape[0] == 1 or g[0].numel() * g.shape[0] <= GROUP_NUMEL for _, g in packed.groups)
            assert all(len(a) == len(b) and all(torch.equal(u, v) for u, v in zip(a, b))
                       for a, b in zip(values, back))
        else:
            assert all(torch.equal(a, b) for a, b in zip(values, back))
    scalars = pack([torch.tensor(1.0), torch.tensor(2.0)])
    assert isinstance(scalars, Nets) and unpack(scalars)[1].item() == 2.0
    with pytest.raises(ValueError):
        pack([torch.tensor(1.0), torch.zeros(2)])


def test_half_precision_storage_halves_the_memory_and_keeps_the_ranking(keys):
    full = Worker(EvalSetup(scoring=ScoringConfig(batch_size=8)), get_benchmark)
    half = Worker(EvalSetup(scoring=ScoringConfig(batch_size=8, store_dtype="bfloat16")), get_benchmark)
    texts = ["layer_sum(l2(sqrt(abs(grad))))", "layer_sum(min(logsoftmax(act_grad)))", "layer_sum(l2(act))",
             "layer_sum(mean(minmax(weight)))"]
    a, _ = full.score(texts, keys)
    b, _ = half.score(texts, keys)
    assert half.cached_bytes < 0.6 * full.cached_bytes
    assert all(t.dtype == torch.bfloat16 for s in half.cache.values() for t in s["act"])
    from scipy.stats import spearmanr
    assert all(spearmanr(x, y).statistic > 0.95 for x, y in zip(a, b))


def test_busy_cores_count_other_running_jobs_only(monkeypatch):
    from evoproxy.scoring import cores
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (2.6, 0, 0))
    real_open = open

    def fake_loadavg(text):
        def opener(path, *a, **k):
            if path == "/proc/loadavg":
                import io
                return io.StringIO(text)
            return real_open(path, *a, **k)
        return opener
    monkeypatch.setattr("builtins.open", fake_loadavg("2.60 1.0 0.5 4/300 999"))
    assert cores.busy_cores() == 3  # three others running, the average agrees
    monkeypatch.setattr("builtins.open", fake_loadavg("2.60 1.0 0.5 1/300 999"))
    assert cores.busy_cores() == 0  # only this process runs: a job that just ended is gone


def test_free_cores_leave_the_busy_ones_alone(monkeypatch):
    from evoproxy.scoring import cores
    monkeypatch.delenv("EVOPROXY_THREADS", raising=False)
    monkeypatch.setattr(cores, "usable_cores", lambda: 4)
    monkeypatch.setattr(cores, "busy_cores", lambda: 3)
    assert cores.free_cores() == 1
    monkeypatch.setattr(cores, "busy_cores", lambda: 9)
    assert cores.free_cores() == 1  # never none
    monkeypatch.setattr(cores, "busy_cores", lambda: 0)
    assert cores.free_cores() == 4
    monkeypatch.setenv("EVOPROXY_THREADS", "3")
    assert cores.free_cores() == 3
    before = torch.get_num_threads()
    with cores.free_core_threads() as n:
        assert n == 3 == torch.get_num_threads()
    assert torch.get_num_threads() == before


def test_the_serial_backend_counts_free_cores_again_at_every_call(monkeypatch):
    """A search started beside a short job must not stay on one thread after that job ends."""
    import evoproxy.scoring.worker as worker_mod
    from evoproxy.backends import make_backend
    widths, free = [], iter([1, 2, 9])
    real_pool = worker_mod.ThreadPoolExecutor

    def pool(width):
        widths.append(width)
        return real_pool(width)
    monkeypatch.setattr(worker_mod, "ThreadPoolExecutor", pool)
    monkeypatch.setattr(worker_mod, "free_cores", lambda: next(free))
    backend = make_backend("serial", EvalSetup(), get_benchmark, workers=2)
    keys = [("synthetic", a) for a in get_benchmark("synthetic").sample(4, "search")]
    scores = [backend.score(["layer_sum(l2(weight))"], keys)[0] for _ in range(3)]
    assert widths == [1, 2, 2]  # the free cores, never more than the workers asked for
    assert all(np.array_equal(s, scores[0]) for s in scores)
