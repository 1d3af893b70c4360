"""AZ-NAS, TE-NAS, GradSign and EPE-NAS as programs, each against an independent implementation
written from the paper and the authors' code (tests/sota_direct_b.py to _d.py),
per network on NB201 networks; the set-level aggregations against the references' rank sums."""
import math

import numpy as np
import pytest
import torch

from evoproxy.lang.program import parse
from evoproxy.lang.proxies import PROXIES
from evoproxy.lang.ranks import combine, network_parts
from evoproxy.probe.base import collect
from evoproxy.lang.interpret import evaluate_many
from evoproxy.spaces.nb201 import build_nb201
from tests import sota_direct_b as ref
from tests import sota_direct_c as ref_c
from tests import sota_direct_d as ref_d
from tests.directhelp import assert_close, library_score

SOTA_DIRECT_B = ("aznas_expressivity", "aznas_progressivity", "aznas_trainability", "aznas", "tenas_ntk", "tenas_lr",
                 "tenas", "gradsign", "epe_nas")
"""The proxies this file checks against an independent implementation."""
ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
         "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|skip_connect~2|"]


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 3, 32, 32, generator=g), torch.arange(16) % 10


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return [build_nb201(a) for a in ARCHS]


@pytest.fixture(scope="module", params=range(len(ARCHS)))
def case(request, nets):
    return (nets[request.param], *_batch())


def test_aznas_expressivity_and_progressivity(case):
    net, x, y = case
    assert_close(library_score("aznas_expressivity", net, x, y), ref.aznas_expressivity(net, x), rel=1e-6,
                 nonzero=True)
    assert_close(library_score("aznas_progressivity", net, x, y), ref.aznas_progressivity(net, x), rel=1e-5,
                 nonzero=True)


def test_aznas_trainability_draws_the_reference_cotangents(case):
    net, x, y = case
    assert_close(library_score("aznas_trainability", net, x, y, seed=3), ref.aznas_trainability(net, x, seed=3),
                 rel=1e-6, nonzero=True)


def test_a_block_that_is_an_identity_for_gradients_scores_lowest():
    x, y = _batch()
    torch.manual_seed(0)
    identity = build_nb201("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")  # output = input
    assert ref.aznas_trainability(identity, x) == -math.inf
    assert library_score("aznas_trainability", identity, x, y) < -1e4


@pytest.mark.slow
def test_tenas_ntk_condition_number(case):
    net, x, y = case
    assert_close(library_score("tenas_ntk", net, x, y), -ref_d.tenas_ntk_cond(net, x), rel=1e-6, nonzero=True)


def test_tenas_linear_regions(case):
    net, x, y = case
    assert library_score("tenas_lr", net, x, y) == ref_d.tenas_linear_regions(net, x) > 1


def test_gradsign_is_the_sum_of_sign_agreements_over_the_batch(case):
    net, x, y = case
    assert_close(library_score("gradsign", net, x, y) * x.shape[0], ref_d.gradsign(net, x, y), rel=1e-9, nonzero=True)


def test_epe_nas(case):
    net, x, y = case
    singletons = int((torch.bincount(y) == 1).sum())   # each adds -1e-5 here, +1e-5 in the reference
    got = library_score("epe_nas", net, x, y)
    assert_close(got + 2 * singletons * math.log(1 + 1e-5), ref_c.epe_nas(net, x, y), rel=1e-9, nonzero=True)


def _set_scores(name, nets, x, y):
    """A set-level proxy over ``nets``: its network parts per network, then the set stage."""
    program = PROXIES.get(name).program
    parts = network_parts(program)
    matrix = np.array([evaluate_many(parts, collect(n, x, y, program.stats, seed=0)) for n in nets]).T
    return combine([program], parts, matrix)[0], matrix


def test_aznas_aggregate_sums_log_ranks_as_the_reference(nets):
    x, y = _batch()
    got, parts = _set_scores("aznas", nets, x, y)
    names = ["expressivity", "progressivity", "trainability", "complexity"]
    want = ref.aznas_aggregate(dict(zip(names, parts)))
    assert np.allclose(got, want) and len(set(got)) > 1
    reference_parts = [[ref.aznas_expressivity(n, x) for n in nets], [ref.aznas_progressivity(n, x) for n in nets],
                       [ref.aznas_trainability(n, x) for n in nets], [ref.aznas_complexity(n, x) for n in nets]]
    assert np.allclose(got, ref.aznas_aggregate(dict(zip(names, reference_parts))))


@pytest.mark.slow
def test_tenas_aggregate_orders_as_the_reference_rank_sum(nets):
    x, y = _batch()
    got, _ = _set_scores("tenas", nets, x, y)
    want = ref_d.tenas_aggregate([ref_d.tenas_ntk_cond(n, x) for n in nets], [ref_d.tenas_linear_regions(n, x) for n in nets])
    assert np.allclose(np.asarray(got) * len(nets), want)


@pytest.mark.parametrize("name", SOTA_DIRECT_B)
def test_each_renders_as_text_latex_and_a_graph(name):
    import networkx as nx
    from evoproxy.lang.export import to_dot, to_latex, to_networkx
    program = PROXIES.get(name).program
    assert parse(program.text) == program
    assert to_latex(program).count("{") == to_latex(program).count("}") > 0
    g = to_networkx(program)   # distinct subexpressions, shared ones once; the proxy is the only sink
    assert nx.is_directed_acyclic_graph(g) and [n for n in g if g.out_degree(n) == 0] == [program.text]
    assert len(g) == len({n.text for n in program.nodes()})
    assert ("\\nset" in to_dot(program)) == (program.vtype.kind == "set")


def test_set_level_values_depend_on_the_set():
    program = parse("rank(params)")
    parts = network_parts(program)
    assert combine([program], parts, np.array([[5.0, 1.0]]))[0].tolist() == [1.0, 0.5]
    assert combine([program], parts, np.array([[5.0, 1.0, 9.0]]))[0].tolist() == [2 / 3, 1 / 3, 1.0]


def test_eval_init_kaiming_draws_the_networks_as_aznas_does():
    from evoproxy.app.evaluate import with_init
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.scoring.score import build_seeded
    bench = get_benchmark("synthetic")
    ours = build_seeded(lambda: with_init(bench, "kaiming").build(3), 5)
    with torch.random.fork_rng():
        torch.manual_seed(5)
        plain = bench.build(3)
        theirs = ref.aznas_init(plain)   # draws right after the build, as the seeded build does
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), plain.state_dict().values()))


def test_a_network_without_a_path_from_input_to_output_ranks_lowest_as_the_references_nan():
    x, y = _batch()
    torch.manual_seed(0)
    cut = build_nb201("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")   # logits do not depend on x
    connected = build_nb201(ARCHS[0])
    with np.errstate(invalid="ignore"):   # the reference's corrcoef of constant rows: NaN, as intended
        assert math.isnan(ref_c.epe_nas(cut, x, y))
    assert library_score("epe_nas", cut, x, y) == 0.0 < library_score("epe_nas", connected, x, y)
    stats = collect(cut, x, y, {"jacov"})
    assert math.isnan(float(stats["jacov"]))   # the opaque leaf: NaN, as the reference
    assert library_score("jacov", cut, x, y) < min(-1e5, library_score("jacov", connected, x, y))
