"""VKDNW (Tybl & Neumann, CVPR 2025) as programs over the ``fisher`` statistic, each against the independent
implementation in tests/lang/vkdnw_reference.py, per network on NB201 networks; the set-level aggregate
against the reference's sum of log ranks."""
import copy
import math
import random

import numpy as np
import pytest
import torch
from scipy.stats import rankdata
from torch import nn

from evoproxy.evolve.generate import Generator
from evoproxy.lang.interpret import eval_node, evaluate_many
from evoproxy.lang.ops import OPS
from evoproxy.lang.program import parse
from evoproxy.lang.proxies import PROXIES
from evoproxy.lang.ranks import combine, network_parts
from evoproxy.lang.types import SCALAR_T
from evoproxy.probe.base import collect
from evoproxy.probe.passes import fisher as fisher_pass
from evoproxy.spaces.nb201 import build_nb201
from tests import sota_direct_b as ref_az
from tests.directhelp import assert_close, library_score
from tests.lang import vkdnw_reference as ref
from tests.lang.test_proxies_direct import direct_jacov

VKDNW_DIRECT = ("vkdnw_entropy", "vkdnw", "vkdnw_agg")
"""The proxies this file checks against an independent implementation."""
ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
         "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|skip_connect~2|"]


def _batch(n=8, side=16):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 3, side, side, generator=g), torch.arange(n) % 10


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return [build_nb201(a, C=8, N=1) for a in ARCHS]   # small: the reference takes a backward pass per class and image


@pytest.fixture(scope="module")
def entropies(nets):
    """The reference's VKDNW of each network (a backward pass per class and image: computed once)."""
    return [ref.vkdnw_entropy(n, _batch()[0]) for n in nets]


@pytest.fixture(scope="module", params=range(len(ARCHS)))
def case(request, nets, entropies):
    return (nets[request.param], *_batch(), entropies[request.param])


def test_vkdnw_entropy(case):
    net, x, y, entropy = case
    assert_close(library_score("vkdnw_entropy", net, x, y), entropy, rel=1e-5, nonzero=True)


def test_vkdnw_single_is_layers_then_entropy(case):
    net, x, y, entropy = case
    assert_close(library_score("vkdnw", net, x, y), ref.vkdnw_single(net, x, entropy), rel=1e-7, nonzero=True)


def test_vkdnw_single_orders_networks_as_the_authors_pairs(nets, entropies):
    x, y = _batch()
    torch.manual_seed(0)   # the same number of convolutions as the first: the entropy breaks the tie
    tie = build_nb201("|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|", C=8, N=1)
    nets, entropies = [*nets, tie], [*entropies, ref.vkdnw_entropy(tie, x)]
    got = [library_score("vkdnw", n, x, y) for n in nets]
    pairs = ref.single_order([ref.parameter_tensors(n) for n in nets], entropies)
    assert rankdata(got).tolist() == rankdata(pairs).tolist() and len(set(got)) == len(nets)
    assert ref.parameter_tensors(tie) == ref.parameter_tensors(nets[0])


def test_fisher_samples_the_first_entry_of_the_first_tensors(nets, monkeypatch):
    x, y = _batch()
    monkeypatch.setattr(fisher_pass, "FISHER_PARAMS", 7)
    got = collect(nets[0], x, y, {"fisher"}, strict=True)["fisher"][0]
    want = ref.fisher_matrix(nets[0], x, count=7)
    assert got.shape == (7, 7) and torch.allclose(got, want, rtol=1e-5, atol=1e-6 * float(want.abs().max()))


class _Scale(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.gain = nn.Parameter(torch.linspace(0.5, 1.5, channels))

    def forward(self, x):
        return x * self.gain.reshape(1, -1, 1, 1)


@pytest.mark.parametrize("odd", [_Scale, nn.PReLU])
def test_a_network_the_taps_do_not_cover_goes_image_by_image(odd):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), odd(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    x, _ = _batch(6, 8)
    copy = fisher_pass.fresh_copy(net, train=False)
    with pytest.raises(fisher_pass._NotFast):    # the gain / slope is no tapped module's
        fisher_pass._hooked_jacobian(copy, x, fisher_pass.sampled_parameters(copy))
    got = collect(net, x, torch.zeros(6, dtype=torch.long), {"fisher"}, strict=True)["fisher"][0]
    assert got.shape == (5, 5) and torch.allclose(got, ref.fisher_matrix(net, x), rtol=1e-5, atol=1e-14)


def test_batch_statistics_in_eval_mode_go_image_by_image():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    x, _ = _batch(6, 8)
    got = collect(net, x, torch.zeros(6, dtype=torch.long), {"fisher"}, strict=True)["fisher"][0]
    assert torch.allclose(got, ref.fisher_matrix(net, x), rtol=1e-5, atol=1e-14)


def test_a_network_beyond_float32s_range_runs_in_float64():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
    with torch.no_grad():
        for m in (net[0], net[2]):
            m.weight.mul_(1e22)   # logits ~1e44: inf in float32
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    assert not torch.isfinite(net(x)).all()
    got = collect(net, x, torch.zeros(5, dtype=torch.long), {"fisher"}, strict=True)["fisher"][0]
    want = ref.fisher_matrix(copy.deepcopy(net).double(), x.double())
    assert torch.isfinite(got).all() and torch.allclose(got, want, rtol=1e-7, atol=1e-12 * float(want.abs().max()))


def test_the_taps_and_the_image_by_image_jacobian_agree(nets):
    x, _ = _batch()
    net = fisher_pass.fresh_copy(nets[2], train=False)
    named = fisher_pass.sampled_parameters(net)
    (tapped, z_tapped), (looped, z_looped) = (fisher_pass._hooked_jacobian(net, x, named),
                                               fisher_pass._looped_jacobian(net, x, named))
    assert torch.allclose(tapped, looped.double(), rtol=1e-4, atol=1e-7) and torch.allclose(z_tapped, z_looped, atol=1e-6)


@pytest.mark.parametrize("classes", [2, 10, 120])
def test_covariance_factor_is_the_cholesky_factor(classes):
    z = torch.randn(3, classes, dtype=torch.float64) * 3
    p = 0.95 * torch.softmax(z, 1) + 0.05 / classes
    got = fisher_pass.covariance_factor(p)
    for row, factor in zip(p, got):
        assert torch.allclose(factor @ factor.T, torch.diag(row) - torch.outer(row, row), atol=1e-15)
        assert torch.allclose(factor, ref.covariance_cholesky(row), atol=1e-12)


def test_deciles_interpolate_as_quantile():
    x = torch.randn(5, 7)
    want = torch.quantile(x.double().reshape(-1), torch.arange(1, 10, dtype=torch.float64) / 10)
    assert torch.allclose(OPS.get("deciles").fn(x), want)
    assert OPS.get("deciles").fn(torch.zeros(0)).tolist() == [0.0] * 9
    assert OPS.get("deciles").fn(torch.tensor([2.0])).tolist() == [2.0] * 9


def _set_scores(name, nets, x, y):
    program = PROXIES.get(name).program
    parts = network_parts(program)
    matrix = np.array([evaluate_many(parts, collect(n, x, y, program.stats, seed=0)) for n in nets]).T
    return combine([program], parts, matrix)[0], matrix


def test_vkdnw_agg_sums_log_ranks_as_the_reference(nets, entropies):
    x, y = _batch()
    got, parts = _set_scores("vkdnw_agg", nets, x, y)
    shift = 5 * math.log(len(nets))     # rank / n in the library, plain ranks in the reference
    assert np.allclose(np.asarray(got) + shift, ref.vkdnw_agg(*parts)) and len(set(got)) > 1
    reference_parts = [[ref.vkdnw_single(n, x, e) for n, e in zip(nets, entropies)],
                       [ref_az.aznas_expressivity(n, x) for n in nets],
                       [ref_az.aznas_trainability(n, x) for n in nets], [ref_az.aznas_complexity(n, x) for n in nets],
                       [direct_jacov(n, x, y) for n in nets]]
    assert np.allclose(np.asarray(got) + shift, ref.vkdnw_agg(*reference_parts))


@pytest.mark.parametrize("name", VKDNW_DIRECT)
def test_each_renders_and_parses_back(name):
    from evoproxy.lang.export import to_latex
    program = PROXIES.get(name).program
    assert parse(program.text) == program and program.vtype.kind == ("set" if name == "vkdnw_agg" else "scalar")
    assert to_latex(program).count("{") == to_latex(program).count("}") > 0


def test_random_programs_over_the_fisher_statistic_compute(nets):
    x, y = _batch(4)
    stats = collect(nets[0], x, y, ["fisher", "ntk", "weight", "numel"])
    ops = ["deciles", "eigvals", "eig_max", "eff_rank", "corr", "matmul", "neurons", "layer_sum", "layer_mean", "add",
           "mul", "div", "log", "abs", "sum", "l1", "l2", "negate", "step"]
    gen, rng = Generator(stats=sorted(stats), ops=ops), random.Random(3)
    drawn = set()
    for _ in range(60):
        program = gen.program(rng, SCALAR_T, rng.randint(2, 6))
        value = eval_node(program, stats, {})   # well-typed: computes, never raises
        assert value.shape == () and value.dtype.is_floating_point, program.text
        drawn |= {n.head for n in program.nodes()}
    assert {"fisher", "deciles"} <= drawn


def test_fisher_never_meets_the_ntk():
    from evoproxy.lang.program import FormulaError, check_proxy
    with pytest.raises(FormulaError, match="cannot pair tensor.fim.N.. with tensor.N."):
        parse("layer_sum(sum(mul(fisher, ntk)))")
    assert check_proxy(parse("add(layer_sum(sum(fisher)), layer_sum(sum(ntk)))")).vtype == SCALAR_T


@pytest.mark.slow
def test_vkdnw_entropy_on_a_full_size_network_samples_128_tensors():
    torch.manual_seed(0)
    net = build_nb201(ARCHS[2])   # 156 parameter tensors: the first 128 sampled
    x, y = _batch(8, 32)
    assert len(fisher_pass.sampled_parameters(net)) == 128 < ref.parameter_tensors(net)
    assert_close(library_score("vkdnw_entropy", net, x, y), ref.vkdnw_entropy(net, x), rel=1e-5, nonzero=True)
